#include "sla/policy_load.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/json_schema.hpp"

namespace dispatch::sla {
namespace {

namespace bj = boost::json;
using json::PathIndex;
using json::PathKey;

constexpr std::array<std::string_view, 7> kDayKeys{"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

// Collects every problem with its path; readers return defaults after reporting so parsing can go on.
class Reader {
public:
    void Problem(const std::string& path, std::string reason) { problems_.push_back(path + ": " + std::move(reason)); }
    bool Ok() const { return problems_.empty(); }
    std::string Joined() const {
        std::string out;
        for (const auto& p : problems_) {
            if (!out.empty()) {
                out += "; ";
            }
            out += p;
        }
        return out;
    }

    const bj::object* Object(const bj::value* v, const std::string& path, bool required) {
        if (v == nullptr) {
            if (required) {
                Problem(path, "required");
            }
            return nullptr;
        }
        if (!v->is_object()) {
            Problem(path, "must be an object");
            return nullptr;
        }
        return &v->as_object();
    }
    const bj::array* Array(const bj::value* v, const std::string& path, bool required) {
        if (v == nullptr) {
            if (required) {
                Problem(path, "required");
            }
            return nullptr;
        }
        if (!v->is_array()) {
            Problem(path, "must be an array");
            return nullptr;
        }
        return &v->as_array();
    }
    std::string String(const bj::value* v, const std::string& path, bool required) {
        if (v == nullptr) {
            if (required) {
                Problem(path, "required");
            }
            return {};
        }
        if (!v->is_string()) {
            Problem(path, "must be a string");
            return {};
        }
        return std::string(v->as_string());
    }
    std::optional<std::int64_t> Int(const bj::value* v, const std::string& path, bool required) {
        if (v == nullptr) {
            if (required) {
                Problem(path, "required");
            }
            return std::nullopt;
        }
        if (!v->is_int64() && !v->is_uint64()) {
            Problem(path, "must be an integer");
            return std::nullopt;
        }
        return v->is_int64() ? v->as_int64() : static_cast<std::int64_t>(v->as_uint64());
    }
    bool Bool(const bj::value* v, const std::string& path, bool fallback) {
        if (v == nullptr) {
            return fallback;
        }
        if (!v->is_bool()) {
            Problem(path, "must be a boolean");
            return fallback;
        }
        return v->as_bool();
    }

private:
    std::vector<std::string> problems_;
};

const bj::value* At(const bj::object* o, std::string_view key) {
    if (o == nullptr) {
        return nullptr;
    }
    return o->if_contains(key);
}

std::optional<LocalDate> DateAt(Reader& r, const bj::value* v, const std::string& path) {
    const std::string text = r.String(v, path, true);
    if (text.empty()) {
        return std::nullopt;
    }
    auto date = ParseLocalDate(text);
    if (!date) {
        r.Problem(path, "not a date (YYYY-MM-DD): '" + text + "'");
    }
    return date;
}

std::vector<DayRange> RangesAt(Reader& r, const bj::value* v, const std::string& path) {
    std::vector<DayRange> out;
    const bj::array* a = r.Array(v, path, true);
    if (a == nullptr) {
        return out;
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string p = PathIndex(path, i);
        const std::string text = r.String(&(*a)[i], p, true);
        auto range = ParseDayRange(text);
        if (!range) {
            r.Problem(p, "not a time range (HH:MM-HH:MM, end after start, 24:00 allowed as end): '" + text + "'");
            continue;
        }
        if (!out.empty() && range->from < out.back().to) {
            r.Problem(p, "overlaps or precedes the previous range");
        }
        out.push_back(*range);
    }
    return out;
}

struct ProductionCalendar {
    std::vector<LocalDate> holidays;
    std::vector<std::pair<LocalDate, int>> working_days;  // date, weekday index whose hours apply
    std::vector<LocalDate> short_days;
    std::int32_t short_seconds = 3600;
    std::optional<int> year;   // the year it describes
    bool provisional = false;  // the law's dates without the year's decree: applies, covers nothing
};

// A production calendar that does not say its year describes the one most of its holidays fall in (a decree for
// 2026 may also make 2025-12-31 a day off).
std::optional<int> InferYear(const std::vector<LocalDate>& holidays) {
    std::map<int, int> counts;
    for (const LocalDate& d : holidays) {
        ++counts[d.year];
    }
    const auto most = std::max_element(
        counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    return most == counts.end() ? std::nullopt : std::optional<int>(most->first);
}

ProductionCalendar ParseProduction(Reader& r, const bj::object& o, const std::string& path) {
    ProductionCalendar pc;
    if (const bj::array* a = r.Array(At(&o, "holidays"), PathKey(path, "holidays"), false)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (auto d = DateAt(r, &(*a)[i], PathIndex(PathKey(path, "holidays"), i))) {
                pc.holidays.push_back(*d);
            }
        }
    }
    const std::string tw_path = PathKey(path, "transferred_working_days");
    if (const bj::array* a = r.Array(At(&o, "transferred_working_days"), tw_path, false)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            const std::string p = PathIndex(tw_path, i);
            const bj::object* item = r.Object(&(*a)[i], p, true);
            if (item == nullptr) {
                continue;
            }
            auto date = DateAt(r, At(item, "date"), PathKey(p, "date"));
            const std::string as = r.String(At(item, "works_as"), PathKey(p, "works_as"), true);
            const auto day = std::find(kDayKeys.begin(), kDayKeys.end(), as);
            if (day == kDayKeys.end()) {
                r.Problem(PathKey(p, "works_as"), "not a weekday (mon..sun): '" + as + "'");
                continue;
            }
            if (date) {
                pc.working_days.emplace_back(*date, static_cast<int>(day - kDayKeys.begin()));
            }
        }
    }
    if (const bj::array* a = r.Array(At(&o, "short_days"), PathKey(path, "short_days"), false)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (auto d = DateAt(r, &(*a)[i], PathIndex(PathKey(path, "short_days"), i))) {
                pc.short_days.push_back(*d);
            }
        }
    }
    if (auto minutes = r.Int(At(&o, "short_day_minutes"), PathKey(path, "short_day_minutes"), false)) {
        if (*minutes < 0 || *minutes > 24 * 60) {
            r.Problem(PathKey(path, "short_day_minutes"), "must be within 0..1440");
        } else {
            pc.short_seconds = static_cast<std::int32_t>(*minutes * 60);
        }
    }
    pc.provisional = r.Bool(At(&o, "provisional"), PathKey(path, "provisional"), false);
    if (auto year = r.Int(At(&o, "year"), PathKey(path, "year"), false)) {
        pc.year = static_cast<int>(*year);
    } else {
        pc.year = InferYear(pc.holidays);
    }
    return pc;
}

// Cuts `seconds` off the end of a day's ranges (a shortened pre-holiday day).
std::vector<DayRange> Shorten(std::vector<DayRange> hours, std::int32_t seconds) {
    while (seconds > 0 && !hours.empty()) {
        DayRange& last = hours.back();
        const std::int32_t length = last.to - last.from;
        if (length > seconds) {
            last.to -= seconds;
            break;
        }
        seconds -= length;
        hours.pop_back();
    }
    return hours;
}

void Expand(CalendarSpec& spec, const ProductionCalendar& pc) {
    const auto has_override = [&](const LocalDate& d) {
        return std::any_of(
            spec.overrides.begin(), spec.overrides.end(), [&](const DateOverride& o) { return o.date == d; });
    };
    const std::vector<LocalDate> own_holidays = spec.holidays;
    for (const LocalDate& d : pc.holidays) {
        if (std::find(own_holidays.begin(), own_holidays.end(), d) == own_holidays.end() && !has_override(d)) {
            spec.holidays.push_back(d);
        }
    }
    for (const auto& [date, weekday] : pc.working_days) {
        if (!has_override(date)) {
            spec.overrides.push_back(DateOverride{date, spec.week[weekday]});
        }
    }
    for (const LocalDate& d : pc.short_days) {
        if (has_override(d)) {
            continue;  // the calendar says exactly what that day looks like
        }
        spec.overrides.push_back(DateOverride{d, Shorten(spec.week[IsoWeekdayIndex(d)], pc.short_seconds)});
    }
}

std::optional<CalendarSpec> ParseCalendar(Reader& r,
                                          const bj::value& v,
                                          const std::string& path,
                                          const std::map<std::string, ProductionCalendar>& production) {
    const bj::object* o = r.Object(&v, path, true);
    if (o == nullptr) {
        return std::nullopt;
    }
    CalendarSpec spec;
    spec.id = r.String(At(o, "id"), PathKey(path, "id"), true);
    spec.zone = r.String(At(o, "zone"), PathKey(path, "zone"), true);
    if (auto version = r.Int(At(o, "version"), PathKey(path, "version"), false)) {
        spec.version = static_cast<int>(*version);
    }
    spec.always_open = r.Bool(At(o, "always_open"), PathKey(path, "always_open"), false);
    const std::string hours_path = PathKey(path, "hours");
    if (const bj::object* hours = r.Object(At(o, "hours"), hours_path, !spec.always_open)) {
        for (const auto& kv : *hours) {
            const auto day = std::find(kDayKeys.begin(), kDayKeys.end(), std::string_view(kv.key()));
            if (day == kDayKeys.end()) {
                r.Problem(PathKey(hours_path, kv.key()), "not a weekday (mon..sun)");
                continue;
            }
            spec.week[day - kDayKeys.begin()] = RangesAt(r, &kv.value(), PathKey(hours_path, kv.key()));
        }
    }
    if (const bj::array* a = r.Array(At(o, "holidays"), PathKey(path, "holidays"), false)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (auto d = DateAt(r, &(*a)[i], PathIndex(PathKey(path, "holidays"), i))) {
                spec.holidays.push_back(*d);
            }
        }
    }
    const std::string ov_path = PathKey(path, "overrides");
    if (const bj::array* a = r.Array(At(o, "overrides"), ov_path, false)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            const std::string p = PathIndex(ov_path, i);
            const bj::object* item = r.Object(&(*a)[i], p, true);
            if (item == nullptr) {
                continue;
            }
            auto date = DateAt(r, At(item, "date"), PathKey(p, "date"));
            auto hours = RangesAt(r, At(item, "hours"), PathKey(p, "hours"));
            if (date) {
                spec.overrides.push_back(DateOverride{*date, std::move(hours)});
            }
        }
    }
    if (const bj::value* ref = At(o, "production_calendar")) {
        // One id, or one a year.
        const std::string ref_path = PathKey(path, "production_calendar");
        std::vector<std::pair<const bj::value*, std::string>> refs;
        if (ref->is_array()) {
            for (std::size_t i = 0; i < ref->as_array().size(); ++i) {
                refs.emplace_back(&ref->as_array()[i], PathIndex(ref_path, i));
            }
        } else {
            refs.emplace_back(ref, ref_path);
        }
        for (const auto& [value, p] : refs) {
            const std::string id = r.String(value, p, true);
            const auto it = production.find(id);
            if (it == production.end()) {
                r.Problem(p, "unknown production calendar '" + id + "'");
                continue;
            }
            spec.uses_production = true;
            if (it->second.year) {
                (it->second.provisional ? spec.provisional_years : spec.production_years).push_back(*it->second.year);
            }
            if (!spec.always_open) {
                Expand(spec, it->second);
            }
        }
        for (auto* years : {&spec.production_years, &spec.provisional_years}) {
            std::sort(years->begin(), years->end());
            years->erase(std::unique(years->begin(), years->end()), years->end());
        }
    }
    if (!spec.id.empty() && !spec.zone.empty()) {
        if (auto valid = ValidateCalendarSpec(spec); !valid) {
            r.Problem(path, valid.error().detail);
        }
    }
    return spec;
}

