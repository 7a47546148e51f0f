#include "core/secret.hpp"

namespace dispatch {

bool SecretsEqual(std::string_view expected, std::string_view given) noexcept {
    if (expected.empty()) {
        return false;
    }
    // The length mismatch is folded into the result rather than returned early, and the loop runs over the
    // expected length whatever was given.
    unsigned char diff = expected.size() == given.size() ? 0 : 1;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
        diff |= static_cast<unsigned char>(static_cast<unsigned char>(expected[i]) ^ g);
    }
    return diff == 0;
}

}  // namespace dispatch
