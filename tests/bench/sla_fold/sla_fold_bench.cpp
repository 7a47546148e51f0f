// The refold after a calendar change (issue: <= 5 s for 1,000,000 open tickets): a new calendar version is
// compiled, then every open ticket is folded again, re-deriving its deadlines, next timer and due decisions.
//
//   bench_sla_fold                  Google Benchmark micro-benchmarks, then the 1M refold and its `bench` line
//   bench_sla_fold --tickets=N      refold N tickets instead of 1,000,000
//   bench_sla_fold --refold-only    skip the micro-benchmarks
//
// The tickets are folds of 65,536 distinct open ledgers (created across a month, all priorities and templates,
// a third taken into work, some waiting, some returned), each folded 1e6/65,536 times: the same work per fold as
// a million distinct ledgers with a memory footprint that suits a shared 2-core box. Single-threaded.

#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sla/fold.hpp"
#include "sla/ledger.hpp"
#include "sla/policy_load.hpp"

namespace dispatch::sla {
namespace {

constexpr TimeMs kMonthStart = 1'772'312'400'000;  // 2026-03-01T00:00:00+03:00
constexpr TimeMs kNow = kMonthStart + 31 * kDayMs;  // 2026-04-01T00:00:00+03:00
constexpr std::size_t kPool = 65'536;

struct World {
    SlaConfig config;
    CalendarSet calendars;
    std::vector<Ledger> ledgers;
};

std::uint64_t Mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

Ledger MakeLedger(std::int64_t id, const std::vector<std::string>& templates) {
    const std::uint64_t r = Mix(static_cast<std::uint64_t>(id));
    Ledger ledger(id);
    const TimeMs created = kMonthStart + static_cast<TimeMs>(r % (30 * kDayMs / kMinuteMs)) * kMinuteMs;
    const auto priority = static_cast<Priority>((r >> 20) % 4);
    std::string template_name = templates[(r >> 24) % templates.size()];
    std::int64_t seq = 0;
    (void)ledger.Append(Event::Created(created, ++seq, priority, std::move(template_name)));
    (void)ledger.Append(Event::Simple(created + kSecondMs, ++seq, EventKind::kRouted));
    const unsigned shape = (r >> 32) % 6;
    if (shape >= 2) {
        (void)ledger.Append(Event::Assigned(created + 10 * kMinuteMs, ++seq, 12));
        (void)ledger.Append(Event::StageMoved(created + 11 * kMinuteMs, ++seq, StageRole::kInProgress));
    }
    if (shape >= 4) {
        (void)ledger.Append(Event::StageMoved(created + 2 * kHourMs, ++seq, StageRole::kWaiting));
    }
    if (shape == 5) {
        (void)ledger.Append(Event::StageMoved(created + 20 * kHourMs, ++seq, StageRole::kInProgress));
        (void)ledger.Append(Event::StageMoved(created + 26 * kHourMs, ++seq, StageRole::kReview));
        (void)ledger.Append(Event::StageMoved(created + 50 * kHourMs, ++seq, StageRole::kInProgress));
    }
    return ledger;
}

World& TheWorld() {
    static World world = [] {
        World w;
        auto config = LoadSlaConfig(std::string(DISPATCH_SOURCE_DIR) + "/workplace/sla.json",
                                    std::string(DISPATCH_SOURCE_DIR) + "/schemas/sla.schema.json");
        if (!config) {
            std::fprintf(stderr, "cannot load the seed policy: %s\n", config.error().detail.c_str());
            std::exit(1);
        }
        w.config = std::move(*config);
        auto calendars = CompileCalendars(w.config.calendars, 2026, 2026);
        if (!calendars) {
            std::fprintf(stderr, "cannot compile calendars: %s\n", calendars.error().detail.c_str());
            std::exit(1);
        }
        w.calendars = std::move(*calendars);
        w.ledgers.reserve(kPool);
        for (std::size_t i = 0; i < kPool; ++i) {
            w.ledgers.push_back(MakeLedger(static_cast<std::int64_t>(i + 1), w.config.policy.templates));
        }
        return w;
    }();
    return world;
}

// The admin adds a day off on 20 March to both lines: every calendar gets a new version.
std::vector<CalendarSpec> ChangedCalendars(const std::vector<CalendarSpec>& specs) {
    std::vector<CalendarSpec> changed = specs;
    for (CalendarSpec& spec : changed) {
        spec.holidays.push_back(LocalDate{2026, 3, 20});
        ++spec.version;
    }
    return changed;
}

void BM_FoldOneTicket(benchmark::State& state) {
    World& w = TheWorld();
    std::size_t i = 0;
    for (auto _ : state) {
        auto r = Fold(w.config.policy, w.calendars, w.ledgers[i++ % kPool], kNow);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_FoldOneTicket);

void BM_CompileCalendars(benchmark::State& state) {
    World& w = TheWorld();
    const auto changed = ChangedCalendars(w.config.calendars);
    for (auto _ : state) {
        auto set = CompileCalendars(changed, 2026, 2026);
        benchmark::DoNotOptimize(set);
    }
}
BENCHMARK(BM_CompileCalendars)->Unit(benchmark::kMillisecond);

double CpuSeconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

struct Timing {
    double wall;
    double cpu;
};

Timing Refold(std::size_t tickets) {
    World& w = TheWorld();
    const double cpu_started = CpuSeconds();
    const auto started = std::chrono::steady_clock::now();
    auto changed = CompileCalendars(ChangedCalendars(w.config.calendars), 2026, 2026);
    if (!changed) {
        std::fprintf(stderr, "cannot compile the changed calendars: %s\n", changed.error().detail.c_str());
        std::exit(1);
    }
    std::int64_t checksum = 0;
    std::size_t failures = 0;
    for (std::size_t i = 0; i < tickets; ++i) {
        auto r = Fold(w.config.policy, *changed, w.ledgers[i % kPool], kNow);
        if (!r) {
            ++failures;
            continue;
        }
        checksum += r->resolution.deadline.value_or(0) + (r->next_timer ? r->next_timer->at : 0) +
                    static_cast<std::int64_t>(r->decisions.size());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double cpu = CpuSeconds() - cpu_started;
    benchmark::DoNotOptimize(checksum);
    if (failures != 0) {
        std::fprintf(stderr, "%zu folds failed\n", failures);
        std::exit(1);
    }
    return Timing{seconds, cpu};
}

}  // namespace
}  // namespace dispatch::sla

int main(int argc, char** argv) {
    std::size_t tickets = 1'000'000;
    bool refold_only = false;
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--tickets=", 10) == 0) {
            tickets = std::strtoull(argv[i] + 10, nullptr, 10);
        } else if (std::strcmp(argv[i], "--refold-only") == 0) {
            refold_only = true;
        } else {
            rest.push_back(argv[i]);
        }
    }
    if (!refold_only) {
        int rest_argc = static_cast<int>(rest.size());
        benchmark::Initialize(&rest_argc, rest.data());
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
    }
    const auto timing = dispatch::sla::Refold(tickets);
    const double scale = tickets == 1'000'000 ? 1.0 : 1e6 / static_cast<double>(tickets);
    // Wall time is the figure the issue sets (<= 5 s); CPU time shows what a busy shared box hides.
    std::printf("bench sla.refold_1m_tickets_s %.3f s\n", timing.wall * scale);
    std::printf("bench sla.refold_1m_tickets_cpu_s %.3f s\n", timing.cpu * scale);
    return 0;
}
