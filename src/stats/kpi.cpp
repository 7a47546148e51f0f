#include "stats/kpi.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <tuple>

#include "core/errc.hpp"

namespace dispatch::stats {
namespace {

constexpr std::array<std::string_view, 3> kPeriodNames{"all", "month", "year"};
constexpr std::array<std::string_view, 4> kDimensionNames{"assignee", "line", "template", "priority"};

struct Period {
    std::string key;
    TimeMs from = 0;
    TimeMs to = 0;
};

Result<std::vector<Period>> BuildPeriods(PeriodKind kind, TimeMs from, TimeMs to, const Zone& zone) {
    if (kind == PeriodKind::kAll) {
        return std::vector<Period>{Period{"all", from, to}};
    }
    const sla::LocalDate first = zone.ToLocal(from).date;
    sla::LocalDate date{first.year, kind == PeriodKind::kMonth ? first.month : 1u, 1};
    std::vector<Period> out;
    while (true) {
        const TimeMs start = zone.StartOf(date);
        if (start >= to) {
            break;
        }
        const sla::LocalDate next = NextPeriodStart(date, kind);
        const TimeMs end = zone.StartOf(next);
        if (end > from) {
            std::string key = kind == PeriodKind::kYear ? fmt::format("{:04}", date.year)
                                                        : fmt::format("{:04}-{:02}", date.year, date.month);
            out.push_back(Period{std::move(key), std::max(start, from), std::min(end, to)});
        }
        if (out.size() > static_cast<std::size_t>(kMaxPeriods)) {
            return Fail(CoreErrc::kInvalid, fmt::format("the range holds more than {} periods", kMaxPeriods));
        }
        date = next;
    }
    return out;
}

// Whom a fact is counted for (kpi.hpp, "for whom").
struct Who {
    std::int64_t assignee = 0;
    int line = 0;
};

Who Current(const sla::FoldResult& t) { return Who{t.assignee, t.line}; }

Who OfCycle(const sla::FoldResult& t, const sla::MetricClock& cycle) {
    return cycle.stop ? Who{cycle.resolver, cycle.resolver_line} : Current(t);
}

Who Resolver(const sla::FoldResult& t) { return t.cycles.empty() ? Current(t) : OfCycle(t, t.cycles.back()); }

bool Passes(const Filter& filter, const sla::FoldResult& t, Who who) {
    return (!filter.assignee || *filter.assignee == who.assignee) && (!filter.line || *filter.line == who.line) &&
           (!filter.template_name || *filter.template_name == t.template_name) &&
           (!filter.priority || *filter.priority == t.priority);
}

// The end of the span during which a resolution cycle was open: its stop, or the cancellation that cut it; nullopt
// while it is still open.
std::optional<TimeMs> CycleEnd(const sla::FoldResult& t, const sla::MetricClock& cycle) {
    if (cycle.stop) {
        return cycle.stop;
    }
    return t.cancelled_at;
}

struct ClockAcc {
    std::vector<TimeMs> business;
    std::vector<TimeMs> calendar;
    std::vector<TimeMs> target;
    std::int64_t met = 0;
    std::int64_t breached = 0;
};

// The counters are the report's own fields; Finish adds the figures derived from them and from the samples.
struct Acc {
    Kpis k;
    ClockAcc reaction;
    ClockAcc resolution;
    TimeMs paused_ms = 0;
};

double Round1(double value) { return std::round(value * 10.0) / 10.0; }
double Minutes(double ms) { return ms / static_cast<double>(kMinuteMs); }

std::optional<double> Percent(std::int64_t part, std::int64_t whole) {
    if (whole == 0) {
        return std::nullopt;
    }
    return Round1(100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::optional<double> RoundedMinutes(std::optional<double> ms) {
    if (!ms) {
        return std::nullopt;
    }
    return Round1(Minutes(*ms));
}

Summary Summarize(std::vector<TimeMs>& samples) {
    Summary out;
    out.count = static_cast<std::int64_t>(samples.size());
    if (samples.empty()) {
        return out;
    }
    out.median = RoundedMinutes(Quantile(samples, 0.5));
    out.p90 = RoundedMinutes(Quantile(samples, 0.9));
    const double sum = std::accumulate(
        samples.begin(), samples.end(), 0.0, [](double a, TimeMs b) { return a + static_cast<double>(b); });
    out.mean = Round1(Minutes(sum / static_cast<double>(samples.size())));
    return out;
}

ClockKpis Finish(ClockAcc& acc) {
    ClockKpis out;
    out.business = Summarize(acc.business);
    out.calendar = Summarize(acc.calendar);
    out.target_median = RoundedMinutes(Quantile(acc.target, 0.5));
    out.met = acc.met;
    out.breached = acc.breached;
    out.on_time_percent = Percent(acc.met, acc.met + acc.breached);
    return out;
}

Kpis Finish(Acc& acc) {
    Kpis out = acc.k;
    out.reaction = Finish(acc.reaction);
    out.resolution = Finish(acc.resolution);
    out.return_rate_percent = Percent(out.returns, out.deliveries);
    out.auto_accepted_percent = Percent(out.auto_accepted, out.closed);
    out.paused_minutes = Round1(Minutes(static_cast<double>(acc.paused_ms)));
    return out;
}

// A group: the period's index and the grouped dimensions (the others stay at their zero value). The template
// points into a FoldResult, which outlives the fold of the report.
struct Key {
    int period = 0;
    std::int64_t assignee = 0;
    int line = 0;
    std::string_view template_name;
    int priority = 0;

    friend bool operator<(const Key& a, const Key& b) {
        return std::tie(a.period, a.assignee, a.line, a.template_name, a.priority) <
               std::tie(b.period, b.assignee, b.line, b.template_name, b.priority);
    }
};

class Folder {
public:
    Folder(const Query& query, const std::vector<Period>& periods)
        : query_(query), periods_(periods), flat_(query.group_by.dimensions.empty()) {
        for (Dimension d : query.group_by.dimensions) {
            grouped_[static_cast<int>(d)] = true;
        }
        if (flat_) {
            flat_groups_.resize(periods.size());  // every period gets a row, empty or not
        }
        for (const Period& p : periods) {
            ends_.push_back(std::min(p.to, query.now));  // non-decreasing, as the periods are
        }
    }

    bool InRange(TimeMs at) const { return at >= query_.from && at < query_.to; }
    bool Passes(const sla::FoldResult& t, Who who) const { return stats::Passes(query_.filter, t, who); }

    // Applies `f` to the totals and to the fact's group when `at` is in range and the fact passes the filter.
    template <class F>
    void At(const sla::FoldResult& t, Who who, TimeMs at, F&& f) {
        if (!InRange(at) || !Passes(t, who)) {
            return;
        }
        f(totals_);
        f(Group(PeriodIndex(at), t, who));
    }

    void Pauses(const sla::FoldResult& t, Who who, const sla::IntervalSet& pauses) {
        if (!Passes(t, who)) {
            return;
        }
        for (const sla::Interval& pause : pauses) {
            const TimeMs from = std::max(pause.from, query_.from);
            const TimeMs to = std::min(pause.to, query_.to);
            if (from >= to) {
                continue;
            }
            totals_.paused_ms += to - from;
            for (int p = PeriodIndex(from); p < static_cast<int>(periods_.size()) && periods_[p].from < to; ++p) {
                const TimeMs overlap = std::min(to, periods_[p].to) - std::max(from, periods_[p].from);
                if (overlap > 0) {
                    Group(p, t, who).paused_ms += overlap;
                }
            }
        }
    }

    // Open at each period's end: the periods whose end falls in a cycle's open span, found by binary search instead
    // of asking every period about every ticket. The range's end (min(to, now)) is the totals' open count and the
    // report's load, so both come from this one rule.
    void OpenLoad(const sla::FoldResult& t) {
        const TimeMs total_at = std::min(query_.to, query_.now);
        for (const sla::MetricClock& cycle : t.cycles) {
            const auto end = CycleEnd(t, cycle);
            const Who who = OfCycle(t, cycle);
            if (!Passes(t, who)) {
                continue;
            }
            const auto first = std::upper_bound(ends_.begin(), ends_.end(), cycle.start);
            const auto last = end ? std::upper_bound(first, ends_.end(), *end) : ends_.end();
            for (auto it = first; it != last; ++it) {
                const auto p = static_cast<int>(it - ends_.begin());
                if (*it > periods_[p].from) {  // else the period starts after `now`: its end is unknown
                    ++Group(p, t, who).k.open_at_end;
                }
            }
            if (total_at > query_.from && cycle.start < total_at && (!end || *end >= total_at)) {
                ++totals_.k.open_at_end;
                ++load_[who.assignee];
            }
        }
    }

    Acc& Totals() { return totals_; }
    // Open at the range's end per assignee, in assignee order.
    const std::map<std::int64_t, std::int64_t>& Load() const { return load_; }

    // Calls f(key, acc) for every group, in key order.
    template <class F>
    void ForEachGroup(F&& f) {
        if (flat_) {
            for (int p = 0; p < static_cast<int>(flat_groups_.size()); ++p) {
                f(Key{p, 0, 0, {}, 0}, flat_groups_[static_cast<std::size_t>(p)]);
            }
            return;
        }
        for (auto& [key, acc] : groups_) {
            f(key, acc);
        }
    }
    std::size_t GroupCount() const { return flat_ ? flat_groups_.size() : groups_.size(); }

private:
    int PeriodIndex(TimeMs at) const {
        const auto it = std::upper_bound(
            periods_.begin(), periods_.end(), at, [](TimeMs t, const Period& p) { return t < p.from; });
        return static_cast<int>(it - periods_.begin()) - 1;
    }

    Acc& Group(int period, const sla::FoldResult& t, Who who) {
        if (flat_) {
            return flat_groups_[static_cast<std::size_t>(period)];
        }
        Key key;
        key.period = period;
        if (grouped_[static_cast<int>(Dimension::kAssignee)]) {
            key.assignee = who.assignee;
        }
        if (grouped_[static_cast<int>(Dimension::kLine)]) {
            key.line = who.line;
        }
        if (grouped_[static_cast<int>(Dimension::kTemplate)]) {
            key.template_name = t.template_name;
        }
        if (grouped_[static_cast<int>(Dimension::kPriority)]) {
            key.priority = static_cast<int>(t.priority);
        }
        return groups_[key];
    }

    const Query& query_;
    const std::vector<Period>& periods_;
    const bool flat_;           // no dimensions: one group per period, indexed directly
    std::vector<TimeMs> ends_;  // per period: min(end, now), the instant "open at end" looks at
    std::vector<Acc> flat_groups_;
    std::array<bool, 4> grouped_{};
    Acc totals_;
    std::map<std::int64_t, std::int64_t> load_;
    std::map<Key, Acc> groups_;
};

// Outcome and times of one clock (kpi.hpp: where a fact counts).
void AddClock(Folder& folder, const sla::FoldResult& t, Who who, const sla::MetricClock& clock, ClockAcc Acc::*member) {
    if (clock.state == sla::ClockState::kMet && clock.stop) {
        folder.At(t, who, *clock.stop, [&](Acc& a) { ++(a.*member).met; });
    } else if (clock.state == sla::ClockState::kBreached && clock.deadline) {
        folder.At(t, who, *clock.deadline, [&](Acc& a) { ++(a.*member).breached; });
    }
    if (clock.stop && (clock.state == sla::ClockState::kMet || clock.state == sla::ClockState::kBreached)) {
        folder.At(t, who, *clock.stop, [&](Acc& a) {
            ClockAcc& c = a.*member;
            c.business.push_back(clock.elapsed_business_ms);
            c.calendar.push_back(clock.elapsed_calendar_ms);
            c.target.push_back(clock.target_ms);
        });
    }
}

int CompareDimension(const Row& a, const Row& b, Dimension d) {
    const auto cmp = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
    switch (d) {
        case Dimension::kAssignee:
            return cmp(a.assignee, b.assignee);
        case Dimension::kLine:
            return cmp(a.line, b.line);
        case Dimension::kTemplate:
            return cmp(a.template_name, b.template_name);
        case Dimension::kPriority:
            return cmp(a.priority, b.priority);
    }
    return 0;
}

}  // namespace

std::string_view Name(PeriodKind kind) { return kPeriodNames[static_cast<std::size_t>(kind)]; }
std::string_view Name(Dimension dimension) { return kDimensionNames[static_cast<std::size_t>(dimension)]; }

Result<GroupBy> ParseGroupBy(std::string_view text) {
    GroupBy out;
    bool have_period = false;
    if (!text.empty() && text.back() == ',') {
        return Fail(CoreErrc::kInvalid, "group_by: empty name");
    }
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        const std::string_view part = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        if (part.empty()) {
            return Fail(CoreErrc::kInvalid, "group_by: empty name");
        }
        if (part == "month" || part == "year") {
            if (have_period) {
                return Fail(CoreErrc::kInvalid, "group_by: at most one of month, year");
            }
            have_period = true;
            out.period = part == "month" ? PeriodKind::kMonth : PeriodKind::kYear;
            continue;
        }
        const auto it = std::find(kDimensionNames.begin(), kDimensionNames.end(), part);
        if (it == kDimensionNames.end()) {
            return Fail(
                CoreErrc::kInvalid,
                "group_by: unknown '" + std::string(part) + "' (month, year, assignee, line, template, priority)");
        }
        const auto dimension = static_cast<Dimension>(it - kDimensionNames.begin());
        if (std::find(out.dimensions.begin(), out.dimensions.end(), dimension) != out.dimensions.end()) {
            return Fail(CoreErrc::kInvalid, "group_by: '" + std::string(part) + "' twice");
        }
        out.dimensions.push_back(dimension);
    }
    return out;
}

// Selection instead of sorting: nth_element for the lower rank and the minimum of what lies above it for the upper
// one are linear, and sorting every group's samples dominated the fold.
std::optional<double> Quantile(std::vector<TimeMs>& samples, double q) {
    if (samples.empty()) {
        return std::nullopt;
    }
    const double h = (static_cast<double>(samples.size()) - 1.0) * q;
    const auto lo = static_cast<std::size_t>(std::floor(h));
    std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(lo), samples.end());
    const double a = static_cast<double>(samples[lo]);
    const double b = lo + 1 < samples.size()
                         ? static_cast<double>(
                               *std::min_element(samples.begin() + static_cast<std::ptrdiff_t>(lo) + 1, samples.end()))
                         : a;
    return a + (h - static_cast<double>(lo)) * (b - a);
}

Result<void> ValidateQuery(const Query& query, const Zone& zone) {
    if (query.from >= query.to) {
        return Fail(CoreErrc::kInvalid, "the range is empty (from must be before to)");
    }
    // One limit on the span for every grouping: at most kMaxPeriods months.
    if (auto months = BuildPeriods(PeriodKind::kMonth, query.from, query.to, zone); !months) {
        return months.error();
    }
    return {};
}

// One ticket's facts into one query's folder and report.
void FoldTicket(Folder& folder, Report& report, const sla::FoldResult& t, const Zone& zone) {
    const Who current = Current(t);
    folder.OpenLoad(t);
    folder.At(t, current, t.created, [](Acc& a) { ++a.k.created; });
    if (folder.InRange(t.created) && folder.Passes(t, current)) {
        const LocalTime local = zone.ToLocal(t.created);
        ++report.arrivals.by_hour[local.hour];
        ++report.arrivals.by_weekday[local.weekday];
        ++report.arrivals.by_weekday_hour[local.weekday][local.hour];
    }
    if (t.auto_closed) {
        folder.At(t, current, t.created, [](Acc& a) { ++a.k.auto_closed; });
    } else if (t.cancelled) {
        folder.At(t, current, t.created, [](Acc& a) { ++a.k.cancelled; });
    }
    if (!t.counts_in_sla) {
        return;
    }
    AddClock(folder, t, current, t.reaction, &Acc::reaction);
    const Who resolver = Resolver(t);
    AddClock(folder, t, resolver, t.resolution_total, &Acc::resolution);
    if (t.resolution_total.stop) {
        folder.At(t, resolver, *t.resolution_total.stop, [&](Acc& a) {
            ++a.k.closed;
            a.k.auto_accepted += t.auto_accepted ? 1 : 0;
        });
    }
    for (const sla::MetricClock& cycle : t.cycles) {
        const Who who = OfCycle(t, cycle);
        if (cycle.stop) {
            folder.At(t, who, *cycle.stop, [](Acc& a) { ++a.k.deliveries; });
        }
        folder.Pauses(t, who, cycle.pauses);
    }
    for (const sla::Return& r : t.returns) {
        folder.At(t, Who{r.resolver, r.line}, r.at, [](Acc& a) { ++a.k.returns; });
    }
}

// The folded groups, totals and load into `report`, in the order kpi.hpp promises.
void FinishReport(Folder& folder, Report& report, const std::vector<Period>& periods, const sla::Policy& policy) {
    const Query& query = report.query;
    report.totals = Finish(folder.Totals());
    report.rows.reserve(folder.GroupCount());
    folder.ForEachGroup([&](const Key& key, Acc& acc) {
        const Period& period = periods[static_cast<std::size_t>(key.period)];
        Row row;
        row.period_kind = query.group_by.period;
        row.period = period.key;
        row.period_from = period.from;
        row.period_to = period.to;
        for (Dimension d : query.group_by.dimensions) {
            switch (d) {
                case Dimension::kAssignee:
                    row.assignee = key.assignee;
                    break;
                case Dimension::kLine:
                    row.line = key.line;
                    break;
                case Dimension::kTemplate:
                    row.template_name = std::string(key.template_name);
                    break;
                case Dimension::kPriority:
                    row.priority = static_cast<sla::Priority>(key.priority);
                    break;
            }
        }
        row.kpis = Finish(acc);
        report.rows.push_back(std::move(row));
    });
    // The map already orders by period; within one, order by the dimensions as asked.
    std::stable_sort(report.rows.begin(), report.rows.end(), [&](const Row& a, const Row& b) {
        if (a.period_from != b.period_from) {
            return a.period_from < b.period_from;
        }
        for (Dimension d : query.group_by.dimensions) {
            if (const int c = CompareDimension(a, b, d); c != 0) {
                return c < 0;
            }
        }
        return false;
    });

    report.load_at = std::min(query.to, query.now);
    report.load.reserve(folder.Load().size());
    for (const auto& [assignee, count] : folder.Load()) {
        report.load.push_back(AssigneeLoad{assignee, count});
    }
    std::stable_sort(report.load.begin(), report.load.end(), [](const AssigneeLoad& a, const AssigneeLoad& b) {
        return a.open > b.open;
    });
    report.targets = policy.targets;
    report.templates = policy.templates;
}

Result<std::vector<Report>> ComputeAll(const std::vector<sla::FoldResult>& tickets,
                                       const sla::Policy& policy,
                                       const Zone& zone,
                                       const std::vector<Query>& queries) {
    std::vector<std::vector<Period>> periods;
    periods.reserve(queries.size());
    for (const Query& query : queries) {
        if (auto valid = ValidateQuery(query, zone); !valid) {
            return valid.error();
        }
        auto built = BuildPeriods(query.group_by.period, query.from, query.to, zone);
        if (!built) {
            return built.error();
        }
        periods.push_back(std::move(*built));
    }
    std::vector<Report> reports(queries.size());
    std::vector<Folder> folders;
    folders.reserve(queries.size());
    for (std::size_t q = 0; q < queries.size(); ++q) {
        reports[q].query = queries[q];
        folders.emplace_back(reports[q].query, periods[q]);
    }
    // One pass over the tickets for every query: each ticket is read from memory once, not once per query.
    for (const sla::FoldResult& t : tickets) {
        for (std::size_t q = 0; q < queries.size(); ++q) {
            FoldTicket(folders[q], reports[q], t, zone);
        }
    }
    for (std::size_t q = 0; q < queries.size(); ++q) {
        FinishReport(folders[q], reports[q], periods[q], policy);
    }
    return reports;
}

Result<Report> Compute(const std::vector<sla::FoldResult>& tickets,
                       const sla::Policy& policy,
                       const Zone& zone,
                       const Query& query) {
    auto reports = ComputeAll(tickets, policy, zone, {query});
    if (!reports) {
        return reports.error();
    }
    return std::move(reports->front());
}

}  // namespace dispatch::stats
