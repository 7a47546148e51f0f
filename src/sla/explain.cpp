#include "sla/explain.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace dispatch::sla {
namespace {

// The local date of an instant; the zone was resolved when the calendar compiled, so lookup cannot fail here
// unless tzdata vanished in between (then the holidays are simply not listed).
std::optional<LocalDate> LocalDateOf(const std::string& zone, TimeMs t) {
    try {
        const date::time_zone* tz = date::locate_zone(zone);
        const auto local = tz->to_local(date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(t)));
        const date::year_month_day ymd{date::floor<date::days>(local)};
        return LocalDate{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                         static_cast<unsigned>(ymd.day())};
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string DateText(const LocalDate& d) { return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day); }

std::string TargetText(const Target& t) {
    switch (t.unit) {
        case TargetUnit::kMinutes:
            return fmt::format("{} min", t.amount);
        case TargetUnit::kHours:
            return fmt::format("{} h", t.amount);
        case TargetUnit::kBusinessDays:
            return fmt::format("{} business day{}{}", t.amount, t.amount == 1 ? "" : "s",
                               t.end_of_day ? " (to the end of the day)" : "");
    }
    return {};
}

}  // namespace

std::string FormatDuration(TimeMs ms) {
    if (ms < 0) {
        return "-" + FormatDuration(-ms);
    }
    const TimeMs hours = ms / kHourMs;
    const TimeMs minutes = (ms % kHourMs) / kMinuteMs;
    const TimeMs seconds = (ms % kMinuteMs) / kSecondMs;
    std::string out = hours > 0 ? fmt::format("{} h {} min", hours, minutes) : fmt::format("{} min", minutes);
    if (seconds > 0) {
        out += fmt::format(" {} s", seconds);
    }
    return out;
}

Explanation Explain(const MetricClock& clock, const CalendarSpec* spec) {
    Explanation e;
    e.metric = clock.metric;
    e.cycle = clock.cycle;
    e.state = clock.state;
    e.start = clock.start;
    e.stop = clock.stop;
    e.deadline = clock.deadline;
    e.target_ms = clock.target_ms;
    e.pauses = clock.pauses;
    if (clock.target != nullptr) {
        e.target = *clock.target;
    }
    if (clock.calendar == nullptr) {
        e.text = fmt::format("{}: no calendar", Name(clock.metric));
        return e;
    }
    const Calendar& cal = *clock.calendar;
    e.calendar_id = cal.Id();
    e.calendar_version = cal.Version();
    e.zone = cal.Zone();
    if (!cal.IsOpen(clock.start)) {
        e.next_opening = cal.NextOpening(clock.start);
    }
    const TimeMs horizon = clock.deadline ? *clock.deadline : (clock.stop ? *clock.stop : clock.start);
    if (horizon > clock.start) {
        const TimeMs open = cal.Elapsed(clock.start, horizon);
        e.paused_open_ms = open - cal.Elapsed(clock.start, horizon, clock.pauses);
        e.closed_ms = (horizon - clock.start) - open;
    }
    if (spec != nullptr && !spec->always_open) {
        const auto first = LocalDateOf(cal.Zone(), clock.start);
        const auto last = LocalDateOf(cal.Zone(), horizon);
        if (first && last) {
            for (const LocalDate& d : spec->holidays) {
                if (*first <= d && d <= *last) {
                    e.holidays.push_back(d);
                }
            }
            std::sort(e.holidays.begin(), e.holidays.end());
        }
    }

    std::string text = fmt::format("{}", Name(clock.metric));
    if (clock.metric == Metric::kResolution) {
        text += fmt::format(" (cycle {})", clock.cycle);
    }
    text += clock.deadline ? fmt::format(" deadline {}", cal.FormatLocal(*clock.deadline))
                           : std::string(" deadline beyond the compiled calendar");
    text += fmt::format(": {} ({}) of open time on calendar {} v{} ({}), counted from {}", TargetText(e.target),
                        FormatDuration(e.target_ms), e.calendar_id, e.calendar_version, e.zone,
                        cal.FormatLocal(clock.start));
    if (e.next_opening) {
        text += fmt::format("; started outside hours, the clock ran from the next opening {}",
                            cal.FormatLocal(*e.next_opening));
    }
    if (e.closed_ms > 0) {
        text += fmt::format("; skipped {} of closed time", FormatDuration(e.closed_ms));
        if (!e.holidays.empty()) {
            text += " incl. holiday";
            text += e.holidays.size() > 1 ? "s" : "";
            for (std::size_t i = 0; i < e.holidays.size(); ++i) {
                text += (i == 0 ? " " : ", ") + DateText(e.holidays[i]);
            }
        }
    }
    if (!e.pauses.empty()) {
        TimeMs wall = 0;
        for (const Interval& p : e.pauses) {
            wall += p.to - p.from;
        }
        text += fmt::format("; paused {} ({} of open time, {} interval{})", FormatDuration(wall),
                            FormatDuration(e.paused_open_ms), e.pauses.size(), e.pauses.size() == 1 ? "" : "s");
    }
    if (clock.stop) {
        text += fmt::format("; stopped {}", cal.FormatLocal(*clock.stop));
    }
    text += fmt::format("; {}.", Name(clock.state));
    e.text = std::move(text);
    return e;
}

}  // namespace dispatch::sla
