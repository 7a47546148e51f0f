// 10^6 random cases of the fast calendar engine against the brute-force oracle (label `slow`), in four shards with
// their own seeds so ctest can run them side by side. Set DISPATCH_ORACLE_SEED to replay a seed in every shard.

#include <gtest/gtest.h>

#include "support/calendar_random.hpp"

namespace dispatch::sla {
namespace {

class CalendarOracleSlowTest : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(CalendarOracleSlowTest, QuarterMillionRandomCasesMatchBruteForce) {
    const std::uint64_t seed = testing::OracleSeed(GetParam());
    const testing::OracleRunResult run = testing::RunRandomOracleCases(seed, 250'000);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " (DISPATCH_ORACLE_SEED=" << seed << " replays)");
    EXPECT_GE(run.cases, 250'000);
    EXPECT_EQ(run.mismatch_count, 0) << "over " << run.cases << " cases on " << run.calendars << " calendars ("
                                     << run.bounded << " checked against a bound only)";
    for (const std::string& m : run.mismatches) {
        ADD_FAILURE() << m;
    }
}

INSTANTIATE_TEST_SUITE_P(Shards, CalendarOracleSlowTest, ::testing::Values(1001u, 2002u, 3003u, 4004u));

}  // namespace
}  // namespace dispatch::sla
