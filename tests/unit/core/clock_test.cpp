#include "core/clock.hpp"

#include <gtest/gtest.h>

namespace dispatch {
namespace {

TEST(ManualClock, MovesOnlyWhenTold) {
    ManualClock clock(1000);

    EXPECT_EQ(clock.Now(), 1000);
    clock.Advance(kMinuteMs);
    EXPECT_EQ(clock.Now(), 1000 + kMinuteMs);
    clock.Set(5);
    EXPECT_EQ(clock.Now(), 5);
}

TEST(WarpedClock, JumpsForwardOnAdvanceAndNeverGoesBack) {
    WarpedClock clock(0, 0.0);  // rate 0: frozen apart from jumps, so the test reads no real time

    EXPECT_EQ(clock.Now(), 0);
    clock.Advance(kHourMs);
    EXPECT_EQ(clock.Now(), kHourMs);
    clock.SetRate(0.0);
    EXPECT_EQ(clock.Now(), kHourMs);
}

}  // namespace
}  // namespace dispatch
