#include "sla/calendar.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>

#include "core/errc.hpp"

namespace dispatch::sla {
namespace {

constexpr std::int32_t kDaySeconds = 86400;
// Years outside this window are almost certainly a unit mistake (ms passed as years, 0 for "unset").
constexpr int kMinYear = 1900;
constexpr int kMaxYear = 2200;

const date::time_zone* TzOf(const void* p) { return static_cast<const date::time_zone*>(p); }

date::local_days ToLocalDays(const LocalDate& d) {
    return date::local_days{date::year{d.year} / date::month{d.month} / date::day{d.day}};
}

bool ValidDate(const LocalDate& d) {
    return date::year_month_day{date::year{d.year}, date::month{d.month}, date::day{d.day}}.ok() &&
           d.year >= kMinYear && d.year <= kMaxYear;
}

// The documented wall-time rule: a time in a gap maps to the gap's end (the transition instant), an ambiguous time
// to its first occurrence. Local time is monotone in UTC under this rule, so ordered wall ranges stay ordered.
using LocalMs = date::local_time<std::chrono::milliseconds>;
TimeMs WallToUtc(const date::time_zone* zone, LocalMs local) {
    const date::local_info info = zone->get_info(local);
    switch (info.result) {
        case date::local_info::unique:
        case date::local_info::ambiguous:
            return (local.time_since_epoch() - info.first.offset).count();
        case date::local_info::nonexistent:
            return std::chrono::milliseconds{info.second.begin.time_since_epoch()}.count();
    }
    DISPATCH_CHECK(false, "date::local_info has only three results");
    return 0;
}

std::string RangeProblems(const std::vector<DayRange>& ranges, const std::string& field) {
    std::string out;
    auto add = [&](const std::string& problem) {
        if (!out.empty()) {
            out += "; ";
        }
        out += problem;
    };
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        const DayRange& r = ranges[i];
        const std::string name = fmt::format("{}[{}]", field, i);
        if (r.from < 0 || r.from > kDaySeconds || r.to < 0 || r.to > kDaySeconds) {
            add(fmt::format("{}: outside 00:00..24:00 ({}..{} s)", name, r.from, r.to));
        } else if (r.from >= r.to) {
            add(name + ": from >= to");
        }
    }
    // Overlaps only among well-formed ranges, reported against the earlier one in input order.
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        for (std::size_t j = i + 1; j < ranges.size(); ++j) {
            const DayRange& a = ranges[i];
            const DayRange& b = ranges[j];
            if (a.from < a.to && b.from < b.to && a.from < b.to && b.from < a.to) {
                add(fmt::format("{}[{}]: overlaps {}[{}]", field, j, field, i));
            }
        }
    }
    return out;
}

}  // namespace

IntervalSet NormalizeIntervals(IntervalSet intervals) {
    std::erase_if(intervals, [](const Interval& i) { return i.to <= i.from; });
    std::sort(intervals.begin(), intervals.end(), [](const Interval& a, const Interval& b) { return a.from < b.from; });
    IntervalSet out;
    out.reserve(intervals.size());
    for (const Interval& i : intervals) {
        // Touching intervals join too: [a, b) ∪ [b, c) is [a, c), and one interval is cheaper to subtract.
        if (!out.empty() && i.from <= out.back().to) {
            out.back().to = std::max(out.back().to, i.to);
        } else {
            out.push_back(i);
        }
    }
    return out;
}

