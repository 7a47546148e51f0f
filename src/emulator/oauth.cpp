#include "emulator/oauth.hpp"

#include "core/json.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

HttpReply OAuthError(int status, const char* error, const char* description) {
    // settings/oauth/error-codes.md names the codes; statuses are a GAP — we answer like RFC 6749 §5.2 (README).
    return HttpReply{status, json::Dump(bj::object{{"error", error}, {"error_description", description}})};
}

std::string Str(const bj::object& params, const char* key) {
    const auto* v = params.if_contains(key);
    return v ? json::ToString(*v).value_or("") : "";
}

constexpr std::size_t kTokenChars = 70;
constexpr std::size_t kCheckChars = 8;

// FNV-1a of the member id and the token body, as 8 hex characters. Not a secret: it only tells the portal's own
// tokens (which it may have purged after expiry) from strings it never issued.
std::string TokenCheck(const std::string& member_id, std::string_view body) {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&](std::string_view s) {
        for (unsigned char c : s) {
            h ^= c;
            h *= 1099511628211ull;
        }
    };
    mix(member_id);
    mix("|");
    mix(body);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(kCheckChars, '0');
    for (std::size_t i = 0; i < kCheckChars; ++i) {
        out[i] = kHex[(h >> (4 * i)) & 0xf];
    }
    return out;
}

bool IssuedHere(const Portal& portal, const std::string& token) {
    if (token.size() != kTokenChars) {
        return false;
    }
    const std::string_view t(token);
    return t.substr(kTokenChars - kCheckChars) ==
           TokenCheck(portal.State().member_id, t.substr(0, kTokenChars - kCheckChars));
}

// Sweeps at most once per simulated minute: the calls that reach here are frequent (every token check).
void MaybePurge(Portal& portal) {
    const TimeMs now = portal.Now();
    auto& last = portal.LastTokenPurge();
    if (now - last < kMinuteMs && now >= last) {
        return;
    }
    last = now;
    PurgeExpiredTokens(portal);
}

}  // namespace

void PurgeExpiredTokens(Portal& portal) {
    const TimeMs now = portal.Now();
    auto& st = portal.State();
    std::erase_if(st.access_tokens, [&](const auto& kv) { return kv.second.expires <= now; });
    std::erase_if(st.refresh_tokens, [&](const auto& kv) { return kv.second.expires <= now; });
    std::erase_if(st.auth_codes, [&](const auto& kv) { return kv.second.expires <= now; });
}

std::string IssueAccessToken(Portal& portal, std::int64_t user_id) {
    MaybePurge(portal);
    // Real tokens are ~70 hex characters with the portal's id folded in; only opacity matters to clients.
    auto body = portal.RandomHex(kTokenChars - kCheckChars);
    auto token = body + TokenCheck(portal.State().member_id, body);
    portal.State().access_tokens[token] = AccessToken{user_id, portal.Now() + kAccessTokenLifetimeMs};
    return token;
}

TokenPair IssueTokenPair(Portal& portal, std::int64_t user_id) {
    TokenPair p;
    p.user_id = user_id;
    p.access_token = IssueAccessToken(portal, user_id);
    p.expires = portal.Now() + kAccessTokenLifetimeMs;
    p.refresh_token = portal.RandomHex(70);
    portal.State().refresh_tokens[p.refresh_token] = RefreshToken{user_id, portal.Now() + kRefreshTokenLifetimeMs};
    return p;
}

std::string IssueAuthCode(Portal& portal, std::int64_t user_id) {
    auto code = portal.RandomHex(40);
    portal.State().auth_codes[code] = AuthCode{user_id, portal.Now() + kAuthCodeLifetimeMs};
    return code;
}

bj::object TokenResponse(Portal& portal, const TokenPair& pair) {
    return bj::object{{"access_token", pair.access_token},
                      {"expires", pair.expires / 1000},
                      {"expires_in", kAccessTokenLifetimeMs / 1000},
                      {"scope", portal.State().app.scope},
                      // auto-renewal.md: `domain` is the OAuth server's host; here that is the emulator itself.
                      {"domain", portal.Domain()},
                      {"server_endpoint", portal.ServerEndpoint()},
                      {"status", "L"},
                      {"client_endpoint", portal.ClientEndpoint()},
                      {"member_id", portal.State().member_id},
                      {"user_id", pair.user_id},
                      {"refresh_token", pair.refresh_token}};
}

HttpReply HandleTokenRequest(Portal& portal, const bj::object& params) {
    const auto grant = Str(params, "grant_type");
    const auto client_id = Str(params, "client_id");
    const auto client_secret = Str(params, "client_secret");
    if (grant.empty() || client_id.empty()) {
        return OAuthError(400, "invalid_request", "Missing grant_type or client_id");
    }
    auto& st = portal.State();
    if (client_id != st.app.client_id || client_secret != st.app.client_secret) {
        return OAuthError(401, "invalid_client", "Invalid client credentials");
    }
    MaybePurge(portal);
    const TimeMs now = portal.Now();
    std::int64_t user_id = 0;
    if (grant == "authorization_code") {
        const auto code = Str(params, "code");
        auto it = st.auth_codes.find(code);
        if (it == st.auth_codes.end() || it->second.expires <= now) {
            if (it != st.auth_codes.end()) {
                st.auth_codes.erase(it);
            }
            return OAuthError(400, "invalid_grant", "Invalid authorization code");
        }
        user_id = it->second.user_id;
        st.auth_codes.erase(it);  // single use
    } else if (grant == "refresh_token") {
        const auto rt = Str(params, "refresh_token");
        auto it = st.refresh_tokens.find(rt);
        if (it == st.refresh_tokens.end() || it->second.expires <= now) {
            return OAuthError(400, "invalid_grant", "Invalid refresh token");
        }
        user_id = it->second.user_id;
        st.refresh_tokens.erase(it);  // rotation: the old refresh token is now stale
    } else {
        return OAuthError(400, "invalid_request", "Unsupported grant_type");
    }
    const auto pair = IssueTokenPair(portal, user_id);
    return HttpReply{200, json::Dump(TokenResponse(portal, pair))};
}

std::variant<std::int64_t, ApiError> CheckAccessToken(Portal& portal, const std::string& token) {
    MaybePurge(portal);
    auto& tokens = portal.State().access_tokens;
    auto it = tokens.find(token);
    if (it == tokens.end()) {
        if (IssuedHere(portal, token)) {
            // Ours but no longer kept: only expired tokens are purged.
            return Err(401, "expired_token", "The access token provided has expired.");
        }
        return Err(401, "NO_AUTH_FOUND", "Wrong authorization data");
    }
    if (it->second.expires <= portal.Now()) {
        return Err(401, "expired_token", "The access token provided has expired.");
    }
    return it->second.user_id;
}

void ExpireAccessTokens(Portal& portal) {
    const TimeMs now = portal.Now();
    for (auto& [token, t] : portal.State().access_tokens) {
        t.expires = std::min(t.expires, now);
    }
}

}  // namespace dispatch::emulator
