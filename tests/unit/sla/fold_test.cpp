// Golden cases for the edges of research §4.4, on a small hand-made policy: calendar "biz" is Mon-Fri 09:00-18:00
// Europe/Moscow (UTC+3, no DST) with Monday 9 March 2026 a holiday. Every expected instant is worked out in the
// comment beside it.

#include "sla/fold.hpp"

#include <gtest/gtest.h>

#include "core/errc.hpp"
#include "core/time_format.hpp"
#include "sla/explain.hpp"
#include "support/test_support.hpp"

namespace dispatch::sla {
namespace {

TimeMs Msk(const char* text) { return ParseIso8601(text).value(); }

CalendarSpec BizSpec() {
    CalendarSpec spec;
    spec.id = "biz";
    spec.zone = "Europe/Moscow";
    for (int day = 0; day < 5; ++day) {
        spec.week[day] = {DayRange{9 * 3600, 18 * 3600}};
    }
    spec.holidays = {LocalDate{2026, 3, 9}};
    return spec;
}

Target Hours(std::int64_t h) { return Target{h, TargetUnit::kHours, false, "biz"}; }
Target Minutes(std::int64_t m) { return Target{m, TargetUnit::kMinutes, false, "biz"}; }

Policy TestPolicy() {
    Policy p;
    p.roles[static_cast<int>(Role::kLine1Dispatcher)] = {11};
    p.roles[static_cast<int>(Role::kLine2Dispatcher)] = {21};
    p.roles[static_cast<int>(Role::kHeadOfIt)] = {2};
    p.templates = {"Hardware"};
    p.targets = {
        TargetRule{Priority::kUrgent, "", Minutes(20), Hours(4), std::nullopt},
        TargetRule{Priority::kHigh, "", Hours(1), Hours(6), std::nullopt},
        TargetRule{Priority::kNormal, "", Hours(2), Hours(8), std::nullopt},
        TargetRule{Priority::kLow, "", Hours(4), Hours(16), std::nullopt},
    };
    p.warnings = {Warning{{Metric::kReaction, Metric::kResolution}, 50, std::nullopt}};
    p.escalation = {EscalationLevel{1, {Metric::kReaction, Metric::kResolution}, 0, std::nullopt,
                                    {Action{ActionKind::kNotifyHead, {Role::kHeadOfIt}}}}};
    p.acceptance = Acceptance{3, true, "biz", 1};
    p.auto_close.comment = "choose a template";
    return p;
}

class FoldTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto cal = Calendar::Compile(BizSpec(), 2026, 2026);
        ASSERT_TRUE(cal.has_value()) << cal.error();
        calendars_.Add(*cal);
    }

    FoldResult FoldAt(const char* now) {
        auto result = Fold(policy_, calendars_, ledger_, Msk(now));
        EXPECT_TRUE(result.has_value()) << result.error();
        return result ? std::move(*result) : FoldResult{};
    }

    void Add(Event e) { ASSERT_TRUE(ledger_.Append(std::move(e)).has_value()); }

    Policy policy_ = TestPolicy();
    CalendarSet calendars_;
    Ledger ledger_{7};
};

TEST_F(FoldTest, CreatedOutsideHoursStartsTheClockAtTheNextOpening) {
    // Friday 19:00, after closing; Monday 9 March is a holiday, so the clock starts Tuesday 09:00.
    Add(Event::Created(Msk("2026-03-06T19:00:00+03:00"), 1, Priority::kNormal, "Hardware"));

    const FoldResult r = FoldAt("2026-03-10T08:30:00+03:00");

    // Resolution 8 h from Tue 09:00 = Tue 17:00; reaction 2 h = Tue 11:00; nothing elapsed yet.
    EXPECT_EQ(r.resolution.deadline, Msk("2026-03-10T17:00:00+03:00"));
    EXPECT_EQ(r.reaction.deadline, Msk("2026-03-10T11:00:00+03:00"));
    EXPECT_EQ(r.reaction.elapsed_business_ms, 0);
    EXPECT_EQ(r.reaction.elapsed_calendar_ms, Msk("2026-03-10T08:30:00+03:00") - Msk("2026-03-06T19:00:00+03:00"));
    const CalendarSpec spec = BizSpec();
    const Explanation why = Explain(r.resolution, &spec);
    EXPECT_EQ(why.next_opening, Msk("2026-03-10T09:00:00+03:00"));
    ASSERT_EQ(why.holidays.size(), 1u);
    EXPECT_EQ(why.holidays[0], (LocalDate{2026, 3, 9}));
}

