#pragma once
// KPIs of a help desk folded from its tickets' FoldResults (issue #8; the definitions are glossary.hpp's, served
// with the data): requests created, closed, auto-closed and cancelled; reaction and resolution time (median, p90,
// mean; business and calendar minutes) against their targets; % on time; returns and the return rate; the
// auto-accepted share; time paused; open load; arrivals by local hour and weekday. Grouped by a period (month,
// year, or the whole range) and any of assignee, line, template and priority, within [from, to) and a filter.
//
// Pure: the caller folds every ticket at one instant `now` (sla::Fold) and passes the results; same inputs, same
// report. Periods and arrivals are in the portal's zone (zone.hpp).
//
// Lifetime: a FoldResult holds raw pointers into the Policy and CalendarSet it was folded with
// (MetricClock::calendar, rule, target). Statistics read only its values, never those pointers, so a report may be
// computed from FoldResults whose policy has since been replaced; whoever folds must keep the Policy and
// CalendarSet alive while folding (sla::Fold's own contract).
//
// Where a fact counts. Each fact has one instant, and counts in the period holding it:
//   created, auto-closed, cancelled, arrivals   the creation instant;
//   reaction/resolution outcome (on-time %)     the stop when met; the deadline when breached (stopped late or
//                                               still open: the breach instant is the deadline, sla/fold.hpp);
//   reaction/resolution times, closed,          the stop (resolution: the ticket's last entry into review or done,
//   auto-accepted                               resolution_total, so a return reopens it and it counts again later);
//   deliveries (resolution cycles stopped)      each cycle's stop;  returns: each return's instant;
//   paused time                                 split across periods by the pause intervals themselves;
//   open at end                                 the period's end (or `now` when the period ends later).
// And for whom (assignee and line): returns and deliveries to the cycle's resolver and their line; closed,
// resolution time and outcome to the last cycle's resolver once resolved (the current assignee and line while open);
// paused time and open load to the cycle's resolver once that cycle stopped, else the current assignee and line;
// everything else to the ticket's current assignee and line. Template and priority are always the ticket's current.
// A filter selects facts by the same attribution, so a filtered total equals the matching group's row.
//
// Auto-closed requests (no template) and deleted ones are not in the SLA figures (FoldResult::counts_in_sla);
// auto-closed ones count in intake only (created, auto_closed, arrivals). Clocks in state cancelled count nowhere.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "sla/fold.hpp"
#include "sla/policy.hpp"
#include "stats/zone.hpp"

