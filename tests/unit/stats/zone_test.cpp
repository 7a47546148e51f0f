// Period boundaries and local times in the portal's zone, including a zone whose midnight falls into a DST gap.

#include "stats/zone.hpp"

#include <gtest/gtest.h>

#include "core/errc.hpp"
#include "core/time_format.hpp"
#include "sla/policy_load.hpp"
#include "support/test_support.hpp"

namespace dispatch::stats {
namespace {

TimeMs At(const char* iso) { return ParseIso8601(iso).value(); }

Zone Moscow() { return Zone::Locate("Europe/Moscow").value(); }

TEST(Zone, UnknownNameIsNotFound) { EXPECT_THAT(Zone::Locate("Mars/Olympus"), HasErrc(CoreErrc::kNotFound)); }

TEST(Zone, StartOfADateIsLocalMidnight) {
    EXPECT_EQ(Moscow().StartOf({2026, 3, 1}), At("2026-02-28T21:00:00Z"));
    EXPECT_EQ(Zone::Locate("UTC")->StartOf({2026, 3, 1}), At("2026-03-01T00:00:00Z"));
}

TEST(Zone, MidnightInsideADstGapIsTheEndOfTheGap) {
    // Chile springs forward at 24:00 on Saturday 5 September 2026: Sunday starts at 01:00 -03 = 04:00 UTC.
    const Zone santiago = Zone::Locate("America/Santiago").value();

    EXPECT_EQ(santiago.StartOf({2026, 9, 6}), At("2026-09-06T04:00:00Z"));
    EXPECT_EQ(santiago.StartOf({2026, 9, 5}), At("2026-09-05T04:00:00Z"));  // -04 the day before
}

TEST(Zone, ToLocalGivesDateHourAndIsoWeekday) {
    // 2026-03-31T22:30Z is Wednesday 1 April 01:30 in Moscow.
    const LocalTime local = Moscow().ToLocal(At("2026-03-31T22:30:00Z"));

    EXPECT_EQ(local.date, (sla::LocalDate{2026, 4, 1}));
    EXPECT_EQ(local.hour, 1);
    EXPECT_EQ(local.minute, 30);
    EXPECT_EQ(local.weekday, 2);
}

TEST(Zone, ToLocalBeforeTheEpochFloorsTowardsThePast) {
    const LocalTime local = Zone::Locate("UTC")->ToLocal(-1);  // 1969-12-31 23:59:59.999, a Wednesday

    EXPECT_EQ(local.date, (sla::LocalDate{1969, 12, 31}));
    EXPECT_EQ(local.hour, 23);
    EXPECT_EQ(local.weekday, 2);
}

TEST(Zone, OffsetFollowsDaylightSaving) {
    const Zone berlin = Zone::Locate("Europe/Berlin").value();

    EXPECT_EQ(berlin.OffsetMinutes(At("2026-03-29T00:59:59Z")), 60);
    EXPECT_EQ(berlin.OffsetMinutes(At("2026-03-29T01:00:00Z")), 120);
    EXPECT_EQ(FormatLocalIso(berlin, At("2026-03-29T01:00:00Z")), "2026-03-29T03:00:00+02:00");
}

TEST(Zone, RangeBoundsCoverWholeYearsMonthsAndDays) {
    const Zone msk = Moscow();

    EXPECT_EQ(ParseRangeStart("2026", msk).value(), At("2025-12-31T21:00:00Z"));
    EXPECT_EQ(ParseRangeEnd("2026", msk).value(), At("2026-12-31T21:00:00Z"));
    EXPECT_EQ(ParseRangeStart("2026-03", msk).value(), At("2026-02-28T21:00:00Z"));
    EXPECT_EQ(ParseRangeEnd("2026-03", msk).value(), At("2026-03-31T21:00:00Z"));
    EXPECT_EQ(ParseRangeEnd("2026-12", msk).value(), At("2026-12-31T21:00:00Z"));
    EXPECT_EQ(ParseRangeStart("2026-03-15", msk).value(), At("2026-03-14T21:00:00Z"));
    EXPECT_EQ(ParseRangeEnd("2026-03-15", msk).value(), At("2026-03-15T21:00:00Z"));
    EXPECT_EQ(ParseRangeEnd("2026-02-28", msk).value(), At("2026-02-28T21:00:00Z"));
}

TEST(Zone, MalformedRangeBoundsAreInvalid) {
    const Zone msk = Moscow();
    for (const char* text : {"",
                             "26",
                             "2026-3",
                             "2026-13",
                             "2026-00",
                             "2026-02-30",
                             "2026/03/01",
                             "abcd",
                             "1969",
                             "2026-03-01T00:00",
                             "+2026",
                             "2026- 3",
                             "2026-3 ",
                             " 2026",
                             "2026 "}) {
        EXPECT_THAT(ParseRangeStart(text, msk), HasErrc(CoreErrc::kInvalid)) << text;
        EXPECT_THAT(ParseRangeEnd(text, msk), HasErrc(CoreErrc::kInvalid)) << text;
    }
}

TEST(Zone, NextDayRollsOverMonthsAndYears) {
    EXPECT_EQ(NextDay({2026, 2, 28}), (sla::LocalDate{2026, 3, 1}));
    EXPECT_EQ(NextDay({2028, 2, 28}), (sla::LocalDate{2028, 2, 29}));
    EXPECT_EQ(NextDay({2026, 12, 31}), (sla::LocalDate{2027, 1, 1}));
    EXPECT_EQ(FormatDate({2026, 3, 1}), "2026-03-01");
}

TEST(Zone, NextPeriodStartRollsOverYears) {
    EXPECT_EQ(NextPeriodStart({2026, 3, 15}, PeriodKind::kMonth), (sla::LocalDate{2026, 4, 1}));
    EXPECT_EQ(NextPeriodStart({2026, 12, 31}, PeriodKind::kMonth), (sla::LocalDate{2027, 1, 1}));
    EXPECT_EQ(NextPeriodStart({2026, 1, 1}, PeriodKind::kYear), (sla::LocalDate{2027, 1, 1}));
    EXPECT_EQ(NextPeriodStart({2026, 12, 1}, PeriodKind::kYear), (sla::LocalDate{2027, 1, 1}));
}

TEST(Zone, PortalZoneIsTheZoneOfTheDesksReactionCalendar) {
    auto config =
        sla::LoadSlaConfig(testing::SourcePath("workplace/sla.json"), testing::SourcePath("schemas/sla.schema.json"));
    ASSERT_THAT(config, IsOk());
    auto calendars = sla::CompileCalendars(config->calendars, 2026, 2026);
    ASSERT_THAT(calendars, IsOk());

    EXPECT_EQ(PortalZone(config->policy, *calendars), "Europe/Moscow");
    EXPECT_EQ(PortalZone(sla::Policy{}, sla::CalendarSet{}), "UTC");
}

}  // namespace
}  // namespace dispatch::stats
