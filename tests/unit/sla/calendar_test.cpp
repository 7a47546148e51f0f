// Golden cases for business calendars, each expectation worked out by hand from the zone's offsets (noted beside
// it), never copied from the engine's output. The random oracle test covers breadth; these pin the meaning.

#include "sla/calendar.hpp"

#include <gtest/gtest.h>

#include "core/errc.hpp"
#include "core/time_format.hpp"
#include "support/test_support.hpp"

namespace dispatch::sla {
namespace {

constexpr std::int32_t H(int hours, int minutes = 0) { return hours * 3600 + minutes * 60; }

TimeMs Utc(int y, unsigned mo, unsigned d, int h, int mi = 0, int s = 0) { return FromCivilUtc(y, mo, d, h, mi, s); }

CalendarSpec Weekdays(const std::string& zone, DayRange hours) {
    CalendarSpec spec;
    spec.id = "office";
    spec.zone = zone;
    for (std::size_t d = 0; d < 5; ++d) {
        spec.week[d] = {hours};
    }
    return spec;
}

std::shared_ptr<const Calendar> Compile(const CalendarSpec& spec, int first_year = 2025, int last_year = 2026) {
    auto compiled = Calendar::Compile(spec, first_year, last_year);
    EXPECT_THAT(compiled, IsOk());
    return compiled ? *compiled : nullptr;
}

// Russian production calendar, autumn 2025: Sat Nov 1 is a working day moved from Mon Nov 3 and, being the eve of
// the Nov 4 holiday, one hour short; Nov 3 and 4 are off. Europe/Moscow is UTC+3 all year.
CalendarSpec Moscow2025() {
    CalendarSpec spec = Weekdays("Europe/Moscow", {H(9), H(18)});
    spec.id = "line1";
    spec.holidays = {{2025, 11, 3}, {2025, 11, 4}};
    spec.overrides = {{{2025, 11, 1}, {{H(9), H(17)}}}};
    return spec;
}

TEST(CalendarTest, CreatedOutsideHoursStartsAtNextOpening) {
    // Berlin in March 2026 before DST: UTC+1, so 09:00 local is 08:00Z.
    auto cal = Compile(Weekdays("Europe/Berlin", {H(9), H(17)}));
    const TimeMs created = Utc(2026, 3, 2, 6, 0);  // Mon 07:00 local
    EXPECT_FALSE(cal->IsOpen(created));
    EXPECT_EQ(cal->NextOpening(created), Utc(2026, 3, 2, 8, 0));
    EXPECT_EQ(cal->Deadline(created, 0), Utc(2026, 3, 2, 8, 0));
    EXPECT_EQ(cal->Deadline(created, 20 * kMinuteMs), Utc(2026, 3, 2, 8, 20));
    EXPECT_EQ(cal->Elapsed(created, Utc(2026, 3, 2, 8, 20)), 20 * kMinuteMs);
}

TEST(CalendarTest, UrgentTargetNearClosingRunsOverTheWeekend) {
    auto cal = Compile(Weekdays("Europe/Berlin", {H(9), H(17)}));
    const TimeMs created = Utc(2026, 3, 6, 15, 50);  // Fri 16:50 local: 10 minutes left today
    // 10 minutes on Friday, 10 on Monday: Mon 09:10 local = 08:10Z.
    EXPECT_EQ(cal->Deadline(created, 20 * kMinuteMs), Utc(2026, 3, 9, 8, 10));
    EXPECT_EQ(cal->Elapsed(created, Utc(2026, 3, 9, 8, 10)), 20 * kMinuteMs);
}

TEST(CalendarTest, DeadlineThatFillsADayEndsAtCloseNotNextOpening) {
    auto cal = Compile(Weekdays("Europe/Berlin", {H(9), H(17)}));
    // From Mon 09:00 local, 8 h is exactly Monday: 17:00 local = 16:00Z, not Tuesday 09:00.
    EXPECT_EQ(cal->Deadline(Utc(2026, 3, 2, 8, 0), 8 * kHourMs), Utc(2026, 3, 2, 16, 0));
}

TEST(CalendarTest, PauseAcrossMidnightAndHolidays) {
    auto cal = Compile(Moscow2025());
    const TimeMs created = Utc(2025, 10, 30, 7, 0);  // Thu 10:00 MSK
    // Waiting for the requester from Fri 17:30 MSK to Wed Nov 5 10:00 MSK: over two midnights, the working Saturday
    // and both holidays.
    const IntervalSet pauses = {{Utc(2025, 10, 31, 14, 30), Utc(2025, 11, 5, 7, 0)}};
    // Thu 10-18 (8 h) + Fri 09-17:30 (8.5 h) + Wed 10-12 (2 h) = 18.5 h.
    EXPECT_EQ(cal->Elapsed(created, Utc(2025, 11, 5, 9, 0), pauses), 18 * kHourMs + 30 * kMinuteMs);
    // Without the pause: 8 + 9 (Fri) + 8 (short Saturday) + 3 (Wed 09-12) = 28 h.
    EXPECT_EQ(cal->Elapsed(created, Utc(2025, 11, 5, 9, 0)), 28 * kHourMs);
    // 18 h: 16.5 h before the pause, 1.5 h after it: Wed 11:30 MSK = 08:30Z.
    EXPECT_EQ(cal->Deadline(created, 18 * kHourMs, pauses), Utc(2025, 11, 5, 8, 30));
    // A clock created inside a pause starts when the pause ends, if the desk is open then.
    EXPECT_EQ(cal->Deadline(Utc(2025, 10, 31, 15, 0), 0, pauses), Utc(2025, 11, 5, 7, 0));
}

TEST(CalendarTest, TransferredWorkingSaturdayAndShortPreHolidayDay) {
    auto cal = Compile(Moscow2025());
    const TimeMs created = Utc(2025, 10, 31, 14, 0);     // Fri 17:00 MSK
    EXPECT_TRUE(cal->IsOpen(Utc(2025, 11, 1, 6, 0)));    // Sat 09:00 MSK
    EXPECT_FALSE(cal->IsOpen(Utc(2025, 11, 1, 14, 0)));  // Sat 17:00 MSK: the short day is over
    EXPECT_FALSE(cal->IsOpen(Utc(2025, 11, 3, 7, 0)));   // Mon: holiday
    // 8 h: 1 h on Friday, 7 of Saturday's 8: Sat 16:00 MSK.
    EXPECT_EQ(cal->Deadline(created, 8 * kHourMs), Utc(2025, 11, 1, 13, 0));
    // 16 h: 1 + 8 (Saturday), Sunday and Nov 3-4 closed, 7 on Wednesday: Wed 16:00 MSK.
    EXPECT_EQ(cal->Deadline(created, 16 * kHourMs), Utc(2025, 11, 5, 13, 0));
    EXPECT_EQ(cal->Elapsed(Utc(2025, 11, 1, 0, 0), Utc(2025, 11, 5, 0, 0)), 8 * kHourMs);
}

TEST(CalendarTest, OverrideWinsOverHolidayOnTheSameDate) {
    CalendarSpec spec = Moscow2025();
    spec.holidays.push_back({2025, 11, 1});
    auto cal = Compile(spec);
    EXPECT_TRUE(cal->IsOpen(Utc(2025, 11, 1, 6, 0)));
}

TEST(CalendarTest, Midnight2359Versus2400) {
    // Berlin in January: UTC+1. Mon Jan 5 2026 and Tue Jan 6.
    CalendarSpec full;
    full.zone = "Europe/Berlin";
    full.week[0] = {{0, H(24)}};
    full.week[1] = {{0, H(24)}};
    CalendarSpec short_end = full;
    short_end.week[0] = {{0, H(23, 59)}};
    auto with_2400 = Compile(full);
    auto with_2359 = Compile(short_end);
    const TimeMs mon_2300 = Utc(2026, 1, 5, 22, 0);
    const TimeMs tue_0000 = Utc(2026, 1, 5, 23, 0);
    // 24:00 joins the next day's 00:00: no gap at midnight.
    EXPECT_TRUE(with_2400->IsOpen(tue_0000 - 1));
    EXPECT_EQ(with_2400->Deadline(mon_2300, kHourMs), tue_0000);
    EXPECT_EQ(with_2400->Elapsed(Utc(2026, 1, 4, 23, 0), tue_0000), 24 * kHourMs);
    // 23:59 leaves the last minute closed: 59 min on Monday, 1 on Tuesday.
    EXPECT_FALSE(with_2359->IsOpen(tue_0000 - 30 * kSecondMs));
    EXPECT_EQ(with_2359->Deadline(mon_2300, kHourMs), tue_0000 + kMinuteMs);
    EXPECT_EQ(with_2359->Elapsed(Utc(2026, 1, 4, 23, 0), tue_0000), 23 * kHourMs + 59 * kMinuteMs);
    // The two days merge into one compiled segment.
    const auto& segs = with_2400->Segments();
    const auto it =
        std::find_if(segs.begin(), segs.end(), [&](const Interval& s) { return s.from == mon_2300 - 23 * kHourMs; });
    ASSERT_NE(it, segs.end());
    EXPECT_EQ(it->to, tue_0000 + 24 * kHourMs);
}

struct DstDay {
    const char* zone;
    LocalDate date;
    TimeMs office_open;  // 09:00 local, in UTC
    TimeMs day_begin;    // 00:00 local
    TimeMs day_end;      // 24:00 local (next 00:00)
    TimeMs day_hours;    // 23 or 25
};

class CalendarDstTest : public ::testing::TestWithParam<DstDay> {};

TEST_P(CalendarDstTest, OfficeDayStaysEightHoursAndFullDayFollowsTheClock) {
    const DstDay& p = GetParam();
    CalendarSpec office;
    office.zone = p.zone;
    office.overrides = {{p.date, {{H(9), H(17)}}}};
    auto office_cal = Compile(office);
    EXPECT_EQ(office_cal->NextOpening(p.day_begin), p.office_open);
    EXPECT_EQ(office_cal->Elapsed(p.day_begin, p.day_end), 8 * kHourMs);
    EXPECT_EQ(office_cal->Deadline(p.day_begin, 8 * kHourMs), p.office_open + 8 * kHourMs);

    CalendarSpec full;
    full.zone = p.zone;
    full.overrides = {{p.date, {{0, H(24)}}}};
    auto full_cal = Compile(full);
    EXPECT_EQ(full_cal->Elapsed(p.day_begin - kDayMs, p.day_end + kDayMs), p.day_hours * kHourMs);
    EXPECT_EQ(full_cal->NextOpening(p.day_begin - kHourMs), p.day_begin);
    EXPECT_EQ(full_cal->Deadline(p.day_begin, p.day_hours * kHourMs), p.day_end);
    EXPECT_FALSE(full_cal->IsOpen(p.day_end));
}

// Offsets: Berlin CET +1 / CEST +2 (switch 2026-03-29 and 2026-10-25), New York EST -5 / EDT -4 (2026-03-08 and
// 2026-11-01), Sydney AEDT +11 / AEST +10 (AEDT ends 2026-04-05, starts again 2026-10-04).
INSTANTIATE_TEST_SUITE_P(
    Zones,
    CalendarDstTest,
    ::testing::Values(
        DstDay{"Europe/Berlin", {2026, 3, 29}, Utc(2026, 3, 29, 7), Utc(2026, 3, 28, 23), Utc(2026, 3, 29, 22), 23},
        DstDay{"Europe/Berlin", {2026, 10, 25}, Utc(2026, 10, 25, 8), Utc(2026, 10, 24, 22), Utc(2026, 10, 25, 23), 25},
        DstDay{"America/New_York", {2026, 3, 8}, Utc(2026, 3, 8, 13), Utc(2026, 3, 8, 5), Utc(2026, 3, 9, 4), 23},
        DstDay{"America/New_York", {2026, 11, 1}, Utc(2026, 11, 1, 14), Utc(2026, 11, 1, 4), Utc(2026, 11, 2, 5), 25},
        DstDay{"Australia/Sydney", {2026, 4, 5}, Utc(2026, 4, 4, 23), Utc(2026, 4, 4, 13), Utc(2026, 4, 5, 14), 25},
        DstDay{
            "Australia/Sydney", {2026, 10, 4}, Utc(2026, 10, 3, 22), Utc(2026, 10, 3, 14), Utc(2026, 10, 4, 13), 23}));

TEST(CalendarTest, GapTimeMovesToTheEndOfTheGap) {
    // Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    CalendarSpec spec;
    spec.zone = "Europe/Berlin";
    spec.overrides = {{{2026, 3, 29}, {{H(2, 30), H(3, 30)}, {H(10), H(11)}}}};
    auto cal = Compile(spec);
    // 02:30 does not exist: the range opens at 03:00 CEST = 01:00Z and closes at 03:30 CEST = 01:30Z.
    EXPECT_EQ(cal->NextOpening(Utc(2026, 3, 29, 0, 0)), Utc(2026, 3, 29, 1, 0));
    EXPECT_EQ(cal->Elapsed(Utc(2026, 3, 29, 0, 0), Utc(2026, 3, 29, 2, 0)), 30 * kMinuteMs);

    // A range wholly inside the gap vanishes, and the date is not an open date.
    spec.overrides = {{{2026, 3, 29}, {{H(2, 10), H(2, 50)}}}};
    auto vanished = Compile(spec);
    EXPECT_EQ(vanished->Elapsed(Utc(2026, 3, 28, 0, 0), Utc(2026, 3, 30, 0, 0)), 0);
    EXPECT_EQ(vanished->NextOpening(Utc(2026, 3, 28, 0, 0)), std::nullopt);
}

TEST(CalendarTest, AmbiguousTimeTakesTheFirstOccurrence) {
    // Berlin 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00Z); 02:00-03:00 happens twice.
    CalendarSpec spec;
    spec.zone = "Europe/Berlin";
    spec.overrides = {{{2026, 10, 25}, {{H(2, 30), H(4)}}}};
    auto cal = Compile(spec);
    // First 02:30 is CEST = 00:30Z; 04:00 CET = 03:00Z: 2.5 h of real time.
    EXPECT_EQ(cal->NextOpening(Utc(2026, 10, 24, 20, 0)), Utc(2026, 10, 25, 0, 30));
    EXPECT_EQ(cal->Elapsed(Utc(2026, 10, 24, 0, 0), Utc(2026, 10, 26, 0, 0)), 2 * kHourMs + 30 * kMinuteMs);
}

TEST(CalendarTest, BusinessDaysWithAndWithoutEndOfDay) {
    auto cal = Compile(Moscow2025());
    const TimeMs mon_1130 = Utc(2025, 10, 27, 8, 30);                               // Mon 11:30 MSK
    EXPECT_EQ(cal->AddBusinessDays(mon_1130, 3, false), Utc(2025, 10, 30, 8, 30));  // Thu 11:30
    EXPECT_EQ(cal->AddBusinessDays(mon_1130, 3, true), Utc(2025, 10, 30, 15, 0));   // Thu 18:00
    EXPECT_EQ(cal->AddBusinessDays(mon_1130, 0, true), Utc(2025, 10, 27, 15, 0));   // Mon 18:00
    EXPECT_EQ(cal->AddBusinessDays(mon_1130, 0, false), mon_1130);
    // Open dates from Fri Oct 31: Sat Nov 1 (transferred), then Wed Nov 5 (Sunday and two holidays skipped).
    const TimeMs fri_1000 = Utc(2025, 10, 31, 7, 0);
    EXPECT_EQ(cal->AddBusinessDays(fri_1000, 1, false), Utc(2025, 11, 1, 7, 0));
    EXPECT_EQ(cal->AddBusinessDays(fri_1000, 2, false), Utc(2025, 11, 5, 7, 0));
    EXPECT_EQ(cal->AddBusinessDays(fri_1000, 1, true), Utc(2025, 11, 1, 14, 0));  // the short day closes at 17:00
    // Thu 17:30 plus 2 days lands on the short Saturday after it closed: clamped to its 17:00 close.
    EXPECT_EQ(cal->AddBusinessDays(Utc(2025, 10, 30, 14, 30), 2, false), Utc(2025, 11, 1, 14, 0));
    // Created after hours on Friday: counting starts at Saturday's opening.
    EXPECT_EQ(cal->AddBusinessDays(Utc(2025, 10, 31, 16, 0), 1, false), Utc(2025, 11, 5, 6, 0));
    EXPECT_EQ(cal->AddBusinessDays(mon_1130, -1, false), std::nullopt);
}

TEST(CalendarTest, BusinessDaysInLunchBreakMoveToTheAfternoon) {
    CalendarSpec spec = Weekdays("Europe/Moscow", {H(9), H(13)});
    spec.overrides = {{{2025, 10, 29}, {{H(9), H(12)}, {H(14), H(18)}}}};
    spec.week[0] = {{H(9), H(13)}};
    auto cal = Compile(spec);
    // Mon Oct 27 12:30 MSK + 2 days = Wed 12:30, which is lunch on Wednesday: 14:00 MSK.
    EXPECT_EQ(cal->AddBusinessDays(Utc(2025, 10, 27, 9, 30), 2, false), Utc(2025, 10, 29, 11, 0));
}

TEST(CalendarTest, AlwaysOpenIgnoresHoursHolidaysAndFollowsRealTime) {
    CalendarSpec spec = Moscow2025();
    spec.zone = "Europe/Berlin";
    spec.always_open = true;
    auto cal = Compile(spec);
    ASSERT_EQ(cal->Segments().size(), 1u);
    const TimeMs t = Utc(2025, 11, 3, 3, 17);  // a holiday in the spec, at night
    EXPECT_TRUE(cal->IsOpen(t));
    EXPECT_EQ(cal->Deadline(t, 20 * kMinuteMs), t + 20 * kMinuteMs);
    EXPECT_EQ(cal->Elapsed(t, t + kDayMs, {{t + kHourMs, t + 3 * kHourMs}}), 22 * kHourMs);
    EXPECT_EQ(cal->Deadline(t, 2 * kHourMs, {{t + kHourMs, t + 3 * kHourMs}}), t + 4 * kHourMs);
    // The Berlin spring-forward local day is 23 real hours, and a day unit keeps the wall time:
    // Sat Mar 28 2026 10:00 CET (09:00Z) + 1 day = Sun 10:00 CEST (08:00Z).
    EXPECT_EQ(cal->Elapsed(Utc(2026, 3, 28, 23, 0), Utc(2026, 3, 29, 22, 0)), 23 * kHourMs);
    EXPECT_EQ(cal->AddBusinessDays(Utc(2026, 3, 28, 9, 0), 1, false), Utc(2026, 3, 29, 8, 0));
    EXPECT_EQ(cal->AddBusinessDays(Utc(2026, 3, 28, 9, 0), 1, true), Utc(2026, 3, 29, 22, 0));
}

TEST(CalendarTest, OutsideTheCompiledRangeIsClosed) {
    auto cal = Compile(Weekdays("Europe/Moscow", {H(9), H(18)}), 2025, 2025);
    // Range: 2025-01-01 00:00 MSK = 2024-12-31T21:00Z to 2026-01-01 00:00 MSK.
    EXPECT_EQ(cal->RangeBegin(), Utc(2024, 12, 31, 21, 0));
    EXPECT_EQ(cal->RangeEnd(), Utc(2025, 12, 31, 21, 0));
    EXPECT_FALSE(cal->IsOpen(Utc(2026, 1, 5, 7, 0)));
    EXPECT_EQ(cal->NextOpening(Utc(2025, 12, 31, 16, 0)), std::nullopt);  // Wed Dec 31 after 18:00 MSK
    EXPECT_EQ(cal->Deadline(Utc(2025, 12, 31, 14, 0), 2 * kHourMs), std::nullopt);
    EXPECT_EQ(cal->Deadline(Utc(2025, 12, 31, 14, 0), kHourMs), Utc(2025, 12, 31, 15, 0));
    EXPECT_EQ(cal->AddBusinessDays(Utc(2025, 12, 31, 7, 0), 1, false), std::nullopt);
}

TEST(CalendarTest, ElapsedOfAnEmptyOrReversedSpanIsZero) {
    auto cal = Compile(Weekdays("Europe/Moscow", {H(9), H(18)}));
    const TimeMs t = Utc(2025, 10, 27, 8, 0);
    EXPECT_EQ(cal->Elapsed(t, t), 0);
    EXPECT_EQ(cal->Elapsed(t + kHourMs, t), 0);
}

TEST(CalendarTest, PauseWiderThanTheSpanSubtractsOnlyItsOverlap) {
    auto cal = Compile(Weekdays("Europe/Moscow", {H(9), H(18)}));
    const TimeMs mon_0900 = Utc(2025, 10, 27, 6, 0);
    EXPECT_EQ(cal->Elapsed(mon_0900, mon_0900 + 4 * kHourMs, {{mon_0900 - kDayMs, mon_0900 + kHourMs}}), 3 * kHourMs);
    EXPECT_EQ(cal->Elapsed(mon_0900, mon_0900 + 4 * kHourMs, {{mon_0900 - kDayMs, mon_0900 + kDayMs}}), 0);
}

TEST(CalendarTest, FormatLocalShowsWallTimeAndAbbreviation) {
    auto cal = Compile(Moscow2025());
    EXPECT_EQ(cal->FormatLocal(Utc(2025, 10, 31, 14, 0)), "Fri 2025-10-31 17:00 MSK");
    EXPECT_EQ(cal->FormatLocal(Utc(2025, 10, 31, 14, 0, 5)), "Fri 2025-10-31 17:00:05 MSK");
    auto berlin = Compile(Weekdays("Europe/Berlin", {H(9), H(17)}));
    EXPECT_EQ(berlin->FormatLocal(Utc(2026, 3, 29, 1, 0)), "Sun 2026-03-29 03:00 CEST");
}

TEST(CalendarTest, NormalizeIntervalsSortsJoinsAndDropsEmpty) {
    const IntervalSet got = NormalizeIntervals({{50, 60}, {10, 20}, {20, 30}, {5, 5}, {15, 25}, {40, 45}, {9, 8}});
    const IntervalSet want = {{10, 30}, {40, 45}, {50, 60}};
    EXPECT_EQ(got, want);
}

TEST(CalendarValidationTest, NamesTheOffendingField) {
    CalendarSpec spec = Weekdays("Europe/Moscow", {H(9), H(18)});
    spec.week[2] = {{H(9), H(12)}, {H(14), H(13)}};
    auto r = ValidateCalendarSpec(spec);
    ASSERT_THAT(r, HasErrc(CoreErrc::kInvalid));
    EXPECT_EQ(r.error().detail, "week[2][1]: from >= to");

    spec = Weekdays("Europe/Moscow", {H(9), H(18)});
    spec.week[4] = {{H(9), H(12)}, {H(11), H(13)}};
    EXPECT_EQ(ValidateCalendarSpec(spec).error().detail, "week[4][1]: overlaps week[4][0]");

    spec = Weekdays("Europe/Moscow", {H(9), H(18)});
    spec.week[0] = {{H(9), H(24) + 1}};
    EXPECT_EQ(ValidateCalendarSpec(spec).error().detail, "week[0][0]: outside 00:00..24:00 (32400..86401 s)");

    spec = Weekdays("Europe/Moscow", {H(9), H(18)});
    spec.holidays = {{2025, 2, 30}};
    spec.overrides = {{{2025, 11, 1}, {}}, {{2025, 11, 1}, {{H(10), H(9)}}}};
    EXPECT_EQ(ValidateCalendarSpec(spec).error().detail,
              "holidays[0]: invalid date; overrides[1].date: same date as overrides[0]; "
              "overrides[1].hours[0]: from >= to");
}

TEST(CalendarValidationTest, UnknownZoneIsNotFound) {
    CalendarSpec spec = Weekdays("Europe/Atlantis", {H(9), H(18)});
    auto r = ValidateCalendarSpec(spec);
    ASSERT_THAT(r, HasErrc(CoreErrc::kNotFound));
    EXPECT_EQ(r.error().detail, "zone: unknown time zone 'Europe/Atlantis'");
    EXPECT_THAT(Calendar::Compile(spec, 2025, 2025), HasErrc(CoreErrc::kNotFound));
}

TEST(CalendarValidationTest, CompileRejectsABackwardsYearRange) {
    EXPECT_THAT(Calendar::Compile(Weekdays("UTC", {H(9), H(18)}), 2026, 2025), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(ValidateCalendarSpec(Moscow2025()), IsOk());
}

}  // namespace
}  // namespace dispatch::sla