std::vector<Metric> MetricsAt(Reader& r, const bj::value* v, const std::string& path) {
    if (v == nullptr) {
        return {Metric::kReaction, Metric::kResolution, Metric::kLine2Ola};
    }
    std::vector<Metric> out;
    if (const bj::array* a = r.Array(v, path, true)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            const std::string p = PathIndex(path, i);
            const std::string name = r.String(&(*a)[i], p, true);
            const auto metric = ParseMetric(name);
            if (!metric || *metric == Metric::kResolutionTotal) {
                r.Problem(p, "not a metric with thresholds (reaction, resolution, line2_ola): '" + name + "'");
                continue;
            }
            out.push_back(*metric);
        }
    }
    return out;
}

std::optional<Role> RoleAt(Reader& r, const bj::value* v, const std::string& path) {
    const std::string name = r.String(v, path, true);
    if (name.empty()) {
        return std::nullopt;
    }
    auto role = ParseRole(name);
    if (!role) {
        r.Problem(path, "unknown role '" + name + "'");
    }
    return role;
}

Target TargetAt(Reader& r, const bj::value* v, const std::string& path, const std::set<std::string>& calendars) {
    Target t;
    const bj::object* o = r.Object(v, path, true);
    if (o == nullptr) {
        return t;
    }
    if (auto amount = r.Int(At(o, "amount"), PathKey(path, "amount"), true)) {
        if (*amount < 0) {
            r.Problem(PathKey(path, "amount"), "must be >= 0");
        }
        t.amount = *amount;
    }
    const std::string unit = r.String(At(o, "unit"), PathKey(path, "unit"), true);
    if (unit == "minutes") {
        t.unit = TargetUnit::kMinutes;
    } else if (unit == "hours") {
        t.unit = TargetUnit::kHours;
    } else if (unit == "business_days") {
        t.unit = TargetUnit::kBusinessDays;
    } else if (!unit.empty()) {
        r.Problem(PathKey(path, "unit"), "not a unit (minutes, hours, business_days): '" + unit + "'");
    }
    t.end_of_day = r.Bool(At(o, "end_of_day"), PathKey(path, "end_of_day"), false);
    if (t.end_of_day && t.unit != TargetUnit::kBusinessDays) {
        r.Problem(PathKey(path, "end_of_day"), "only business_days snap to the end of the day");
    }
    t.calendar = r.String(At(o, "calendar"), PathKey(path, "calendar"), true);
    if (!t.calendar.empty() && calendars.count(t.calendar) == 0) {
        r.Problem(PathKey(path, "calendar"), "unknown calendar '" + t.calendar + "'");
    }
    return t;
}

