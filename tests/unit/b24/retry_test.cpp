#include "b24/retry.hpp"

#include <gtest/gtest.h>

namespace dispatch::b24 {
namespace {

RetryPolicy Policy() {
    return RetryPolicy({.max_attempts = 5,
                        .base_delay_ms = 500,
                        .max_delay_ms = 4000,
                        .jitter = 0.5,
                        .budget_ms = 60'000,
                        .max_reset_wait_ms = 11 * kMinuteMs});
}

TEST(RetryPolicy, BackoffDoublesAndIsCapped) {
    const RetryPolicy policy = Policy();

    EXPECT_EQ(policy.BaseDelay(1), 500);
    EXPECT_EQ(policy.BaseDelay(2), 1000);
    EXPECT_EQ(policy.BaseDelay(3), 2000);
    EXPECT_EQ(policy.BaseDelay(4), 4000);
    EXPECT_EQ(policy.BaseDelay(10), 4000);
}

TEST(RetryPolicy, JitterStaysWithinHalfToFullStep) {
    const RetryPolicy policy = Policy();
    RetryInput input{.attempts = 2, .errc = Errc::kQueryLimitExceeded};

    input.random_unit = 0.0;
    EXPECT_EQ(policy.NextDelay(input), 500);
    input.random_unit = 0.999999;
    EXPECT_EQ(policy.NextDelay(input), 1000);
    input.random_unit = 0.5;
    EXPECT_EQ(policy.NextDelay(input), 750);
}

TEST(RetryPolicy, OnlyRetryLaterCodesAreRetried) {
    const RetryPolicy policy = Policy();

    for (const Errc errc : {Errc::kQueryLimitExceeded, Errc::kServerError, Errc::kTransport}) {
        EXPECT_TRUE(policy.NextDelay({.attempts = 1, .errc = errc})) << Name(errc);
    }
    for (const Errc errc : {Errc::kNotFound,
                            Errc::kAccessDenied,
                            Errc::kPortalBlocked,
                            Errc::kExpiredToken,
                            Errc::kApiError,
                            Errc::kRefreshFailed}) {
        EXPECT_FALSE(policy.NextDelay({.attempts = 1, .errc = errc})) << Name(errc);
    }
}

TEST(RetryPolicy, GivesUpAfterMaxAttempts) {
    const RetryPolicy policy = Policy();

    EXPECT_TRUE(policy.NextDelay({.attempts = 4, .errc = Errc::kServerError}));
    EXPECT_FALSE(policy.NextDelay({.attempts = 5, .errc = Errc::kServerError}));
}

TEST(RetryPolicy, GivesUpWhenTheBudgetWouldBeExceeded) {
    const RetryPolicy policy = Policy();

    EXPECT_TRUE(
        policy.NextDelay({.attempts = 4, .errc = Errc::kServerError, .waited_ms = 56'000, .random_unit = 0.99}));
    EXPECT_FALSE(
        policy.NextDelay({.attempts = 4, .errc = Errc::kServerError, .waited_ms = 57'000, .random_unit = 0.99}));
}

TEST(RetryPolicy, OperationTimeLimitWaitsUntilTheReset) {
    const RetryPolicy policy = Policy();
    const TimeMs now = 1'000'000;

    const auto delay =
        policy.NextDelay({.attempts = 1, .errc = Errc::kOperationTimeLimit, .now = now, .reset_at = now + 42'000});

    ASSERT_TRUE(delay);
    EXPECT_EQ(*delay, 42'000);
}

TEST(RetryPolicy, OperationTimeLimitWithoutResetBacksOff) {
    const RetryPolicy policy = Policy();

    EXPECT_EQ(policy.NextDelay({.attempts = 1, .errc = Errc::kOperationTimeLimit, .random_unit = 0.0}), 250);
}

TEST(RetryPolicy, ResetFurtherThanTheWindowGivesUp) {
    RetryPolicy policy({.budget_ms = kHourMs, .max_reset_wait_ms = 11 * kMinuteMs});

    EXPECT_FALSE(policy.NextDelay({.attempts = 1, .errc = Errc::kOperationTimeLimit, .now = 0, .reset_at = kHourMs}));
}

}  // namespace
}  // namespace dispatch::b24