TEST_F(FoldTest, ReactionBeforeTheOpeningCountsZeroBusinessTimeAndIsMet) {
    Add(Event::Created(Msk("2026-03-06T19:00:00+03:00"), 1, Priority::kUrgent, "Hardware"));
    Add(Event::Assigned(Msk("2026-03-10T08:40:00+03:00"), 2, 12));
    Add(Event::StageMoved(Msk("2026-03-10T08:41:00+03:00"), 3, StageRole::kInProgress));

    const FoldResult r = FoldAt("2026-03-10T12:00:00+03:00");

    EXPECT_EQ(r.reaction.state, ClockState::kMet);
    EXPECT_EQ(r.reaction.elapsed_business_ms, 0);
}

TEST_F(FoldTest, PauseAcrossMidnightAndAHolidaySubtractsOnlyItsOpenTime) {
    // 4 h target. Fri 16:00-17:00 counts 1 h; waiting Fri 17:00 → Tue 10:00 holds 2 open hours (Fri 17-18,
    // Tue 09-10) across the nights, the weekend and the Monday holiday; 3 h remain from Tue 10:00 → 13:00.
    policy_.targets[0].resolution = Hours(4);
    Add(Event::Created(Msk("2026-03-06T16:00:00+03:00"), 1, Priority::kUrgent, "Hardware", StageRole::kInProgress,
                       1, 12));
    Add(Event::StageMoved(Msk("2026-03-06T17:00:00+03:00"), 2, StageRole::kWaiting));
    Add(Event::StageMoved(Msk("2026-03-10T10:00:00+03:00"), 3, StageRole::kInProgress));

    const FoldResult r = FoldAt("2026-03-10T10:00:00+03:00");

    EXPECT_EQ(r.resolution.state, ClockState::kRunning);
    EXPECT_EQ(r.resolution.deadline, Msk("2026-03-10T13:00:00+03:00"));
    EXPECT_EQ(r.resolution.elapsed_business_ms, kHourMs);
    EXPECT_EQ(r.resolution.paused_ms, Msk("2026-03-10T10:00:00+03:00") - Msk("2026-03-06T17:00:00+03:00"));
    ASSERT_EQ(r.resolution.pauses.size(), 1u);
    const Explanation why = Explain(r.resolution);
    EXPECT_EQ(why.paused_open_ms, 2 * kHourMs);
}

TEST_F(FoldTest, PriorityChangeReselectsTheTargetAndKeepsElapsedAndPausedTime) {
    // Normal: 8 h. Mon 09:00 created, waiting 10:00-11:00. Before the change: 09:00 + 8 h + 1 h pause = 18:00.
    Add(Event::Created(Msk("2026-03-02T09:00:00+03:00"), 1, Priority::kNormal, "Hardware", StageRole::kInProgress,
                       1, 12));
    Add(Event::StageMoved(Msk("2026-03-02T10:00:00+03:00"), 2, StageRole::kWaiting));
    Add(Event::StageMoved(Msk("2026-03-02T11:00:00+03:00"), 3, StageRole::kInProgress));
    Add(Event::PriorityChanged(Msk("2026-03-02T12:00:00+03:00"), 4, Priority::kUrgent));

    const FoldResult before = FoldAt("2026-03-02T11:59:00+03:00");
    const FoldResult after = FoldAt("2026-03-02T12:00:00+03:00");

    EXPECT_EQ(before.resolution.deadline, Msk("2026-03-02T18:00:00+03:00"));
    // Urgent: 4 h from the same start with the same pause: 09:00 + 4 h + 1 h = 14:00; 2 h already used.
    EXPECT_EQ(after.resolution.deadline, Msk("2026-03-02T14:00:00+03:00"));
    EXPECT_EQ(after.resolution.elapsed_business_ms, 2 * kHourMs);
    EXPECT_EQ(after.resolution.paused_ms, kHourMs);
    EXPECT_EQ(after.reselections, 1);
    EXPECT_EQ(after.priority, Priority::kUrgent);
}

