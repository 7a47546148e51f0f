#pragma once
// Business calendars (DESIGN.md §5). A CalendarSpec is local wall time plus an IANA zone; Compile turns it into
// sorted, disjoint UTC open segments [from, to) for a range of years, so every query afterwards is integer
// arithmetic on TimeMs with no zone conversion. Pure: no clock reads, no I/O except date/tz reading tzdata once
// per zone.
//
// Wall-time rules (chosen, documented, tested):
// - A range is half-open [from, to) in seconds of the local day; 86400 ("24:00") is a valid end, and a range
//   ending at 24:00 joins a range starting at 00:00 the next day into one open segment.
// - A wall time inside a DST gap (spring forward) moves forward to the end of the gap (02:30 in a 02:00→03:00 gap
//   becomes 03:00, date/tz's choose::earliest), so the desk is open exactly while the wall clock reads a time inside
//   the range; a range wholly inside the gap vanishes.
// - An ambiguous wall time (fall back) takes the first occurrence. So a 00:00–24:00 day is 23 or 25 real hours.
// - A date override replaces that date's weekly hours entirely (a transferred working Saturday, a short
//   pre-holiday day); a holiday closes the whole date; an override wins over a holiday on the same date.
// - `always_open` (24x7) ignores hours, holidays and overrides: one segment over the whole range.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace dispatch::sla {

struct LocalDate {
    int year = 0;
    unsigned month = 0;  // 1..12
    unsigned day = 0;    // 1..31
    friend auto operator<=>(const LocalDate&, const LocalDate&) = default;
};

// Seconds since local midnight, half-open. 0 <= from < to <= 86400.
struct DayRange {
    std::int32_t from = 0;
    std::int32_t to = 0;
    friend bool operator==(const DayRange&, const DayRange&) = default;
};

struct DateOverride {
    LocalDate date;
    std::vector<DayRange> hours;  // empty: closed that day
};

struct CalendarSpec {
    std::string id;    // "line1"; referenced by policy targets
    std::string zone;  // IANA name, "Europe/Moscow"
    int version = 1;   // bumps on every edit; cycles pin a version (research §4.4)
    bool always_open = false;
    std::array<std::vector<DayRange>, 7> week;  // index 0 = Monday ... 6 = Sunday (ISO)
    std::vector<LocalDate> holidays;
    std::vector<DateOverride> overrides;
    // The years its production calendars describe, sorted (policy_load expands them into holidays and overrides).
    // Empty when it uses none, or when none says which year it is.
    std::vector<int> production_years;
    std::vector<int> provisional_years;  // described by provisional ones only so far: not counted as covered
    bool uses_production = false;        // refers to at least one production calendar
};

// For a calendar built on production calendars: the first year among `year` and, from November on (`month` >= 11),
// `year` + 1, that none of them describes. Its public holidays and transferred days would be missing, and the
// clocks would run through them, so dispatchd warns at start and exports the coverage. nullopt when covered or when
// the calendar uses no production calendar (plain weekly hours, always open).
std::optional<int> UncoveredProductionYear(const CalendarSpec& spec, int year, unsigned month);
// The first year from `year` on that its production calendars do not describe (`year` itself when it is missing):
// the calendar's holidays are known until January 1 of it. A gap ends the run (2026, 2028 → 2027).
int FirstUncoveredYear(const CalendarSpec& spec, int year);

// A half-open UTC interval [from, to).
struct Interval {
    TimeMs from = 0;
    TimeMs to = 0;
    friend bool operator==(const Interval&, const Interval&) = default;
};

// Sorted by `from`, disjoint, non-empty intervals. NormalizeIntervals makes any list into one.
using IntervalSet = std::vector<Interval>;
IntervalSet NormalizeIntervals(IntervalSet intervals);

// Validates the spec (zone known, ranges in bounds and not overlapping within a day, override dates valid).
// Errors are CoreErrc::kInvalid / kNotFound with a detail naming the offending field.
Result<void> ValidateCalendarSpec(const CalendarSpec& spec);

class Calendar {
public:
    // Compiles open segments for local dates from Jan 1 of `first_year` to Dec 31 of `last_year` (inclusive).
    // Instants outside that range are treated as closed; pick the range with a margin around the data.
    static Result<std::shared_ptr<const Calendar>> Compile(const CalendarSpec& spec, int first_year, int last_year);

    const std::string& Id() const { return id_; }
    int Version() const { return version_; }
    const std::string& Zone() const { return zone_; }
    bool AlwaysOpen() const { return always_open_; }
    TimeMs RangeBegin() const { return range_begin_; }
    TimeMs RangeEnd() const { return range_end_; }

    // The compiled segments, sorted and disjoint.
    const std::vector<Interval>& Segments() const { return segments_; }

    bool IsOpen(TimeMs t) const;
    // The first instant >= t at which the calendar is open (t itself when open); nullopt past the range.
    std::optional<TimeMs> NextOpening(TimeMs t) const;
    // Open time in [from, to), minus `pauses` (a normalized IntervalSet). 0 when to <= from.
    TimeMs Elapsed(TimeMs from, TimeMs to, const IntervalSet& pauses = {}) const;
    // The smallest t >= start with Elapsed(start, t, pauses) == duration (duration >= 0, checked), so a deadline
    // that consumes a segment exactly lands on its close, not on the next opening. A zero duration gives the
    // instant the clock starts: the first t >= start that is open and not paused (NextOpening(start) without
    // pauses). Pauses extending past the deadline push it later; pauses are all known pauses (future ones
    // unknown). nullopt when the compiled range ends first. Cost: O(log segments + pauses after start).
    std::optional<TimeMs> Deadline(TimeMs start, TimeMs duration, const IntervalSet& pauses = {}) const;
    // `days` business days after `start` (GLPI's day unit). An open local date is one with any open time. The count
    // starts on the open date of s = NextOpening(start) (a ticket created after hours starts next morning) and
    // steps over `days` further open dates (0: the same date). With `end_of_day` the result is the close of that
    // date; otherwise the wall time-of-day of s on that date (gap/overlap rule as above) if open, else the next
    // opening on that date, else that date's close (GLPI clamps to the last working hour). nullopt when days < 0
    // or the compiled range ends first.
    std::optional<TimeMs> AddBusinessDays(TimeMs start, int days, bool end_of_day) const;

    // Local wall time of an instant in this calendar's zone: for explanations ("opens Mon 09:00 MSK").
    std::string FormatLocal(TimeMs t) const;

private:
    Calendar() = default;
    // Total open time before t (the prefix sum at t), and its inverse: the smallest t with OpenBefore(t) == open
    // for 0 < open <= total.
    TimeMs OpenBefore(TimeMs t) const;
    TimeMs InstantAtOpen(TimeMs open) const;

    std::string id_;
    std::string zone_;
    int version_ = 1;
    bool always_open_ = false;
    TimeMs range_begin_ = 0;
    TimeMs range_end_ = 0;
    std::vector<Interval> segments_;
    std::vector<TimeMs> prefix_;  // prefix_[i] = total open ms of segments_[0..i)
    // Per open local date, for AddBusinessDays: its first opening and last close (a date's own hours, even when a
    // 24:00 end merged its last segment with the next date's), and the date as days since 1970-01-01.
    struct OpenDay {
        TimeMs open;
        TimeMs close;
        std::int32_t local_day;
    };
    std::vector<OpenDay> open_days_;
    const void* zone_ptr_ = nullptr;  // date::time_zone*, kept opaque so this header needs no date/tz
};

}  // namespace dispatch::sla
