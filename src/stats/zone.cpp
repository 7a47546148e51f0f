#include "stats/zone.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <climits>
#include <exception>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "sla/policy_load.hpp"

namespace dispatch::stats {
namespace {

const date::time_zone* Tz(const void* p) { return static_cast<const date::time_zone*>(p); }

date::sys_seconds Seconds(TimeMs t) {
    return date::sys_seconds{std::chrono::floor<std::chrono::seconds>(std::chrono::milliseconds{t})};
}

// json::ParseInt without the surrounding spaces it forgives in Bitrix24 ids: "2026- 3" is no month.
bool ParseNumber(std::string_view text, int& out) {
    if (!text.empty() && (text.front() == ' ' || text.back() == ' ')) {
        return false;
    }
    const auto value = json::ParseInt(text);
    if (!value || *value < INT_MIN || *value > INT_MAX) {
        return false;
    }
    out = static_cast<int>(*value);
    return true;
}

// "2026" → year; "2026-03" → month; "2026-03-15" → day.
enum class Precision { kYear, kMonth, kDay };

Result<std::pair<sla::LocalDate, Precision>> ParseBound(std::string_view text) {
    const auto bad = [&] {
        return Fail(CoreErrc::kInvalid, "'" + std::string(text) + "' is not YYYY, YYYY-MM or YYYY-MM-DD");
    };
    int year = 0;
    if (text.size() == 4 && ParseNumber(text, year) && year >= 1970 && year <= 2200) {
        return std::pair{sla::LocalDate{year, 1, 1}, Precision::kYear};
    }
    if (text.size() == 7 && text[4] == '-') {
        int month = 0;
        if (ParseNumber(text.substr(0, 4), year) && ParseNumber(text.substr(5, 2), month) && year >= 1970 &&
            year <= 2200 && month >= 1 && month <= 12) {
            return std::pair{sla::LocalDate{year, static_cast<unsigned>(month), 1}, Precision::kMonth};
        }
        return bad();
    }
    if (text.size() == 10) {
        if (const auto date = sla::ParseLocalDate(text); date && date->year >= 1970 && date->year <= 2200) {
            return std::pair{*date, Precision::kDay};
        }
    }
    return bad();
}

}  // namespace

Result<Zone> Zone::Locate(std::string_view name) {
    try {
        Zone zone;
        zone.tz_ = date::locate_zone(name);
        zone.name_ = std::string(name);
        return zone;
    } catch (const std::exception&) {
        // date/tz reports an unknown name by throwing std::runtime_error.
        return Fail(CoreErrc::kNotFound, "unknown time zone '" + std::string(name) + "'");
    }
}

LocalTime Zone::ToLocal(TimeMs t) const {
    const auto local = Tz(tz_)->to_local(Seconds(t));
    const auto day = date::floor<date::days>(local);
    const date::year_month_day ymd{day};
    const auto time = date::hh_mm_ss<std::chrono::seconds>{local - day};
    LocalTime out;
    out.date = sla::LocalDate{
        static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())};
    out.hour = static_cast<int>(time.hours().count());
    out.minute = static_cast<int>(time.minutes().count());
    out.weekday = static_cast<int>(date::weekday{day}.iso_encoding()) - 1;
    return out;
}

int Zone::OffsetMinutes(TimeMs t) const {
    const auto info = Tz(tz_)->get_info(Seconds(t));
    return static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(info.offset).count());
}

TimeMs Zone::StartOf(const sla::LocalDate& date) const {
    const date::local_days day{date::year{date.year} / date::month{date.month} / date::day{date.day}};
    // A nonexistent midnight resolves to the transition instant with either choice (STYLE.md §2.1b): the first
    // instant the date has. An ambiguous one takes its first occurrence.
    const auto sys = Tz(tz_)->to_sys(date::local_seconds{day}, date::choose::earliest);
    return std::chrono::duration_cast<std::chrono::milliseconds>(sys.time_since_epoch()).count();
}

std::string PortalZone(const sla::Policy& policy, const sla::CalendarSet& calendars) {
    if (const sla::TargetRule* rule = policy.SelectTargets(sla::Priority::kNormal, "")) {
        if (const sla::Calendar* calendar = calendars.Find(rule->reaction.calendar)) {
            return calendar->Zone();
        }
    }
    if (!calendars.All().empty()) {
        return calendars.All().front()->Zone();
    }
    return "UTC";
}

sla::LocalDate NextDay(const sla::LocalDate& date) {
    const date::sys_days day{date::year{date.year} / date::month{date.month} / date::day{date.day}};
    const date::year_month_day next{day + date::days{1}};
    return sla::LocalDate{
        static_cast<int>(next.year()), static_cast<unsigned>(next.month()), static_cast<unsigned>(next.day())};
}

sla::LocalDate NextPeriodStart(const sla::LocalDate& date, PeriodKind kind) {
    if (kind == PeriodKind::kMonth && date.month < 12) {
        return sla::LocalDate{date.year, date.month + 1, 1};
    }
    return sla::LocalDate{date.year + 1, 1, 1};
}

std::string FormatDate(const sla::LocalDate& date) {
    return fmt::format("{:04}-{:02}-{:02}", date.year, date.month, date.day);
}

std::string FormatLocalIso(const Zone& zone, TimeMs t) { return FormatIso8601(t, zone.OffsetMinutes(t)); }

Result<TimeMs> ParseRangeStart(std::string_view text, const Zone& zone) {
    auto bound = ParseBound(text);
    if (!bound) {
        return bound.error();
    }
    return zone.StartOf(bound->first);
}

Result<TimeMs> ParseRangeEnd(std::string_view text, const Zone& zone) {
    auto bound = ParseBound(text);
    if (!bound) {
        return bound.error();
    }
    sla::LocalDate date = bound->first;
    switch (bound->second) {
        case Precision::kYear:
            date = NextPeriodStart(date, PeriodKind::kYear);
            break;
        case Precision::kMonth:
            date = NextPeriodStart(date, PeriodKind::kMonth);
            break;
        case Precision::kDay:
            date = NextDay(date);
            break;
    }
    return zone.StartOf(date);
}

}  // namespace dispatch::stats
