#pragma once
// A brute-force model of a business calendar, for checking sla::Calendar. It shares nothing with Calendar's
// compiled segments: it lists each local date's open UTC ranges straight from the spec, mapping each endpoint with
// date/tz's choose::earliest (the documented rule: a gap time becomes the gap's end, an ambiguous time its first
// occurrence), and answers every query by stepping through time in fixed steps and asking "open? paused?".
// Correct answers need every input (range ends, DST transitions, instants, pauses, durations) to be a multiple of
// the step; the random generators in calendar_random.hpp keep that promise.

#include <cstdint>
#include <optional>
#include <vector>

#include "core/clock.hpp"
#include "sla/calendar.hpp"

namespace dispatch::sla::testing {

class CalendarOracle {
public:
    // Same date window as Calendar::Compile(spec, first_year, last_year). The spec must be valid.
    CalendarOracle(const CalendarSpec& spec, int first_year, int last_year);

    struct DateRanges {
        std::int32_t local_day;        // days since 1970-01-01 (local)
        std::vector<Interval> ranges;  // UTC, non-empty, in wall-time order; touching ranges are not joined
    };
    const std::vector<DateRanges>& Dates() const { return dates_; }

    // Linear scans: open when some date's range holds t, paused when some pause holds t.
    bool IsOpen(TimeMs t) const;

    // The queries, by stepping `step` ms at a time and giving up after `limit` ms of stepping (nullopt then;
    // `*gave_up` says whether that was the limit rather than the end of the window).
    TimeMs Elapsed(TimeMs from, TimeMs to, const IntervalSet& pauses, TimeMs step) const;
    std::optional<TimeMs> NextOpening(TimeMs t, TimeMs step, TimeMs limit, bool* gave_up) const;
    std::optional<TimeMs> Deadline(
        TimeMs start, TimeMs duration, const IntervalSet& pauses, TimeMs step, TimeMs limit, bool* gave_up) const;
    std::optional<TimeMs> AddBusinessDays(
        TimeMs start, int days, bool end_of_day, TimeMs step, TimeMs limit, bool* gave_up) const;

    TimeMs WindowBegin() const { return window_begin_; }
    TimeMs WindowEnd() const { return window_end_; }

private:
    // A forward-only cursor over the (sorted) ranges so a long walk costs O(steps + ranges).
    class Walker;

    std::vector<DateRanges> dates_;
    std::vector<Interval> flat_;  // all ranges, in order
    TimeMs window_begin_ = 0;
    TimeMs window_end_ = 0;
    const void* zone_ = nullptr;
};

}  // namespace dispatch::sla::testing
