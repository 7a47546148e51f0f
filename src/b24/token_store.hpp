#pragma once
// Where the OAuth pair of a portal lives. b24 sits below store (src/README.md), so it only declares the interface;
// app wires it to store's TokenRepo. Writes are compare-and-swap on a version, so two workers (or two instances)
// refreshing at once cannot silently overwrite each other's rotated refresh token.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace dispatch::b24 {

struct OAuthTokens {
    std::string access_token{};     // never logged (log::MaskSecret)
    std::string refresh_token{};    // never logged; rotated by every refresh (auto-renewal.md)
    TimeMs expires_at = 0;          // when access_token expires (0: unknown)
    std::string client_endpoint{};  // "https://portal/rest/" as the OAuth server reported it (may be empty)
    std::int64_t version = 0;       // bumped by every successful CompareAndSwap; 0: never stored
};

class TokenStore {
public:
    virtual ~TokenStore() = default;
    // The current pair of `portal` (the client's portal key, e.g. member_id). Errc::kTokenStoreFailed when
    // unavailable; Errc::kRefreshFailed when the portal has no tokens at all (nothing to refresh: re-install).
    virtual Result<OAuthTokens> Load(const std::string& portal) = 0;
    // Stores `next` only if the stored version is still `expected_version`; returns the new version
    // (expected_version + 1). A lost race fails with Errc::kTokenConflict; callers then Load() again and adopt
    // what the winner stored. Other failures: Errc::kTokenStoreFailed.
    virtual Result<std::int64_t> CompareAndSwap(const std::string& portal,
                                                std::int64_t expected_version,
                                                const OAuthTokens& next) = 0;
};

// For tests and single-process tools. Thread-safe.
class InMemoryTokenStore final : public TokenStore {
public:
    Result<OAuthTokens> Load(const std::string& portal) override;
    Result<std::int64_t> CompareAndSwap(const std::string& portal,
                                        std::int64_t expected_version,
                                        const OAuthTokens& next) override;

    // Seeds (or replaces) a pair unconditionally; returns the stored version.
    std::int64_t Put(const std::string& portal, OAuthTokens tokens);
    int SwapCount() const;

private:
    mutable std::mutex mu_;
    std::map<std::string, OAuthTokens> tokens_{};
    int swaps_ = 0;
};

}  // namespace dispatch::b24