namespace dispatch::stats {

enum class Dimension { kAssignee, kLine, kTemplate, kPriority };
// "all", "month", "year" (PeriodKind is zone.hpp's); "assignee", "line", "template", "priority".
std::string_view Name(PeriodKind kind);
std::string_view Name(Dimension dimension);

struct GroupBy {
    PeriodKind period = PeriodKind::kAll;
    std::vector<Dimension> dimensions;  // in the order asked for; no repeats
};

// "month,assignee" → {kMonth, {kAssignee}}; "" → {kAll, {}}. CoreErrc::kInvalid for an unknown name, a repeat, or
// two periods ("month,year").
[[nodiscard]] Result<GroupBy> ParseGroupBy(std::string_view text);

// Facts whose attribution (see above) matches every set field.
struct Filter {
    std::optional<std::int64_t> assignee;      // 0: unassigned
    std::optional<int> line;                   // 1, 2; 0: another funnel
    std::optional<std::string> template_name;  // "": requests without a template
    std::optional<sla::Priority> priority;
};

struct Query {
    TimeMs from = 0;  // [from, to), UTC; ParseRangeStart/End turn local dates into these
    TimeMs to = 0;
    GroupBy group_by;
    Filter filter;
    TimeMs now = 0;  // the instant every FoldResult was folded at
};

// Minutes; median and p90 interpolate linearly between the closest ranks (Excel PERCENTILE.INC, numpy's default):
// one sample gives itself, two give their mean as the median and a + 0.9·(b − a) as p90. Unset without samples.
// Values are rounded to 0.1 minute.
struct Summary {
    std::int64_t count = 0;
    std::optional<double> median;
    std::optional<double> p90;
    std::optional<double> mean;
};

struct ClockKpis {
    Summary business;  // business minutes of the stopped clocks (open time of the target's calendar, minus pauses)
    Summary calendar;  // calendar minutes of the same clocks (wall time minus pauses)
    std::optional<double> target_median;  // median target of the same clocks, business minutes
    std::int64_t met = 0;
    std::int64_t breached = 0;
    std::optional<double> on_time_percent;  // met / (met + breached), 0.1 %
};

struct Kpis {
    std::int64_t created = 0;
    std::int64_t closed = 0;
    std::int64_t auto_closed = 0;
    std::int64_t cancelled = 0;
    ClockKpis reaction;
    ClockKpis resolution;
    std::int64_t returns = 0;
    std::int64_t deliveries = 0;
    std::optional<double> return_rate_percent;  // returns / deliveries
    std::int64_t auto_accepted = 0;
    std::optional<double> auto_accepted_percent;  // auto_accepted / closed
    double paused_minutes = 0;                    // calendar minutes, 0.1
    std::int64_t open_at_end = 0;
};

struct Row {
    PeriodKind period_kind = PeriodKind::kAll;
    std::string period;      // "2026-03", "2026", "all"
    TimeMs period_from = 0;  // the period clipped to the query's range
    TimeMs period_to = 0;
    // Set for the dimensions grouped by.
    std::optional<std::int64_t> assignee;
    std::optional<int> line;
    std::optional<std::string> template_name;
    std::optional<sla::Priority> priority;
    Kpis kpis;
};

struct Arrivals {
    std::array<std::int64_t, 24> by_hour{};
    std::array<std::int64_t, 7> by_weekday{};                       // 0 = Monday
    std::array<std::array<std::int64_t, 24>, 7> by_weekday_hour{};  // [weekday][hour]
};

struct AssigneeLoad {
    std::int64_t assignee = 0;
    std::int64_t open = 0;
};

struct Report {
    Query query;
    // Every period of the range when grouping by a period alone (empty ones included); otherwise only the groups
    // with some fact or open load. Sorted by period, then by the dimensions in the order asked for.
    std::vector<Row> rows;
    Kpis totals;  // the whole range, filtered, not grouped
    Arrivals arrivals;
    TimeMs load_at = 0;                    // min(to, now)
    std::vector<AssigneeLoad> load;        // totals.open_at_end per assignee, most loaded first (ties by assignee)
    std::vector<sla::TargetRule> targets;  // the policy's target rows, for "against target" displays
    std::vector<std::string> templates;    // the policy's templates, for filters
};

// Fails with CoreErrc::kInvalid when from >= to or the range spans more than kMaxPeriods months (20 years).
inline constexpr int kMaxPeriods = 240;
// The checks Compute makes on the query alone, for a caller that wants to refuse a request before fetching data.
[[nodiscard]] Result<void> ValidateQuery(const Query& query, const Zone& zone);
[[nodiscard]] Result<Report> Compute(const std::vector<sla::FoldResult>& tickets,
                                     const sla::Policy& policy,
                                     const Zone& zone,
                                     const Query& query);
// Compute for several queries in one pass over the tickets (the KPI export asks six); one report per query, in
// order. Fails as Compute does for the first query that is not valid.
[[nodiscard]] Result<std::vector<Report>> ComputeAll(const std::vector<sla::FoldResult>& tickets,
                                                     const sla::Policy& policy,
                                                     const Zone& zone,
                                                     const std::vector<Query>& queries);

// The q-quantile (0 <= q <= 1) of the samples by linear interpolation between closest ranks (Summary's rule);
// nullopt when empty. Reorders `samples` (in linear time; they need not be sorted).
std::optional<double> Quantile(std::vector<TimeMs>& samples, double q);

}  // namespace dispatch::stats
