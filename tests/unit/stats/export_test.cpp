// The "HelpDesk KPI" items: keys, scopes and field values, worked out by hand on the same small ledgers.

#include "stats/export.hpp"

#include <gtest/gtest.h>

#include "support/test_support.hpp"
#include "support/tickets.hpp"

namespace dispatch::stats {
namespace {

using sla::Priority;
using sla::StageRole;
using testing::Msk;
using testing::Ticket;

class ExportTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::vector<Ticket> t;
        // Line 1: reaction 30, resolution 240 (normal: 120 / 480), met.
        t.emplace_back(1, "2026-03-02 10:00", Priority::kNormal, "Hardware");
        t.back().Take("2026-03-02 10:30", 12).Move("2026-03-02 14:00", StageRole::kReview);
        // Line 2: reaction 10, resolution 60 (urgent: 20 / 240), met.
        t.emplace_back(2, "2026-03-02 10:00", Priority::kUrgent, "Access");
        t.back().Take("2026-03-02 10:10", 21, 2).Move("2026-03-02 11:00", StageRole::kReview, 2);
        // Untouched and unassigned: reaction due 12:00 and resolution due 18:00 on 3 March, both breached.
        t.emplace_back(3, "2026-03-03 10:00", Priority::kNormal, "Hardware");
        folded_ = testing::FoldAll(policy_, calendars_, t, "2026-04-01 12:00");
        options_.from = Msk("2026-02-10 00:00");
        options_.to = Msk("2026-03-20 00:00");
        options_.now = Msk("2026-04-01 12:00");
    }

    std::vector<KpiItem> Export() {
        auto items = ExportKpis(folded_, policy_, zone_, options_);
        EXPECT_THAT(items, IsOk());
        return items ? std::move(*items) : std::vector<KpiItem>{};
    }

    static const KpiItem* Find(const std::vector<KpiItem>& items, const std::string& key) {
        for (const KpiItem& item : items) {
            if (item.key == key) {
                return &item;
            }
        }
        return nullptr;
    }

    sla::Policy policy_ = testing::TestPolicy();
    sla::CalendarSet calendars_ = testing::TestCalendars();
    Zone zone_ = Zone::Locate("Europe/Moscow").value();
    std::vector<sla::FoldResult> folded_;
    ExportOptions options_;
};

TEST_F(ExportTest, OneItemPerWholeMonthAndYearAndScope) {
    const auto items = Export();

    std::vector<std::string> keys;
    for (const KpiItem& item : items) {
        keys.push_back(item.key);
    }
    // February has no lines or assignees to speak of; the unassigned ticket gets no assignee item.
    EXPECT_EQ(keys,
              (std::vector<std::string>{
                  "month:2026-02:all",
                  "month:2026-03:all",
                  "month:2026-03:line:line1",
                  "month:2026-03:line:line2",
                  "month:2026-03:assignee:12",
                  "month:2026-03:assignee:21",
                  "year:2026:all",
                  "year:2026:line:line1",
                  "year:2026:line:line2",
                  "year:2026:assignee:12",
                  "year:2026:assignee:21",
              }));
}

TEST_F(ExportTest, FieldsOfAMonthForAllRequests) {
    const auto items = Export();
    const KpiItem* march = Find(items, "month:2026-03:all");
    ASSERT_NE(march, nullptr);
    const auto& f = march->fields;

    EXPECT_EQ(march->title, "KPI 2026-03 · all requests");
    EXPECT_EQ(std::get<std::string>(f.at("KPI_KEY")), "month:2026-03:all");
    EXPECT_EQ(std::get<std::string>(f.at("KPI_PERIOD_KIND")), "MONTH");
    EXPECT_EQ(std::get<std::string>(f.at("KPI_PERIOD_START")), "2026-03-01");
    EXPECT_EQ(std::get<std::string>(f.at("KPI_SCOPE_KIND")), "ALL");
    EXPECT_EQ(std::get<std::string>(f.at("KPI_SCOPE_VALUE")), "");
    EXPECT_EQ(std::get<std::int64_t>(f.at("KPI_CREATED")), 3);
    EXPECT_EQ(std::get<std::int64_t>(f.at("KPI_CLOSED")), 2);
    EXPECT_EQ(std::get<std::int64_t>(f.at("KPI_AUTO_CLOSED")), 0);
    EXPECT_EQ(std::get<double>(f.at("KPI_REACTION_MEDIAN")), 20.0);           // (10 + 30) / 2
    EXPECT_EQ(std::get<double>(f.at("KPI_REACTION_NINETIETH")), 28.0);        // 10 + 0.9 × 20
    EXPECT_EQ(std::get<double>(f.at("KPI_RESOLUTION_MEDIAN")), 150.0);        // (60 + 240) / 2
    EXPECT_EQ(std::get<double>(f.at("KPI_RESOLUTION_NINETIETH")), 222.0);     // 60 + 0.9 × 180
    EXPECT_EQ(std::get<double>(f.at("KPI_REACTION_ON_TIME_PERCENT")), 66.7);  // 2 met, ticket 3 breached
    EXPECT_EQ(std::get<double>(f.at("KPI_RESOLUTION_ON_TIME_PERCENT")), 66.7);
    EXPECT_EQ(std::get<std::int64_t>(f.at("KPI_RETURNS")), 0);
    EXPECT_EQ(std::get<double>(f.at("KPI_RETURN_RATE")), 0.0);
    EXPECT_EQ(std::get<double>(f.at("KPI_AUTO_ACCEPTED_SHARE")), 0.0);
    EXPECT_EQ(std::get<std::int64_t>(f.at("KPI_OPEN_LOAD")), 1);  // ticket 3 at the end of March
    EXPECT_EQ(f.size(), 18u);
}

