#pragma once
// Random calendars and queries checked against CalendarOracle: shared by the unit test (10^4 cases, seconds) and
// the slow test (10^6 cases). Deterministic for a seed; every mismatch message carries the seed, the calendar and
// the query so it can be replayed.

#include <cstdint>
#include <string>
#include <vector>

namespace dispatch::sla::testing {

struct OracleRunResult {
    std::int64_t cases = 0;  // comparisons made (IsOpen probes not counted)
    std::int64_t calendars = 0;
    std::int64_t bounded = 0;  // of `cases`: the oracle's walk hit its limit, so only a bound was checked
    std::vector<std::string> mismatches;  // at most the first few, fully described
    std::int64_t mismatch_count = 0;
};

// Runs random calendars until at least `min_cases` comparisons were made.
OracleRunResult RunRandomOracleCases(std::uint64_t seed, std::int64_t min_cases);

// The seed to use: $DISPATCH_ORACLE_SEED when set, otherwise `fallback`.
std::uint64_t OracleSeed(std::uint64_t fallback);

}  // namespace dispatch::sla::testing
