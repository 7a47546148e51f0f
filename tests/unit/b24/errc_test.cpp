#include "b24/errc.hpp"

#include <gtest/gtest.h>

#include <system_error>

#include "core/errc.hpp"
#include "core/error.hpp"
#include "support/test_support.hpp"

namespace dispatch::b24 {
namespace {

TEST(B24Errc, SystemLimitsMapToRetryLater) {
    EXPECT_EQ(FromApiError(503, "QUERY_LIMIT_EXCEEDED"), Errc::kQueryLimitExceeded);
    EXPECT_EQ(FromApiError(429, "OPERATION_TIME_LIMIT"), Errc::kOperationTimeLimit);
    EXPECT_EQ(FromApiError(500, "INTERNAL_SERVER_ERROR"), Errc::kServerError);
    EXPECT_EQ(FromApiError(502, ""), Errc::kServerError);

    EXPECT_EQ(Classify(Errc::kQueryLimitExceeded), RetryClass::kRetryCall);
    EXPECT_EQ(Classify(Errc::kOperationTimeLimit), RetryClass::kRetryCall);
    EXPECT_EQ(Classify(Errc::kServerError), RetryClass::kRetryCall);
    EXPECT_EQ(Classify(Errc::kTransport), RetryClass::kRetryCall);
}

TEST(B24Errc, ExpiredTokenAsksForRefresh) {
    EXPECT_EQ(FromApiError(401, "expired_token", "The access token provided has expired."), Errc::kExpiredToken);
    EXPECT_EQ(Classify(Errc::kExpiredToken), RetryClass::kRetryAfterAuth);
}

TEST(B24Errc, OverloadLimitBlocksThePortalAndIsNeverRetried) {
    EXPECT_EQ(FromApiError(503, "OVERLOAD_LIMIT"), Errc::kPortalBlocked);
    EXPECT_EQ(FromApiError(500, "PORTAL_DELETED"), Errc::kPortalBlocked);
    EXPECT_EQ(Classify(Errc::kPortalBlocked), RetryClass::kNever);
}

TEST(B24Errc, AuthorisationFailuresAreAccessDenied) {
    for (const char* code : {"NO_AUTH_FOUND",
                             "invalid_token",
                             "insufficient_scope",
                             "INVALID_CREDENTIALS",
                             "user_access_error",
                             "WRONG_AUTH_TYPE",
                             "allowed_only_intranet_user",
                             "ACCESS_DENIED"}) {
        EXPECT_EQ(FromApiError(403, code), Errc::kAccessDenied) << code;
    }
    // crm.* pages list ACCESS_DENIED with HTTP 400 (CONTRACT §14.12).
    EXPECT_EQ(FromApiError(400, "ACCESS_DENIED"), Errc::kAccessDenied);
    EXPECT_EQ(FromApiError(401, "SOMETHING_NEW"), Errc::kAccessDenied);
    EXPECT_EQ(Classify(Errc::kAccessDenied), RetryClass::kNever);
}

TEST(B24Errc, PolymorphicErrorFieldIsClassifiedByDescription) {
    EXPECT_EQ(FromApiError(400, "NOT_FOUND", "Item not found"), Errc::kNotFound);
    EXPECT_EQ(FromApiError(400, "0", "SPA not found"), Errc::kNotFound);
    EXPECT_EQ(FromApiError(400, "Status is not found."), Errc::kNotFound);
    EXPECT_EQ(FromApiError(400, "", "Access denied"), Errc::kAccessDenied);
    // A validation message that merely mentions "not found" for a field is not a missing object.
    EXPECT_EQ(FromApiError(400, "", "The 'FIELD_NAME' field is not found"), Errc::kApiError);
    EXPECT_EQ(FromApiError(400, "100", "Parameter 'fields' is required"), Errc::kApiError);
    EXPECT_EQ(FromApiError(400, "CRM_FIELD_ERROR_VALUE_NOT_VALID"), Errc::kApiError);
}

TEST(B24Errc, BatchAndMethodCodes) {
    EXPECT_EQ(FromApiError(400, "ERROR_BATCH_LENGTH_EXCEEDED"), Errc::kBatchTooLong);
    EXPECT_EQ(FromApiError(200, "ERROR_BATCH_METHOD_NOT_ALLOWED"), Errc::kNotAllowedInBatch);
    EXPECT_EQ(FromApiError(404, "ERROR_METHOD_NOT_FOUND"), Errc::kMethodNotFound);
    EXPECT_EQ(FromApiError(400, "ERROR_HANDLER_ALREADY_EXIST"), Errc::kAlreadyExists);
}

TEST(B24Errc, ConvertsToErrorCodeWithB24Category) {
    const boost::system::error_code code = Errc::kNotFound;

    EXPECT_STREQ(code.category().name(), "b24");
    EXPECT_EQ(AsErrc(code), Errc::kNotFound);
    EXPECT_EQ(AsErrc(make_error_code(CoreErrc::kIo)), std::nullopt);
    EXPECT_FALSE(code.message().empty());
}

TEST(B24Errc, ValueOfFailedResultThrows) {
    const Result<int> failed{Fail(Errc::kNotFound, "item 42")};

    EXPECT_THAT(failed, HasErrc(Errc::kNotFound));
    EXPECT_THROW((void)failed.value(), std::exception);
}

}  // namespace
}  // namespace dispatch::b24
