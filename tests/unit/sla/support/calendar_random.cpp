#include "calendar_random.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>

#include "calendar_oracle.hpp"
#include "core/time_format.hpp"
#include "sla/calendar.hpp"

namespace dispatch::sla::testing {
namespace {

// DST zones the issue names, plus zones with odd shapes: a half-hour offset, a half-hour DST shift, DST at
// midnight (Sao Paulo until 2019: the date starts at 01:00), and no DST at all.
constexpr const char* kZones[] = {"Europe/Berlin",
                                  "America/New_York",
                                  "Australia/Sydney",
                                  "Europe/Moscow",
                                  "Europe/Moscow",
                                  "Asia/Kolkata",
                                  "Australia/Lord_Howe",
                                  "America/Sao_Paulo",
                                  "UTC"};

enum class Precision { kMinute, kSecond, kMilli };

struct Setup {
    CalendarSpec spec;
    int first_year = 0;
    int last_year = 0;
    Precision precision = Precision::kMinute;
    TimeMs step = kMinuteMs;
};

using Rng = std::mt19937_64;

std::int64_t Uniform(Rng& rng, std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}
bool Chance(Rng& rng, double p) { return std::bernoulli_distribution(p)(rng); }

LocalDate ToLocalDate(date::local_days d) {
    const date::year_month_day ymd{d};
    return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())};
}