TEST_F(ExportTest, AnEmptyMonthHasZeroCountsAndNoMedians) {
    const auto items = Export();
    const KpiItem* february = Find(items, "month:2026-02:all");
    ASSERT_NE(february, nullptr);

    EXPECT_EQ(std::get<std::int64_t>(february->fields.at("KPI_CREATED")), 0);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(february->fields.at("KPI_REACTION_MEDIAN")));
    EXPECT_TRUE(std::holds_alternative<std::monostate>(february->fields.at("KPI_RESOLUTION_ON_TIME_PERCENT")));
    EXPECT_TRUE(std::holds_alternative<std::monostate>(february->fields.at("KPI_RETURN_RATE")));
    EXPECT_EQ(std::get<std::string>(february->fields.at("KPI_PERIOD_START")), "2026-02-01");
}

TEST_F(ExportTest, LineAndAssigneeScopesAndTheWholeYear) {
    const auto items = Export();
    const KpiItem* line2 = Find(items, "month:2026-03:line:line2");
    const KpiItem* person = Find(items, "month:2026-03:assignee:12");
    const KpiItem* year = Find(items, "year:2026:all");
    ASSERT_NE(line2, nullptr);
    ASSERT_NE(person, nullptr);
    ASSERT_NE(year, nullptr);

    EXPECT_EQ(std::get<std::string>(line2->fields.at("KPI_SCOPE_KIND")), "LINE");
    EXPECT_EQ(std::get<std::string>(line2->fields.at("KPI_SCOPE_VALUE")), "line2");
    EXPECT_EQ(std::get<std::int64_t>(line2->fields.at("KPI_CREATED")), 1);
    EXPECT_EQ(std::get<double>(line2->fields.at("KPI_REACTION_MEDIAN")), 10.0);
    EXPECT_EQ(std::get<std::string>(person->fields.at("KPI_SCOPE_KIND")), "ASSIGNEE");
    EXPECT_EQ(std::get<std::string>(person->fields.at("KPI_SCOPE_VALUE")), "12");
    EXPECT_EQ(std::get<double>(person->fields.at("KPI_RESOLUTION_MEDIAN")), 240.0);
    EXPECT_EQ(person->title, "KPI 2026-03 · assignee 12");
    EXPECT_EQ(std::get<std::string>(year->fields.at("KPI_PERIOD_KIND")), "YEAR");
    EXPECT_EQ(std::get<std::string>(year->fields.at("KPI_PERIOD_START")), "2026-01-01");
    EXPECT_EQ(std::get<std::int64_t>(year->fields.at("KPI_CREATED")), 3);
    EXPECT_EQ(std::get<std::int64_t>(year->fields.at("KPI_OPEN_LOAD")), 1);  // at now: the year has not ended
}

TEST_F(ExportTest, ARangeEndingOnAMonthStartDoesNotAddTheNextMonth) {
    options_.from = Msk("2026-03-01 00:00");
    options_.to = Msk("2026-04-01 00:00");

    const auto items = Export();

    EXPECT_NE(Find(items, "month:2026-03:all"), nullptr);
    EXPECT_EQ(Find(items, "month:2026-04:all"), nullptr);
    EXPECT_EQ(Find(items, "month:2026-02:all"), nullptr);
}

}  // namespace
}  // namespace dispatch::stats
