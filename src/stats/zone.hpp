#pragma once
// The portal's time zone for statistics: period boundaries (a month starts at local midnight of its first day) and
// arrivals by local hour and weekday. A thin wrapper over date/tz with the same wall-time rule as sla::Calendar: a
// local midnight inside a DST gap moves forward to the end of the gap (the first instant of that date).

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "sla/calendar.hpp"
#include "sla/policy.hpp"

namespace dispatch::stats {

// The periods statistics group by (kpi.hpp): the whole range, a local month, a local year.
enum class PeriodKind { kAll, kMonth, kYear };

struct LocalTime {
    sla::LocalDate date;
    int hour = 0;     // 0..23
    int minute = 0;   // 0..59
    int weekday = 0;  // 0 = Monday ... 6 = Sunday (ISO)
};

class Zone {
public:
    // An IANA name ("Europe/Moscow", "UTC"). CoreErrc::kNotFound when tzdata does not know it.
    [[nodiscard]] static Result<Zone> Locate(std::string_view name);

    const std::string& Name() const { return name_; }
    LocalTime ToLocal(TimeMs t) const;
    // Offset from UTC in minutes at instant t (+180 for Moscow).
    int OffsetMinutes(TimeMs t) const;
    // The first instant of a local date (its midnight; the end of the gap when midnight does not exist).
    TimeMs StartOf(const sla::LocalDate& date) const;

private:
    Zone() = default;
    std::string name_;
    const void* tz_ = nullptr;  // const date::time_zone*, owned by the process-wide tzdb; opaque to keep date/tz out
};

// The zone statistics use for a portal: the zone of the calendar the default normal-priority reaction target runs
// on (the desk's own hours), else the first calendar's, else "UTC".
std::string PortalZone(const sla::Policy& policy, const sla::CalendarSet& calendars);

// The day after `date` (month and year roll over).
sla::LocalDate NextDay(const sla::LocalDate& date);
// The first day of the month (kMonth) or year (kYear, and kAll, which has no next period of its own) after the one
// holding `date`.
sla::LocalDate NextPeriodStart(const sla::LocalDate& date, PeriodKind kind);
// "2026-03-01".
std::string FormatDate(const sla::LocalDate& date);
// `t` in ISO 8601 with the zone's offset at t: "2026-03-01T00:00:00+03:00".
std::string FormatLocalIso(const Zone& zone, TimeMs t);

// A range bound given as local calendar text, in the zone: "2026", "2026-03" or "2026-03-15". As a start it is the
// first instant of that year, month or day; as an end it is inclusive (the instant after that year, month or day
// ends), so from=2026-03&to=2026-03 is all of March. CoreErrc::kInvalid when malformed or not a real date.
[[nodiscard]] Result<TimeMs> ParseRangeStart(std::string_view text, const Zone& zone);
[[nodiscard]] Result<TimeMs> ParseRangeEnd(std::string_view text, const Zone& zone);

}  // namespace dispatch::stats
