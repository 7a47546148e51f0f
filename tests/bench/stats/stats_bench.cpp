// The statistics behind one dashboard request: 100,000 tickets of a year (the seed company's traffic is ~500 a
// month; this is a large desk's year) already folded by the engine, then stats::Compute for a year by month (the
// month view), by month and assignee, and the whole "HelpDesk KPI" export (months and the year, all/line/assignee).
// The engine's own fold is not timed here (bench_sla_fold measures it). Single-threaded; each figure is the median
// of several runs.
//
//   bench_stats [--tickets=N] [--runs=R]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/time_format.hpp"
#include "sla/fold.hpp"
#include "sla/ledger.hpp"
#include "sla/policy_load.hpp"
#include "stats/export.hpp"
#include "stats/kpi.hpp"
#include "stats/zone.hpp"

namespace dispatch {
namespace {

const TimeMs kYearStart = FromCivilUtc(2026, 1, 1) - 3 * kHourMs;  // Moscow
const TimeMs kNow = FromCivilUtc(2026, 12, 31, 9);                 // 12:00 in Moscow

std::uint64_t Mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

// A year of help-desk life: every priority and template, a few without one (auto-closed), most taken and resolved,
// some waiting, some returned, some auto-accepted, some still open.
sla::Ledger MakeLedger(std::int64_t id, const std::vector<std::string>& templates) {
    const std::uint64_t r = Mix(static_cast<std::uint64_t>(id));
    sla::Ledger ledger(id);
    const TimeMs created = kYearStart + static_cast<TimeMs>(r % (355 * kDayMs / kMinuteMs)) * kMinuteMs;
    const auto priority = static_cast<sla::Priority>((r >> 20) % 4);
    const bool no_template = (r >> 23) % 20 == 0;
    std::string template_name = no_template ? std::string() : templates[(r >> 24) % templates.size()];
    std::int64_t seq = 0;
    (void)ledger.Append(sla::Event::Created(created, ++seq, priority, std::move(template_name)));
    if (no_template) {
        (void)ledger.Append(sla::Event::Simple(created, ++seq, sla::EventKind::kAutoClosed));
        (void)ledger.Append(sla::Event::StageMoved(created, ++seq, sla::StageRole::kRejected));
        return ledger;
    }
    static const std::int64_t kPeople[] = {12, 13, 14, 22, 23, 24, 25};
    const std::int64_t assignee = kPeople[(r >> 30) % 7];
    const int line = assignee >= 22 && assignee <= 24 ? 2 : 1;
    const unsigned shape = (r >> 40) % 10;
    TimeMs t = created + static_cast<TimeMs>(5 + (r >> 44) % 240) * kMinuteMs;
    if (shape == 0) {
        return ledger;  // untouched
    }
    (void)ledger.Append(sla::Event::Assigned(t, ++seq, assignee));
    (void)ledger.Append(sla::Event::StageMoved(t, ++seq, sla::StageRole::kInProgress, line));
    if (shape <= 2) {
        t += 2 * kHourMs;
        (void)ledger.Append(sla::Event::StageMoved(t, ++seq, sla::StageRole::kWaiting, line));
        t += 5 * kHourMs;
        (void)ledger.Append(sla::Event::StageMoved(t, ++seq, sla::StageRole::kInProgress, line));
    }
    if (shape == 3) {
        return ledger;  // still in progress
    }
    t += static_cast<TimeMs>(30 + (r >> 52) % 1500) * kMinuteMs;
    (void)ledger.Append(sla::Event::StageMoved(t, ++seq, sla::StageRole::kReview, line));
    if (shape == 4) {
        t += 6 * kHourMs;
        (void)ledger.Append(sla::Event::StageMoved(t, ++seq, sla::StageRole::kInProgress, line));
        t += 3 * kHourMs;
        (void)ledger.Append(sla::Event::StageMoved(t, ++seq, sla::StageRole::kReview, line));
    }
    if (shape == 5) {
        t += 4 * kDayMs;
        (void)ledger.Append(
            sla::Event::Record(t, ++seq, sla::EventKind::kAutoAccepted, sla::Metric::kResolution, 1, 0));
    } else {
        t += 5 * kHourMs;
        (void)ledger.Append(sla::Event::Simple(t, ++seq, sla::EventKind::kAccepted));
    }
    (void)ledger.Append(sla::Event::StageMoved(t, ++seq, sla::StageRole::kDone, line));
    return ledger;
}

template <class F>
double MedianMs(int runs, F&& work) {
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
        const auto started = std::chrono::steady_clock::now();
        work();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

[[noreturn]] void Die(const std::string& what) {
    std::fprintf(stderr, "bench_stats: %s\n", what.c_str());
    std::exit(1);
}

}  // namespace
}  // namespace dispatch

int main(int argc, char** argv) {
    using namespace dispatch;
    std::size_t tickets = 100'000;
    int runs = 5;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--tickets=", 10) == 0) {
            tickets = std::strtoull(argv[i] + 10, nullptr, 10);
        } else if (std::strncmp(argv[i], "--runs=", 7) == 0) {
            runs = std::max(1, std::atoi(argv[i] + 7));
        }
    }
    auto config = sla::LoadSlaConfig(std::string(DISPATCH_SOURCE_DIR) + "/workplace/sla.json",
                                     std::string(DISPATCH_SOURCE_DIR) + "/schemas/sla.schema.json");
    if (!config) {
        Die(config.error().detail);
    }
    auto calendars = sla::CompileCalendars(config->calendars, 2025, 2027);
    if (!calendars) {
        Die(calendars.error().detail);
    }
    std::vector<sla::FoldResult> folded;
    folded.reserve(tickets);
    for (std::size_t i = 0; i < tickets; ++i) {
        const sla::Ledger ledger = MakeLedger(static_cast<std::int64_t>(i + 1), config->policy.templates);
        auto r = sla::Fold(config->policy, *calendars, ledger, kNow);
        if (!r) {
            Die(r.error().detail);
        }
        folded.push_back(std::move(*r));
    }
    const auto zone = stats::Zone::Locate(stats::PortalZone(config->policy, *calendars));
    if (!zone) {
        Die(zone.error().detail);
    }

    stats::Query query;
    query.from = kYearStart;
    query.to = FromCivilUtc(2027, 1, 1) - 3 * kHourMs;
    query.now = kNow;
    query.group_by.period = stats::PeriodKind::kMonth;
    std::int64_t checksum = 0;
    const double by_month = MedianMs(runs, [&] {
        auto report = stats::Compute(folded, config->policy, *zone, query);
        if (!report) {
            Die(report.error().detail);
        }
        checksum += report->totals.created + report->totals.closed;
    });
    query.group_by.dimensions = {stats::Dimension::kAssignee};
    const double by_month_assignee = MedianMs(runs, [&] {
        auto report = stats::Compute(folded, config->policy, *zone, query);
        checksum += report ? static_cast<std::int64_t>(report->rows.size()) : 0;
    });
    stats::ExportOptions options;
    options.from = query.from;
    options.to = query.to;
    options.now = kNow;
    const double export_ms = MedianMs(runs, [&] {
        auto items = stats::ExportKpis(folded, config->policy, *zone, options);
        checksum += items ? static_cast<std::int64_t>(items->size()) : 0;
    });
    std::fprintf(
        stderr, "bench_stats: %zu tickets, %d runs, checksum %lld\n", tickets, runs, static_cast<long long>(checksum));
    const double scale = 100'000.0 / static_cast<double>(tickets);
    std::printf("bench stats.fold_kpis_100k_tickets_ms %.1f ms\n", by_month * scale);
    std::printf("bench stats.fold_kpis_by_month_assignee_100k_tickets_ms %.1f ms\n", by_month_assignee * scale);
    std::printf("bench stats.export_kpi_items_100k_tickets_ms %.1f ms\n", export_ms * scale);
    return 0;
}
