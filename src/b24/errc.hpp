#pragma once
// The stable failure vocabulary of the Bitrix24 REST client (STYLE.md §3.5, example E1) and the one place where a
// failure becomes a retry decision. Every Result returned by dispatch::b24 carries a code of this category.

#include <boost/system/error_code.hpp>
#include <optional>
#include <string_view>
#include <type_traits>

namespace dispatch::b24 {

// Stable values: they reach logs, metrics and the database. Append only; never reuse a value.
enum class Errc {
    kTransport = 1,           // connect/TLS/read/write failed or timed out (no HTTP answer at all)
    kServerError = 2,         // HTTP 5xx: INTERNAL_SERVER_ERROR, ERROR_UNEXPECTED_ANSWER, a 5xx without JSON
    kQueryLimitExceeded = 3,  // HTTP 503 QUERY_LIMIT_EXCEEDED: the portal's leaky bucket is full
    kOperationTimeLimit = 4,  // HTTP 429 OPERATION_TIME_LIMIT: wait for time.operating_reset_at
    kExpiredToken = 5,        // HTTP 401 expired_token: refresh the OAuth pair, then replay once
    kAccessDenied = 6,        // 401 NO_AUTH_FOUND/invalid_token, 403 insufficient_scope, INVALID_CREDENTIALS,
                              // user_access_error, WRONG_AUTH_TYPE, allowed_only_intranet_user, ACCESS_DENIED
    kNotFound = 7,            // HTTP 400 NOT_FOUND / OWNER_NOT_FOUND: item or smart process is gone
    kPortalBlocked = 8,       // 503 OVERLOAD_LIMIT (manual block), 500 PORTAL_DELETED: a human must act
    kBadResponse = 9,         // not JSON, or JSON of an unexpected shape
    kApiError = 10,           // any other {"error": ...} answer (validation, "100", "", sentences, ...)
    kRefreshFailed = 11,      // OAuth server refused the refresh (invalid_grant, invalid_client): re-install
    kTokenStoreFailed = 12,   // the TokenStore could not load or persist the pair
    kMethodNotFound = 13,     // HTTP 404 ERROR_METHOD_NOT_FOUND / METHOD_NOT_FOUND
    kBatchTooLong = 14,       // more than 50 sub-calls (ours, or 400 ERROR_BATCH_LENGTH_EXCEEDED)
    kInvalidArgument = 15,    // refused before sending: bad method name, bad batch key, missing configuration
    kNotAllowedInBatch = 16,  // 405 ERROR_BATCH_METHOD_NOT_ALLOWED (a sub-call error)
    kTokenConflict = 17,      // TokenStore compare-and-swap lost: another worker stored a newer pair
    kAlreadyExists = 18,      // ERROR_HANDLER_ALREADY_EXIST (event.bind of a bound handler)
};

// What the caller does about a failure.
enum class RetryClass {
    kRetryCall,       // the same call may succeed later (rate limits, 5xx, transport)
    kRetryAfterAuth,  // refresh the OAuth pair, then replay
    kNever,           // retrying cannot help; a human or a code change must act
};

const boost::system::error_category& Category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), Category()}; }

// The retry decision for a code, made once here (STYLE.md §3.5).
RetryClass Classify(Errc errc) noexcept;

// Maps a Bitrix24 error answer to a code. Classifies by HTTP status first, then by `error`, then by a
// substring of `error_description` (CONTRACT §2.3 "client rule"); `error` may be "", "0", "100" or a sentence.
// `http_status` is 200 for a batch sub-call error (batch answers 200 even when sub-calls fail).
Errc FromApiError(unsigned http_status, std::string_view api_error, std::string_view description = {}) noexcept;

// A code of this category held in an error_code, or nullopt for another category.
std::optional<Errc> AsErrc(const boost::system::error_code& code) noexcept;

// "QUERY_LIMIT_EXCEEDED"-style stable name for metrics labels ("transport", "query_limit_exceeded", ...).
std::string_view Name(Errc errc) noexcept;

}  // namespace dispatch::b24

template <>
struct boost::system::is_error_code_enum<dispatch::b24::Errc> : std::true_type {};
