// The report as JSON and CSV: shapes, nulls for figures without samples, readable numbers, RFC 4180 quoting.

#include "stats/render.hpp"

#include <gtest/gtest.h>

#include "core/json.hpp"
#include "stats/glossary.hpp"
#include "support/test_support.hpp"
#include "support/tickets.hpp"

namespace dispatch::stats {
namespace {

using sla::Priority;
using sla::StageRole;
using testing::MakeQuery;
using testing::Ticket;

class RenderTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::vector<Ticket> t;
        t.emplace_back(1, "2026-03-02 10:00", Priority::kNormal, "Hardware");
        t.back().Take("2026-03-02 10:30", 12).Move("2026-03-02 14:00", StageRole::kReview);
        t.emplace_back(2, "2026-03-03 09:00", Priority::kNormal, "Access");
        t.back().Take("2026-03-03 12:00", 13).Move("2026-03-03 17:00", StageRole::kReview);
        folded_ = testing::FoldAll(policy_, calendars_, t, "2026-04-01 12:00");
    }

    Report Make(const std::string& group_by) {
        auto report =
            Compute(folded_, policy_, zone_, MakeQuery(zone_, "2026-02", "2026-03", group_by, "2026-04-01 12:00"));
        EXPECT_THAT(report, IsOk());
        return report ? std::move(*report) : Report{};
    }

    sla::Policy policy_ = testing::TestPolicy();
    sla::CalendarSet calendars_ = testing::TestCalendars();
    Zone zone_ = Zone::Locate("Europe/Moscow").value();
    std::vector<sla::FoldResult> folded_;
};

TEST_F(RenderTest, JsonCarriesRowsTotalsArrivalsLoadTargetsAndTheGlossary) {
    const std::string text = RenderJson(Make("month,assignee"), zone_);
    const auto doc = json::Parse(text);
    ASSERT_THAT(doc, IsOk());
    const auto& o = doc->as_object();

    EXPECT_EQ(o.at("zone").as_string(), "Europe/Moscow");
    EXPECT_EQ(o.at("from").as_string(), "2026-02-01T00:00:00+03:00");
    EXPECT_EQ(o.at("to").as_string(), "2026-04-01T00:00:00+03:00");
    EXPECT_EQ(o.at("group_by").at("period").as_string(), "month");
    EXPECT_EQ(o.at("group_by").at("dimensions").as_array().size(), 1u);
    // February holds nothing and has no row when grouped by assignee; March has one row per assignee.
    const auto& rows = o.at("rows").as_array();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].at("period").as_string(), "2026-03");
    EXPECT_EQ(rows[0].at("assignee").as_int64(), 12);
    EXPECT_EQ(rows[0].at("from").as_string(), "2026-03-01T00:00:00+03:00");
    EXPECT_EQ(rows[0].at("kpis").at("reaction").at("business").at("median").to_number<double>(), 30.0);
    EXPECT_EQ(rows[1].at("kpis").at("resolution").at("business").at("median").to_number<double>(), 480.0);
    EXPECT_EQ(o.at("totals").at("created").as_int64(), 2);
    EXPECT_EQ(o.at("totals").at("reaction").at("on_time_percent").to_number<double>(), 50.0);
    EXPECT_TRUE(o.at("totals").at("auto_accepted_percent").is_number());
    EXPECT_EQ(o.at("arrivals").at("by_hour").as_array().size(), 24u);
    EXPECT_EQ(o.at("arrivals").at("by_weekday").as_array().at(0).as_int64(), 1);
    EXPECT_EQ(o.at("arrivals").at("by_weekday_hour").as_array().size(), 7u);
    EXPECT_EQ(o.at("load").at("at").as_string(), "2026-04-01T00:00:00+03:00");
    EXPECT_EQ(o.at("targets").as_array().size(), 4u);
    EXPECT_EQ(o.at("targets").as_array()[0].at("reaction").at("unit").as_string(), "minutes");
    EXPECT_EQ(o.at("templates").as_array().size(), 2u);
    EXPECT_EQ(o.at("glossary").as_array().size(), Glossary().size());
    // Numbers read as people write them.
    EXPECT_NE(text.find("\"median\":30,"), std::string::npos) << text.substr(0, 400);
    EXPECT_EQ(text.find("E1"), std::string::npos);
}

