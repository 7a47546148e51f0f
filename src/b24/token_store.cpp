#include "b24/token_store.hpp"

#include "b24/errc.hpp"

namespace dispatch::b24 {

Result<OAuthTokens> InMemoryTokenStore::Load(const std::string& portal) {
    const std::lock_guard lock(mu_);
    const auto it = tokens_.find(portal);
    if (it == tokens_.end()) {
        return Fail(Errc::kRefreshFailed, "no oauth tokens stored portal=" + portal);
    }
    return it->second;
}

Result<std::int64_t> InMemoryTokenStore::CompareAndSwap(const std::string& portal,
                                                        std::int64_t expected_version,
                                                        const OAuthTokens& next) {
    const std::lock_guard lock(mu_);
    auto& slot = tokens_[portal];
    if (slot.version != expected_version) {
        return Fail(Errc::kTokenConflict, "version conflict portal=" + portal);
    }
    slot = next;
    slot.version = expected_version + 1;
    ++swaps_;
    return slot.version;
}

std::int64_t InMemoryTokenStore::Put(const std::string& portal, OAuthTokens tokens) {
    const std::lock_guard lock(mu_);
    auto& slot = tokens_[portal];
    tokens.version = slot.version + 1;
    slot = std::move(tokens);
    return slot.version;
}

int InMemoryTokenStore::SwapCount() const {
    const std::lock_guard lock(mu_);
    return swaps_;
}

}  // namespace dispatch::b24