Result<void> ValidateCalendarSpec(const CalendarSpec& spec) {
    std::string problems;
    bool zone_missing = false;
    auto add = [&](const std::string& problem) {
        if (problem.empty()) {
            return;
        }
        if (!problems.empty()) {
            problems += "; ";
        }
        problems += problem;
    };
    if (spec.zone.empty()) {
        add("zone: empty");
    } else {
        try {
            (void)date::locate_zone(spec.zone);
        } catch (const std::runtime_error&) {
            zone_missing = true;
            add(fmt::format("zone: unknown time zone '{}'", spec.zone));
        }
    }
    if (spec.version < 1) {
        add("version: must be >= 1");
    }
    for (std::size_t d = 0; d < spec.week.size(); ++d) {
        add(RangeProblems(spec.week[d], fmt::format("week[{}]", d)));
    }
    for (std::size_t i = 0; i < spec.holidays.size(); ++i) {
        if (!ValidDate(spec.holidays[i])) {
            add(fmt::format("holidays[{}]: invalid date", i));
        }
    }
    std::map<LocalDate, std::size_t> seen;
    for (std::size_t i = 0; i < spec.overrides.size(); ++i) {
        const DateOverride& o = spec.overrides[i];
        if (!ValidDate(o.date)) {
            add(fmt::format("overrides[{}].date: invalid date", i));
        } else if (auto [it, inserted] = seen.emplace(o.date, i); !inserted) {
            add(fmt::format("overrides[{}].date: same date as overrides[{}]", i, it->second));
        }
        add(RangeProblems(o.hours, fmt::format("overrides[{}].hours", i)));
    }
    if (problems.empty()) {
        return {};
    }
    const bool only_zone = zone_missing && problems.find(';') == std::string::npos;
    return Fail(only_zone ? CoreErrc::kNotFound : CoreErrc::kInvalid, problems);
}

Result<std::shared_ptr<const Calendar>> Calendar::Compile(const CalendarSpec& spec, int first_year, int last_year) {
    if (auto valid = ValidateCalendarSpec(spec); !valid) {
        return valid.error();
    }
    if (first_year < kMinYear || last_year > kMaxYear || first_year > last_year) {
        return Fail(
            CoreErrc::kInvalid,
            fmt::format("years: need {} <= first ({}) <= last ({}) <= {}", kMinYear, first_year, last_year, kMaxYear));
    }
    const date::time_zone* zone = date::locate_zone(spec.zone);

    // std::shared_ptr<Calendar>(new ...) because the constructor is private.
    std::shared_ptr<Calendar> cal(new Calendar());
    cal->id_ = spec.id;
    cal->zone_ = spec.zone;
    cal->version_ = spec.version;
    cal->always_open_ = spec.always_open;
    cal->zone_ptr_ = zone;

    std::map<LocalDate, const std::vector<DayRange>*> overrides;
    for (const DateOverride& o : spec.overrides) {
        overrides[o.date] = &o.hours;
    }
    std::vector<date::local_days> holidays;
    holidays.reserve(spec.holidays.size());
    for (const LocalDate& h : spec.holidays) {
        holidays.push_back(ToLocalDays(h));
    }
    std::sort(holidays.begin(), holidays.end());

    const date::local_days first_day{date::year{first_year} / 1 / 1};
    const date::local_days end_day{date::year{last_year + 1} / 1 / 1};
    cal->range_begin_ = WallToUtc(zone, LocalMs{first_day});
    cal->range_end_ = WallToUtc(zone, LocalMs{end_day});

    const std::vector<DayRange> all_day{DayRange{0, kDaySeconds}};
    std::vector<DayRange> ranges;
    for (date::local_days day = first_day; day < end_day; day += date::days{1}) {
        const std::vector<DayRange>* hours = nullptr;
        if (spec.always_open) {
            hours = &all_day;
        } else {
            const date::year_month_day ymd{day};
            const LocalDate local{
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())};
            if (auto it = overrides.find(local); it != overrides.end()) {
                hours = it->second;
            } else if (std::binary_search(holidays.begin(), holidays.end(), day)) {
                continue;
            } else {
                hours = &spec.week[date::weekday{day}.iso_encoding() - 1];
            }
        }
        if (hours->empty()) {
            continue;
        }
        ranges.assign(hours->begin(), hours->end());
        std::sort(ranges.begin(), ranges.end(), [](const DayRange& a, const DayRange& b) { return a.from < b.from; });
        const LocalMs midnight{day};
        OpenDay open_day{0, 0, static_cast<std::int32_t>(day.time_since_epoch().count())};
        bool any = false;
        for (const DayRange& r : ranges) {
            const TimeMs from = WallToUtc(zone, midnight + std::chrono::seconds{r.from});
            const TimeMs to = WallToUtc(zone, midnight + std::chrono::seconds{r.to});
            if (from >= to) {
                continue;  // wholly inside a DST gap
            }
            if (!any) {
                open_day.open = from;
                any = true;
            }
            open_day.close = to;
            // Validation forbids overlaps within a day and the rule is monotone, so joining is only ever touching:
            // 24:00 meeting 00:00, or two ranges sharing an end.
            if (!cal->segments_.empty() && from <= cal->segments_.back().to) {
                cal->segments_.back().to = std::max(cal->segments_.back().to, to);
            } else {
                cal->segments_.push_back({from, to});
            }
        }
        if (any) {
            cal->open_days_.push_back(open_day);
        }
    }
    cal->prefix_.resize(cal->segments_.size() + 1);
    cal->prefix_[0] = 0;
    for (std::size_t i = 0; i < cal->segments_.size(); ++i) {
        cal->prefix_[i + 1] = cal->prefix_[i] + (cal->segments_[i].to - cal->segments_[i].from);
    }
    return std::shared_ptr<const Calendar>(std::move(cal));
}