void ParseRoles(Reader& r, const bj::object* doc, Policy& policy) {
    const bj::object* roles = r.Object(At(doc, "roles"), "$.roles", true);
    if (roles == nullptr) {
        return;
    }
    for (const auto& kv : *roles) {
        const std::string p = PathKey("$.roles", kv.key());
        const auto role = ParseRole(kv.key());
        if (!role) {
            r.Problem(p, "unknown role");
            continue;
        }
        const bj::array* users = r.Array(&kv.value(), p, true);
        if (users == nullptr) {
            continue;
        }
        for (std::size_t i = 0; i < users->size(); ++i) {
            const auto id = r.Int(&(*users)[i], PathIndex(p, i), true);
            if (id && *id <= 0) {
                r.Problem(PathIndex(p, i), "a Bitrix24 user id is positive");
            } else if (id) {
                policy.roles[static_cast<int>(*role)].push_back(*id);
            }
        }
    }
}

void ParseTargets(Reader& r, const bj::object* doc, Policy& policy, const std::set<std::string>& calendars) {
    const bj::array* a = r.Array(At(doc, "targets"), "$.targets", true);
    if (a == nullptr) {
        return;
    }
    std::set<std::pair<int, std::string>> seen;
    for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string p = PathIndex("$.targets", i);
        const bj::object* o = r.Object(&(*a)[i], p, true);
        if (o == nullptr) {
            continue;
        }
        TargetRule rule;
        const std::string priority = r.String(At(o, "priority"), PathKey(p, "priority"), true);
        if (auto parsed = ParsePriority(priority)) {
            rule.priority = *parsed;
        } else if (!priority.empty()) {
            r.Problem(PathKey(p, "priority"), "unknown priority '" + priority + "'");
            continue;
        }
        rule.template_name = r.String(At(o, "template"), PathKey(p, "template"), false);
        if (!rule.template_name.empty() &&
            std::find(policy.templates.begin(), policy.templates.end(), rule.template_name) == policy.templates.end()) {
            r.Problem(PathKey(p, "template"), "unknown template '" + rule.template_name + "'");
        }
        if (!seen.emplace(static_cast<int>(rule.priority), rule.template_name).second) {
            r.Problem(p, "a second row for the same priority and template");
        }
        rule.reaction = TargetAt(r, At(o, "reaction"), PathKey(p, "reaction"), calendars);
        rule.resolution = TargetAt(r, At(o, "resolution"), PathKey(p, "resolution"), calendars);
        if (const bj::value* ola = At(o, "line2_ola")) {
            rule.line2_ola = TargetAt(r, ola, PathKey(p, "line2_ola"), calendars);
        }
        policy.targets.push_back(std::move(rule));
    }
    for (int priority = 0; priority < 4; ++priority) {
        if (seen.count({priority, ""}) == 0) {
            r.Problem("$.targets",
                      "no default row (without template) for priority '" +
                          std::string(Name(static_cast<Priority>(priority))) + "'");
        }
    }
}

