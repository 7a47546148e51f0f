#pragma once
// A seeded help desk for the dashboard test: two months (February and March 2026) of synthetic tickets on the
// real policy and calendars (workplace/sla.json), with the seed company's people (line-1 specialists 12-14,
// line-2 22-24, 1C 25): a template mix with some requests filed without one (auto-closed), some urgent, waits for
// the requester, returns, reviews accepted, auto-accepted or left open, cancellations and untouched requests.
// Deterministic: the same count and seed give the same ledgers on every machine (own PRNG, no <random>
// distributions, whose results the standard leaves to the library).

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "sla/fold.hpp"
#include "sla/ledger.hpp"
#include "sla/policy_load.hpp"

namespace dispatch::dashboard {

struct Seed {
    sla::SlaConfig config;
    sla::CalendarSet calendars;
    std::vector<sla::Ledger> ledgers;
};

[[nodiscard]] Result<Seed> MakeSeed(const std::string& sla_path,
                                    const std::string& schema_path,
                                    int tickets,
                                    std::uint64_t seed);

// Every ledger folded at `now`.
[[nodiscard]] Result<std::vector<sla::FoldResult>> FoldSeed(const Seed& seed, TimeMs now);

}  // namespace dispatch::dashboard
