#pragma once
// The Bitrix24 error envelope as a value: HTTP status, `error` (usually a string code, but the docs show "", 0,
// "100" and English sentences — CONTRACT §2.3), `error_description`. Method handlers return it; the transport
// layer turns it into `{"error": …, "error_description": …}` with that status.

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace dispatch::emulator {

struct ApiError {
    int status = 400;
    boost::json::value code;  // string or number, reproduced as documented
    std::string description;
    // 429 OPERATION_TIME_LIMIT only: unix seconds when the method is released; the error envelope then carries a
    // `time` block with `operating_reset_at` (limits.md), which clients wait for. 0 = no time block.
    std::int64_t operating_reset_at = 0;
};

inline ApiError Err(int status, std::string code, std::string description) {
    return ApiError{status, boost::json::value(std::move(code)), std::move(description), 0};
}
// error = 0 (numeric), used by crm.type.* and crm.stagehistory.list.
inline ApiError ErrZero(std::string description) {
    return ApiError{400, boost::json::value(0), std::move(description), 0};
}
// error = "" with the meaning in the description (userfieldconfig.*, crm.status.*).
inline ApiError ErrEmpty(std::string description) {
    return ApiError{400, boost::json::value(""), std::move(description), 0};
}

// What a method returns on success: the payload plus the list-method extras of the envelope (CONTRACT §2.2).
struct MethodOk {
    boost::json::value result;
    std::optional<std::int64_t> total;
    std::optional<std::int64_t> next;
};

// Either a success or a documented error. A small sum type rather than Result<T> because an ApiError is not a
// failure of the emulator: it is the answer the portal gives.
class MethodReply {
public:
    MethodReply(MethodOk ok) : ok_(std::move(ok)) {}     // NOLINT(google-explicit-constructor): returned by value
    MethodReply(ApiError err) : err_(std::move(err)) {}  // NOLINT(google-explicit-constructor)
    MethodReply(boost::json::value result) : ok_(MethodOk{std::move(result), {}, {}}) {}  // NOLINT

    bool Ok() const { return ok_.has_value(); }
    const MethodOk& Value() const { return *ok_; }
    MethodOk& Value() { return *ok_; }
    const ApiError& Error() const { return *err_; }

private:
    std::optional<MethodOk> ok_;
    std::optional<ApiError> err_;
};

}  // namespace dispatch::emulator