void ParseWarnings(Reader& r, const bj::object* doc, Policy& policy) {
    const bj::array* a = r.Array(At(doc, "warnings"), "$.warnings", false);
    if (a == nullptr) {
        return;
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string p = PathIndex("$.warnings", i);
        const bj::object* o = r.Object(&(*a)[i], p, true);
        if (o == nullptr) {
            continue;
        }
        Warning w;
        if (auto percent = r.Int(At(o, "percent"), PathKey(p, "percent"), false)) {
            if (*percent <= 0 || *percent >= 100) {
                r.Problem(PathKey(p, "percent"), "must be within 1..99");
            }
            w.percent = static_cast<int>(*percent);
        }
        if (auto minutes = r.Int(At(o, "minutes_before"), PathKey(p, "minutes_before"), false)) {
            if (*minutes <= 0) {
                r.Problem(PathKey(p, "minutes_before"), "must be > 0");
            }
            w.minutes_before = *minutes;
        }
        if (w.percent.has_value() == w.minutes_before.has_value()) {
            r.Problem(p, "exactly one of 'percent' and 'minutes_before'");
            continue;
        }
        w.metrics = MetricsAt(r, At(o, "metrics"), PathKey(p, "metrics"));
        policy.warnings.push_back(std::move(w));
    }
}

