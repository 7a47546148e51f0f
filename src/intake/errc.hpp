#pragma once
// Why an inbound call was refused. Stable values (they reach metrics and logs); append only.

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace dispatch::intake {

enum class Errc {
    kMalformedBody = 1,       // 400: not form-urlencoded/JSON, bad escape, wrong shape
    kMissingField = 2,        // 400: event name, item id, member_id or application_token absent
    kUnsupportedEvent = 3,    // 400: an event we never bind
    kUnknownPortal = 4,       // 401: member_id not installed
    kBadToken = 5,            // 401: application_token (or hook secret) does not match
    kTooLarge = 6,            // 413
    kStoreUnavailable = 7,    // 503: the inbox could not make the event durable; Bitrix24 will not retry, so alert
    kInstallNotVerified = 8,  // 401: the OAuth server did not confirm the install callback's tokens
    kCheckUnavailable = 9,    // 503: the install could not be checked now (OAuth server unreachable or failing)
};

const boost::system::error_category& Category() noexcept;
inline boost::system::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), Category()}; }
// The HTTP status each refusal maps to (the one place where intake failures become statuses).
unsigned HttpStatus(Errc e) noexcept;

}  // namespace dispatch::intake

template <>
struct boost::system::is_error_code_enum<dispatch::intake::Errc> : std::true_type {};