std::string Hms(std::int32_t s) { return fmt::format("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60); }

std::string DescribeRanges(const std::vector<DayRange>& ranges) {
    std::string out = "[";
    for (const DayRange& r : ranges) {
        out += fmt::format("{}{}-{}", out.size() > 1 ? " " : "", Hms(r.from), Hms(r.to));
    }
    return out + "]";
}

std::string DescribeDate(const LocalDate& d) { return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day); }

std::string Describe(const Setup& s) {
    std::string out = fmt::format("zone={} years={}..{} step={}ms always_open={}\n",
                                  s.spec.zone,
                                  s.first_year,
                                  s.last_year,
                                  s.step,
                                  s.spec.always_open);
    for (std::size_t d = 0; d < 7; ++d) {
        out += fmt::format("  week[{}]={}\n", d, DescribeRanges(s.spec.week[d]));
    }
    out += "  holidays:";
    for (const LocalDate& h : s.spec.holidays) {
        out += " " + DescribeDate(h);
    }
    out += "\n  overrides:";
    for (const DateOverride& o : s.spec.overrides) {
        out += " " + DescribeDate(o.date) + "=" + DescribeRanges(o.hours);
    }
    return out + "\n";
}

std::string DescribePauses(const IntervalSet& pauses) {
    std::string out = "{";
    for (const Interval& p : pauses) {
        out += fmt::format(" [{}, {})", FormatIso8601(p.from), FormatIso8601(p.to));
    }
    return out + " }";
}

std::string Opt(const std::optional<TimeMs>& t) { return t ? FormatIso8601(*t) : std::string("none"); }

// Range ends that sit on or next to typical DST transition wall times, midnight and 24:00.
constexpr std::int32_t kInterestingSeconds[] = {0,
                                                3600,
                                                2 * 3600,
                                                2 * 3600 + 1800,
                                                3 * 3600,
                                                9 * 3600,
                                                12 * 3600,
                                                18 * 3600,
                                                23 * 3600,
                                                23 * 3600 + 59 * 60,
                                                86400 - 60,
                                                86400,
                                                86400,
                                                1800};

std::vector<DayRange> RandomHours(Rng& rng, Precision precision) {
    const int count = static_cast<int>(Uniform(rng, 1, 3));
    const std::int32_t unit = precision == Precision::kMinute ? 60 : 1;
    std::vector<std::int32_t> points;
    while (static_cast<int>(points.size()) < 2 * count) {
        std::int32_t p;
        if (Chance(rng, 0.35)) {
            p = kInterestingSeconds[Uniform(rng, 0, std::size(kInterestingSeconds) - 1)];
        } else if (Chance(rng, 0.5)) {
            p = static_cast<std::int32_t>(Uniform(rng, 0, 48)) * 1800;
        } else {
            p = static_cast<std::int32_t>(Uniform(rng, 0, 86400 / unit)) * unit;
        }
        if (std::find(points.begin(), points.end(), p) == points.end()) {
            points.push_back(p);
        }
    }
    std::sort(points.begin(), points.end());
    std::vector<DayRange> out;
    for (int i = 0; i < count; ++i) {
        out.push_back({points[2 * i], points[2 * i + 1]});
    }
    // Touching ranges (12:00-13:00 then 13:00-14:00) must behave as one.
    for (std::size_t i = 0; i + 1 < out.size(); ++i) {
        if (Chance(rng, 0.15)) {
            out[i].to = out[i + 1].from;
        }
    }
    std::shuffle(out.begin(), out.end(), rng);
    return out;
}

// Local dates on which the zone changes offset, within the window: where the hard cases live.
std::vector<date::local_days> TransitionDates(const date::time_zone* zone, int first_year, int last_year) {
    std::vector<date::local_days> out;
    date::sys_seconds t{date::sys_days{date::year{first_year} / 1 / 1} - date::days{2}};
    const date::sys_seconds end{date::sys_days{date::year{last_year + 1} / 1 / 1} + date::days{2}};
    while (t < end) {
        const date::sys_info info = zone->get_info(t);
        if (info.end >= end) {
            break;
        }
        const auto local = zone->to_local(info.end);
        out.push_back(date::floor<date::days>(local));
        out.push_back(date::floor<date::days>(local) - date::days{1});
        t = info.end;
    }
    return out;
}

Setup RandomSetup(Rng& rng) {
    Setup s;
    const double roll = std::uniform_real_distribution<double>(0, 1)(rng);
    s.precision = roll < 0.8 ? Precision::kMinute : (roll < 0.95 ? Precision::kSecond : Precision::kMilli);
    s.step = s.precision == Precision::kMinute ? kMinuteMs : (s.precision == Precision::kSecond ? kSecondMs : 1);
    s.spec.zone = kZones[Uniform(rng, 0, std::size(kZones) - 1)];
    s.spec.id = "random";
    // Moscow's window covers 2011 (DST abolished at +4) and 2014 (back to +3) often.
    s.first_year = s.spec.zone == std::string("Europe/Moscow") && Chance(rng, 0.5)
                       ? static_cast<int>(Uniform(rng, 2010, 2014))
                       : static_cast<int>(Uniform(rng, 2008, 2030));
    s.last_year = s.first_year + static_cast<int>(Uniform(rng, 0, 1));
    s.spec.always_open = Chance(rng, 0.05);
    const bool russian = s.spec.zone == std::string("Europe/Moscow");
    for (std::size_t d = 0; d < 7; ++d) {
        if (russian && d < 5 && Chance(rng, 0.7)) {
            s.spec.week[d] = {{9 * 3600, 18 * 3600}};
        } else if (Chance(rng, d < 5 ? 0.85 : 0.3)) {
            s.spec.week[d] = RandomHours(rng, s.precision);
        }
    }
    if (Chance(rng, 0.1)) {
        for (std::size_t d = 0; d < 7; ++d) {
            s.spec.week[d] = {{0, 86400}};
        }
    }
    const date::time_zone* zone = date::locate_zone(s.spec.zone);
    const date::local_days first{date::year{s.first_year} / 1 / 1};
    const std::int64_t window_days = (date::local_days{date::year{s.last_year + 1} / 1 / 1} - first).count();
    std::vector<date::local_days> hot = TransitionDates(zone, s.first_year, s.last_year);
    auto random_day = [&]() {
        if (!hot.empty() && Chance(rng, 0.4)) {
            return hot[Uniform(rng, 0, static_cast<std::int64_t>(hot.size()) - 1)];
        }
        return first + date::days{Uniform(rng, 0, window_days - 1)};
    };
    const int holidays = static_cast<int>(Uniform(rng, 0, 25));
    for (int i = 0; i < holidays; ++i) {
        s.spec.holidays.push_back(ToLocalDate(random_day()));
    }
    const int overrides = static_cast<int>(Uniform(rng, 0, 12));
    std::vector<date::local_days> used;
    for (int i = 0; i < overrides; ++i) {
        date::local_days day = random_day();
        if (std::find(used.begin(), used.end(), day) != used.end()) {
            continue;
        }
        used.push_back(day);
        DateOverride o{ToLocalDate(day), {}};
        if (Chance(rng, 0.8)) {
            o.hours = RandomHours(rng, s.precision);
        }
        s.spec.overrides.push_back(std::move(o));
        if (Chance(rng, 0.3)) {
            s.spec.holidays.push_back(ToLocalDate(day));  // an override wins over a holiday on the same date
        }
    }
    if (russian) {
        // The shape of the production calendar: New Year week and fixed holidays, transferred working Saturdays,
        // short pre-holiday days.
        for (int y = s.first_year; y <= s.last_year; ++y) {
            for (unsigned d = 1; d <= 8; ++d) {
                s.spec.holidays.push_back({y, 1, d});
            }
            for (const auto& [m, d] : {std::pair{2u, 23u}, {3u, 8u}, {5u, 1u}, {5u, 9u}, {6u, 12u}, {11u, 4u}}) {
                s.spec.holidays.push_back({y, m, d});
                const date::local_days eve =
                    date::local_days{date::year{y} / date::month{m} / date::day{d}} - date::days{1};
                if (std::find(used.begin(), used.end(), eve) == used.end() && Chance(rng, 0.5)) {
                    used.push_back(eve);
                    s.spec.overrides.push_back({ToLocalDate(eve), {{9 * 3600, 17 * 3600}}});
                }
            }
            for (int k = 0; k < 2; ++k) {
                date::local_days sat = date::local_days{
                    date::year{y} / date::month{static_cast<unsigned>(Uniform(rng, 1, 12))} / date::Saturday[1]};
                if (std::find(used.begin(), used.end(), sat) == used.end()) {
                    used.push_back(sat);
                    s.spec.overrides.push_back({ToLocalDate(sat), {{9 * 3600, 18 * 3600}}});
                }
            }
        }
    }
    return s;
}

class Checker {
public:
    Checker(std::uint64_t seed, OracleRunResult* result) : seed_(seed), result_(result) {}

    void Run(Rng& rng, std::int64_t calendar_index) {
        const Setup setup = RandomSetup(rng);
        auto compiled = Calendar::Compile(setup.spec, setup.first_year, setup.last_year);
        if (!compiled) {
            Mismatch(setup, calendar_index, "Compile failed: " + compiled.error().detail);
            return;
        }
        const Calendar& cal = **compiled;
        const CalendarOracle oracle(setup.spec, setup.first_year, setup.last_year);
        ++result_->calendars;
        if (cal.RangeBegin() != oracle.WindowBegin() || cal.RangeEnd() != oracle.WindowEnd()) {
            Mismatch(setup, calendar_index, "range bounds differ");
        }
        const TimeMs step = setup.step;
        // Spans the oracle walks, by precision: minutes over days, seconds over hours, milliseconds over seconds.
        const TimeMs span = setup.precision == Precision::kMinute
                                ? 3 * kDayMs
                                : (setup.precision == Precision::kSecond ? 3 * kHourMs : 10 * kSecondMs);
        const TimeMs limit = setup.precision == Precision::kMinute
                                 ? 15 * kDayMs
                                 : (setup.precision == Precision::kSecond ? 8 * kHourMs : 30 * kSecondMs);
        const auto& dates = oracle.Dates();
        std::vector<TimeMs> transitions;
        {
            const date::time_zone* zone = date::locate_zone(setup.spec.zone);
            date::sys_seconds at{std::chrono::seconds{oracle.WindowBegin() / kSecondMs - kDayMs / kSecondMs}};
            for (;;) {
                const date::sys_info info = zone->get_info(at);
                if (info.end.time_since_epoch().count() * kSecondMs > oracle.WindowEnd() + kDayMs) {
                    break;
                }
                transitions.push_back(info.end.time_since_epoch().count() * kSecondMs);
                at = info.end;
            }
        }
        auto quantize = [&](TimeMs t) { return t - (((t % step) + step) % step); };
        auto instant = [&]() -> TimeMs {
            const double r = std::uniform_real_distribution<double>(0, 1)(rng);
            TimeMs t;
            if (r < 0.3 && !transitions.empty()) {
                // Around a DST transition: the gap and overlap rules, 23- and 25-hour days.
                t = transitions[Uniform(rng, 0, static_cast<std::int64_t>(transitions.size()) - 1)] +
                    Uniform(rng, -span / 2, span / 4);
            } else if (r < 0.55 && !dates.empty()) {
                // Around a range boundary: where off-by-one errors live.
                const auto& d = dates[Uniform(rng, 0, static_cast<std::int64_t>(dates.size()) - 1)];
                const Interval& i = d.ranges[Uniform(rng, 0, static_cast<std::int64_t>(d.ranges.size()) - 1)];
                t = (Chance(rng, 0.5) ? i.from : i.to) + Uniform(rng, -span / 4, span / 4);
                if (Chance(rng, 0.3)) {
                    t = Chance(rng, 0.5) ? i.from : i.to;
                }
            } else if (r < 0.6) {
                t = (Chance(rng, 0.5) ? oracle.WindowBegin() : oracle.WindowEnd()) + Uniform(rng, -span, span);
            } else {
                t = Uniform(rng, oracle.WindowBegin() - kDayMs, oracle.WindowEnd() + kDayMs);
            }
            return quantize(t);
        };
        auto pauses_near = [&](TimeMs t) {
            IntervalSet raw;
            const int n = Chance(rng, 0.3) ? 0 : static_cast<int>(Uniform(rng, 1, 10));
            // Range boundaries near t, so pauses often start or end exactly at an opening or a close.
            auto first = std::partition_point(dates.begin(), dates.end(), [&](const CalendarOracle::DateRanges& d) {
                return d.ranges.back().to < t - span / 2;
            });
            std::vector<TimeMs> edges;
            for (auto d = first; d != dates.end() && edges.size() < 12; ++d) {
                for (const Interval& r : d->ranges) {
                    edges.push_back(r.from);
                    edges.push_back(r.to);
                }
            }
            auto edge_or = [&](TimeMs fallback) {
                return !edges.empty() && Chance(rng, 0.3)
                           ? edges[Uniform(rng, 0, static_cast<std::int64_t>(edges.size()) - 1)]
                           : fallback;
            };
            for (int i = 0; i < n; ++i) {
                const TimeMs from = edge_or(quantize(t + Uniform(rng, -span / 2, span * 2)));
                const TimeMs len = quantize(Chance(rng, 0.1) ? 0 : Uniform(rng, 0, span / 2));
                raw.push_back({from, std::max(from, edge_or(from + len))});
            }
            return raw;
        };

        for (int q = 0; q < 24; ++q) {
            const TimeMs t = instant();
            if (cal.IsOpen(t) != oracle.IsOpen(t)) {
                Mismatch(
                    setup,
                    calendar_index,
                    fmt::format("IsOpen({}) engine={} oracle={}", FormatIso8601(t), cal.IsOpen(t), oracle.IsOpen(t)));
            }
            switch (q % 4) {
                case 0: {
                    bool gave_up = false;
                    const auto want = oracle.NextOpening(t, step, limit, &gave_up);
                    const auto got = cal.NextOpening(t);
                    Count(gave_up);
                    if (gave_up ? (got && *got < t + limit) : got != want) {
                        Mismatch(setup,
                                 calendar_index,
                                 fmt::format("NextOpening({}) engine={} oracle={}{}",
                                             FormatIso8601(t),
                                             Opt(got),
                                             Opt(want),
                                             gave_up ? " (oracle gave up)" : ""));
                    }
                    break;
                }
                case 1: {
                    const TimeMs to = t + quantize(Uniform(rng, -span / 10, span));
                    const IntervalSet raw = pauses_near(t);
                    const IntervalSet pauses = NormalizeIntervals(raw);
                    const TimeMs want = oracle.Elapsed(t, to, raw, step);
                    const TimeMs got = cal.Elapsed(t, to, pauses);
                    Count();
                    if (got != want) {
                        Mismatch(setup,
                                 calendar_index,
                                 fmt::format("Elapsed({}, {}, {}) engine={} oracle={}",
                                             FormatIso8601(t),
                                             FormatIso8601(to),
                                             DescribePauses(raw),
                                             got,
                                             want));
                    }
                    break;
                }
                case 2: {
                    const TimeMs duration = Chance(rng, 0.2) ? 0 : quantize(Uniform(rng, 0, span / 2));
                    const IntervalSet raw = pauses_near(t);
                    const IntervalSet pauses = NormalizeIntervals(raw);
                    bool gave_up = false;
                    const auto want = oracle.Deadline(t, duration, raw, step, limit, &gave_up);
                    const auto got = cal.Deadline(t, duration, pauses);
                    Count(gave_up);
                    // A walk that gave up at t + limit proves only that the clock starts at or after it (zero
                    // duration), or that the duration is not used up by then.
                    const bool consistent = !got || (duration == 0 ? *got >= t + limit : *got > t + limit);
                    if (gave_up ? !consistent : got != want) {
                        Mismatch(setup,
                                 calendar_index,
                                 fmt::format("Deadline({}, {} ms, {}) engine={} oracle={}{}",
                                             FormatIso8601(t),
                                             duration,
                                             DescribePauses(raw),
                                             Opt(got),
                                             Opt(want),
                                             gave_up ? " (oracle gave up)" : ""));
                    }
                    break;
                }
                case 3: {
                    const int days = static_cast<int>(Uniform(rng, 0, 6));
                    const bool end_of_day = Chance(rng, 0.5);
                    bool gave_up = false;
                    const auto want = oracle.AddBusinessDays(t, days, end_of_day, step, limit, &gave_up);
                    if (gave_up) {
                        break;  // the start never opened within the walk; NextOpening cases cover that
                    }
                    const auto got = cal.AddBusinessDays(t, days, end_of_day);
                    Count();
                    if (got != want) {
                        Mismatch(setup,
                                 calendar_index,
                                 fmt::format("AddBusinessDays({}, {}, end_of_day={}) engine={} oracle={}",
                                             FormatIso8601(t),
                                             days,
                                             end_of_day,
                                             Opt(got),
                                             Opt(want)));
                    }
                    break;
                }
            }
        }
    }

private:
    void Count(bool bounded = false) {
        ++result_->cases;
        result_->bounded += bounded ? 1 : 0;
    }
    void Mismatch(const Setup& setup, std::int64_t calendar_index, const std::string& what) {
        ++result_->mismatch_count;
        if (result_->mismatches.size() < 5) {
            result_->mismatches.push_back(
                fmt::format("seed={} calendar #{}: {}\n{}", seed_, calendar_index, what, Describe(setup)));
        }
    }

    std::uint64_t seed_;
    OracleRunResult* result_;
};

}  // namespace

OracleRunResult RunRandomOracleCases(std::uint64_t seed, std::int64_t min_cases) {
    OracleRunResult result;
    Checker checker(seed, &result);
    for (std::int64_t i = 0; result.cases < min_cases; ++i) {
        // One generator per calendar, derived from (seed, index), so a failing calendar replays on its own.
        Rng rng(seed * 1000003 + static_cast<std::uint64_t>(i));
        checker.Run(rng, i);
    }
    return result;
}

std::uint64_t OracleSeed(std::uint64_t fallback) {
    if (const char* env = std::getenv("DISPATCH_ORACLE_SEED"); env != nullptr && *env != '\0') {
        return std::strtoull(env, nullptr, 10);
    }
    return fallback;
}

}  // namespace dispatch::sla::testing