void ParseEscalation(Reader& r, const bj::object* doc, Policy& policy) {
    const bj::array* a = r.Array(At(doc, "escalation"), "$.escalation", false);
    if (a == nullptr) {
        return;
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string p = PathIndex("$.escalation", i);
        const bj::object* o = r.Object(&(*a)[i], p, true);
        if (o == nullptr) {
            continue;
        }
        EscalationLevel level;
        if (auto n = r.Int(At(o, "level"), PathKey(p, "level"), true)) {
            level.level = static_cast<int>(*n);
            if (*n != static_cast<std::int64_t>(i) + 1) {
                r.Problem(PathKey(p, "level"), "levels are numbered 1, 2, ... in order");
            }
        }
        level.offset_minutes = r.Int(At(o, "offset_minutes"), PathKey(p, "offset_minutes"), false).value_or(0);
        if (auto line = r.Int(At(o, "only_on_line"), PathKey(p, "only_on_line"), false)) {
            if (*line != 1 && *line != 2) {
                r.Problem(PathKey(p, "only_on_line"), "must be 1 or 2");
            }
            level.only_on_line = static_cast<int>(*line);
        }
        level.metrics = MetricsAt(r, At(o, "metrics"), PathKey(p, "metrics"));
        const std::string ap = PathKey(p, "actions");
        if (const bj::array* actions = r.Array(At(o, "actions"), ap, true)) {
            for (std::size_t j = 0; j < actions->size(); ++j) {
                const std::string q = PathIndex(ap, j);
                const bj::object* act = r.Object(&(*actions)[j], q, true);
                if (act == nullptr) {
                    continue;
                }
                Action action;
                const std::string what = r.String(At(act, "do"), PathKey(q, "do"), true);
                if (what == "notify") {
                    action.kind = ActionKind::kNotify;
                    if (const bj::array* roles = r.Array(At(act, "roles"), PathKey(q, "roles"), true)) {
                        for (std::size_t k = 0; k < roles->size(); ++k) {
                            if (auto role = RoleAt(r, &(*roles)[k], PathIndex(PathKey(q, "roles"), k))) {
                                action.roles.push_back(*role);
                            }
                        }
                    }
                } else if (what == "assign") {
                    action.kind = ActionKind::kAssign;
                    if (auto role = RoleAt(r, At(act, "role"), PathKey(q, "role"))) {
                        action.roles.push_back(*role);
                    }
                } else if (what == "move_to_line2") {
                    action.kind = ActionKind::kMoveToLine2;
                } else if (what == "raise_priority") {
                    action.kind = ActionKind::kRaisePriority;
                } else if (what == "notify_head") {
                    action.kind = ActionKind::kNotifyHead;
                    action.roles.push_back(Role::kHeadOfIt);
                } else {
                    r.Problem(PathKey(q, "do"), "unknown action '" + what + "'");
                    continue;
                }
                level.actions.push_back(std::move(action));
            }
        }
        policy.escalation.push_back(std::move(level));
    }
}