TEST_F(FoldTest, AShorterTargetAfterTheFactBreachesAtItsOwnDeadline) {
    // 5 h used by 14:00; switching to urgent (4 h) makes the breach instant 13:00, in the past, and level 1 due.
    Add(Event::Created(Msk("2026-03-02T09:00:00+03:00"), 1, Priority::kNormal, "Hardware", StageRole::kInProgress,
                       1, 12));
    Add(Event::PriorityChanged(Msk("2026-03-02T14:00:00+03:00"), 2, Priority::kUrgent));

    const FoldResult r = FoldAt("2026-03-02T14:00:00+03:00");

    EXPECT_EQ(r.resolution.state, ClockState::kBreached);
    EXPECT_EQ(r.resolution.deadline, Msk("2026-03-02T13:00:00+03:00"));
    ASSERT_EQ(r.decisions.size(), 1u);  // the 50% warning is moot once breached
    EXPECT_EQ(r.decisions[0].kind, DecisionKind::kEscalate);
    EXPECT_EQ(r.decisions[0].due_at, Msk("2026-03-02T13:00:00+03:00"));
}

TEST_F(FoldTest, SimultaneousStopAndPauseEndTheInstantStopped) {
    // Both moves carry the same Bitrix24 second; the pause has the higher history id but stop outranks pause.
    Add(Event::Created(Msk("2026-03-02T09:00:00+03:00"), 1, Priority::kNormal, "Hardware", StageRole::kInProgress,
                       1, 12));
    Add(Event::StageMoved(Msk("2026-03-02T10:00:00+03:00"), 3, StageRole::kReview));
    Add(Event::StageMoved(Msk("2026-03-02T10:00:00+03:00"), 4, StageRole::kWaiting));

    const FoldResult r = FoldAt("2026-03-02T11:00:00+03:00");

    EXPECT_EQ(r.stage, StageRole::kReview);
    EXPECT_EQ(r.resolution.state, ClockState::kMet);
    EXPECT_EQ(r.resolution.stop, Msk("2026-03-02T10:00:00+03:00"));
    EXPECT_EQ(r.resolution.elapsed_business_ms, kHourMs);
}

TEST_F(FoldTest, CreatedAssignedAndTakenInTheSameInstantMeetsTheReactionAtOnce) {
    const TimeMs t = Msk("2026-03-02T09:30:00+03:00");
    Add(Event::StageMoved(t, 3, StageRole::kInProgress));
    Add(Event::Assigned(t, 2, 12));
    Add(Event::Created(t, 1, Priority::kHigh, "Hardware"));

    const FoldResult r = FoldAt("2026-03-02T09:31:00+03:00");

    EXPECT_EQ(r.reaction.state, ClockState::kMet);
    EXPECT_EQ(r.reaction.stop, t);
    EXPECT_TRUE(r.decisions.empty());
}

TEST_F(FoldTest, ReturnOpensANewCycleAndCountsAgainstTheResolver) {
    Add(Event::Created(Msk("2026-03-02T09:00:00+03:00"), 1, Priority::kNormal, "Hardware", StageRole::kInProgress,
                       1, 12));
    Add(Event::StageMoved(Msk("2026-03-02T11:00:00+03:00"), 2, StageRole::kReview, 1));
    Add(Event::Assigned(Msk("2026-03-03T09:00:00+03:00"), 3, 13));
    Add(Event::StageMoved(Msk("2026-03-03T10:00:00+03:00"), 4, StageRole::kInProgress, 1));

    const FoldResult r = FoldAt("2026-03-03T12:00:00+03:00");

    ASSERT_EQ(r.cycles.size(), 2u);
    EXPECT_TRUE(r.cycles[0].returned);
    EXPECT_EQ(r.cycles[0].resolver, 12);
    ASSERT_EQ(r.returns.size(), 1u);
    EXPECT_EQ(r.returns[0].resolver, 12);  // the assignee when it was resolved, not the one at the return
    EXPECT_EQ(r.resolution.cycle, 2);
    // Cycle 2: 8 h from Tue 10:00 = Tue 18:00. Total: 2 h on Monday + 2 h on Tuesday, review time excluded.
    EXPECT_EQ(r.resolution.deadline, Msk("2026-03-03T18:00:00+03:00"));
    EXPECT_EQ(r.resolution_total.elapsed_business_ms, 4 * kHourMs);
    EXPECT_EQ(r.resolution_total.deadline, Msk("2026-03-03T16:00:00+03:00"));
}

