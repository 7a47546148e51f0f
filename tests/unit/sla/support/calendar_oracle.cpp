#include "calendar_oracle.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace dispatch::sla::testing {
namespace {

using Ms = std::chrono::milliseconds;

const date::time_zone* ZoneOf(const void* p) { return static_cast<const date::time_zone*>(p); }

TimeMs ToUtcEarliest(const date::time_zone* zone, date::local_days day, std::int64_t ms_of_day) {
    const date::local_time<Ms> wall = date::local_time<Ms>{day} + Ms{ms_of_day};
    return zone->to_sys(wall, date::choose::earliest).time_since_epoch().count();
}

bool SameDate(const LocalDate& a, date::year_month_day b) {
    return a.year == static_cast<int>(b.year()) && a.month == static_cast<unsigned>(b.month()) &&
           a.day == static_cast<unsigned>(b.day());
}

}  // namespace

// Steps forward through time answering "open?" and "paused?" at non-decreasing instants.
class CalendarOracle::Walker {
public:
    Walker(const std::vector<Interval>& ranges, const IntervalSet& pauses) : ranges_(ranges), pauses_(pauses) {
        std::sort(pauses_.begin(), pauses_.end(), [](const Interval& a, const Interval& b) { return a.from < b.from; });
    }
    bool Counts(TimeMs t) { return Open(t) && !Paused(t); }
    bool Open(TimeMs t) {
        while (r_ < ranges_.size() && ranges_[r_].to <= t) {
            ++r_;
        }
        return r_ < ranges_.size() && ranges_[r_].from <= t;
    }
    bool Paused(TimeMs t) {
        while (p_ < pauses_.size() && pauses_[p_].from <= t) {
            paused_until_ = std::max(paused_until_, pauses_[p_].to);
            ++p_;
        }
        return t < paused_until_;
    }

private:
    const std::vector<Interval>& ranges_;
    IntervalSet pauses_;  // raw: may overlap, touch, be empty or unsorted
    std::size_t r_ = 0;
    std::size_t p_ = 0;
    TimeMs paused_until_ = INT64_MIN;
};

CalendarOracle::CalendarOracle(const CalendarSpec& spec, int first_year, int last_year) {
    const date::time_zone* zone = date::locate_zone(spec.zone);
    zone_ = zone;
    const date::local_days first{date::year{first_year} / 1 / 1};
    const date::local_days end{date::year{last_year + 1} / 1 / 1};
    window_begin_ = ToUtcEarliest(zone, first, 0);
    window_end_ = ToUtcEarliest(zone, end, 0);
    for (date::local_days day = first; day < end; day += date::days{1}) {
        const date::year_month_day ymd{day};
        std::vector<DayRange> hours;
        if (spec.always_open) {
            hours = {DayRange{0, 86400}};
        } else {
            bool overridden = false;
            for (const DateOverride& o : spec.overrides) {
                if (SameDate(o.date, ymd)) {
                    hours = o.hours;
                    overridden = true;
                }
            }
            if (!overridden) {
                bool holiday = false;
                for (const LocalDate& h : spec.holidays) {
                    holiday = holiday || SameDate(h, ymd);
                }
                if (!holiday) {
                    // date::weekday: 0 = Sunday; the spec: 0 = Monday.
                    const unsigned wd = date::weekday{day}.c_encoding();
                    hours = spec.week[(wd + 6) % 7];
                }
            }
        }
        std::sort(hours.begin(), hours.end(), [](const DayRange& a, const DayRange& b) { return a.from < b.from; });
        DateRanges date_ranges{static_cast<std::int32_t>(day.time_since_epoch().count()), {}};
        for (const DayRange& h : hours) {
            const TimeMs from = ToUtcEarliest(zone, day, std::int64_t{h.from} * 1000);
            const TimeMs to = ToUtcEarliest(zone, day, std::int64_t{h.to} * 1000);
            if (from < to) {
                date_ranges.ranges.push_back({from, to});
            }
        }
        if (!date_ranges.ranges.empty()) {
            for (const Interval& i : date_ranges.ranges) {
                flat_.push_back(i);
            }
            dates_.push_back(std::move(date_ranges));
        }
    }
    for (std::size_t i = 1; i < flat_.size(); ++i) {
        // The walker needs this; it holds if the documented mapping rule is monotone, which is part of the claim.
        if (flat_[i].from < flat_[i - 1].to) {
            throw std::logic_error("oracle: open ranges overlap in UTC");
        }
    }
}

bool CalendarOracle::IsOpen(TimeMs t) const {
    for (const Interval& i : flat_) {
        if (i.from <= t && t < i.to) {
            return true;
        }
    }
    return false;
}

TimeMs CalendarOracle::Elapsed(TimeMs from, TimeMs to, const IntervalSet& pauses, TimeMs step) const {
    Walker walker(flat_, pauses);
    TimeMs total = 0;
    for (TimeMs t = from; t < to; t += step) {
        if (walker.Counts(t)) {
            total += step;
        }
    }
    return total;
}

std::optional<TimeMs> CalendarOracle::NextOpening(TimeMs t, TimeMs step, TimeMs limit, bool* gave_up) const {
    return Deadline(t, 0, {}, step, limit, gave_up);
}

std::optional<TimeMs> CalendarOracle::Deadline(
    TimeMs start, TimeMs duration, const IntervalSet& pauses, TimeMs step, TimeMs limit, bool* gave_up) const {
    Walker walker(flat_, pauses);
    *gave_up = false;
    TimeMs counted = 0;
    for (TimeMs t = start;; t += step) {
        if (counted == duration && duration > 0) {
            return t;
        }
        if (t >= window_end_) {
            return std::nullopt;
        }
        if (t - start >= limit) {
            *gave_up = true;
            return std::nullopt;
        }
        if (walker.Counts(t)) {
            if (duration == 0) {
                return t;
            }
            counted += step;
        }
    }
}

std::optional<TimeMs> CalendarOracle::AddBusinessDays(
    TimeMs start, int days, bool end_of_day, TimeMs step, TimeMs limit, bool* gave_up) const {
    const std::optional<TimeMs> s = NextOpening(start, step, limit, gave_up);
    if (!s || days < 0) {
        return std::nullopt;
    }
    std::size_t index = dates_.size();
    for (std::size_t i = 0; i < dates_.size(); ++i) {
        for (const Interval& r : dates_[i].ranges) {
            if (r.from <= *s && *s < r.to) {
                index = i;
            }
        }
    }
    if (index == dates_.size()) {
        throw std::logic_error("oracle: an open instant on no date");
    }
    index += static_cast<std::size_t>(days);
    if (index >= dates_.size()) {
        return std::nullopt;
    }
    const DateRanges& target = dates_[index];
    if (end_of_day) {
        return target.ranges.back().to;
    }
    const date::time_zone* zone = ZoneOf(zone_);
    const date::local_time<Ms> local = zone->to_local(date::sys_time<Ms>{Ms{*s}});
    const date::local_days local_date = date::floor<date::days>(local);
    const TimeMs candidate =
        ToUtcEarliest(zone, date::local_days{date::days{target.local_day}}, (local - local_date).count());
    for (const Interval& r : target.ranges) {
        if (r.from <= candidate && candidate < r.to) {
            return candidate;
        }
        if (r.from > candidate) {
            return r.from;
        }
    }
    return target.ranges.back().to;
}

}  // namespace dispatch::sla::testing