void ParseAcceptance(Reader& r, const bj::object* doc, Policy& policy, const std::set<std::string>& calendars) {
    const bj::object* o = r.Object(At(doc, "acceptance"), "$.acceptance", true);
    if (o == nullptr) {
        return;
    }
    Acceptance& acc = policy.acceptance;
    if (auto days = r.Int(At(o, "days"), "$.acceptance.days", true)) {
        if (*days < 1) {
            r.Problem("$.acceptance.days", "must be >= 1");
        }
        acc.days = static_cast<int>(*days);
    }
    const std::string unit = r.String(At(o, "unit"), "$.acceptance.unit", true);
    if (unit == "business_days" || unit == "calendar_days") {
        acc.business_days = unit == "business_days";
    } else if (!unit.empty()) {
        r.Problem("$.acceptance.unit", "not a unit (business_days, calendar_days): '" + unit + "'");
    }
    acc.calendar = r.String(At(o, "calendar"), "$.acceptance.calendar", acc.business_days);
    if (!acc.calendar.empty() && calendars.count(acc.calendar) == 0) {
        r.Problem("$.acceptance.calendar", "unknown calendar '" + acc.calendar + "'");
    }
    if (auto before = r.Int(At(o, "reminder_days_before"), "$.acceptance.reminder_days_before", false)) {
        if (*before < 0 || *before > acc.days) {
            r.Problem("$.acceptance.reminder_days_before", "must be within 0..days");
        }
        acc.reminder_days_before = static_cast<int>(*before);
    }
}

void ParseRouting(Reader& r, const bj::object* doc, Policy& policy) {
    const bj::object* o = r.Object(At(doc, "routing"), "$.routing", true);
    if (o == nullptr) {
        return;
    }
    if (auto fallback = RoleAt(r, At(o, "fallback"), "$.routing.fallback")) {
        policy.routing.fallback = *fallback;
        if (policy.Users(*fallback).empty()) {
            r.Problem("$.routing.fallback", "the fallback role has no users");
        }
    }
    const bj::array* rules = r.Array(At(o, "rules"), "$.routing.rules", false);
    if (rules == nullptr) {
        return;
    }
    for (std::size_t i = 0; i < rules->size(); ++i) {
        const std::string p = PathIndex("$.routing.rules", i);
        const bj::object* item = r.Object(&(*rules)[i], p, true);
        if (item == nullptr) {
            continue;
        }
        RoutingRule rule;
        rule.template_name = r.String(At(item, "template"), PathKey(p, "template"), true);
        if (!rule.template_name.empty() &&
            std::find(policy.templates.begin(), policy.templates.end(), rule.template_name) == policy.templates.end()) {
            r.Problem(PathKey(p, "template"), "unknown template '" + rule.template_name + "'");
        }
        if (const bj::value* user = At(item, "user")) {
            rule.user = r.Int(user, PathKey(p, "user"), true);
        }
        if (const bj::value* role = At(item, "role")) {
            rule.role = RoleAt(r, role, PathKey(p, "role"));
        }
        if (rule.user.has_value() == rule.role.has_value()) {
            r.Problem(p, "exactly one of 'user' and 'role'");
        }
        policy.routing.rules.push_back(std::move(rule));
    }
}

}  // namespace