TEST_F(FoldTest, RejectionRecordsTheInstantThatCutTheOpenClocks) {
    Add(Event::Created(
        Msk("2026-03-02T09:00:00+03:00"), 1, Priority::kNormal, "Hardware", StageRole::kInProgress, 1, 12));
    EXPECT_FALSE(FoldAt("2026-03-02T09:30:00+03:00").cancelled_at);
    Add(Event::StageMoved(Msk("2026-03-02T10:00:00+03:00"), 2, StageRole::kWaiting));
    Add(Event::StageMoved(Msk("2026-03-02T10:30:00+03:00"), 3, StageRole::kInProgress));
    Add(Event::StageMoved(Msk("2026-03-02T11:00:00+03:00"), 4, StageRole::kRejected));

    const FoldResult r = FoldAt("2026-03-02T12:00:00+03:00");

    EXPECT_TRUE(r.cancelled);
    EXPECT_EQ(r.cancelled_at, Msk("2026-03-02T11:00:00+03:00"));
    EXPECT_EQ(r.resolution.state, ClockState::kCancelled);
    // The open clock ran until the rejection: 1 h 30 min of it, 30 min of which paused.
    EXPECT_EQ(r.resolution.elapsed_calendar_ms, 90 * kMinuteMs);
    EXPECT_EQ(r.resolution.paused_ms, 30 * kMinuteMs);
}

TEST_F(FoldTest, ACarriedOutDecisionIsNotDueAgain) {
    Add(Event::Created(Msk("2026-03-02T09:00:00+03:00"), 1, Priority::kNormal, "Hardware"));
    Add(Event::Simple(Msk("2026-03-02T09:00:00+03:00"), 2, EventKind::kRouted));

    const FoldResult first = FoldAt("2026-03-02T10:00:00+03:00");
    ASSERT_EQ(first.decisions.size(), 1u);
    // Reaction 2 h → the 50% warning at 10:00.
    EXPECT_EQ(first.decisions[0].kind, DecisionKind::kWarn);
    EXPECT_EQ(first.decisions[0].Key(7), "7/reaction/1/warn/0");
    Add(first.decisions[0].Record(Msk("2026-03-02T10:00:00+03:00"), 3));
    const FoldResult second = FoldAt("2026-03-02T10:00:00+03:00");

    EXPECT_TRUE(second.decisions.empty());
    ASSERT_TRUE(second.next_timer.has_value());
    // Next: the reaction breach at 11:00 (the resolution's 50% warning is at 13:00).
    EXPECT_EQ(second.next_timer->kind, TimerKind::kBreach);
    EXPECT_EQ(second.next_timer->metric, Metric::kReaction);
    EXPECT_EQ(second.next_timer->at, Msk("2026-03-02T11:00:00+03:00"));
}

TEST_F(FoldTest, FailsWithoutACreatedEventOrWithAMissingCalendar) {
    EXPECT_THAT(Fold(policy_, calendars_, ledger_, Msk("2026-03-02T10:00:00+03:00")), HasErrc(CoreErrc::kInvalid));
    Add(Event::Created(Msk("2026-03-02T09:00:00+03:00"), 1, Priority::kNormal, "Hardware"));
    policy_.targets[2].reaction.calendar = "nowhere";

    EXPECT_THAT(Fold(policy_, calendars_, ledger_, Msk("2026-03-02T10:00:00+03:00")), HasErrc(CoreErrc::kNotFound));
}

}  // namespace
}  // namespace dispatch::sla