TimeMs Calendar::OpenBefore(TimeMs t) const {
    // The last segment starting at or before t.
    auto it =
        std::upper_bound(segments_.begin(), segments_.end(), t, [](TimeMs v, const Interval& s) { return v < s.from; });
    if (it == segments_.begin()) {
        return 0;
    }
    --it;
    const auto i = static_cast<std::size_t>(it - segments_.begin());
    return prefix_[i] + (std::min(t, it->to) - it->from);
}

TimeMs Calendar::InstantAtOpen(TimeMs open) const {
    // The first segment whose cumulative end reaches `open`; the instant lies inside it or at its close.
    auto it = std::lower_bound(prefix_.begin() + 1, prefix_.end(), open);
    DISPATCH_ASSERT(it != prefix_.end(), "callers check open <= total");
    const auto i = static_cast<std::size_t>(it - prefix_.begin()) - 1;
    return segments_[i].from + (open - prefix_[i]);
}

bool Calendar::IsOpen(TimeMs t) const {
    auto it =
        std::upper_bound(segments_.begin(), segments_.end(), t, [](TimeMs v, const Interval& s) { return v < s.to; });
    return it != segments_.end() && it->from <= t;
}

std::optional<TimeMs> Calendar::NextOpening(TimeMs t) const {
    auto it =
        std::upper_bound(segments_.begin(), segments_.end(), t, [](TimeMs v, const Interval& s) { return v < s.to; });
    if (it == segments_.end()) {
        return std::nullopt;
    }
    return std::max(t, it->from);
}

TimeMs Calendar::Elapsed(TimeMs from, TimeMs to, const IntervalSet& pauses) const {
    if (to <= from) {
        return 0;
    }
    TimeMs total = OpenBefore(to) - OpenBefore(from);
    auto p = std::upper_bound(pauses.begin(), pauses.end(), from, [](TimeMs v, const Interval& i) { return v < i.to; });
    for (; p != pauses.end() && p->from < to; ++p) {
        total -= OpenBefore(std::min(p->to, to)) - OpenBefore(std::max(p->from, from));
    }
    return total;
}