std::optional<DayRange> ParseDayRange(std::string_view text) {
    const auto clock = [](std::string_view t) -> std::optional<std::int32_t> {
        if (t.size() != 5 || t[2] != ':') {
            return std::nullopt;
        }
        for (std::size_t i : {0u, 1u, 3u, 4u}) {
            if (t[i] < '0' || t[i] > '9') {
                return std::nullopt;
            }
        }
        const int h = (t[0] - '0') * 10 + (t[1] - '0');
        const int m = (t[3] - '0') * 10 + (t[4] - '0');
        if (m > 59 || h > 24 || (h == 24 && m != 0)) {
            return std::nullopt;
        }
        return h * 3600 + m * 60;
    };
    if (text.size() != 11 || text[5] != '-') {
        return std::nullopt;
    }
    const auto from = clock(text.substr(0, 5));
    const auto to = clock(text.substr(6, 5));
    if (!from || !to || *from >= *to || *from == 86400) {
        return std::nullopt;
    }
    return DayRange{*from, *to};
}

std::optional<LocalDate> ParseLocalDate(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
        return std::nullopt;
    }
    int parts[3] = {0, 0, 0};
    const std::size_t starts[3] = {0, 5, 8};
    const std::size_t lengths[3] = {4, 2, 2};
    for (int k = 0; k < 3; ++k) {
        for (std::size_t i = starts[k]; i < starts[k] + lengths[k]; ++i) {
            if (text[i] < '0' || text[i] > '9') {
                return std::nullopt;
            }
            parts[k] = parts[k] * 10 + (text[i] - '0');
        }
    }
    const int y = parts[0];
    const int m = parts[1];
    const int d = parts[2];
    if (m < 1 || m > 12 || d < 1) {
        return std::nullopt;
    }
    static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    const int max_day = m == 2 && leap ? 29 : kDays[m - 1];
    if (d > max_day) {
        return std::nullopt;
    }
    return LocalDate{y, static_cast<unsigned>(m), static_cast<unsigned>(d)};
}

int IsoWeekdayIndex(const LocalDate& date) {
    // Days since 1970-01-01 (a Thursday) by Howard Hinnant's days_from_civil.
    const int y = date.year - (date.month <= 2 ? 1 : 0);
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned mp = (date.month + 9) % 12;
    const unsigned doy = (153 * mp + 2) / 5 + date.day - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const long days = static_cast<long>(era) * 146097 + static_cast<long>(doe) - 719468;
    return static_cast<int>(((days % 7) + 7 + 3) % 7);  // 1970-01-01 is index 3 (Thursday)
}

