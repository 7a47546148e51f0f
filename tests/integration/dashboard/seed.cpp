#include "seed.hpp"

#include <array>

#include "core/time_format.hpp"

namespace dispatch::dashboard {
namespace {

// splitmix64: tiny, well mixed, and the same everywhere.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t Next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    int Uniform(int lo, int hi) { return lo + static_cast<int>(Next() % static_cast<std::uint64_t>(hi - lo + 1)); }
    bool Chance(int percent) { return Uniform(0, 99) < percent; }

private:
    std::uint64_t state_;
};

constexpr TimeMs kMoscowOffset = 3 * kHourMs;

class Builder {
public:
    explicit Builder(std::int64_t id) : ledger_(id) {}
    Result<void> Add(sla::Event e) {
        e.seq = ++seq_;
        return ledger_.Append(std::move(e));
    }
    sla::Ledger Take() { return std::move(ledger_); }

private:
    sla::Ledger ledger_;
    std::int64_t seq_ = 0;
};

Result<sla::Ledger> MakeTicket(Rng& rng, std::int64_t id) {
    // A day from Mon 2 Feb to Tue 31 Mar 2026, mostly working days, mostly working hours (Moscow).
    const TimeMs first_day = FromCivilUtc(2026, 2, 2) - kMoscowOffset;
    int day = rng.Uniform(0, 57);
    while ((day % 7 == 5 || day % 7 == 6) && rng.Chance(85)) {
        day = rng.Uniform(0, 57);
    }
    const int hour = rng.Chance(85) ? rng.Uniform(8, 19) : rng.Uniform(0, 23);
    const TimeMs created = first_day + day * kDayMs + hour * kHourMs + rng.Uniform(0, 59) * kMinuteMs;

    static const std::array<const char*, 6> kTemplates{"1C", "Hardware", "Access", "Software", "Web", "Other"};
    static const std::array<int, 6> kWeights{15, 30, 20, 15, 10, 10};
    std::string template_name;
    if (!rng.Chance(6)) {
        int pick = rng.Uniform(0, 99);
        std::size_t i = 0;
        while (pick >= kWeights[i]) {
            pick -= kWeights[i];
            ++i;
        }
        template_name = kTemplates[i];
    }
    const int p = rng.Uniform(0, 99);
    const sla::Priority priority = p < 10   ? sla::Priority::kUrgent
                                   : p < 30 ? sla::Priority::kHigh
                                   : p < 90 ? sla::Priority::kNormal
                                            : sla::Priority::kLow;

    Builder b(id);
    const auto minutes = [](int m) { return static_cast<TimeMs>(m) * kMinuteMs; };
    if (auto ok = b.Add(sla::Event::Created(created, 0, priority, template_name)); !ok) {
        return ok.error();
    }
    Result<void> ok;
    if (template_name.empty()) {
        // The flows close a request without a template at once (grace 0).
        ok = b.Add(sla::Event::Simple(created, 0, sla::EventKind::kAutoClosed));
        if (ok) {
            ok = b.Add(sla::Event::StageMoved(created, 0, sla::StageRole::kRejected));
        }
        return ok ? Result<sla::Ledger>(b.Take()) : Result<sla::Ledger>(ok.error());
    }
    if (rng.Chance(4)) {
        ok = b.Add(sla::Event::StageMoved(created + minutes(rng.Uniform(5, 300)), 0, sla::StageRole::kRejected));
        return ok ? Result<sla::Ledger>(b.Take()) : Result<sla::Ledger>(ok.error());
    }
    if (rng.Chance(4)) {
        return b.Take();  // nobody has taken it yet
    }
    static const std::array<std::int64_t, 7> kPeople{12, 13, 14, 22, 23, 24, 25};
    const std::int64_t assignee = kPeople[static_cast<std::size_t>(rng.Uniform(0, 6))];
    const int line = assignee >= 22 && assignee <= 24 ? 2 : 1;
    TimeMs t = created + minutes(priority == sla::Priority::kUrgent ? rng.Uniform(2, 40) : rng.Uniform(5, 300));
    std::vector<sla::Event> events;
    events.push_back(sla::Event::Assigned(t, 0, assignee));
    events.push_back(sla::Event::StageMoved(t, 0, sla::StageRole::kInProgress, line));
    bool finished = true;
    if (rng.Chance(20)) {
        t += minutes(rng.Uniform(10, 240));
        events.push_back(sla::Event::StageMoved(t, 0, sla::StageRole::kWaiting, line));
        t += minutes(rng.Uniform(30, 900));
        events.push_back(sla::Event::StageMoved(t, 0, sla::StageRole::kInProgress, line));
    }
    if (rng.Chance(5)) {
        finished = false;  // still being worked on
    }
    int cycles = 1;
    if (finished) {
        t += minutes(rng.Uniform(20, 1500));
        events.push_back(sla::Event::StageMoved(t, 0, sla::StageRole::kReview, line));
        if (rng.Chance(12)) {
            t += minutes(rng.Uniform(60, 1200));
            events.push_back(sla::Event::StageMoved(t, 0, sla::StageRole::kInProgress, line));
            t += minutes(rng.Uniform(30, 600));
            events.push_back(sla::Event::StageMoved(t, 0, sla::StageRole::kReview, line));
            cycles = 2;
        }
        const int outcome = rng.Uniform(0, 99);
        if (outcome < 70) {
            t += minutes(rng.Uniform(30, 1440));
            events.push_back(sla::Event::Simple(t, 0, sla::EventKind::kAccepted));
            events.push_back(sla::Event::StageMoved(t, 0, sla::StageRole::kDone, line));
        } else if (outcome < 90) {
            t += 4 * kDayMs;
            events.push_back(
                sla::Event::Record(t, 0, sla::EventKind::kAutoAccepted, sla::Metric::kResolution, cycles, 0));
            events.push_back(sla::Event::StageMoved(t, 0, sla::StageRole::kDone, line));
        }
    }
    for (sla::Event& e : events) {
        if (auto added = b.Add(std::move(e)); !added) {
            return added.error();
        }
    }
    return b.Take();
}

}  // namespace

Result<Seed> MakeSeed(const std::string& sla_path, const std::string& schema_path, int tickets, std::uint64_t seed) {
    auto config = sla::LoadSlaConfig(sla_path, schema_path);
    if (!config) {
        return config.error();
    }
    auto calendars = sla::CompileCalendars(config->calendars, 2025, 2027);
    if (!calendars) {
        return calendars.error();
    }
    Seed out;
    out.config = std::move(*config);
    out.calendars = std::move(*calendars);
    Rng rng(seed);
    out.ledgers.reserve(static_cast<std::size_t>(tickets));
    for (int i = 0; i < tickets; ++i) {
        auto ledger = MakeTicket(rng, 1000 + i);
        if (!ledger) {
            return ledger.error();
        }
        out.ledgers.push_back(std::move(*ledger));
    }
    return out;
}

Result<std::vector<sla::FoldResult>> FoldSeed(const Seed& seed, TimeMs now) {
    std::vector<sla::FoldResult> out;
    out.reserve(seed.ledgers.size());
    for (const sla::Ledger& ledger : seed.ledgers) {
        auto folded = sla::Fold(seed.config.policy, seed.calendars, ledger, now);
        if (!folded) {
            return folded.error();
        }
        out.push_back(std::move(*folded));
    }
    return out;
}

}  // namespace dispatch::dashboard
