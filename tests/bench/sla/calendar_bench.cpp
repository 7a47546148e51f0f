// Business-time arithmetic benchmarks. Prints `bench <name> <value> <unit>` lines on stdout for scripts/bench.sh
// (Google Benchmark's own table goes to stderr), and writes the cases that moment-business-time can also express
// to $DISPATCH_BENCH_OUT/sla_moment_cases.json so tests/bench/node/ can time the same work.

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/time_format.hpp"
#include "sla/calendar.hpp"

namespace dispatch::sla {
namespace {

constexpr std::int32_t H(int hours) { return hours * 3600; }

// Russian production calendar 2026 (Europe/Moscow, UTC+3): two ranges a day with a lunch hour, the New Year
// week and the fixed holidays with their transfers.
CalendarSpec MoscowOffice(bool with_overrides) {
    CalendarSpec spec;
    spec.id = "line1";
    spec.zone = "Europe/Moscow";
    for (std::size_t d = 0; d < 5; ++d) {
        spec.week[d] = {{H(9), H(13)}, {H(14), H(18)}};
    }
    for (unsigned d = 1; d <= 8; ++d) {
        spec.holidays.push_back({2026, 1, d});
    }
    for (const auto& [m, d] : {std::pair{2u, 23u}, {3u, 9u}, {5u, 1u}, {5u, 11u}, {6u, 12u}, {11u, 4u}, {12u, 31u}}) {
        spec.holidays.push_back({2026, m, d});
    }
    if (with_overrides) {
        spec.overrides = {{{2026, 4, 30}, {{H(9), H(13)}, {H(14), H(17)}}},
                          {{2026, 6, 11}, {{H(9), H(13)}, {H(14), H(17)}}},
                          {{2026, 11, 3}, {{H(9), H(13)}, {H(14), H(17)}}}};
    }
    return spec;
}

struct Case {
    TimeMs start;
    TimeMs duration;
    IntervalSet pauses;
};

std::vector<Case> MakeCases(std::size_t n, int pauses_per_case, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const TimeMs from = FromCivilUtc(2026, 1, 5);
    const TimeMs to = FromCivilUtc(2026, 11, 1);
    std::uniform_int_distribution<TimeMs> start_dist(from / kMinuteMs, to / kMinuteMs);
    std::uniform_int_distribution<TimeMs> minutes_dist(1, 3 * 8 * 60);  // up to three business days
    std::uniform_int_distribution<TimeMs> offset_dist(-kDayMs / kMinuteMs, 20 * kDayMs / kMinuteMs);
    std::uniform_int_distribution<TimeMs> length_dist(1, 8 * 60);
    std::vector<Case> cases;
    for (std::size_t i = 0; i < n; ++i) {
        Case c{start_dist(rng) * kMinuteMs, minutes_dist(rng) * kMinuteMs, {}};
        for (int p = 0; p < pauses_per_case; ++p) {
            const TimeMs at = c.start + offset_dist(rng) * kMinuteMs;
            c.pauses.push_back({at, at + length_dist(rng) * kMinuteMs});
        }
        c.pauses = NormalizeIntervals(std::move(c.pauses));
        cases.push_back(std::move(c));
    }
    return cases;
}

std::shared_ptr<const Calendar> CompileOrDie(const CalendarSpec& spec) {
    auto compiled = Calendar::Compile(spec, 2026, 2026);
    if (!compiled) {
        std::cerr << "compile failed: " << compiled.error() << "\n";
        std::exit(1);
    }
    return *compiled;
}

void BM_DeadlineYearTenPauses(benchmark::State& state) {
    const auto cal = CompileOrDie(MoscowOffice(true));
    const std::vector<Case> cases = MakeCases(4096, 10, 42);
    std::size_t i = 0;
    for (auto _ : state) {
        const Case& c = cases[i++ & 4095];
        benchmark::DoNotOptimize(cal->Deadline(c.start, c.duration, c.pauses));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DeadlineYearTenPauses);

void BM_ElapsedYearTenPauses(benchmark::State& state) {
    const auto cal = CompileOrDie(MoscowOffice(true));
    const std::vector<Case> cases = MakeCases(4096, 10, 43);
    std::size_t i = 0;
    for (auto _ : state) {
        const Case& c = cases[i++ & 4095];
        benchmark::DoNotOptimize(cal->Elapsed(c.start, c.start + 5 * c.duration, c.pauses));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ElapsedYearTenPauses);

// The cases moment-business-time can express: one zone, weekly hours, holidays, no overrides, no pauses.
void BM_DeadlineMomentCases(benchmark::State& state) {
    const auto cal = CompileOrDie(MoscowOffice(false));
    const std::vector<Case> cases = MakeCases(4096, 0, 44);
    std::size_t i = 0;
    for (auto _ : state) {
        const Case& c = cases[i++ & 4095];
        benchmark::DoNotOptimize(cal->Deadline(c.start, c.duration));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DeadlineMomentCases);

void BM_CompileOneYear(benchmark::State& state) {
    const CalendarSpec spec = MoscowOffice(true);
    for (auto _ : state) {
        benchmark::DoNotOptimize(Calendar::Compile(spec, 2026, 2026));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CompileOneYear);

std::string HoursJson(const std::vector<DayRange>& ranges) {
    if (ranges.empty()) {
        return "null";
    }
    std::string out = "[";
    for (const DayRange& r : ranges) {
        out += fmt::format("{}\"{:02}:{:02}:00\",\"{:02}:{:02}:00\"", out.size() > 1 ? "," : "", r.from / 3600,
                           r.from / 60 % 60, r.to / 3600, r.to / 60 % 60);
    }
    return out + "]";
}

// moment-business-time's locale format: weekday 0 = Sunday; holidays as YYYY-MM-DD. `expect` is our answer, for
// the node driver to count disagreements (a check that the two libraries do the same work, not a test).
void WriteMomentCases(const std::string& path) {
    const CalendarSpec spec = MoscowOffice(false);
    const auto cal = CompileOrDie(spec);
    const std::vector<Case> cases = MakeCases(4096, 0, 44);
    std::ofstream out(path);
    out << "{\"zone\":\"" << spec.zone << "\",\"workinghours\":{";
    for (std::size_t js_day = 0; js_day < 7; ++js_day) {
        out << (js_day ? "," : "") << '"' << js_day << "\":" << HoursJson(spec.week[(js_day + 6) % 7]);
    }
    out << "},\"holidays\":[";
    for (std::size_t i = 0; i < spec.holidays.size(); ++i) {
        const LocalDate& d = spec.holidays[i];
        out << (i ? "," : "") << fmt::format("\"{:04}-{:02}-{:02}\"", d.year, d.month, d.day);
    }
    out << "],\"cases\":[";
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto expect = cal->Deadline(cases[i].start, cases[i].duration);
        out << (i ? "," : "") << fmt::format("{{\"start\":{},\"minutes\":{},\"expect\":{}}}", cases[i].start,
                                             cases[i].duration / kMinuteMs, expect ? *expect : -1);
    }
    out << "]}\n";
}

// Keeps every run's numbers so the `bench` lines can be printed after the table.
class CollectingReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& run : runs) {
            if (auto it = run.counters.find("items_per_second"); it != run.counters.end()) {
                items_per_second_[run.run_name.function_name] = it->second.value;
            }
        }
        ConsoleReporter::ReportRuns(runs);
    }
    std::map<std::string, double> items_per_second_;
};

}  // namespace
}  // namespace dispatch::sla

int main(int argc, char** argv) {
    using dispatch::sla::CollectingReporter;
    benchmark::Initialize(&argc, argv);
    if (const char* dir = std::getenv("DISPATCH_BENCH_OUT"); dir != nullptr && *dir != '\0') {
        dispatch::sla::WriteMomentCases(std::string(dir) + "/sla_moment_cases.json");
    }
    CollectingReporter reporter;
    reporter.SetOutputStream(&std::cerr);
    reporter.SetErrorStream(&std::cerr);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    const std::pair<const char*, const char*> names[] = {
        {"BM_DeadlineYearTenPauses", "sla.deadline_per_s"},
        {"BM_ElapsedYearTenPauses", "sla.elapsed_per_s"},
        {"BM_DeadlineMomentCases", "sla.deadline_moment_cases_per_s"},
        {"BM_CompileOneYear", "sla.calendar_compile_year_per_s"},
    };
    for (const auto& [bm, name] : names) {
        if (auto it = reporter.items_per_second_.find(bm); it != reporter.items_per_second_.end()) {
            std::printf("bench %s %.0f 1/s\n", name, it->second);
        }
    }
    return 0;
}
