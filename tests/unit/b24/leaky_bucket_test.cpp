#include "b24/leaky_bucket.hpp"

#include <gtest/gtest.h>

namespace dispatch::b24 {
namespace {

class LeakyBucketTest : public ::testing::Test {
protected:
    LeakyBucket bucket_{{.drain_per_second = 2.0, .capacity = 50.0, .headroom = 5.0}};
    TimeMs now_ = 1'767'225'600'000;  // any fixed instant; no real clock
};

TEST_F(LeakyBucketTest, AllowsBurstUpToCapacityMinusHeadroom) {
    for (int i = 0; i < 45; ++i) {
        ASSERT_EQ(bucket_.TryAcquire(now_), 0) << "request " << i;
    }

    EXPECT_EQ(bucket_.TryAcquire(now_), 500);
}

TEST_F(LeakyBucketTest, DrainsAtConfiguredRate) {
    for (int i = 0; i < 45; ++i) {
        (void)bucket_.TryAcquire(now_);
    }

    now_ += 500;

    EXPECT_EQ(bucket_.TryAcquire(now_), 0);
    EXPECT_EQ(bucket_.TryAcquire(now_), 500);
}

TEST_F(LeakyBucketTest, ARefusedAcquireCountsNothing) {
    for (int i = 0; i < 45; ++i) {
        (void)bucket_.TryAcquire(now_);
    }

    EXPECT_EQ(bucket_.TryAcquire(now_), 500);
    EXPECT_EQ(bucket_.TryAcquire(now_), 500);
    EXPECT_DOUBLE_EQ(bucket_.Level(now_), 45.0);
}

TEST_F(LeakyBucketTest, ServerRejectionFillsTheBucket) {
    bucket_.OnLimitExceeded(now_);

    EXPECT_EQ(bucket_.TryAcquire(now_), 3000);  // (50 + 1 - 45) / 2 per second
}

TEST_F(LeakyBucketTest, ClockSteppingBackDoesNotRefill) {
    for (int i = 0; i < 45; ++i) {
        (void)bucket_.TryAcquire(now_);
    }

    now_ -= 60'000;

    EXPECT_EQ(bucket_.TryAcquire(now_), 500);
}

TEST(LeakyBucketPlans, EnterpriseDrainsFasterWithALargerBurst) {
    LeakyBucket bucket(EnterprisePlan(/*headroom=*/50.0));
    const TimeMs now = 1000;
    for (int i = 0; i < 200; ++i) {
        ASSERT_EQ(bucket.TryAcquire(now), 0) << "request " << i;
    }

    EXPECT_EQ(bucket.TryAcquire(now), 200);  // 1 request / 5 per second
}

TEST(LeakyBucketPlans, HeadroomLargerThanCapacityStillLetsOneRequestThrough) {
    LeakyBucket bucket({.drain_per_second = 2.0, .capacity = 10.0, .headroom = 20.0});

    EXPECT_EQ(bucket.TryAcquire(0), 0);
    EXPECT_EQ(bucket.TryAcquire(0), 500);
}

}  // namespace
}  // namespace dispatch::b24
