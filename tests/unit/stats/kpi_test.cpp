// KPIs over small ledgers folded by the real engine. Every expected figure is worked out in the comment beside it,
// in Moscow local time on the "biz" calendar (Mon-Fri 09:00-18:00); see support/tickets.hpp for the targets.

#include "stats/kpi.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/errc.hpp"
#include "support/test_support.hpp"
#include "support/tickets.hpp"

namespace dispatch::stats {
namespace {

using sla::Priority;
using sla::StageRole;
using testing::FindRow;
using testing::MakeQuery;
using testing::Msk;
using testing::Ticket;

class KpiTest : public ::testing::Test {
protected:
    Report Run(const std::vector<Ticket>& tickets,
               const std::string& from,
               const std::string& to,
               const std::string& group_by,
               const std::string& now,
               const Filter& filter = {}) {
        folded_ = testing::FoldAll(policy_, calendars_, tickets, now);
        Query query = MakeQuery(zone_, from, to, group_by, now);
        query.filter = filter;
        auto report = Compute(folded_, policy_, zone_, query);
        EXPECT_THAT(report, IsOk());
        return report ? std::move(*report) : Report{};
    }

    sla::Policy policy_ = testing::TestPolicy();
    sla::CalendarSet calendars_ = testing::TestCalendars();
    Zone zone_ = Zone::Locate("Europe/Moscow").value();
    std::vector<sla::FoldResult> folded_;
};

TEST(GroupBy, ParsesAPeriodAndDimensionsInOrder) {
    const auto g = ParseGroupBy("template,month,assignee");

    ASSERT_THAT(g, IsOk());
    EXPECT_EQ(g->period, PeriodKind::kMonth);
    EXPECT_EQ(g->dimensions, (std::vector<Dimension>{Dimension::kTemplate, Dimension::kAssignee}));
    EXPECT_EQ(ParseGroupBy("")->period, PeriodKind::kAll);
    EXPECT_TRUE(ParseGroupBy("")->dimensions.empty());
    EXPECT_EQ(ParseGroupBy("year,line,priority")->dimensions.size(), 2u);
}

TEST(GroupBy, RejectsUnknownRepeatedAndTwoPeriods) {
    for (const char* text : {"week", "month,year", "line,line", "month,", ",month", "Month", "assignee,,line"}) {
        EXPECT_THAT(ParseGroupBy(text), HasErrc(CoreErrc::kInvalid)) << text;
    }
}

// Quantile reorders its samples; the tests hand it copies, unsorted where it matters.
std::optional<double> QuantileOf(std::vector<TimeMs> samples, double q) { return Quantile(samples, q); }

TEST(Quantile, OneAndTwoSamplesAndInterpolation) {
    EXPECT_FALSE(QuantileOf({}, 0.5));
    EXPECT_EQ(QuantileOf({7}, 0.5), 7.0);
    EXPECT_EQ(QuantileOf({7}, 0.9), 7.0);
    EXPECT_EQ(QuantileOf({20, 10}, 0.5), 15.0);          // the mean of the two
    EXPECT_DOUBLE_EQ(*QuantileOf({20, 10}, 0.9), 19.0);  // 10 + 0.9 × 10
    // Five samples (sorted 10 20 30 40 100): h = 4 × 0.9 = 3.6 → 40 + 0.6 × (100 − 40) = 76; the median is the
    // middle one.
    EXPECT_DOUBLE_EQ(*QuantileOf({100, 30, 10, 40, 20}, 0.9), 76.0);
    EXPECT_EQ(QuantileOf({100, 30, 10, 40, 20}, 0.5), 30.0);
    EXPECT_EQ(QuantileOf({100, 30, 10, 40, 20}, 1.0), 100.0);
    EXPECT_EQ(QuantileOf({100, 30, 10, 40, 20}, 0.0), 10.0);
    // Six samples (sorted 10 20 30 40 50 100): h = 2.5 → 30 + 0.5 × 10 = 35; h = 4.5 → 50 + 0.5 × 50 = 75.
    EXPECT_DOUBLE_EQ(*QuantileOf({50, 100, 10, 40, 20, 30}, 0.5), 35.0);
    EXPECT_DOUBLE_EQ(*QuantileOf({50, 100, 10, 40, 20, 30}, 0.9), 75.0);
}

TEST_F(KpiTest, IntakeCountsByMonthWithEmptyMonthsAndLocalMonthBoundaries) {
    std::vector<Ticket> t;
    t.emplace_back(1, "2026-03-02 10:00", Priority::kNormal, "Hardware");  // never touched
    t.emplace_back(2, "2026-03-03 11:15", Priority::kNormal, "");          // no template: auto-closed at once
    t.back().AutoClose("2026-03-03 11:15");
    t.emplace_back(3, "2026-03-05 14:40", Priority::kNormal, "Access");  // rejected 20 minutes later
    t.back().Move("2026-03-05 15:00", StageRole::kRejected);
    t.emplace_back(4, "2026-03-31 23:30", Priority::kNormal, "Hardware");  // 20:30 UTC: still March in Moscow
    t.emplace_back(5, "2026-04-01 00:30", Priority::kNormal, "Hardware");  // 21:30 UTC on 31 March: April

    const Report r = Run(t, "2026-02", "2026-04", "month", "2026-04-02 12:00");

    ASSERT_EQ(r.rows.size(), 3u);
    const Row& feb = r.rows[0];
    const Row& mar = r.rows[1];
    const Row& apr = r.rows[2];
    EXPECT_EQ(feb.period, "2026-02");
    EXPECT_EQ(feb.period_from, Msk("2026-02-01 00:00"));
    EXPECT_EQ(feb.period_to, Msk("2026-03-01 00:00"));
    EXPECT_EQ(feb.kpis.created, 0);
    EXPECT_FALSE(feb.kpis.reaction.business.median);
    EXPECT_FALSE(feb.kpis.reaction.on_time_percent);
    EXPECT_FALSE(feb.kpis.return_rate_percent);
    EXPECT_EQ(feb.kpis.open_at_end, 0);

    EXPECT_EQ(mar.period, "2026-03");
    EXPECT_EQ(mar.kpis.created, 4);
    EXPECT_EQ(mar.kpis.auto_closed, 1);
    EXPECT_EQ(mar.kpis.cancelled, 1);
    // Ticket 1: reaction due Mon 12:00 and resolution due Mon 18:00, both passed open: breached in March. The
    // auto-closed ticket counts in no SLA figure; the rejected one's clocks are cancelled.
    EXPECT_EQ(mar.kpis.reaction.met, 0);
    EXPECT_EQ(mar.kpis.reaction.breached, 1);
    EXPECT_EQ(mar.kpis.resolution.breached, 1);
    EXPECT_EQ(mar.kpis.reaction.on_time_percent, 0.0);
    EXPECT_EQ(mar.kpis.reaction.business.count, 0);  // breached but still open: no time yet
    // Open at the end of March (1 April 00:00): tickets 1 and 4; the auto-closed and the rejected ones are not.
    EXPECT_EQ(mar.kpis.open_at_end, 2);

    // Tickets 4 and 5 came in after hours: their clocks start 1 April 09:00, reaction due 11:00, resolution due
    // 17:00, both passed by now (2 April 12:00).
    EXPECT_EQ(apr.kpis.created, 1);
    EXPECT_EQ(apr.kpis.reaction.breached, 2);
    EXPECT_EQ(apr.kpis.resolution.breached, 2);
    EXPECT_EQ(apr.kpis.open_at_end, 3);  // at now: 1, 4 and 5

    EXPECT_EQ(r.totals.created, 5);
    EXPECT_EQ(r.totals.auto_closed, 1);
    EXPECT_EQ(r.totals.cancelled, 1);
    EXPECT_EQ(r.totals.reaction.breached, 3);
    EXPECT_EQ(r.totals.open_at_end, 3);
    EXPECT_EQ(r.load_at, Msk("2026-04-02 12:00"));
}

TEST_F(KpiTest, ArrivalsByLocalHourAndWeekday) {
    std::vector<Ticket> t;
    t.emplace_back(1, "2026-03-02 10:00", Priority::kNormal, "Hardware");  // Monday 10h
    t.emplace_back(2, "2026-03-03 11:15", Priority::kNormal, "");          // Tuesday 11h, auto-closed: still counts
    t.back().AutoClose("2026-03-03 11:15");
    t.emplace_back(3, "2026-03-31 23:30", Priority::kNormal, "Hardware");  // Tuesday 23h
    t.emplace_back(4, "2026-04-01 00:30", Priority::kNormal, "Hardware");  // Wednesday 0h
    t.emplace_back(5, "2026-04-05 10:20", Priority::kLow, "Access");       // Sunday 10h

    const Report r = Run(t, "2026-03", "2026-04", "", "2026-04-06 12:00");

    EXPECT_EQ(r.arrivals.by_weekday, (std::array<std::int64_t, 7>{1, 2, 1, 0, 0, 0, 1}));
    std::array<std::int64_t, 24> hours{};
    hours[0] = 1;
    hours[10] = 2;
    hours[11] = 1;
    hours[23] = 1;
    EXPECT_EQ(r.arrivals.by_hour, hours);
    EXPECT_EQ(r.arrivals.by_weekday_hour[1][23], 1);
    EXPECT_EQ(r.arrivals.by_weekday_hour[6][10], 1);
    EXPECT_EQ(r.arrivals.by_weekday_hour[0][10], 1);
    EXPECT_EQ(r.arrivals.by_weekday_hour[2][0], 1);
}

TEST_F(KpiTest, ReactionAndResolutionTimesWithOneAndTwoSamples) {
    std::vector<Ticket> t;
    // Reaction 30 min (met, target 120); resolution until review 14:00: 240 min (met, target 480).
    t.emplace_back(1, "2026-03-02 10:00", Priority::kNormal, "Hardware");
    t.back().Take("2026-03-02 10:30", 12).Move("2026-03-02 14:00", StageRole::kReview).Accept("2026-03-03 10:00");
    // Reaction 180 min (breached: due 11:00). Waiting 13:00-15:00, review 17:00: resolution 480 − 120 = 360 min
    // (met: due 4 March 10:00 once the pause pushes it).
    t.emplace_back(2, "2026-03-03 09:00", Priority::kNormal, "Access");
    t.back()
        .Take("2026-03-03 12:00", 13)
        .Move("2026-03-03 13:00", StageRole::kWaiting)
        .Move("2026-03-03 15:00", StageRole::kInProgress)
        .Move("2026-03-03 17:00", StageRole::kReview);

    const Report r = Run(t, "2026-03", "2026-03", "", "2026-04-01 12:00");

    const Kpis& k = r.totals;
    ASSERT_EQ(r.rows.size(), 1u);
    EXPECT_EQ(r.rows[0].period, "all");
    EXPECT_EQ(k.reaction.business.count, 2);
    EXPECT_EQ(k.reaction.business.median, 105.0);  // (30 + 180) / 2
    EXPECT_EQ(k.reaction.business.p90, 165.0);     // 30 + 0.9 × 150
    EXPECT_EQ(k.reaction.business.mean, 105.0);
    EXPECT_EQ(k.reaction.calendar.median, 105.0);  // within hours: calendar = business
    EXPECT_EQ(k.reaction.target_median, 120.0);
    EXPECT_EQ(k.reaction.met, 1);
    EXPECT_EQ(k.reaction.breached, 1);
    EXPECT_EQ(k.reaction.on_time_percent, 50.0);

    EXPECT_EQ(k.resolution.business.count, 2);
    EXPECT_EQ(k.resolution.business.median, 300.0);  // (240 + 360) / 2
    EXPECT_EQ(k.resolution.business.p90, 348.0);     // 240 + 0.9 × 120
    EXPECT_EQ(k.resolution.business.mean, 300.0);
    EXPECT_EQ(k.resolution.calendar.p90, 348.0);
    EXPECT_EQ(k.resolution.target_median, 480.0);
    EXPECT_EQ(k.resolution.on_time_percent, 100.0);
    EXPECT_EQ(k.closed, 2);
    EXPECT_EQ(k.deliveries, 2);
    EXPECT_EQ(k.returns, 0);
    EXPECT_EQ(k.return_rate_percent, 0.0);
    EXPECT_EQ(k.auto_accepted_percent, 0.0);
    EXPECT_EQ(k.paused_minutes, 120.0);
    EXPECT_EQ(k.open_at_end, 0);

    // One sample per assignee: median, p90 and mean are that sample.
    const Report by = Run(t, "2026-03", "2026-03", "assignee", "2026-04-01 12:00");
    ASSERT_EQ(by.rows.size(), 2u);
    EXPECT_EQ(by.rows[0].assignee, 12);
    EXPECT_EQ(by.rows[0].kpis.reaction.business.median, 30.0);
    EXPECT_EQ(by.rows[0].kpis.reaction.business.p90, 30.0);
    EXPECT_EQ(by.rows[0].kpis.reaction.business.mean, 30.0);
    EXPECT_EQ(by.rows[1].assignee, 13);
    EXPECT_EQ(by.rows[1].kpis.reaction.business.p90, 180.0);
    EXPECT_EQ(by.rows[1].kpis.resolution.business.median, 360.0);
    EXPECT_EQ(by.rows[1].kpis.paused_minutes, 120.0);
}

TEST_F(KpiTest, BusinessAndCalendarMinutesDifferOverAWeekend) {
    std::vector<Ticket> t;
    // Urgent, Friday 17:50; taken Monday 09:10: 10 + 10 = 20 business minutes, exactly the target (met, the
    // deadline is Monday 09:10); 63 h 20 min = 3800 calendar minutes.
    t.emplace_back(1, "2026-03-06 17:50", Priority::kUrgent, "Hardware");
    t.back().Take("2026-03-09 09:10", 12);

    const Report r = Run(t, "2026-03", "2026-03", "", "2026-03-09 12:00");

    EXPECT_EQ(r.totals.reaction.business.median, 20.0);
    EXPECT_EQ(r.totals.reaction.calendar.median, 3800.0);
    EXPECT_EQ(r.totals.reaction.target_median, 20.0);
    EXPECT_EQ(r.totals.reaction.met, 1);
    EXPECT_EQ(r.totals.reaction.on_time_percent, 100.0);
    // Resolution (4 h from Friday 17:50: 10 min Friday + 3 h 50 min Monday = Monday 12:50) is running at 12:00.
    EXPECT_EQ(r.totals.resolution.met + r.totals.resolution.breached, 0);
    EXPECT_EQ(r.totals.open_at_end, 1);
}

TEST_F(KpiTest, AReturnIsCountedForTheResolverAndReopensTheRequest) {
    std::vector<Ticket> t;
    // Cycle 1 by 13: review Tuesday 17:00. Returned Wednesday 10:00 and finished by 14 at 11:30.
    t.emplace_back(1, "2026-03-03 09:00", Priority::kNormal, "Access");
    t.back()
        .Take("2026-03-03 12:00", 13)
        .Move("2026-03-03 17:00", StageRole::kReview)
        .Move("2026-03-04 10:00", StageRole::kInProgress)
        .Assign("2026-03-04 10:00", 14)
        .Move("2026-03-04 11:30", StageRole::kReview);

    const Report r = Run(t, "2026-03", "2026-03", "assignee", "2026-04-01 12:00");

    // Total resolution: open time Tue 09:00 → Wed 11:30 is 540 + 150 = 690 min, minus the returned review
    // (Tue 17:00-18:00 and Wed 09:00-10:00 open: 120) = 570; wall time 1590 − 1020 = 570. Its 480 min target ran
    // out Tuesday 17:00: breached, counted then, for the last resolver (14).
    EXPECT_EQ(r.totals.closed, 1);
    EXPECT_EQ(r.totals.resolution.business.median, 570.0);
    EXPECT_EQ(r.totals.resolution.calendar.median, 570.0);
    EXPECT_EQ(r.totals.resolution.breached, 1);
    EXPECT_EQ(r.totals.returns, 1);
    EXPECT_EQ(r.totals.deliveries, 2);
    EXPECT_EQ(r.totals.return_rate_percent, 50.0);

    const Row* first = FindRow(r, "all", 13);
    const Row* second = FindRow(r, "all", 14);
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(first->kpis.returns, 1);
    EXPECT_EQ(first->kpis.deliveries, 1);
    EXPECT_EQ(first->kpis.return_rate_percent, 100.0);
    EXPECT_EQ(first->kpis.closed, 0);
    EXPECT_EQ(second->kpis.returns, 0);
    EXPECT_EQ(second->kpis.deliveries, 1);
    EXPECT_EQ(second->kpis.return_rate_percent, 0.0);
    EXPECT_EQ(second->kpis.closed, 1);
    EXPECT_EQ(second->kpis.resolution.breached, 1);
    // Reaction (180 min, breached) counts for the current assignee.
    EXPECT_EQ(second->kpis.reaction.business.median, 180.0);
}

TEST_F(KpiTest, ReturnedAndNotYetResolvedAgainIsOpenNotClosed) {
    std::vector<Ticket> t;
    t.emplace_back(1, "2026-03-03 09:00", Priority::kNormal, "Access");
    t.back()
        .Take("2026-03-03 09:30", 13)
        .Move("2026-03-03 12:00", StageRole::kReview)
        .Move("2026-03-04 10:00", StageRole::kInProgress);

    const Report r = Run(t, "2026-03", "2026-03", "", "2026-03-04 11:00");

    EXPECT_EQ(r.totals.closed, 0);
    EXPECT_EQ(r.totals.resolution.business.count, 0);
    EXPECT_EQ(r.totals.deliveries, 1);
    EXPECT_EQ(r.totals.returns, 1);
    EXPECT_EQ(r.totals.open_at_end, 1);
}

TEST_F(KpiTest, RunningClocksCountNowhereAndCancelledOnesAreExcluded) {
    std::vector<Ticket> t;
    // Reaction due 13:00, resolution due 19:00... both running at now (12:00).
    t.emplace_back(1, "2026-04-01 11:00", Priority::kNormal, "Hardware");
    // Reaction met at 10:30, then rejected at 11:00: the reaction counts, the cancelled resolution does not.
    t.emplace_back(2, "2026-03-02 10:00", Priority::kNormal, "Hardware");
    t.back().Take("2026-03-02 10:30", 12).Move("2026-03-02 11:00", StageRole::kRejected);

    const Report r = Run(t, "2026-03", "2026-04", "", "2026-04-01 12:00");

    EXPECT_EQ(r.totals.created, 2);
    EXPECT_EQ(r.totals.cancelled, 1);
    EXPECT_EQ(r.totals.reaction.met, 1);
    EXPECT_EQ(r.totals.reaction.breached, 0);
    EXPECT_EQ(r.totals.reaction.business.median, 30.0);
    EXPECT_EQ(r.totals.resolution.met + r.totals.resolution.breached, 0);
    EXPECT_FALSE(r.totals.resolution.on_time_percent);
    EXPECT_EQ(r.totals.closed, 0);
    EXPECT_EQ(r.totals.open_at_end, 1);
}

TEST_F(KpiTest, DeletedRequestsCountInIntakeOnly) {
    std::vector<Ticket> t;
    t.emplace_back(1, "2026-03-02 10:00", Priority::kNormal, "Hardware");
    t.back().Take("2026-03-02 10:30", 12).Move("2026-03-02 12:00", StageRole::kReview).Delete("2026-03-02 13:00");

    const Report r = Run(t, "2026-03", "2026-03", "", "2026-04-01 12:00");

    EXPECT_EQ(r.totals.created, 1);
    EXPECT_EQ(r.totals.cancelled, 1);
    EXPECT_EQ(r.totals.reaction.met, 0);
    EXPECT_EQ(r.totals.closed, 0);
    EXPECT_EQ(r.totals.deliveries, 0);
}

TEST_F(KpiTest, OpenAtEachMonthEndIsAttributedToWhoResolvedThatCycle) {
    std::vector<Ticket> t;
    // Open across the end of March, resolved by 12 on 1 April.
    t.emplace_back(1, "2026-03-02 10:00", Priority::kLow, "Hardware");
    t.back().Take("2026-03-02 10:30", 12).Move("2026-04-01 10:00", StageRole::kReview);
    // Taken by 13, handed to 14, still open.
    t.emplace_back(2, "2026-03-10 10:00", Priority::kLow, "Hardware");
    t.back().Take("2026-03-10 10:30", 13).Assign("2026-03-20 10:00", 14);
    // Resolved by 12 in March, returned on 1 April to 13: not open at the end of March, open now.
    t.emplace_back(3, "2026-03-05 10:00", Priority::kLow, "Access");
    t.back()
        .Take("2026-03-05 10:15", 12)
        .Move("2026-03-06 10:00", StageRole::kReview)
        .Move("2026-04-01 09:30", StageRole::kInProgress)
        .Assign("2026-04-01 09:30", 13);

    const Report r = Run(t, "2026-03", "2026-04", "month,assignee", "2026-04-02 12:00");

    const auto open = [&](const std::string& period, std::int64_t assignee) {
        const Row* row = FindRow(r, period, assignee);
        return row == nullptr ? -1 : row->kpis.open_at_end;
    };
    EXPECT_EQ(open("2026-03", 12), 1);  // ticket 1, later resolved by 12
    EXPECT_EQ(open("2026-03", 13), 0);  // ticket 2 is counted for its current assignee while open
    EXPECT_EQ(open("2026-03", 14), 1);
    EXPECT_EQ(open("2026-04", 12), 0);
    EXPECT_EQ(open("2026-04", 13), 1);  // ticket 3, reopened
    EXPECT_EQ(open("2026-04", 14), 1);
    // Load now, most loaded first (ties by assignee).
    ASSERT_EQ(r.load.size(), 2u);
    EXPECT_EQ(r.load[0].assignee, 13);
    EXPECT_EQ(r.load[1].assignee, 14);
    EXPECT_EQ(r.load[0].open + r.load[1].open, 2);
    EXPECT_EQ(r.totals.open_at_end, 2);
    // Rows come by period, then assignee.
    for (std::size_t i = 1; i < r.rows.size(); ++i) {
        const Row& a = r.rows[i - 1];
        const Row& b = r.rows[i];
        EXPECT_TRUE(a.period_from < b.period_from || (a.period_from == b.period_from && a.assignee < b.assignee));
    }

    // A range ending mid-March (15 March 00:00): tickets 1 (12) and 2 (current assignee 14) were open; ticket 3
    // was in review.
    const Report mid = Run(t, "2026-03-01", "2026-03-14", "", "2026-04-02 12:00");
    EXPECT_EQ(mid.load_at, Msk("2026-03-15 00:00"));
    EXPECT_EQ(mid.totals.open_at_end, 2);
    ASSERT_EQ(mid.load.size(), 2u);
    EXPECT_EQ(mid.load[0].assignee, 12);
    EXPECT_EQ(mid.load[0].open, 1);
    EXPECT_EQ(mid.load[1].assignee, 14);
    EXPECT_EQ(mid.load[1].open, 1);
}

TEST_F(KpiTest, ARangeStartingAfterNowHasNoOpenLoad) {
    std::vector<Ticket> t;
    t.emplace_back(1, "2026-03-02 10:00", Priority::kLow, "Hardware");
    t.back().Take("2026-03-02 10:30", 12);  // open now

    // Nothing is known about May on 2 April: neither the total nor the load counts the ticket.
    const Report r = Run(t, "2026-05", "2026-05", "", "2026-04-02 12:00");

    EXPECT_EQ(r.totals.open_at_end, 0);
    EXPECT_TRUE(r.load.empty());
    // The same ticket in a range holding now is open for 12.
    const Report now = Run(t, "2026-03", "2026-05", "", "2026-04-02 12:00");
    EXPECT_EQ(now.totals.open_at_end, 1);
    ASSERT_EQ(now.load.size(), 1u);
    EXPECT_EQ(now.load[0].assignee, 12);
    EXPECT_EQ(now.load[0].open, 1);
}

TEST_F(KpiTest, PausedTimeIsSplitAcrossMonthsByThePauseItself) {
    std::vector<Ticket> t;
    // Waiting from Tue 31 March 17:00 to Wed 1 April 10:00: 420 minutes in March, 600 in April. Resolution:
    // open 600 min minus the paused open hour on each side = 480, exactly the target (due 1 April 11:00): met.
    t.emplace_back(1, "2026-03-31 10:00", Priority::kNormal, "Hardware");
    t.back()
        .Take("2026-03-31 10:05", 12)
        .Move("2026-03-31 17:00", StageRole::kWaiting)
        .Move("2026-04-01 10:00", StageRole::kInProgress)
        .Move("2026-04-01 11:00", StageRole::kReview);

    const Report both = Run(t, "2026-03", "2026-04", "month", "2026-04-02 12:00");
    const Report march = Run(t, "2026-03", "2026-03", "month", "2026-04-02 12:00");

    ASSERT_EQ(both.rows.size(), 2u);
    EXPECT_EQ(both.rows[0].kpis.paused_minutes, 420.0);
    EXPECT_EQ(both.rows[1].kpis.paused_minutes, 600.0);
    EXPECT_EQ(both.totals.paused_minutes, 1020.0);
    EXPECT_EQ(both.rows[0].kpis.closed, 0);
    EXPECT_EQ(both.rows[1].kpis.closed, 1);
    EXPECT_EQ(both.rows[1].kpis.resolution.business.median, 480.0);
    EXPECT_EQ(both.rows[1].kpis.resolution.calendar.median, 480.0);  // 1500 wall minutes − 1020 paused
    EXPECT_EQ(both.rows[1].kpis.resolution.met, 1);
    EXPECT_EQ(both.rows[0].kpis.open_at_end, 1);
    EXPECT_EQ(march.totals.paused_minutes, 420.0);
    EXPECT_EQ(march.totals.closed, 0);
}

TEST_F(KpiTest, GroupsByLineTemplateAndPriorityAndFiltersMatchTheirRows) {
    std::vector<Ticket> t;
    t.emplace_back(1, "2026-03-02 10:00", Priority::kNormal, "Hardware");
    t.back().Take("2026-03-02 10:30", 12).Move("2026-03-02 12:00", StageRole::kReview);
    // Moved to line 2 when taken; resolved there.
    t.emplace_back(2, "2026-03-02 10:00", Priority::kUrgent, "Access");
    t.back().Take("2026-03-02 10:10", 21, 2).Move("2026-03-02 11:00", StageRole::kReview, 2);
    t.emplace_back(3, "2026-03-03 10:00", Priority::kHigh, "Hardware");

    const Report by_line = Run(t, "2026-03", "2026-03", "line", "2026-04-01 12:00");
    const Report by_template = Run(t, "2026-03", "2026-03", "template", "2026-04-01 12:00");
    const Report by_priority = Run(t, "2026-03", "2026-03", "priority", "2026-04-01 12:00");
    const Report by_both = Run(t, "2026-03", "2026-03", "template,line", "2026-04-01 12:00");
    Filter line2;
    line2.line = 2;
    const Report only_line2 = Run(t, "2026-03", "2026-03", "", "2026-04-01 12:00", line2);
    Filter hardware;
    hardware.template_name = "Hardware";
    const Report only_hardware = Run(t, "2026-03", "2026-03", "", "2026-04-01 12:00", hardware);

    ASSERT_EQ(by_line.rows.size(), 2u);
    EXPECT_EQ(by_line.rows[0].line, 1);
    EXPECT_EQ(by_line.rows[0].kpis.created, 2);
    EXPECT_EQ(by_line.rows[1].line, 2);
    EXPECT_EQ(by_line.rows[1].kpis.created, 1);
    EXPECT_EQ(by_line.rows[1].kpis.closed, 1);
    EXPECT_EQ(by_line.rows[1].kpis.reaction.business.median, 10.0);
    EXPECT_EQ(by_line.rows[1].kpis.resolution.business.median, 60.0);
    EXPECT_FALSE(by_line.rows[0].template_name);

    ASSERT_EQ(by_template.rows.size(), 2u);
    EXPECT_EQ(by_template.rows[0].template_name, "Access");
    EXPECT_EQ(by_template.rows[1].template_name, "Hardware");
    EXPECT_EQ(by_template.rows[1].kpis.created, 2);

    ASSERT_EQ(by_priority.rows.size(), 3u);
    EXPECT_EQ(by_priority.rows[0].priority, Priority::kUrgent);
    EXPECT_EQ(by_priority.rows[1].priority, Priority::kHigh);
    EXPECT_EQ(by_priority.rows[2].priority, Priority::kNormal);
    // Ticket 3 (high) untouched: reaction due 11:00 and resolution due 16:00 both passed.
    EXPECT_EQ(by_priority.rows[1].kpis.reaction.breached, 1);
    EXPECT_EQ(by_priority.rows[1].kpis.resolution.breached, 1);

    ASSERT_EQ(by_both.rows.size(), 2u);  // ordered by template first, as asked
    EXPECT_EQ(by_both.rows[0].template_name, "Access");
    EXPECT_EQ(by_both.rows[0].line, 2);
    EXPECT_EQ(by_both.rows[1].template_name, "Hardware");
    EXPECT_EQ(by_both.rows[1].line, 1);

    EXPECT_EQ(only_line2.totals.created, by_line.rows[1].kpis.created);
    EXPECT_EQ(only_line2.totals.closed, by_line.rows[1].kpis.closed);
    EXPECT_EQ(only_line2.totals.reaction.business.median, by_line.rows[1].kpis.reaction.business.median);
    EXPECT_EQ(only_line2.arrivals.by_hour[10], 1);
    EXPECT_EQ(only_hardware.totals.created, 2);
    EXPECT_EQ(only_hardware.totals.reaction.breached, 1);
    EXPECT_EQ(only_hardware.totals.reaction.met, 1);
}

TEST_F(KpiTest, AutoAcceptedShareOfClosedRequests) {
    std::vector<Ticket> t;
    t.emplace_back(1, "2026-03-02 10:00", Priority::kNormal, "Hardware");
    t.back()
        .Take("2026-03-02 10:30", 12)
        .Move("2026-03-02 12:00", StageRole::kReview)
        .AutoAccept("2026-03-05 12:00", 1);
    t.emplace_back(2, "2026-03-02 11:00", Priority::kNormal, "Hardware");
    t.back().Take("2026-03-02 11:30", 12).Move("2026-03-02 13:00", StageRole::kReview).Accept("2026-03-03 10:00");
    t.emplace_back(3, "2026-03-02 12:00", Priority::kNormal, "Hardware");
    t.back()
        .Take("2026-03-02 12:30", 12)
        .Move("2026-03-02 13:00", StageRole::kReview)
        .AutoAccept("2026-03-05 13:00", 1);
    t.emplace_back(4, "2026-03-02 13:00", Priority::kNormal, "Hardware");
    t.back().Take("2026-03-02 13:30", 12).Move("2026-03-02 15:00", StageRole::kDone);

    const Report r = Run(t, "2026-03", "2026-03", "", "2026-04-01 12:00");

    EXPECT_EQ(r.totals.closed, 4);
    EXPECT_EQ(r.totals.auto_accepted, 2);
    EXPECT_EQ(r.totals.auto_accepted_percent, 50.0);
}

TEST_F(KpiTest, PercentagesRoundToATenth) {
    std::vector<Ticket> t;
    // Three reactions: two met (30 min), one breached (180 min): 66.7 %; mean 80 min.
    for (int i = 0; i < 2; ++i) {
        t.emplace_back(i + 1, "2026-03-02 10:00", Priority::kNormal, "Hardware");
        t.back().Take("2026-03-02 10:30", 12);
    }
    t.emplace_back(3, "2026-03-02 10:00", Priority::kNormal, "Hardware");
    t.back().Take("2026-03-02 13:00", 12);

    const Report r = Run(t, "2026-03", "2026-03", "", "2026-03-02 14:00");

    EXPECT_EQ(r.totals.reaction.on_time_percent, 66.7);
    EXPECT_EQ(r.totals.reaction.business.mean, 80.0);
    EXPECT_EQ(r.totals.reaction.business.median, 30.0);
    EXPECT_EQ(r.totals.reaction.business.p90, 150.0);  // h = 1.8: 30 + 0.8 × 150
}

TEST_F(KpiTest, MedianAndP90OfManySamplesInterpolateBetweenNeighbours) {
    const std::vector<int> minutes{5, 17, 3, 40, 100, 8, 70, 60, 33, 21, 90, 55};
    std::vector<Ticket> t;
    for (std::size_t i = 0; i < minutes.size(); ++i) {
        // Low priority (reaction target 4 h); taken `minutes[i]` after a 09:00 creation, within hours.
        t.emplace_back(static_cast<std::int64_t>(i + 1), "2026-03-02 09:00", Priority::kLow, "Hardware");
        t.back().Take(fmt::format("2026-03-02 {:02}:{:02}", 9 + minutes[i] / 60, minutes[i] % 60), 12);
    }

    const Report r = Run(t, "2026-03", "2026-03", "", "2026-03-02 12:00");

    // Sorted: 3 5 8 17 21 33 40 55 60 70 90 100 (ranks 0..11). Neither rank falls on a sample, so both take the
    // upper neighbour: median h = 11 × 0.5 = 5.5 → 33 + 0.5 × (40 − 33) = 36.5; p90 h = 11 × 0.9 = 9.9 →
    // 70 + 0.9 × (90 − 70) = 88; mean 502 / 12 = 41.83.
    EXPECT_EQ(r.totals.reaction.business.count, 12);
    EXPECT_EQ(r.totals.reaction.business.median, 36.5);
    EXPECT_EQ(r.totals.reaction.business.p90, 88.0);
    EXPECT_EQ(r.totals.reaction.business.mean, 41.8);
    EXPECT_EQ(r.totals.reaction.target_median, 240.0);
}

TEST_F(KpiTest, FactsOutsideTheRangeDoNotCount) {
    std::vector<Ticket> t;
    t.emplace_back(1, "2026-02-27 10:00", Priority::kNormal, "Hardware");  // created in February
    t.back().Take("2026-03-02 09:00", 12).Move("2026-03-02 10:00", StageRole::kReview);

    const Report r = Run(t, "2026-03", "2026-03", "month", "2026-04-01 12:00");

    ASSERT_EQ(r.rows.size(), 1u);
    EXPECT_EQ(r.rows[0].kpis.created, 0);
    EXPECT_EQ(r.rows[0].kpis.closed, 1);
    EXPECT_EQ(r.rows[0].kpis.reaction.business.count, 1);
    EXPECT_EQ(r.arrivals.by_weekday[4], 0);
}

TEST_F(KpiTest, NoTicketsGivesEmptyPeriods) {
    const Report r = Run({}, "2026-01", "2026-12", "month", "2026-06-15 12:00");

    ASSERT_EQ(r.rows.size(), 12u);
    EXPECT_EQ(r.rows.front().period, "2026-01");
    EXPECT_EQ(r.rows.back().period, "2026-12");
    EXPECT_EQ(r.totals.created, 0);
    EXPECT_FALSE(r.totals.resolution.business.median);
    EXPECT_TRUE(r.load.empty());
    EXPECT_EQ(r.targets.size(), 4u);
}

TEST_F(KpiTest, YearsClipToTheRange) {
    const Report r = Run({}, "2025-11-15", "2026-02", "year", "2026-06-15 12:00");

    ASSERT_EQ(r.rows.size(), 2u);
    EXPECT_EQ(r.rows[0].period, "2025");
    EXPECT_EQ(r.rows[0].period_from, Msk("2025-11-15 00:00"));
    EXPECT_EQ(r.rows[0].period_to, Msk("2026-01-01 00:00"));
    EXPECT_EQ(r.rows[1].period, "2026");
    EXPECT_EQ(r.rows[1].period_to, Msk("2026-03-01 00:00"));
}

TEST_F(KpiTest, EmptyOrHugeRangesAreInvalid) {
    Query query = MakeQuery(zone_, "2026-03", "2026-03", "month", "2026-04-01 12:00");
    std::swap(query.from, query.to);
    EXPECT_THAT(Compute({}, policy_, zone_, query), HasErrc(CoreErrc::kInvalid));

    const Query huge = MakeQuery(zone_, "2000", "2030", "", "2026-04-01 12:00");
    EXPECT_THAT(Compute({}, policy_, zone_, huge), HasErrc(CoreErrc::kInvalid));
    const Query twenty_years = MakeQuery(zone_, "2006", "2025", "year", "2026-04-01 12:00");
    EXPECT_THAT(Compute({}, policy_, zone_, twenty_years), IsOk());
}

}  // namespace
}  // namespace dispatch::stats
