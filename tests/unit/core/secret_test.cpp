#include "core/secret.hpp"

#include <gtest/gtest.h>

namespace dispatch {
namespace {

TEST(SecretsEqual, ComparesWholeValues) {
    EXPECT_TRUE(SecretsEqual("abc123", "abc123"));
    EXPECT_FALSE(SecretsEqual("abc123", "abc124"));
    EXPECT_FALSE(SecretsEqual("abc123", "abc12"));
    EXPECT_FALSE(SecretsEqual("abc123", "abc1234"));
    EXPECT_FALSE(SecretsEqual("abc123", ""));
}

TEST(SecretsEqual, AnEmptyExpectedSecretNeverMatches) {
    EXPECT_FALSE(SecretsEqual("", ""));
    EXPECT_FALSE(SecretsEqual("", "x"));
}

}  // namespace
}  // namespace dispatch
