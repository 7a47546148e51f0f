// The fast engine against the brute-force oracle on random calendars (support/calendar_random.cpp): 10^4 cases
// here, 10^6 in calendar_oracle_slow.cpp. Set DISPATCH_ORACLE_SEED to replay another seed.

#include <gtest/gtest.h>

#include "support/calendar_random.hpp"

namespace dispatch::sla {
namespace {

TEST(CalendarOracleTest, RandomCalendarsMatchBruteForce) {
    const std::uint64_t seed = testing::OracleSeed(20260302);
    const testing::OracleRunResult run = testing::RunRandomOracleCases(seed, 10'000);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " (DISPATCH_ORACLE_SEED=" << seed << " replays)");
    EXPECT_GE(run.cases, 10'000);
    EXPECT_EQ(run.mismatch_count, 0) << "over " << run.cases << " cases on " << run.calendars << " calendars ("
                                     << run.bounded << " checked against a bound only)";
    for (const std::string& m : run.mismatches) {
        ADD_FAILURE() << m;
    }
}

}  // namespace
}  // namespace dispatch::sla
