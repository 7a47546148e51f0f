#include "core/time_format.hpp"

#include <chrono>
#include <fmt/format.h>

#include "core/errc.hpp"

namespace dispatch {
namespace {

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) {
        return false;
    }
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

}  // namespace

TimeMs FromCivilUtc(int year, unsigned month, unsigned day, int hour, int minute, int second) {
    using namespace std::chrono;
    const sys_days d = year_month_day{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
    return (d.time_since_epoch().count() * kDayMs) + hour * kHourMs + minute * kMinuteMs + second * kSecondMs;
}

Result<TimeMs> ParseIso8601(std::string_view s) {
    auto bad = [&] { return Fail(CoreErrc::kParse, fmt::format("bad ISO 8601 time '{}'", s.substr(0, 64))); };
    int y, mo, d, h, mi, se;
    if (!Digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
        !Digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != ' ') || !Digits(s, 11, 2, h) || s[13] != ':' ||
        !Digits(s, 14, 2, mi) || s[16] != ':' || !Digits(s, 17, 2, se)) {
        return bad();
    }
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                          std::chrono::day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 24 || mi > 59 || se > 60 || (h == 24 && (mi != 0 || se != 0))) {
        return bad();
    }
    std::size_t pos = 19;
    TimeMs frac = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int digits = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (digits < 3) {
                frac = frac * 10 + (s[pos] - '0');
            }
            ++digits;
            ++pos;
        }
        if (digits == 0) {
            return bad();
        }
        for (int i = digits; i < 3; ++i) {
            frac *= 10;
        }
    }
    int offset_min = 0;
    if (pos < s.size()) {
        if (s[pos] == 'Z' && pos + 1 == s.size()) {
            pos = s.size();
        } else if (s[pos] == '+' || s[pos] == '-') {
            const int sign = s[pos] == '-' ? -1 : 1;
            int oh, om;
            if (!Digits(s, pos + 1, 2, oh)) {
                return bad();
            }
            std::size_t mpos = pos + 3;
            if (mpos < s.size() && s[mpos] == ':') {
                ++mpos;
            }
            if (!Digits(s, mpos, 2, om) || mpos + 2 != s.size() || oh > 23 || om > 59) {
                return bad();
            }
            offset_min = sign * (oh * 60 + om);
        } else {
            return bad();
        }
    }
    return FromCivilUtc(y, mo, d, h, mi, se == 60 ? 59 : se) + frac - offset_min * kMinuteMs;
}

std::string FormatIso8601(TimeMs t, int offset_minutes) {
    using namespace std::chrono;
    const TimeMs local = t + offset_minutes * kMinuteMs;
    TimeMs days = local / kDayMs;
    TimeMs rem = local % kDayMs;
    if (rem < 0) {
        rem += kDayMs;
        --days;
    }
    const year_month_day ymd{sys_days{std::chrono::days{days}}};
    const int h = static_cast<int>(rem / kHourMs);
    const int mi = static_cast<int>((rem % kHourMs) / kMinuteMs);
    const int se = static_cast<int>((rem % kMinuteMs) / kSecondMs);
    const int ms = static_cast<int>(rem % kSecondMs);
    std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), h, mi, se);
    if (ms != 0) {
        out += fmt::format(".{:03}", ms);
    }
    if (offset_minutes == 0) {
        out += 'Z';
    } else {
        const int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
        out += fmt::format("{}{:02}:{:02}", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
    }
    return out;
}

}  // namespace dispatch
