#include "sla/ledger.hpp"

#include <gtest/gtest.h>

#include "core/errc.hpp"
#include "support/test_support.hpp"

namespace dispatch::sla {
namespace {

constexpr TimeMs kT0 = 1'772'431'200'000;  // 2026-03-02T09:00:00+03:00
constexpr TimeMs kT1 = kT0 + kHourMs;

std::vector<EventKind> Kinds(const Ledger& ledger) {
    std::vector<EventKind> out;
    for (const Event& e : ledger.Events()) {
        out.push_back(e.kind);
    }
    return out;
}

TEST(Ledger, SimultaneousEventsFollowTheDocumentedPrecedenceNotTheirSequence) {
    Ledger ledger(1);
    ASSERT_TRUE(ledger.Append(Event::Created(kT0, 1, Priority::kNormal, "Hardware")).has_value());
    // One Bitrix24 instant, appended with sequence numbers in an order that disagrees with the precedence.
    ASSERT_TRUE(ledger.Append(Event::Record(kT1, 2, EventKind::kWarned, Metric::kReaction, 1, 0)).has_value());
    ASSERT_TRUE(ledger.Append(Event::StageMoved(kT1, 3, StageRole::kRejected)).has_value());
    ASSERT_TRUE(ledger.Append(Event::StageMoved(kT1, 4, StageRole::kReview)).has_value());
    ASSERT_TRUE(ledger.Append(Event::StageMoved(kT1, 5, StageRole::kWaiting)).has_value());
    ASSERT_TRUE(ledger.Append(Event::StageMoved(kT1, 6, StageRole::kInProgress)).has_value());
    ASSERT_TRUE(ledger.Append(Event::Assigned(kT1, 7, 12)).has_value());

    std::vector<std::pair<EventKind, std::int64_t>> order;
    for (const Event& e : ledger.Events()) {
        order.emplace_back(e.kind, e.seq);
    }

    // start, attribute (assigned 7), resume (6), pause (5), stop (4), cancel (3), record (2).
    const std::vector<std::pair<EventKind, std::int64_t>> expected{
        {EventKind::kCreated, 1},    {EventKind::kAssigned, 7},   {EventKind::kStageMoved, 6},
        {EventKind::kStageMoved, 5}, {EventKind::kStageMoved, 4}, {EventKind::kStageMoved, 3},
        {EventKind::kWarned, 2}};
    EXPECT_EQ(order, expected);
}

TEST(Ledger, WithinOnePrecedenceClassTheLowerSequenceComesFirst) {
    Ledger ledger(1);
    ASSERT_TRUE(ledger.Append(Event::Created(kT0, 1, Priority::kNormal, "Hardware")).has_value());
    ASSERT_TRUE(ledger.Append(Event::PriorityChanged(kT1, 9, Priority::kHigh)).has_value());
    ASSERT_TRUE(ledger.Append(Event::Assigned(kT1, 8, 12)).has_value());

    EXPECT_EQ(ledger.Events()[1].seq, 8);
    EXPECT_EQ(ledger.Events()[2].seq, 9);
}

TEST(Ledger, LeavingReviewForWorkDerivesAReturnedEventWithTheResolver) {
    Ledger ledger(1);
    ASSERT_TRUE(ledger.Append(Event::Created(kT0, 1, Priority::kNormal, "Hardware", StageRole::kInProgress, 1, 12))
                    .has_value());
    ASSERT_TRUE(ledger.Append(Event::StageMoved(kT1, 2, StageRole::kReview, 1)).has_value());
    ASSERT_TRUE(ledger.Append(Event::Assigned(kT1 + kHourMs, 3, 13)).has_value());
    ASSERT_TRUE(ledger.Append(Event::StageMoved(kT1 + 2 * kHourMs, 4, StageRole::kInProgress, 1)).has_value());

    const std::vector<EventKind> expected{EventKind::kCreated, EventKind::kStageMoved, EventKind::kAssigned,
                                          EventKind::kReturned, EventKind::kStageMoved};
    EXPECT_EQ(Kinds(ledger), expected);
    const Event& returned = ledger.Events()[3];
    EXPECT_EQ(returned.at, kT1 + 2 * kHourMs);
    EXPECT_EQ(returned.assignee, 12);
    EXPECT_EQ(returned.cycle, 1);
}

TEST(Ledger, AnOutOfOrderEventRederivesTheReturns) {
    Ledger ledger(1);
    ASSERT_TRUE(ledger.Append(Event::Created(kT0, 1, Priority::kNormal, "Hardware", StageRole::kInProgress, 1, 12))
                    .has_value());
    ASSERT_TRUE(ledger.Append(Event::StageMoved(kT1 + kHourMs, 3, StageRole::kInProgress)).has_value());
    ASSERT_EQ(Kinds(ledger).size(), 2u);

    // Reconciliation finds the missed move to review that happened before.
    ASSERT_TRUE(ledger.Append(Event::StageMoved(kT1, 2, StageRole::kReview)).has_value());

    const std::vector<EventKind> expected{EventKind::kCreated, EventKind::kStageMoved, EventKind::kReturned,
                                          EventKind::kStageMoved};
    EXPECT_EQ(Kinds(ledger), expected);
}

TEST(Ledger, RejectsASecondCreationAnEarlierEventADuplicateAndADirectReturn) {
    Ledger ledger(1);
    ASSERT_TRUE(ledger.Append(Event::Created(kT1, 1, Priority::kNormal, "Hardware")).has_value());

    EXPECT_THAT(ledger.Append(Event::Created(kT1, 2, Priority::kNormal, "")), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(ledger.Append(Event::StageMoved(kT0, 3, StageRole::kQueued)), HasErrc(CoreErrc::kInvalid));
    ASSERT_TRUE(ledger.Append(Event::StageMoved(kT1, 4, StageRole::kQueued)).has_value());
    EXPECT_THAT(ledger.Append(Event::StageMoved(kT1, 4, StageRole::kQueued)), HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(ledger.Append(Event::Simple(kT1, 5, EventKind::kReturned)), HasErrc(CoreErrc::kInvalid));
    EXPECT_EQ(ledger.Events().size(), 2u);
}

}  // namespace
}  // namespace dispatch::sla
