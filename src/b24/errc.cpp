#include "b24/errc.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace dispatch::b24 {
namespace {

class CategoryImpl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "b24"; }
    std::string message(int ev) const override {
        const std::string_view name = Name(static_cast<Errc>(ev));
        if (name == "unknown") {
            return "b24 error " + std::to_string(ev);
        }
        std::string text(name);
        std::replace(text.begin(), text.end(), '_', ' ');
        return text;
    }
};

bool ContainsNoCase(std::string_view haystack, std::string_view needle) {
    const auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
    return it != haystack.end();
}

bool IsAccessError(std::string_view e) {
    // _includes/system-errors.md and the CRM method pages; invalid_token only in an on-premise sample (§2.4).
    return e == "ACCESS_DENIED" || e == "NO_AUTH_FOUND" || e == "invalid_token" || e == "insufficient_scope" ||
           e == "INVALID_CREDENTIALS" || e == "user_access_error" || e == "WRONG_AUTH_TYPE" ||
           e == "allowed_only_intranet_user";
}

}  // namespace

const boost::system::error_category& Category() noexcept {
    static const CategoryImpl category;
    return category;
}

std::optional<Errc> AsErrc(const boost::system::error_code& code) noexcept {
    if (code.category() != Category()) {
        return std::nullopt;
    }
    return static_cast<Errc>(code.value());
}

std::string_view Name(Errc errc) noexcept {
    switch (errc) {
        case Errc::kTransport:
            return "transport";
        case Errc::kServerError:
            return "server_error";
        case Errc::kQueryLimitExceeded:
            return "query_limit_exceeded";
        case Errc::kOperationTimeLimit:
            return "operation_time_limit";
        case Errc::kExpiredToken:
            return "expired_token";
        case Errc::kAccessDenied:
            return "access_denied";
        case Errc::kNotFound:
            return "not_found";
        case Errc::kPortalBlocked:
            return "portal_blocked";
        case Errc::kBadResponse:
            return "bad_response";
        case Errc::kApiError:
            return "api_error";
        case Errc::kRefreshFailed:
            return "refresh_failed";
        case Errc::kTokenStoreFailed:
            return "token_store_failed";
        case Errc::kMethodNotFound:
            return "method_not_found";
        case Errc::kBatchTooLong:
            return "batch_too_long";
        case Errc::kInvalidArgument:
            return "invalid_argument";
        case Errc::kNotAllowedInBatch:
            return "not_allowed_in_batch";
        case Errc::kTokenConflict:
            return "token_conflict";
        case Errc::kAlreadyExists:
            return "already_exists";
    }
    return "unknown";
}

RetryClass Classify(Errc errc) noexcept {
    switch (errc) {
        case Errc::kTransport:
        case Errc::kServerError:
        case Errc::kQueryLimitExceeded:
        case Errc::kOperationTimeLimit:  // only after operating_reset_at (limits.md); RetryPolicy honours it
        case Errc::kTokenStoreFailed:    // our own store was busy; the call itself was fine
        case Errc::kTokenConflict:       // reload the winner's pair and go again
            return RetryClass::kRetryCall;
        case Errc::kExpiredToken:
            return RetryClass::kRetryAfterAuth;
        case Errc::kAccessDenied:
        case Errc::kNotFound:
        case Errc::kPortalBlocked:  // OVERLOAD_LIMIT is a manual block: never retried automatically
        case Errc::kBadResponse:
        case Errc::kApiError:
        case Errc::kRefreshFailed:
        case Errc::kMethodNotFound:
        case Errc::kBatchTooLong:
        case Errc::kInvalidArgument:
        case Errc::kNotAllowedInBatch:
        case Errc::kAlreadyExists:
            return RetryClass::kNever;
    }
    return RetryClass::kNever;
}

Errc FromApiError(unsigned http_status, std::string_view api_error, std::string_view description) noexcept {
    // The specific codes first: their meaning does not depend on the status (limits.md, system-errors.md).
    if (api_error == "QUERY_LIMIT_EXCEEDED") {
        return Errc::kQueryLimitExceeded;
    }
    if (api_error == "OPERATION_TIME_LIMIT") {
        return Errc::kOperationTimeLimit;
    }
    if (api_error == "expired_token") {
        return Errc::kExpiredToken;
    }
    if (api_error == "OVERLOAD_LIMIT" || api_error == "PORTAL_DELETED") {
        return Errc::kPortalBlocked;
    }
    if (api_error == "ERROR_BATCH_LENGTH_EXCEEDED") {
        return Errc::kBatchTooLong;
    }
    if (api_error == "ERROR_BATCH_METHOD_NOT_ALLOWED") {
        return Errc::kNotAllowedInBatch;
    }
    if (api_error == "ERROR_METHOD_NOT_FOUND" || api_error == "METHOD_NOT_FOUND") {
        return Errc::kMethodNotFound;
    }
    if (api_error == "ERROR_HANDLER_ALREADY_EXIST") {
        return Errc::kAlreadyExists;
    }
    if (api_error == "NOT_FOUND" || api_error == "OWNER_NOT_FOUND") {
        return Errc::kNotFound;
    }
    if (IsAccessError(api_error)) {
        return Errc::kAccessDenied;
    }
    if (api_error == "INTERNAL_SERVER_ERROR" || api_error == "ERROR_UNEXPECTED_ANSWER") {
        return Errc::kServerError;
    }
    // Then the status for the codes we do not know by name.
    if (http_status == 401 || http_status == 403) {
        return Errc::kAccessDenied;
    }
    if (http_status == 429) {
        return Errc::kOperationTimeLimit;
    }
    if (http_status >= 500) {
        return Errc::kServerError;
    }
    // Finally the polymorphic `error` (CONTRACT §2.3, §14.13): "0"/"" with the meaning in the description, or a
    // sentence such as "Status is not found." in `error` itself. "The 'FIELD_NAME' field is not found" is a
    // validation failure, not a missing object.
    const bool opaque = api_error.empty() || api_error == "0" || api_error.find(' ') != std::string_view::npos;
    if (opaque) {
        const std::string_view text = api_error.find(' ') != std::string_view::npos ? api_error : description;
        if (ContainsNoCase(text, "not found") && !ContainsNoCase(text, "field")) {
            return Errc::kNotFound;
        }
        if (ContainsNoCase(text, "access denied")) {
            return Errc::kAccessDenied;
        }
    }
    if (http_status == 404) {
        return Errc::kMethodNotFound;
    }
    return Errc::kApiError;
}

}  // namespace dispatch::b24
