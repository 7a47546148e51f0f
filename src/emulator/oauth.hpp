#pragma once
// The OAuth 2.0 server of the emulated portal (CONTRACT §1.2, §13.1): `/oauth/token/` with the
// authorization_code and refresh_token grants, plus token checks for `/rest/{method}?auth=…`.
// Access tokens live one hour on the emulator clock, refresh tokens 180 days and rotate on every refresh (the old
// one answers invalid_grant afterwards), authorization codes 30 s and are single-use.
// Expired access tokens, expired refresh tokens and expired codes are purged on the emulator clock (at most once a
// simulated minute, when the OAuth server or a token check runs), so a long demo does not pile up every token each
// event delivery issued. A purged access token still answers expired_token: tokens carry a check suffix that lets
// the portal recognise its own (CheckAccessToken).
// All functions expect the portal mutex to be held.

#include <boost/json.hpp>
#include <cstdint>
#include <string>

#include "emulator/api_error.hpp"
#include "emulator/portal.hpp"

namespace dispatch::emulator {

constexpr TimeMs kAccessTokenLifetimeMs = kHourMs;
constexpr TimeMs kRefreshTokenLifetimeMs = 180 * kDayMs;
constexpr TimeMs kAuthCodeLifetimeMs = 30 * kSecondMs;

struct TokenPair {
    std::string access_token;
    std::string refresh_token;
    TimeMs expires = 0;  // of the access token
    std::int64_t user_id = 0;
};

struct HttpReply {
    int status = 200;
    std::string body;  // serialised JSON
};

std::string IssueAccessToken(Portal& portal, std::int64_t user_id);
TokenPair IssueTokenPair(Portal& portal, std::int64_t user_id);
// A code the test or demo "receives on redirect_uri" after the user approved the app.
std::string IssueAuthCode(Portal& portal, std::int64_t user_id);

// The token endpoint. `params` are the merged query/body parameters.
HttpReply HandleTokenRequest(Portal& portal, const boost::json::object& params);

// The JSON a token response carries (also the `auth` block of the install callback, minus JSON-only keys).
boost::json::object TokenResponse(Portal& portal, const TokenPair& pair);

// user id for a valid access token; 401 NO_AUTH_FOUND (unknown) or 401 expired_token.
std::variant<std::int64_t, ApiError> CheckAccessToken(Portal& portal, const std::string& token);

// Fault injection: every access token issued so far expires now (refresh tokens stay valid).
void ExpireAccessTokens(Portal& portal);

// Removes expired access tokens, refresh tokens and authorization codes now, whatever the last sweep was.
void PurgeExpiredTokens(Portal& portal);

}  // namespace dispatch::emulator
