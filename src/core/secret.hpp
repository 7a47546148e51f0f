#pragma once
// Comparing secrets (application tokens, hook secrets, API tokens) without a timing side channel.

#include <string_view>

namespace dispatch {

// True when both are equal and `expected` is not empty. The time taken depends only on expected.size(), not on
// where a guess went wrong; an empty expected secret never matches (a missing configuration must not open a door).
bool SecretsEqual(std::string_view expected, std::string_view given) noexcept;

}  // namespace dispatch