TEST_F(RenderTest, JsonFiguresWithoutSamplesAreNull) {
    const auto doc = json::Parse(RenderJson(Make("month"), zone_));
    ASSERT_THAT(doc, IsOk());
    const auto& february = doc->at("rows").as_array().at(0);

    EXPECT_EQ(february.at("period").as_string(), "2026-02");
    EXPECT_TRUE(february.at("kpis").at("reaction").at("business").at("median").is_null());
    EXPECT_TRUE(february.at("kpis").at("resolution").at("on_time_percent").is_null());
    EXPECT_TRUE(february.at("kpis").at("return_rate_percent").is_null());
    EXPECT_EQ(february.at("kpis").at("created").as_int64(), 0);
}

TEST_F(RenderTest, CsvHasAHeaderRowThenOneLinePerRow) {
    const Report report = Make("month");
    const std::string csv = RenderCsv(report, zone_);

    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t end; (end = csv.find("\r\n", start)) != std::string::npos; start = end + 2) {
        lines.push_back(csv.substr(start, end - start));
    }
    EXPECT_EQ(start, csv.size());  // every line ends in CRLF
    ASSERT_EQ(lines.size(), 3u);
    const auto header = CsvHeader(report);
    EXPECT_EQ(header[0], "period");
    EXPECT_EQ(header[3], "created");
    EXPECT_EQ(lines[0].rfind("period,from,to,created,closed,auto_closed,cancelled,reaction_count,", 0), 0u);
    EXPECT_EQ(std::count(lines[0].begin(), lines[0].end(), ','), static_cast<long>(header.size() - 1));
    // February: zero counts, empty medians.
    EXPECT_EQ(lines[1].rfind("2026-02,2026-02-01T00:00:00+03:00,2026-03-01T00:00:00+03:00,0,0,0,0,0,,,", 0), 0u)
        << lines[1];
    // March: 2 created, 2 closed; reaction count 2, median 105, p90 165, mean 105.
    EXPECT_EQ(lines[2].rfind("2026-03,2026-03-01T00:00:00+03:00,2026-04-01T00:00:00+03:00,2,2,0,0,2,105,165,105,", 0),
              0u)
        << lines[2];
    EXPECT_EQ(std::count(lines[2].begin(), lines[2].end(), ','), static_cast<long>(header.size() - 1));
}

TEST_F(RenderTest, CsvGroupColumnsAndQuoting) {
    Report report = Make("template");
    ASSERT_EQ(report.rows.size(), 2u);
    report.rows[0].template_name = "=HYPERLINK(\"x\"),1";

    const std::string csv = RenderCsv(report, zone_);

    EXPECT_EQ(csv.rfind("period,from,to,template,created,", 0), 0u);
    EXPECT_NE(csv.find("\r\nall,2026-02-01T00:00:00+03:00,2026-04-01T00:00:00+03:00,\"'=HYPERLINK(\"\"x\"\"),1\",1,"),
              std::string::npos)
        << csv;
    EXPECT_NE(csv.find(",Hardware,1,"), std::string::npos);
}

TEST_F(RenderTest, KpiItemsAsJson) {
    KpiItem item;
    item.key = "month:2026-03:all";
    item.title = "KPI 2026-03 · all requests";
    item.fields["KPI_CREATED"] = std::int64_t{3};
    item.fields["KPI_REACTION_MEDIAN"] = 12.5;
    item.fields["KPI_RETURN_RATE"] = std::monostate{};
    item.fields["KPI_KEY"] = std::string("month:2026-03:all");

    const std::string text = RenderKpiItems({item});

    EXPECT_EQ(text,
              "[{\"key\":\"month:2026-03:all\",\"title\":\"KPI 2026-03 · all requests\",\"fields\":{\"KPI_CREATED\":3,"
              "\"KPI_KEY\":\"month:2026-03:all\",\"KPI_REACTION_MEDIAN\":12.5,\"KPI_RETURN_RATE\":null}}]");
}

TEST(Glossary, DefinesEveryFigureOnce) {
    std::set<std::string_view> keys;
    for (const GlossaryEntry& e : Glossary()) {
        EXPECT_TRUE(keys.insert(e.key).second) << e.key;
        EXPECT_FALSE(e.title.empty());
        EXPECT_GT(e.definition.size(), 20u) << e.key;
    }
    for (const char* key : {"created",
                            "closed",
                            "auto_closed",
                            "cancelled",
                            "reaction",
                            "resolution",
                            "business",
                            "calendar",
                            "median",
                            "p90",
                            "mean",
                            "on_time_percent",
                            "returns",
                            "return_rate_percent",
                            "auto_accepted_percent",
                            "paused_minutes",
                            "open_at_end",
                            "load",
                            "arrivals",
                            "period"}) {
        EXPECT_EQ(keys.count(key), 1u) << key;
    }
}

}  // namespace
}  // namespace dispatch::stats
