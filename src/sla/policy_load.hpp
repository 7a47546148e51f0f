#pragma once
// Loading workplace/sla.json (DESIGN.md §4): the calendars and the policy, validated against
// schemas/sla.schema.json and then checked for meaning (a target naming an unknown calendar, a priority without a
// default row...). Every problem names its JSON path ("$.targets[3].reaction.calendar: unknown calendar 'line3'"),
// all problems are reported at once, joined by "; " in one CoreErrc::kInvalid error.
//
// The file format is documented by the schema. Calendars may refer to shared production calendars, one a year
// ("production_calendars": the year, holidays, transferred working days, shortened pre-holiday days, with the legal
// source; "production_calendar": "ru-2026" or ["ru-2026", "ru-2027"]); the loader expands them into each calendar's
// holidays and date overrides and records the years they describe (CalendarSpec::production_years):
// - a transferred working day works with the hours of the weekday named in `works_as`;
// - a short day ends `short_day_minutes` earlier than that date's hours would (the last ranges are cut);
// - the calendar's own `holidays` and `overrides` win over the production calendar on the same date.

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "sla/calendar.hpp"
#include "sla/policy.hpp"

namespace dispatch::json {
class Schema;  // core/json_schema.hpp
}  // namespace dispatch::json

namespace dispatch::sla {

struct SlaConfig {
    Policy policy;
    std::vector<CalendarSpec> calendars;  // production calendars already expanded
};

// Builds the config from a parsed document (checks structure as far as it needs to, and meaning). Does not run
// the JSON Schema: LoadSlaConfig does both.
[[nodiscard]] Result<SlaConfig> ParseSlaConfig(const boost::json::value& doc);

// Reads `path`, validates it against the schema at `schema_path`, then ParseSlaConfig. Schema problems are
// reported first and stop the load (meaning checks assume a well-formed document).
[[nodiscard]] Result<SlaConfig> LoadSlaConfig(const std::string& path, const std::string& schema_path);
// The same against a schema already loaded (dispatchd compiles schemas/sla.schema.json in).
[[nodiscard]] Result<SlaConfig> LoadSlaConfig(const std::string& path, const json::Schema& schema);

// Compiles every calendar for [first_year, last_year]. Fails on the first calendar that does not compile; the
// detail names its id.
[[nodiscard]] Result<CalendarSet> CompileCalendars(const std::vector<CalendarSpec>& specs,
                                                   int first_year,
                                                   int last_year);

// "08:00-20:00" → {28800, 72000}; "24:00" is a valid end. nullopt when malformed or empty.
std::optional<DayRange> ParseDayRange(std::string_view text);
// "2026-05-08" → {2026, 5, 8}; nullopt when malformed or not a real date.
std::optional<LocalDate> ParseLocalDate(std::string_view text);
// 0 = Monday ... 6 = Sunday.
int IsoWeekdayIndex(const LocalDate& date);

}  // namespace dispatch::sla
