#pragma once
// Why a deadline is what it is (DESIGN.md §4; research §5 J5): for one clock of a FoldResult, the calendar and its
// version, where the clock started (and the next opening when the ticket came in outside hours), the closed time
// and holidays skipped, the pauses subtracted, and the target, as structured data and as one readable sentence for
// the per-ticket timeline.

#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "sla/calendar.hpp"
#include "sla/fold.hpp"

namespace dispatch::sla {

struct Explanation {
    Metric metric = Metric::kReaction;
    int cycle = 1;
    ClockState state = ClockState::kRunning;
    std::string calendar_id;
    int calendar_version = 0;
    std::string zone;
    TimeMs start = 0;
    std::optional<TimeMs> next_opening;  // set when `start` fell outside the calendar's hours
    Target target;
    TimeMs target_ms = 0;                // the target as open time
    std::optional<TimeMs> deadline;
    std::optional<TimeMs> stop;
    TimeMs closed_ms = 0;                // wall time in [start, deadline) when the calendar was closed
    std::vector<LocalDate> holidays;     // holidays of the spec within [start, deadline]
    IntervalSet pauses;                  // pauses subtracted, clipped to the clock's span
    TimeMs paused_open_ms = 0;           // open time that the pauses took out
    std::string text;
};

// `spec` (the calendar's source spec, optional) lets the explanation name the holidays skipped.
Explanation Explain(const MetricClock& clock, const CalendarSpec* spec = nullptr);

// "3 h 20 min", "45 min", "0 min", "1 h 0 min 30 s".
std::string FormatDuration(TimeMs ms);

}  // namespace dispatch::sla
