#include "sla/policy_load.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>
#include <vector>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "support/test_support.hpp"

namespace dispatch::sla {
namespace {

namespace bj = boost::json;
using ::testing::HasSubstr;

TimeMs Msk(const char* text) { return ParseIso8601(text).value(); }

Result<SlaConfig> LoadSeed() {
    return LoadSlaConfig(dispatch::testing::SourcePath("workplace/sla.json"),
                         dispatch::testing::SourcePath("schemas/sla.schema.json"));
}

bj::value SeedJson() { return json::ParseFile(dispatch::testing::SourcePath("workplace/sla.json")).value(); }

TEST(SeedPolicy, LoadsValidatesAndCompiles) {
    auto config = LoadSeed();
    ASSERT_THAT(config, IsOk());

    auto calendars = CompileCalendars(config->calendars, 2026, 2026);

    ASSERT_THAT(calendars, IsOk());
    EXPECT_NE(calendars->Find("line1"), nullptr);
    EXPECT_NE(calendars->Find("line2"), nullptr);
    ASSERT_NE(calendars->Find("24x7"), nullptr);
    EXPECT_TRUE(calendars->Find("24x7")->IsOpen(Msk("2026-01-01T03:00:00+03:00")));
}

TEST(SeedPolicy, HasTheSeedCompanyRolesAndTheUrgentTwentyMinuteReaction) {
    auto config = LoadSeed();
    ASSERT_THAT(config, IsOk());
    const Policy& p = config->policy;

    EXPECT_EQ(p.Users(Role::kLine1Dispatcher), (std::vector<std::int64_t>{11}));
    EXPECT_EQ(p.Users(Role::kLine1Specialists), (std::vector<std::int64_t>{12, 13, 14}));
    EXPECT_EQ(p.Users(Role::kLine2Dispatcher), (std::vector<std::int64_t>{21}));
    EXPECT_EQ(p.Users(Role::kLine2Specialists), (std::vector<std::int64_t>{22, 23, 24}));
    EXPECT_EQ(p.Users(Role::kSpecialist1c), (std::vector<std::int64_t>{25}));
    EXPECT_EQ(p.Users(Role::kHeadOfIt), (std::vector<std::int64_t>{2}));
    const TargetRule* urgent = p.SelectTargets(Priority::kUrgent, "Web");
    ASSERT_NE(urgent, nullptr);
    EXPECT_EQ(urgent->reaction.amount, 20);
    EXPECT_EQ(urgent->reaction.unit, TargetUnit::kMinutes);
    ASSERT_EQ(p.escalation.size(), 2u);
    EXPECT_EQ(p.acceptance.days, 3);
    EXPECT_TRUE(p.acceptance.business_days);
    EXPECT_EQ(p.acceptance.reminder_days_before, 1);
}

TEST(SeedPolicy, RoutesOneCToTheOneCSpecialistAndUnknownTemplatesToTheDispatcher) {
    auto config = LoadSeed();
    ASSERT_THAT(config, IsOk());

    const RouteTarget one_c = Route(config->policy, "1C");
    const RouteTarget other = Route(config->policy, "Other");

    EXPECT_EQ(one_c.users, (std::vector<std::int64_t>{25}));
    EXPECT_FALSE(one_c.fallback);
    EXPECT_TRUE(other.fallback);
    EXPECT_EQ(other.users, (std::vector<std::int64_t>{11}));
}

TEST(SeedPolicy, ExpandsTheRussianProductionCalendarIntoEachLine) {
    auto config = LoadSeed();
    ASSERT_THAT(config, IsOk());
    auto calendars = CompileCalendars(config->calendars, 2026, 2026);
    ASSERT_THAT(calendars, IsOk());
    const Calendar& line1 = *calendars->Find("line1");
    const Calendar& line2 = *calendars->Find("line2");

    // Fri 9 Jan: the day off transferred from Sat 3 Jan. Mon 9 Mar: the day off for Sun 8 Mar.
    EXPECT_FALSE(line1.IsOpen(Msk("2026-01-09T12:00:00+03:00")));
    EXPECT_FALSE(line1.IsOpen(Msk("2026-03-09T12:00:00+03:00")));
    EXPECT_TRUE(line1.IsOpen(Msk("2026-01-12T12:00:00+03:00")));
    // Thu 30 Apr is a pre-holiday day, one hour shorter: line 1 closes 19:00, line 2 at 17:00.
    EXPECT_TRUE(line1.IsOpen(Msk("2026-04-30T18:59:00+03:00")));
    EXPECT_FALSE(line1.IsOpen(Msk("2026-04-30T19:00:00+03:00")));
    EXPECT_TRUE(line2.IsOpen(Msk("2026-04-30T16:59:00+03:00")));
    EXPECT_FALSE(line2.IsOpen(Msk("2026-04-30T17:00:00+03:00")));
    // Line 2 lunch.
    EXPECT_FALSE(line2.IsOpen(Msk("2026-04-29T13:30:00+03:00")));
}

// Test data for a second year (not a real decree): New Year week off, Saturday 13 Nov working with Friday's hours.
bj::object Example2027() {
    return bj::object{
        {"id", "example-2027"},
        {"year", 2027},
        {"source", "test data"},
        {"holidays", bj::array{"2027-01-01", "2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07", "2027-01-08"}},
        {"transferred_working_days", bj::array{bj::object{{"date", "2027-11-13"}, {"works_as", "fri"}}}}};
}

const CalendarSpec& SpecOf(const SlaConfig& config, const std::string& id) {
    for (const auto& spec : config.calendars) {
        if (spec.id == id) {
            return spec;
        }
    }
    throw std::runtime_error("no calendar " + id);
}

TEST(PolicyLoad, ACalendarTakesOneProductionCalendarAYearAndEveryOneApplies) {
    bj::value doc = SeedJson();
    doc.at("production_calendars").as_array().push_back(Example2027());
    doc.at("calendars").as_array()[0].as_object()["production_calendar"] = bj::array{"ru-2026", "example-2027"};
    doc.at("calendars").as_array()[1].as_object()["production_calendar"] = "ru-2026";  // one id, not a list
    dispatch::testing::TempDir dir;
    std::ofstream(dir.File("sla.json")) << bj::serialize(doc);

    auto config = LoadSlaConfig(dir.File("sla.json"), dispatch::testing::SourcePath("schemas/sla.schema.json"));

    ASSERT_THAT(config, IsOk());
    EXPECT_EQ(SpecOf(*config, "line1").production_years, (std::vector<int>{2026, 2027}));
    EXPECT_EQ(SpecOf(*config, "line2").production_years, (std::vector<int>{2026}));
    auto calendars = CompileCalendars(config->calendars, 2026, 2027);
    ASSERT_THAT(calendars, IsOk());
    const Calendar& line1 = *calendars->Find("line1");
    EXPECT_FALSE(line1.IsOpen(Msk("2026-01-09T12:00:00+03:00")));                     // from ru-2026
    EXPECT_FALSE(line1.IsOpen(Msk("2027-01-04T12:00:00+03:00")));                     // a Monday, off by example-2027
    EXPECT_TRUE(line1.IsOpen(Msk("2027-11-13T12:00:00+03:00")));                      // a Saturday worked
    EXPECT_TRUE(calendars->Find("line2")->IsOpen(Msk("2027-01-04T12:00:00+03:00")));  // line 2 has no 2027 data
}

TEST(PolicyLoad, AProductionCalendarWithoutItsYearDescribesTheYearMostOfItsHolidaysFallIn) {
    bj::value doc = SeedJson();
    doc.at("production_calendars").as_array()[0].as_object().erase("year");  // its holidays start on 2025-12-31

    auto config = ParseSlaConfig(doc);

    ASSERT_THAT(config, IsOk());
    EXPECT_EQ(SpecOf(*config, "line1").production_years, (std::vector<int>{2026}));
}

TEST(PolicyLoad, AnUnknownProductionCalendarInAListIsNamedByItsIndex) {
    bj::value doc = SeedJson();
    doc.at("calendars").as_array()[0].as_object()["production_calendar"] = bj::array{"ru-2026", "ru-2030"};

    auto config = ParseSlaConfig(doc);

    ASSERT_THAT(config, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(config.error().detail,
                HasSubstr("$.calendars[0].production_calendar[1]: unknown production calendar 'ru-2030'"));
}

TEST(PolicyLoad, AYearWithoutItsProductionCalendarIsReportedFromNovemberOnForTheNextYear) {
    auto config = LoadSeed();
    ASSERT_THAT(config, IsOk());
    const CalendarSpec& line1 = SpecOf(*config, "line1");

    EXPECT_EQ(UncoveredProductionYear(line1, 2026, 3), std::nullopt);
    EXPECT_EQ(UncoveredProductionYear(line1, 2026, 10), std::nullopt);
    EXPECT_EQ(UncoveredProductionYear(line1, 2026, 11), 2027);
    EXPECT_EQ(UncoveredProductionYear(line1, 2027, 2), 2027);
    EXPECT_EQ(UncoveredProductionYear(line1, 2025, 12), 2025);
    // Always open, or plain weekly hours: nothing to miss.
    EXPECT_EQ(UncoveredProductionYear(SpecOf(*config, "24x7"), 2027, 2), std::nullopt);
    EXPECT_EQ(FirstUncoveredYear(line1, 2026), 2027);
    EXPECT_EQ(FirstUncoveredYear(line1, 2025), 2025);
    CalendarSpec gap = line1;
    gap.production_years = {2026, 2028};  // 2027 missing: the run from 2026 ends there
    EXPECT_EQ(FirstUncoveredYear(gap, 2026), 2027);
    EXPECT_EQ(FirstUncoveredYear(gap, 2028), 2029);
    CalendarSpec weekly = line1;
    weekly.uses_production = false;
    weekly.production_years.clear();
    EXPECT_EQ(UncoveredProductionYear(weekly, 2027, 2), std::nullopt);
}

// 2027 as the Labour Code alone has it (the decree was not at hand): its holidays close the lines, but the year is
// not counted as covered, so the warnings go on until the decree's calendar replaces it.
TEST(SeedPolicy, The2027LabourCodeHolidaysApplyWhileTheYearStaysUncovered) {
    auto config = LoadSeed();
    ASSERT_THAT(config, IsOk());
    auto calendars = CompileCalendars(config->calendars, 2026, 2027);
    ASSERT_THAT(calendars, IsOk());
    const Calendar& line1 = *calendars->Find("line1");

    for (const char* day : {"2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07", "2027-01-08"}) {
        EXPECT_FALSE(line1.IsOpen(Msk((std::string(day) + "T12:00:00+03:00").c_str()))) << day;
    }
    EXPECT_TRUE(line1.IsOpen(Msk("2027-01-11T12:00:00+03:00")));
    EXPECT_FALSE(line1.IsOpen(Msk("2027-02-23T12:00:00+03:00")));
    // Sat 1 May, Sun 9 May and Sat 12 June move their day off to the Monday after.
    EXPECT_FALSE(line1.IsOpen(Msk("2027-05-03T12:00:00+03:00")));
    EXPECT_FALSE(line1.IsOpen(Msk("2027-05-10T12:00:00+03:00")));
    EXPECT_FALSE(line1.IsOpen(Msk("2027-06-14T12:00:00+03:00")));
    // Fri 30 April precedes the May 1 holiday: an hour shorter.
    EXPECT_TRUE(line1.IsOpen(Msk("2027-04-30T18:59:00+03:00")));
    EXPECT_FALSE(line1.IsOpen(Msk("2027-04-30T19:00:00+03:00")));

    const CalendarSpec& spec = SpecOf(*config, "line1");
    EXPECT_EQ(spec.production_years, (std::vector<int>{2026}));
    EXPECT_EQ(spec.provisional_years, (std::vector<int>{2027}));
    EXPECT_EQ(UncoveredProductionYear(spec, 2026, 11), 2027);
}

TEST(PolicyLoad, ProblemsNameTheirJsonPaths) {
    bj::value doc = SeedJson();
    doc.at("targets").as_array()[2].as_object()["reaction"].as_object()["calendar"] = "line3";
    doc.at("calendars").as_array()[0].as_object()["hours"].as_object()["mon"] = bj::array{"20:00-08:00"};
    doc.at("routing").as_object()["rules"].as_array()[0].as_object()["template"] = "Printer";

    auto config = ParseSlaConfig(doc);

    ASSERT_THAT(config, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(config.error().detail, HasSubstr("$.targets[2].reaction.calendar: unknown calendar 'line3'"));
    EXPECT_THAT(config.error().detail, HasSubstr("$.calendars[0].hours.mon[0]: not a time range"));
    EXPECT_THAT(config.error().detail, HasSubstr("$.routing.rules[0].template: unknown template 'Printer'"));
}

TEST(PolicyLoad, EveryPriorityNeedsADefaultRow) {
    bj::value doc = SeedJson();
    auto& targets = doc.at("targets").as_array();
    targets.erase(targets.begin() + 1);  // the "high" default row

    auto config = ParseSlaConfig(doc);

    ASSERT_THAT(config, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(config.error().detail, HasSubstr("$.targets: no default row (without template) for priority 'high'"));
}

TEST(PolicyLoad, TheSchemaRejectsUnknownKeysWithTheirPath) {
    bj::value doc = SeedJson();
    doc.at("calendars").as_array()[1].as_object()["hours"].as_object()["mon"].as_array()[0] = "9:00-13:00";
    doc.at("escalation").as_array()[0].as_object()["colour"] = "red";
    dispatch::testing::TempDir dir;
    {
        std::ofstream out(dir.File("sla.json"));
        out << bj::serialize(doc);
    }

    auto config = LoadSlaConfig(dir.File("sla.json"), dispatch::testing::SourcePath("schemas/sla.schema.json"));

    ASSERT_THAT(config, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(config.error().detail, HasSubstr("$.calendars[1].hours.mon[0]"));
    EXPECT_THAT(config.error().detail, HasSubstr("$.escalation[0]"));
}

TEST(PolicyLoad, ParsesRangesDatesAndWeekdays) {
    EXPECT_EQ(ParseDayRange("08:00-20:00"), (DayRange{8 * 3600, 20 * 3600}));
    EXPECT_EQ(ParseDayRange("00:00-24:00"), (DayRange{0, 86400}));
    EXPECT_FALSE(ParseDayRange("18:00-09:00").has_value());
    EXPECT_FALSE(ParseDayRange("24:00-24:00").has_value());
    EXPECT_FALSE(ParseDayRange("08:60-09:00").has_value());
    EXPECT_EQ(ParseLocalDate("2028-02-29"), (LocalDate{2028, 2, 29}));
    EXPECT_FALSE(ParseLocalDate("2026-02-29").has_value());
    EXPECT_EQ(IsoWeekdayIndex(LocalDate{2026, 3, 2}), 0);  // a Monday
    EXPECT_EQ(IsoWeekdayIndex(LocalDate{2026, 1, 4}), 6);  // a Sunday
}

}  // namespace
}  // namespace dispatch::sla