Result<SlaConfig> ParseSlaConfig(const boost::json::value& value) {
    Reader r;
    SlaConfig config;
    Policy& policy = config.policy;
    const bj::object* doc = r.Object(&value, "$", true);
    if (doc == nullptr) {
        return Fail(CoreErrc::kInvalid, r.Joined());
    }
    if (const bj::value* id = At(doc, "id")) {
        policy.id = r.String(id, "$.id", true);
    }
    if (auto version = r.Int(At(doc, "version"), "$.version", false)) {
        policy.version = static_cast<int>(*version);
    }

    std::map<std::string, ProductionCalendar> production;
    if (const bj::array* a = r.Array(At(doc, "production_calendars"), "$.production_calendars", false)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            const std::string p = PathIndex("$.production_calendars", i);
            if (const bj::object* o = r.Object(&(*a)[i], p, true)) {
                const std::string id = r.String(At(o, "id"), PathKey(p, "id"), true);
                if (!production.emplace(id, ParseProduction(r, *o, p)).second) {
                    r.Problem(PathKey(p, "id"), "duplicate production calendar '" + id + "'");
                }
            }
        }
    }
    std::set<std::string> calendar_ids;
    if (const bj::array* a = r.Array(At(doc, "calendars"), "$.calendars", true)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            const std::string p = PathIndex("$.calendars", i);
            if (auto spec = ParseCalendar(r, (*a)[i], p, production)) {
                if (!spec->id.empty() && !calendar_ids.insert(spec->id).second) {
                    r.Problem(PathKey(p, "id"), "duplicate calendar '" + spec->id + "'");
                }
                config.calendars.push_back(std::move(*spec));
            }
        }
    }

    ParseRoles(r, doc, policy);
    if (const bj::array* a = r.Array(At(doc, "templates"), "$.templates", true)) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            std::string name = r.String(&(*a)[i], PathIndex("$.templates", i), true);
            if (std::find(policy.templates.begin(), policy.templates.end(), name) != policy.templates.end()) {
                r.Problem(PathIndex("$.templates", i), "duplicate template '" + name + "'");
            }
            policy.templates.push_back(std::move(name));
        }
    }
    if (const bj::array* a = r.Array(At(doc, "pause_roles"), "$.pause_roles", false)) {
        policy.pause_roles.clear();
        for (std::size_t i = 0; i < a->size(); ++i) {
            const std::string p = PathIndex("$.pause_roles", i);
            const std::string name = r.String(&(*a)[i], p, true);
            const auto role = ParseStageRole(name);
            if (!role || !IsWorking(*role)) {
                r.Problem(p, "only a working stage role (queued, in_progress, waiting) can pause: '" + name + "'");
                continue;
            }
            policy.pause_roles.push_back(*role);
        }
    }
    ParseTargets(r, doc, policy, calendar_ids);
    ParseWarnings(r, doc, policy);
    ParseEscalation(r, doc, policy);
    ParseAcceptance(r, doc, policy, calendar_ids);
    ParseRouting(r, doc, policy);
    if (const bj::object* o = r.Object(At(doc, "auto_close"), "$.auto_close", true)) {
        policy.auto_close.enabled = r.Bool(At(o, "enabled"), "$.auto_close.enabled", true);
        policy.auto_close.grace_minutes =
            r.Int(At(o, "grace_minutes"), "$.auto_close.grace_minutes", false).value_or(0);
        policy.auto_close.comment = r.String(At(o, "comment"), "$.auto_close.comment", policy.auto_close.enabled);
        if (policy.auto_close.grace_minutes < 0) {
            r.Problem("$.auto_close.grace_minutes", "must be >= 0");
        }
    }
    if (!r.Ok()) {
        return Fail(CoreErrc::kInvalid, r.Joined());
    }
    return config;
}

Result<SlaConfig> LoadSlaConfig(const std::string& path, const std::string& schema_path) {
    auto schema = json::Schema::LoadFile(schema_path);
    if (!schema) {
        return schema.error();
    }
    return LoadSlaConfig(path, *schema);
}

Result<SlaConfig> LoadSlaConfig(const std::string& path, const json::Schema& schema) {
    auto doc = json::ParseFile(path);
    if (!doc) {
        return doc.error();
    }
    if (auto valid = schema.Check(*doc); !valid) {
        return Fail(CoreErrc::kInvalid, path + ": " + valid.error().detail);
    }
    auto config = ParseSlaConfig(*doc);
    if (!config) {
        return Fail(CoreErrc::kInvalid, path + ": " + config.error().detail);
    }
    return config;
}

Result<CalendarSet> CompileCalendars(const std::vector<CalendarSpec>& specs, int first_year, int last_year) {
    CalendarSet set;
    for (const CalendarSpec& spec : specs) {
        auto compiled = Calendar::Compile(spec, first_year, last_year);
        if (!compiled) {
            return Fail(CoreErrc::kInvalid, "calendar '" + spec.id + "': " + compiled.error().detail);
        }
        set.Add(std::move(*compiled));
    }
    return set;
}

}  // namespace dispatch::sla