std::optional<TimeMs> Calendar::Deadline(TimeMs start, TimeMs duration, const IntervalSet& pauses) const {
    DISPATCH_CHECK(duration >= 0, "a business duration is never negative");
    auto p =
        std::upper_bound(pauses.begin(), pauses.end(), start, [](TimeMs v, const Interval& i) { return v < i.to; });
    TimeMs cur = start;
    if (duration == 0) {
        for (;;) {
            const std::optional<TimeMs> open = NextOpening(cur);
            if (!open) {
                return std::nullopt;
            }
            while (p != pauses.end() && p->to <= *open) {
                ++p;
            }
            if (p == pauses.end() || p->from > *open) {
                return open;
            }
            cur = p->to;
        }
    }
    // Consume open time between pauses; the answer is found by inverting the prefix sum in the stretch where the
    // remaining duration runs out, so no segment is visited one by one.
    TimeMs at = OpenBefore(cur);  // open time before cur
    const TimeMs total = prefix_.back();
    for (; p != pauses.end(); ++p) {
        const TimeMs pause_from = std::max(p->from, cur);
        const TimeMs open_until_pause = OpenBefore(pause_from);
        if (open_until_pause - at >= duration) {
            break;
        }
        duration -= open_until_pause - at;
        cur = p->to;
        at = OpenBefore(cur);
    }
    if (at + duration > total) {
        return std::nullopt;
    }
    return InstantAtOpen(at + duration);
}

std::optional<TimeMs> Calendar::AddBusinessDays(TimeMs start, int days, bool end_of_day) const {
    if (days < 0) {
        return std::nullopt;
    }
    const std::optional<TimeMs> s = NextOpening(start);
    if (!s) {
        return std::nullopt;
    }
    // The open date that holds s: the last one opening at or before s (s is open, so it is before that day's close).
    auto it = std::upper_bound(
        open_days_.begin(), open_days_.end(), *s, [](TimeMs v, const OpenDay& d) { return v < d.open; });
    DISPATCH_CHECK(it != open_days_.begin(), "an open instant belongs to an open date");
    --it;
    const auto index = static_cast<std::size_t>(it - open_days_.begin()) + static_cast<std::size_t>(days);
    if (index >= open_days_.size()) {
        return std::nullopt;
    }
    const OpenDay& target = open_days_[index];
    if (end_of_day) {
        return target.close;
    }
    const date::time_zone* zone = TzOf(zone_ptr_);
    const LocalMs local = zone->to_local(date::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{*s}});
    const auto time_of_day = local - date::floor<date::days>(local);
    const TimeMs candidate = WallToUtc(zone, LocalMs{date::local_days{date::days{target.local_day}}} + time_of_day);
    const std::optional<TimeMs> open = NextOpening(candidate);
    if (!open || *open >= target.close) {
        return target.close;
    }
    return std::max(*open, target.open);
}

std::string Calendar::FormatLocal(TimeMs t) const {
    const date::time_zone* zone = TzOf(zone_ptr_);
    const date::sys_seconds sys{std::chrono::seconds{date::floor<std::chrono::seconds>(std::chrono::milliseconds{t})}};
    const date::sys_info info = zone->get_info(sys);
    const date::local_seconds local{(sys + info.offset).time_since_epoch()};
    const date::local_days day = date::floor<date::days>(local);
    const date::year_month_day ymd{day};
    const date::hh_mm_ss<std::chrono::seconds> hms{local - day};
    static constexpr const char* kWeekdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    std::string out = fmt::format("{} {:04}-{:02}-{:02} {:02}:{:02}",
                                  kWeekdays[date::weekday{day}.iso_encoding() - 1],
                                  static_cast<int>(ymd.year()),
                                  static_cast<unsigned>(ymd.month()),
                                  static_cast<unsigned>(ymd.day()),
                                  hms.hours().count(),
                                  hms.minutes().count());
    if (hms.seconds().count() != 0) {
        out += fmt::format(":{:02}", hms.seconds().count());
    }
    return out + " " + info.abbrev;
}

int FirstUncoveredYear(const CalendarSpec& spec, int year) {
    while (std::binary_search(spec.production_years.begin(), spec.production_years.end(), year)) {
        ++year;
    }
    return year;
}

std::optional<int> UncoveredProductionYear(const CalendarSpec& spec, int year, unsigned month) {
    if (!spec.uses_production || spec.always_open) {
        return std::nullopt;
    }
    const int first = FirstUncoveredYear(spec, year);
    if (first == year || (month >= 11 && first == year + 1)) {
        return first;
    }
    return std::nullopt;
}

}  // namespace dispatch::sla
