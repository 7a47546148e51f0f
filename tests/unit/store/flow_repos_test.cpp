// The flows repositories (store/flow_repos.hpp) on both backends: SQLite always, PostgreSQL when
// DISPATCH_TEST_PG_DSN is set (scripts/pg-test-server.sh start prints one).

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "backend_fixture.hpp"
#include "store/errc.hpp"

namespace dispatch::store {
namespace {

using testing::Action;
using testing::ActionKeys;
using testing::BackendTest;
using ::testing::ElementsAre;
using testing::Event;
using ::testing::IsEmpty;

constexpr TimeMs kLease = 30 * kSecondMs;
constexpr std::string_view kMember = "m-acme";

TicketKey Key(std::int64_t item, std::string member = std::string(kMember)) {
    TicketKey key;
    key.member_id = std::move(member);
    key.entity_type_id = 1032;
    key.item_id = item;
    return key;
}

TicketSnapshot Snap(const TicketKey& key, std::string stage, TimeMs at) {
    TicketSnapshot s;
    s.key = key;
    s.stage_id = std::move(stage);
    s.category_id = 7;
    s.assigned_by_id = 15;
    s.fields = R"({"priority":"urgent","template":"1C"})";
    s.last_history_id = 900;
    s.item_updated_at = at - kSecondMs;
    s.fetched_at = at;
    return s;
}

LedgerRow Entry(std::string kind, TimeMs at, std::string data = "{}") {
    LedgerRow row;
    row.kind = std::move(kind);
    row.at = at;
    row.data = std::move(data);
    return row;
}

TimerArm SlaArm(const TicketKey& key, TimeMs due, std::int64_t version = 1) {
    TimerArm arm;
    arm.member_id = key.member_id;
    arm.kind = "sla";
    arm.subject = key.Subject();
    arm.due_at = due;
    arm.version = version;
    arm.payload = fmt::format(R"({{"threshold":"reaction","due":{}}})", due);
    return arm;
}

std::vector<std::string> TimerSubjects(const std::vector<DueTimer>& timers) {
    std::vector<std::string> subjects;
    for (const auto& t : timers) {
        subjects.push_back(t.timer.subject);
    }
    return subjects;
}

std::vector<std::int64_t> Seqs(const std::vector<LedgerRow>& rows) {
    std::vector<std::int64_t> seqs;
    for (const auto& r : rows) {
        seqs.push_back(r.seq);
    }
    return seqs;
}

class FlowTest : public BackendTest {
protected:
    // Everything the flows tables hold for the test portal, as text: "nothing left behind" is "Dump() unchanged".
    std::string Dump(const TicketKey& key) {
        std::string out;
        auto state = store_->Tickets().Load(key);
        EXPECT_THAT(state, IsOk());
        if (state && state->snapshot) {
            const auto& s = *state->snapshot;
            out += fmt::format(
                "snapshot v{} {} {} {} {}\n", s.version, s.stage_id, s.assigned_by_id, s.fields, s.fetched_at);
        }
        for (const auto& r : state ? state->ledger : std::vector<LedgerRow>{}) {
            out += fmt::format("ledger {} {} {} {}\n", r.seq, r.kind, r.at, r.data);
        }
        auto timers = store_->Timers().List(kMember);
        EXPECT_THAT(timers, IsOk());
        for (const auto& t : timers ? *timers : std::vector<DueTimer>{}) {
            out += fmt::format("timer {} {} {} {} {} {}\n",
                               t.id,
                               t.timer.kind,
                               t.timer.subject,
                               t.timer.due_at,
                               t.timer.payload,
                               t.attempt);
        }
        auto actions = store_->Outbox().List(kMember);
        EXPECT_THAT(actions, IsOk());
        for (const auto& a : actions ? *actions : std::vector<ClaimedAction>{}) {
            out += fmt::format("action {} {} {}\n", a.id, a.action.idempotency_key, a.attempt);
        }
        auto inbox = store_->Inbox().Depth();
        EXPECT_THAT(inbox, IsOk());
        if (inbox) {
            out += fmt::format("inbox {} {} {}\n", inbox->pending, inbox->claimed, inbox->dead);
        }
        return out;
    }

    // Commits a first snapshot (version 1) with one ledger row.
    void Seed(const TicketKey& key) {
        TicketCommit c;
        c.snapshot = Snap(key, "DT1032_7:NEW", kT0);
        c.append = {Entry("created", kT0)};
        ASSERT_THAT(store_->Tickets().Commit(c, kT0), IsOk());
    }

    ClaimedEvent ClaimOneEvent(TimeMs now) { return TakeOne(store_->Inbox().Claim(1, now, kLease), "inbox row"); }
    DueTimer ClaimOneTimer(TimeMs now) { return TakeOne(store_->Timers().Claim(1, now, kLease), "timer"); }

    template <class T>
    static T TakeOne(const Result<std::vector<T>>& claimed, const char* what) {
        EXPECT_THAT(claimed, IsOk());
        if (!claimed || claimed->size() != 1) {
            ADD_FAILURE() << "expected one " << what;
            return {};
        }
        return claimed->front();
    }

    // Makes the next outbox INSERT of an action with method "refuse" fail inside the database: a commit that fails
    // at its very last step.
    Result<void> RefuseOutboxMethod() {
        if (GetParam() == "postgres") {
            return ExecRaw(
                "CREATE FUNCTION outbox_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.method = 'refuse' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$; "
                "CREATE TRIGGER outbox_refuse BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_refuse();");
        }
        return ExecRaw(
            "CREATE TRIGGER outbox_refuse BEFORE INSERT ON outbox WHEN NEW.method = 'refuse' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END;");
    }
};

// ---- settings -------------------------------------------------------------------------------------------------

using SettingsRepoTest = FlowTest;

TEST_P(SettingsRepoTest, PutThenGetReturnsTheDocument) {
    const std::string layout = R"({"entityTypeId":1032,"categories":{"line1":7}})";

    ASSERT_THAT(store_->Settings().Put(kMember, "layout", layout, kT0), IsOk());

    auto read = store_->Settings().Get(kMember, "layout");
    ASSERT_THAT(read, IsOk());
    EXPECT_EQ(*read, layout);
}

TEST_P(SettingsRepoTest, AbsentSettingIsNotFound) {
    ASSERT_THAT(store_->Settings().Put(kMember, "layout", "{}", kT0), IsOk());

    EXPECT_THAT(store_->Settings().Get(kMember, "reconcile"), HasErrc(Errc::kNotFound));
    EXPECT_THAT(store_->Settings().Get("m-other", "layout"), HasErrc(Errc::kNotFound));
}

TEST_P(SettingsRepoTest, PutReplacesAndEachPortalHasItsOwn) {
    ASSERT_THAT(store_->Settings().Put(kMember, "reconcile", R"({"since":1})", kT0), IsOk());
    ASSERT_THAT(store_->Settings().Put("m-other", "reconcile", R"({"since":5})", kT0), IsOk());

    ASSERT_THAT(store_->Settings().Put(kMember, "reconcile", R"({"since":2})", kT0 + 1), IsOk());

    auto acme = store_->Settings().Get(kMember, "reconcile");
    auto other = store_->Settings().Get("m-other", "reconcile");
    ASSERT_THAT(acme, IsOk());
    ASSERT_THAT(other, IsOk());
    EXPECT_EQ(*acme, R"({"since":2})");
    EXPECT_EQ(*other, R"({"since":5})");
}

TEST_P(SettingsRepoTest, EmptyKeysAndTextThatIsNotJsonAreRefused) {
    EXPECT_THAT(store_->Settings().Put("", "layout", "{}", kT0), HasErrc(Errc::kInvalidArgument));
    EXPECT_THAT(store_->Settings().Put(kMember, "", "{}", kT0), HasErrc(Errc::kInvalidArgument));
    EXPECT_THAT(store_->Settings().Put(kMember, "layout", "{not json", kT0), HasErrc(Errc::kInvalidArgument));
    EXPECT_THAT(store_->Settings().Get(kMember, "layout"), HasErrc(Errc::kNotFound));
}

TEST_P(SettingsRepoTest, SettingsSurviveReopening) {
    // No portal row exists: a webhook-mode portal keeps settings too.
    ASSERT_THAT(store_->Settings().Put(kMember, "layout", "[1,2]", kT0), IsOk());

    ASSERT_TRUE(Reopen());

    auto read = store_->Settings().Get(kMember, "layout");
    ASSERT_THAT(read, IsOk());
    EXPECT_EQ(*read, "[1,2]");
}

// ---- tickets --------------------------------------------------------------------------------------------------

using TicketRepoTest = FlowTest;

TEST_P(TicketRepoTest, UnknownTicketLoadsEmpty) {
    auto state = store_->Tickets().Load(Key(42));

    ASSERT_THAT(state, IsOk());
    EXPECT_FALSE(state->snapshot.has_value());
    EXPECT_THAT(state->ledger, IsEmpty());
}

TEST_P(TicketRepoTest, FirstCommitStoresVersionOneAndNumbersTheLedger) {
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0);
    c.snapshot.closed = true;
    c.snapshot.version = 99;  // ignored
    c.append = {Entry("created", kT0 - 5 * kSecondMs, R"({"by":15})"), Entry("assigned", kT0 - kSecondMs)};

    auto version = store_->Tickets().Commit(c, kT0 + 3);

    ASSERT_THAT(version, IsOk());
    EXPECT_EQ(*version, 1);
    auto state = store_->Tickets().Load(Key(42));
    ASSERT_THAT(state, IsOk());
    ASSERT_TRUE(state->snapshot.has_value());
    TicketSnapshot expected = c.snapshot;
    expected.version = 1;
    EXPECT_EQ(*state->snapshot, expected);
    ASSERT_EQ(state->ledger.size(), 2u);
    EXPECT_EQ(state->ledger[0].seq, 1);
    EXPECT_EQ(state->ledger[0].kind, "created");
    EXPECT_EQ(state->ledger[0].at, kT0 - 5 * kSecondMs);
    EXPECT_EQ(state->ledger[0].data, R"({"by":15})");
    EXPECT_EQ(state->ledger[0].recorded_at, kT0 + 3);
    EXPECT_EQ(state->ledger[1].seq, 2);
    EXPECT_EQ(state->ledger[1].kind, "assigned");
}

TEST_P(TicketRepoTest, NextCommitSwapsFromTheReadVersionAndContinuesTheLedger) {
    Seed(Key(42));
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:IN_PROGRESS", kT0 + kMinuteMs);
    c.expected_version = 1;
    c.append = {Entry("stage_moved", kT0 + kMinuteMs), Entry("assigned", kT0 + kMinuteMs)};

    auto version = store_->Tickets().Commit(c, kT0 + kMinuteMs);

    ASSERT_THAT(version, IsOk());
    EXPECT_EQ(*version, 2);
    auto state = store_->Tickets().Load(Key(42));
    ASSERT_THAT(state, IsOk());
    EXPECT_EQ(state->snapshot->stage_id, "DT1032_7:IN_PROGRESS");
    EXPECT_EQ(state->snapshot->version, 2);
    EXPECT_THAT(Seqs(state->ledger), ElementsAre(1, 2, 3));
    EXPECT_EQ(state->ledger[2].kind, "assigned");
}

TEST_P(TicketRepoTest, CommitWithNothingToAppendStillBumpsTheVersion) {
    Seed(Key(42));
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0 + kMinuteMs);
    c.expected_version = 1;

    auto version = store_->Tickets().Commit(c, kT0 + kMinuteMs);

    ASSERT_THAT(version, IsOk());
    EXPECT_EQ(*version, 2);
    auto state = store_->Tickets().Load(Key(42));
    ASSERT_THAT(state, IsOk());
    EXPECT_EQ(state->snapshot->fetched_at, kT0 + kMinuteMs);
    EXPECT_THAT(Seqs(state->ledger), ElementsAre(1));
}

TEST_P(TicketRepoTest, StaleVersionConflictsAndLeavesNothingBehind) {
    Seed(Key(42));
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e1", 42, kT0)), IsOk());
    const ClaimedEvent event = ClaimOneEvent(kT0);
    const std::string before = Dump(Key(42));
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:DONE", kT0 + kMinuteMs);
    c.expected_version = 0;  // as if it had never been stored: someone else committed first
    c.append = {Entry("stage_moved", kT0 + kMinuteMs)};
    c.arm = SlaArm(Key(42), kT0 + kHourMs);
    c.actions = {Action("a1", Key(42).Subject(), kT0)};
    c.inbox = Fence{event.id, event.attempt};

    EXPECT_THAT(store_->Tickets().Commit(c, kT0 + kMinuteMs), HasErrc(Errc::kConflict));
    c.expected_version = 2;
    EXPECT_THAT(store_->Tickets().Commit(c, kT0 + kMinuteMs), HasErrc(Errc::kConflict));

    EXPECT_EQ(Dump(Key(42)), before);
    // The inbox row is still held by its claim: the worker can fail it and retry from a fresh read.
    EXPECT_THAT(store_->Inbox().Complete(event.id, event.attempt, kT0), IsOk());
}

TEST_P(TicketRepoTest, OfManyCommitsFromOneVersionExactlyOneWins) {
    Seed(Key(42));
    constexpr int kWriters = 6;
    std::atomic<int> won{0};
    std::atomic<int> conflicted{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back([&, w] {
            TicketCommit c;
            c.snapshot = Snap(Key(42), fmt::format("STAGE_{}", w), kT0 + w);
            c.expected_version = 1;
            c.append = {Entry("stage_moved", kT0 + w), Entry("assigned", kT0 + w)};
            c.actions = {Action(fmt::format("w{}", w), Key(42).Subject(), kT0)};
            auto committed = store_->Tickets().Commit(c, kT0 + w);
            if (committed) {
                ++won;
            } else if (committed.error().code == make_error_code(Errc::kConflict)) {
                ++conflicted;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }

    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(conflicted.load(), kWriters - 1);
    auto state = store_->Tickets().Load(Key(42));
    ASSERT_THAT(state, IsOk());
    EXPECT_EQ(state->snapshot->version, 2);
    EXPECT_THAT(Seqs(state->ledger), ElementsAre(1, 2, 3));
    auto actions = store_->Outbox().List(kMember);
    ASSERT_THAT(actions, IsOk());
    ASSERT_EQ(actions->size(), 1u);
    EXPECT_EQ("STAGE_" + actions->front().action.idempotency_key.substr(1), state->snapshot->stage_id)
        << "the winner's action is the one queued";
}

TEST_P(TicketRepoTest, CommitCompletesTheInboxRowThatCausedIt) {
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e1", 42, kT0)), IsOk());
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e2", 42, kT0)), IsOk());
    const ClaimedEvent event = ClaimOneEvent(kT0);
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0);
    c.append = {Entry("created", kT0)};
    c.inbox = Fence{event.id, event.attempt};

    ASSERT_THAT(store_->Tickets().Commit(c, kT0), IsOk());

    auto depth = store_->Inbox().Depth();
    ASSERT_THAT(depth, IsOk());
    EXPECT_EQ(depth->claimed, 0);
    EXPECT_EQ(depth->pending, 1);
    // e1 is finished, so the ticket's next row is claimable; completing e1 again is a lost lease.
    EXPECT_EQ(ClaimOneEvent(kT0).event.dedup_key, "e2");
    EXPECT_THAT(store_->Inbox().Complete(event.id, event.attempt, kT0), HasErrc(Errc::kLeaseLost));
}

TEST_P(TicketRepoTest, LostInboxLeaseLeavesNothingBehind) {
    Seed(Key(42));
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e1", 42, kT0)), IsOk());
    const ClaimedEvent stale = ClaimOneEvent(kT0);
    const ClaimedEvent current = ClaimOneEvent(kT0 + kLease);  // the lease expired: another worker took the row
    ASSERT_EQ(current.attempt, 2);
    const std::string before = Dump(Key(42));
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:IN_PROGRESS", kT0 + kLease);
    c.expected_version = 1;
    c.append = {Entry("stage_moved", kT0 + kLease)};
    c.arm = SlaArm(Key(42), kT0 + kHourMs);
    c.actions = {Action("a1", Key(42).Subject(), kT0)};
    c.inbox = Fence{stale.id, stale.attempt};

    EXPECT_THAT(store_->Tickets().Commit(c, kT0 + kLease), HasErrc(Errc::kLeaseLost));

    EXPECT_EQ(Dump(Key(42)), before);
    c.inbox = Fence{current.id, current.attempt};
    EXPECT_THAT(store_->Tickets().Commit(c, kT0 + kLease), IsOk()) << "the current holder commits the same work";
}

TEST_P(TicketRepoTest, FailureAtTheLastStepLeavesNothingBehind) {
    Seed(Key(42));
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0 + kMinuteMs)), IsOk());
    const DueTimer fired = ClaimOneTimer(kT0 + kMinuteMs);
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e1", 42, kT0)), IsOk());
    const ClaimedEvent event = ClaimOneEvent(kT0);
    ASSERT_THAT(RefuseOutboxMethod(), IsOk());
    const std::string before = Dump(Key(42));
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:IN_PROGRESS", kT0 + kMinuteMs);
    c.expected_version = 1;
    c.append = {Entry("warning", kT0 + kMinuteMs), Entry("escalated", kT0 + kMinuteMs)};
    c.arm = SlaArm(Key(42), kT0 + kHourMs);
    c.actions = {Action("a1", Key(42).Subject(), kT0), Action("a2", Key(42).Subject(), kT0)};
    c.actions[1].method = "refuse";
    c.inbox = Fence{event.id, event.attempt};
    c.timer = Fence{fired.id, fired.attempt};

    auto failed = store_->Tickets().Commit(c, kT0 + kMinuteMs);

    EXPECT_FALSE(failed);
    EXPECT_EQ(Dump(Key(42)), before) << "snapshot, ledger, timer, inbox and the first action all rolled back";
    EXPECT_THAT(store_->Timers().Complete(Fence{fired.id, fired.attempt}), IsOk()) << "the timer lease still holds";
}

TEST_P(TicketRepoTest, CommitArmsThenDisarmsTheTicketsSlaTimer) {
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0);
    c.append = {Entry("created", kT0)};
    c.arm = SlaArm(Key(42), kT0 + 20 * kMinuteMs, 1);
    ASSERT_THAT(store_->Tickets().Commit(c, kT0), IsOk());

    auto armed = store_->Timers().List(kMember);
    ASSERT_THAT(armed, IsOk());
    ASSERT_EQ(armed->size(), 1u);
    EXPECT_EQ(armed->front().timer.kind, "sla");
    EXPECT_EQ(armed->front().timer.subject, Key(42).Subject());
    EXPECT_EQ(armed->front().timer.due_at, kT0 + 20 * kMinuteMs);
    EXPECT_EQ(armed->front().timer.version, 1);
    EXPECT_EQ(armed->front().timer.payload, c.arm->payload);

    TicketCommit done;
    done.snapshot = Snap(Key(42), "DT1032_7:SUCCESS", kT0 + kMinuteMs);
    done.snapshot.closed = true;
    done.expected_version = 1;
    done.append = {Entry("closed", kT0 + kMinuteMs)};
    done.disarm = true;
    ASSERT_THAT(store_->Tickets().Commit(done, kT0 + kMinuteMs), IsOk());

    auto disarmed = store_->Timers().List(kMember);
    ASSERT_THAT(disarmed, IsOk());
    EXPECT_THAT(*disarmed, IsEmpty());
}

TEST_P(TicketRepoTest, CommitCompletesTheFiredTimer) {
    Seed(Key(42));
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0 + kMinuteMs)), IsOk());
    const DueTimer fired = ClaimOneTimer(kT0 + kMinuteMs);
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0 + kMinuteMs);
    c.expected_version = 1;
    c.append = {Entry("breached", kT0 + kMinuteMs)};
    c.timer = Fence{fired.id, fired.attempt};

    ASSERT_THAT(store_->Tickets().Commit(c, kT0 + kMinuteMs), IsOk());

    auto timers = store_->Timers().List(kMember);
    ASSERT_THAT(timers, IsOk());
    EXPECT_THAT(*timers, IsEmpty());
    EXPECT_THAT(store_->Timers().Complete(Fence{fired.id, fired.attempt}), HasErrc(Errc::kLeaseLost));
}

TEST_P(TicketRepoTest, CommitThatReArmsTheFiredTimerLeavesItPendingAtTheNewDue) {
    Seed(Key(42));
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0 + kMinuteMs)), IsOk());
    const DueTimer fired = ClaimOneTimer(kT0 + kMinuteMs);
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0 + kMinuteMs);
    c.expected_version = 1;
    c.append = {Entry("warning", kT0 + kMinuteMs)};
    c.arm = SlaArm(Key(42), kT0 + kHourMs, 2);
    c.timer = Fence{fired.id, fired.attempt};

    ASSERT_THAT(store_->Tickets().Commit(c, kT0 + kMinuteMs), IsOk());

    auto next_due = store_->Timers().NextDue();
    ASSERT_THAT(next_due, IsOk());
    EXPECT_EQ(*next_due, kT0 + kHourMs);
    EXPECT_THAT(store_->Timers().Complete(Fence{fired.id, fired.attempt}), HasErrc(Errc::kLeaseLost));
    const DueTimer again = ClaimOneTimer(kT0 + kHourMs);
    EXPECT_EQ(again.timer.version, 2);
    EXPECT_EQ(again.tries, 1);
}

TEST_P(TicketRepoTest, LostTimerLeaseLeavesNothingBehind) {
    Seed(Key(42));
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0 + kMinuteMs)), IsOk());
    const DueTimer fired = ClaimOneTimer(kT0 + kMinuteMs);
    // An event's commit re-armed the ticket's timer while the timer runner was working on the old one.
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0 + kHourMs)), IsOk());
    ASSERT_THAT(store_->Inbox().AppendAndWait(Event("e1", 42, kT0)), IsOk());
    const ClaimedEvent event = ClaimOneEvent(kT0);
    const std::string before = Dump(Key(42));
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0 + kMinuteMs);
    c.expected_version = 1;
    c.append = {Entry("breached", kT0 + kMinuteMs)};
    c.actions = {Action("a1", Key(42).Subject(), kT0)};
    c.inbox = Fence{event.id, event.attempt};  // valid, and completed before the timer fence fails
    c.timer = Fence{fired.id, fired.attempt};

    EXPECT_THAT(store_->Tickets().Commit(c, kT0 + kMinuteMs), HasErrc(Errc::kLeaseLost));

    EXPECT_EQ(Dump(Key(42)), before);
}

TEST_P(TicketRepoTest, QueuedActionsWithStoredKeysAreSkipped) {
    TicketCommit c;
    c.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0);
    c.actions = {Action("k1", Key(42).Subject(), kT0), Action("k2", Key(42).Subject(), kT0)};
    ASSERT_THAT(store_->Tickets().Commit(c, kT0), IsOk());
    TicketCommit again;
    again.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0 + 1);
    again.expected_version = 1;
    again.actions = {Action("k2", Key(42).Subject(), kT0 + 1), Action("k3", Key(42).Subject(), kT0 + 1)};
    again.actions[0].params = R"({"changed":true})";

    ASSERT_THAT(store_->Tickets().Commit(again, kT0 + 1), IsOk());

    auto actions = store_->Outbox().List(kMember);
    ASSERT_THAT(actions, IsOk());
    EXPECT_THAT(ActionKeys(*actions), ElementsAre("k1", "k2", "k3"));
    EXPECT_EQ((*actions)[1].action.params, Action("k2", "", 0).params) << "the first queued k2 stays as it was";
}

TEST_P(TicketRepoTest, InvalidCommitIsRefusedBeforeAnythingIsWritten) {
    TicketCommit bad_fields;
    bad_fields.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0);
    bad_fields.snapshot.fields = "[1]";
    TicketCommit both;
    both.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0);
    both.arm = SlaArm(Key(42), kT0);
    both.disarm = true;
    TicketCommit no_key;
    no_key.snapshot = Snap(Key(42, ""), "DT1032_7:NEW", kT0);
    TicketCommit bad_action;
    bad_action.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0);
    bad_action.actions = {Action("", Key(42).Subject(), kT0)};
    TicketCommit bad_ledger;
    bad_ledger.snapshot = Snap(Key(42), "DT1032_7:NEW", kT0);
    bad_ledger.append = {Entry("created", kT0, "not json")};

    for (const auto* c : {&bad_fields, &both, &no_key, &bad_action, &bad_ledger}) {
        EXPECT_THAT(store_->Tickets().Commit(*c, kT0), HasErrc(Errc::kInvalidArgument));
    }

    auto state = store_->Tickets().Load(Key(42));
    ASSERT_THAT(state, IsOk());
    EXPECT_FALSE(state->snapshot.has_value());
}

TEST_P(TicketRepoTest, ListGivesOpenTicketsInItemOrderAndClosedOnesOnRequest) {
    for (std::int64_t item : {30, 10, 20}) {
        TicketCommit c;
        c.snapshot = Snap(Key(item), "DT1032_7:NEW", kT0);
        c.snapshot.closed = item == 20;
        ASSERT_THAT(store_->Tickets().Commit(c, kT0), IsOk());
    }
    TicketCommit other;
    other.snapshot = Snap(Key(5, "m-other"), "DT1032_7:NEW", kT0);
    ASSERT_THAT(store_->Tickets().Commit(other, kT0), IsOk());

    auto open = store_->Tickets().List(kMember, false);
    auto all = store_->Tickets().List(kMember, true);

    ASSERT_THAT(open, IsOk());
    ASSERT_THAT(all, IsOk());
    ASSERT_EQ(open->size(), 2u);
    EXPECT_EQ((*open)[0].key, Key(10));
    EXPECT_EQ((*open)[1].key, Key(30));
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[1].key, Key(20));
    EXPECT_TRUE((*all)[1].closed);
    EXPECT_EQ((*all)[1].fields, Snap(Key(20), "", 0).fields);
}

TEST_P(TicketRepoTest, LedgersGroupEveryTicketOfThePortalInItemOrder) {
    for (std::int64_t item : {20, 10}) {
        TicketCommit c;
        c.snapshot = Snap(Key(item), "DT1032_7:NEW", kT0);
        c.append = {Entry("created", kT0 + item), Entry("assigned", kT0 + item + 1)};
        ASSERT_THAT(store_->Tickets().Commit(c, kT0), IsOk());
    }
    TicketCommit more;
    more.snapshot = Snap(Key(10), "DT1032_7:REVIEW", kT0);
    more.expected_version = 1;
    more.append = {Entry("review", kT0 + 100)};
    ASSERT_THAT(store_->Tickets().Commit(more, kT0), IsOk());
    TicketCommit other;
    other.snapshot = Snap(Key(15, "m-other"), "DT1032_7:NEW", kT0);
    other.append = {Entry("created", kT0)};
    ASSERT_THAT(store_->Tickets().Commit(other, kT0), IsOk());

    auto ledgers = store_->Tickets().Ledgers(kMember);

    ASSERT_THAT(ledgers, IsOk());
    ASSERT_EQ(ledgers->size(), 2u);
    EXPECT_EQ((*ledgers)[0].first, Key(10));
    EXPECT_THAT(Seqs((*ledgers)[0].second), ElementsAre(1, 2, 3));
    EXPECT_EQ((*ledgers)[0].second[2].kind, "review");
    EXPECT_EQ((*ledgers)[1].first, Key(20));
    EXPECT_THAT(Seqs((*ledgers)[1].second), ElementsAre(1, 2));
    EXPECT_EQ((*ledgers)[1].second[0].at, kT0 + 20);
}

TEST_P(TicketRepoTest, CommittedLedgerRowsCannotBeChangedOrDeleted) {
    Seed(Key(42));

    EXPECT_FALSE(ExecRaw("UPDATE ledger SET kind = 'edited' WHERE item_id = 42"));
    EXPECT_FALSE(ExecRaw("DELETE FROM ledger WHERE item_id = 42"));

    auto state = store_->Tickets().Load(Key(42));
    ASSERT_THAT(state, IsOk());
    ASSERT_EQ(state->ledger.size(), 1u);
    EXPECT_EQ(state->ledger[0].kind, "created");
}

TEST_P(TicketRepoTest, TicketsSurviveReopening) {
    Seed(Key(42));

    ASSERT_TRUE(Reopen());

    auto state = store_->Tickets().Load(Key(42));
    ASSERT_THAT(state, IsOk());
    ASSERT_TRUE(state->snapshot.has_value());
    EXPECT_EQ(state->snapshot->version, 1);
    EXPECT_THAT(Seqs(state->ledger), ElementsAre(1));
}

// ---- timers ---------------------------------------------------------------------------------------------------

using TimerRepoTest = FlowTest;

TEST_P(TimerRepoTest, ArmedTimerIsClaimedOnlyOnceDue) {
    const TimerArm arm = SlaArm(Key(42), kT0 + kMinuteMs, 3);
    ASSERT_THAT(store_->Timers().Arm(arm), IsOk());

    auto early = store_->Timers().Claim(10, kT0 + kMinuteMs - 1, kLease);
    auto due = store_->Timers().Claim(10, kT0 + kMinuteMs, kLease);

    ASSERT_THAT(early, IsOk());
    EXPECT_THAT(*early, IsEmpty());
    ASSERT_THAT(due, IsOk());
    ASSERT_EQ(due->size(), 1u);
    const DueTimer& t = due->front();
    EXPECT_EQ(t.timer.member_id, kMember);
    EXPECT_EQ(t.timer.kind, "sla");
    EXPECT_EQ(t.timer.subject, Key(42).Subject());
    EXPECT_EQ(t.timer.due_at, kT0 + kMinuteMs);
    EXPECT_EQ(t.timer.version, 3);
    EXPECT_EQ(t.timer.payload, arm.payload);
    EXPECT_EQ(t.attempt, 1);
    EXPECT_EQ(t.tries, 1);
    auto held = store_->Timers().Claim(10, kT0 + kMinuteMs, kLease);
    ASSERT_THAT(held, IsOk());
    EXPECT_THAT(*held, IsEmpty());
}

TEST_P(TimerRepoTest, ArmingAgainReplacesTheOneRowOfItsKindAndSubject) {
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0 + kHourMs, 1)), IsOk());
    TimerArm reconcile;
    reconcile.member_id = std::string(kMember);
    reconcile.kind = "reconcile";
    reconcile.subject = std::string(kMember);
    reconcile.due_at = kT0 + kDayMs;
    ASSERT_THAT(store_->Timers().Arm(reconcile), IsOk());

    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0 + kMinuteMs, 2)), IsOk());

    auto timers = store_->Timers().List(kMember);
    ASSERT_THAT(timers, IsOk());
    ASSERT_EQ(timers->size(), 2u);
    EXPECT_EQ((*timers)[0].timer.kind, "sla");
    EXPECT_EQ((*timers)[0].timer.due_at, kT0 + kMinuteMs);
    EXPECT_EQ((*timers)[0].timer.version, 2);
    EXPECT_EQ((*timers)[0].timer.payload, SlaArm(Key(42), kT0 + kMinuteMs).payload);
    EXPECT_EQ((*timers)[1].timer.kind, "reconcile");
}

TEST_P(TimerRepoTest, ClaimTakesTheEarliestFirstUpToMax) {
    for (std::int64_t item : {3, 1, 2, 4}) {
        ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(item), kT0 + item * kSecondMs)), IsOk());
    }

    auto claimed = store_->Timers().Claim(3, kT0 + kMinuteMs, kLease);

    ASSERT_THAT(claimed, IsOk());
    EXPECT_THAT(TimerSubjects(*claimed), ElementsAre(Key(1).Subject(), Key(2).Subject(), Key(3).Subject()));
    auto rest = store_->Timers().Claim(3, kT0 + kMinuteMs, kLease);
    ASSERT_THAT(rest, IsOk());
    EXPECT_THAT(TimerSubjects(*rest), ElementsAre(Key(4).Subject()));
}

TEST_P(TimerRepoTest, NextDueIsTheEarliestPendingTimeOrLeaseEnd) {
    auto none = store_->Timers().NextDue();
    ASSERT_THAT(none, IsOk());
    EXPECT_FALSE(none->has_value());
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(1), kT0 + kMinuteMs)), IsOk());
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(2), kT0 + kHourMs)), IsOk());

    auto first = store_->Timers().NextDue();
    ClaimOneTimer(kT0 + kMinuteMs);
    auto while_leased = store_->Timers().NextDue();

    ASSERT_THAT(first, IsOk());
    EXPECT_EQ(*first, kT0 + kMinuteMs);
    ASSERT_THAT(while_leased, IsOk());
    EXPECT_EQ(*while_leased, kT0 + kMinuteMs + kLease) << "a crashed runner's timer comes back at its lease end";
}

TEST_P(TimerRepoTest, ExpiredLeaseIsClaimedAgainAndFencesTheOldHolder) {
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0)), IsOk());
    const DueTimer first = ClaimOneTimer(kT0);

    auto before_expiry = store_->Timers().Claim(1, kT0 + kLease - 1, kLease);
    const DueTimer second = ClaimOneTimer(kT0 + kLease);

    ASSERT_THAT(before_expiry, IsOk());
    EXPECT_THAT(*before_expiry, IsEmpty());
    EXPECT_EQ(second.id, first.id);
    EXPECT_EQ(second.attempt, 2);
    EXPECT_THAT(store_->Timers().Complete(Fence{first.id, first.attempt}), HasErrc(Errc::kLeaseLost));
    EXPECT_THAT(store_->Timers().Fail(Fence{first.id, first.attempt}, "late", kT0, 5), HasErrc(Errc::kLeaseLost));
    EXPECT_THAT(store_->Timers().Complete(Fence{second.id, second.attempt}), IsOk());
}

TEST_P(TimerRepoTest, CompleteRemovesTheTimer) {
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0)), IsOk());
    const DueTimer t = ClaimOneTimer(kT0);

    ASSERT_THAT(store_->Timers().Complete(Fence{t.id, t.attempt}), IsOk());

    auto timers = store_->Timers().List(kMember);
    ASSERT_THAT(timers, IsOk());
    EXPECT_THAT(*timers, IsEmpty());
    EXPECT_THAT(store_->Timers().Complete(Fence{t.id, t.attempt}), HasErrc(Errc::kLeaseLost));
}

TEST_P(TimerRepoTest, ReArmingALeasedTimerFencesItsHolderForGood) {
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0)), IsOk());
    const DueTimer stale = ClaimOneTimer(kT0);

    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0 + kMinuteMs)), IsOk());

    EXPECT_THAT(store_->Timers().Complete(Fence{stale.id, stale.attempt}), HasErrc(Errc::kLeaseLost));
    const DueTimer fresh = ClaimOneTimer(kT0 + kMinuteMs);
    EXPECT_EQ(fresh.tries, 1) << "a re-armed timer starts its tries again";
    EXPECT_NE(fresh.attempt, stale.attempt) << "but never reuses a fencing token";
    EXPECT_THAT(store_->Timers().Complete(Fence{stale.id, stale.attempt}), HasErrc(Errc::kLeaseLost));
    EXPECT_THAT(store_->Timers().Complete(Fence{fresh.id, fresh.attempt}), IsOk());
}

TEST_P(TimerRepoTest, CompletedTimerIdIsNeverGivenToALaterTimer) {
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(1), kT0)), IsOk());
    const DueTimer done = ClaimOneTimer(kT0);
    ASSERT_THAT(store_->Timers().Complete(Fence{done.id, done.attempt}), IsOk());

    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(2), kT0)), IsOk());
    const DueTimer next = ClaimOneTimer(kT0);

    EXPECT_NE(next.id, done.id) << "(id, attempt) of the removed timer would otherwise fence the new one";
}

TEST_P(TimerRepoTest, FailureRetriesAtTheGivenTimeThenDeadLetters) {
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0)), IsOk());
    const DueTimer first = ClaimOneTimer(kT0);

    ASSERT_THAT(store_->Timers().Fail(Fence{first.id, first.attempt}, "b24 503", kT0 + kMinuteMs, 2), IsOk());

    auto next_due = store_->Timers().NextDue();
    ASSERT_THAT(next_due, IsOk());
    EXPECT_EQ(*next_due, kT0 + kMinuteMs);
    auto too_early = store_->Timers().Claim(1, kT0 + kMinuteMs - 1, kLease);
    ASSERT_THAT(too_early, IsOk());
    EXPECT_THAT(*too_early, IsEmpty());
    const DueTimer second = ClaimOneTimer(kT0 + kMinuteMs);
    EXPECT_EQ(second.tries, 2);
    EXPECT_EQ(second.timer.due_at, kT0) << "due_at stays the threshold; only the retry time moved";

    ASSERT_THAT(store_->Timers().Fail(Fence{second.id, second.attempt}, "b24 503", kT0 + kHourMs, 2), IsOk());

    auto after = store_->Timers().Claim(1, kT0 + kDayMs, kLease);
    ASSERT_THAT(after, IsOk());
    EXPECT_THAT(*after, IsEmpty()) << "dead after 2 tries";
    auto none = store_->Timers().NextDue();
    ASSERT_THAT(none, IsOk());
    EXPECT_FALSE(none->has_value());
    auto listed = store_->Timers().List(kMember);
    ASSERT_THAT(listed, IsOk());
    EXPECT_EQ(listed->size(), 1u) << "a dead timer stays for operators";
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(42), kT0 + kDayMs)), IsOk());
    EXPECT_EQ(ClaimOneTimer(kT0 + kDayMs).tries, 1) << "arming again revives it";
}

TEST_P(TimerRepoTest, ListShowsOnlyThePortalsTimersInDueOrder) {
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(1), kT0 + 2)), IsOk());
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(2), kT0 + 1)), IsOk());
    ASSERT_THAT(store_->Timers().Arm(SlaArm(Key(3, "m-other"), kT0)), IsOk());

    auto timers = store_->Timers().List(kMember);

    ASSERT_THAT(timers, IsOk());
    EXPECT_THAT(TimerSubjects(*timers), ElementsAre(Key(2).Subject(), Key(1).Subject()));
}

TEST_P(TimerRepoTest, TimerWithoutSubjectOrWithBadPayloadIsRefused) {
    TimerArm no_subject = SlaArm(Key(1), kT0);
    no_subject.subject.clear();
    TimerArm bad_payload = SlaArm(Key(1), kT0);
    bad_payload.payload = "nope";

    EXPECT_THAT(store_->Timers().Arm(no_subject), HasErrc(Errc::kInvalidArgument));
    EXPECT_THAT(store_->Timers().Arm(bad_payload), HasErrc(Errc::kInvalidArgument));
}

// ---- outbox ---------------------------------------------------------------------------------------------------

using OutboxRepoTest = FlowTest;

TEST_P(OutboxRepoTest, EnqueueCountsNewActionsAndSkipsStoredKeys) {
    auto first = store_->Outbox().Enqueue({Action("k1", "s1", kT0), Action("k2", "s2", kT0)});
    auto second = store_->Outbox().Enqueue({Action("k2", "s2", kT0), Action("k3", "s3", kT0)});

    ASSERT_THAT(first, IsOk());
    EXPECT_EQ(*first, 2);
    ASSERT_THAT(second, IsOk());
    EXPECT_EQ(*second, 1);
    auto listed = store_->Outbox().List(kMember);
    ASSERT_THAT(listed, IsOk());
    EXPECT_THAT(ActionKeys(*listed), ElementsAre("k1", "k2", "k3"));
}

TEST_P(OutboxRepoTest, ClaimedActionCarriesEverythingQueued) {
    OutboxAction a = Action("k1", Key(42).Subject(), kT0 - 5);
    ASSERT_THAT(store_->Outbox().Enqueue({a}), IsOk());

    auto claimed = store_->Outbox().Claim(10, kT0, kLease);

    ASSERT_THAT(claimed, IsOk());
    ASSERT_EQ(claimed->size(), 1u);
    const ClaimedAction& c = claimed->front();
    EXPECT_EQ(c.action.member_id, a.member_id);
    EXPECT_EQ(c.action.idempotency_key, a.idempotency_key);
    EXPECT_EQ(c.action.method, a.method);
    EXPECT_EQ(c.action.params, a.params);
    EXPECT_EQ(c.action.subject, a.subject);
    EXPECT_EQ(c.action.next_try_at, a.next_try_at);
    EXPECT_EQ(c.action.created_at, a.created_at);
    EXPECT_EQ(c.attempt, 1);
}

TEST_P(OutboxRepoTest, ClaimTakesOnePortalTheOneOfTheOldestAction) {
    ASSERT_THAT(store_->Outbox().Enqueue({Action("o1", "o/1", kT0, "m-other"),
                                          Action("a1", "a/1", kT0),
                                          Action("o2", "o/2", kT0, "m-other"),
                                          Action("a2", "a/2", kT0)}),
                IsOk());

    auto first = store_->Outbox().Claim(10, kT0, kLease);
    auto second = store_->Outbox().Claim(10, kT0, kLease);

    ASSERT_THAT(first, IsOk());
    EXPECT_THAT(ActionKeys(*first), ElementsAre("o1", "o2"));
    ASSERT_THAT(second, IsOk());
    EXPECT_THAT(ActionKeys(*second), ElementsAre("a1", "a2"));
}

TEST_P(OutboxRepoTest, OneSubjectsActionsLeaveInTheOrderQueued) {
    ASSERT_THAT(
        store_->Outbox().Enqueue(
            {Action("a1", "s/a", kT0), Action("b1", "s/b", kT0), Action("a2", "s/a", kT0), Action("a3", "s/a", kT0)}),
        IsOk());

    auto first = store_->Outbox().Claim(10, kT0, kLease);
    auto while_held = store_->Outbox().Claim(10, kT0, kLease);

    ASSERT_THAT(first, IsOk());
    EXPECT_THAT(ActionKeys(*first), ElementsAre("a1", "b1"));
    ASSERT_THAT(while_held, IsOk());
    EXPECT_THAT(*while_held, IsEmpty()) << "a2 waits until a1 is finished";
    ASSERT_THAT(store_->Outbox().Complete(Fence{first->front().id, first->front().attempt}, kT0), IsOk());
    auto next = store_->Outbox().Claim(10, kT0, kLease);
    ASSERT_THAT(next, IsOk());
    EXPECT_THAT(ActionKeys(*next), ElementsAre("a2"));
}

TEST_P(OutboxRepoTest, ActionsWithoutSubjectAreNotOrdered) {
    ASSERT_THAT(store_->Outbox().Enqueue({Action("x1", "", kT0), Action("x2", "", kT0)}), IsOk());

    auto claimed = store_->Outbox().Claim(10, kT0, kLease);

    ASSERT_THAT(claimed, IsOk());
    EXPECT_THAT(ActionKeys(*claimed), ElementsAre("x1", "x2"));
}

TEST_P(OutboxRepoTest, RetryHoldsTheSubjectBackAndDeadReleasesIt) {
    ASSERT_THAT(store_->Outbox().Enqueue({Action("a1", "s/a", kT0), Action("a2", "s/a", kT0)}), IsOk());
    auto c1 = store_->Outbox().Claim(10, kT0, kLease);
    ASSERT_THAT(c1, IsOk());
    ASSERT_THAT(ActionKeys(*c1), ElementsAre("a1"));

    ASSERT_THAT(store_->Outbox().Fail(Fence{c1->front().id, 1}, "503", kT0 + kMinuteMs, kT0), IsOk());

    auto backing_off = store_->Outbox().Claim(10, kT0 + kMinuteMs - 1, kLease);
    ASSERT_THAT(backing_off, IsOk());
    EXPECT_THAT(*backing_off, IsEmpty()) << "a1 backs off and a2 waits behind it";
    auto next_ready = store_->Outbox().NextReady();
    ASSERT_THAT(next_ready, IsOk());
    EXPECT_EQ(*next_ready, kT0 + kMinuteMs);
    auto c2 = store_->Outbox().Claim(10, kT0 + kMinuteMs, kLease);
    ASSERT_THAT(c2, IsOk());
    ASSERT_THAT(ActionKeys(*c2), ElementsAre("a1"));
    EXPECT_EQ(c2->front().attempt, 2);

    ASSERT_THAT(store_->Outbox().Fail(Fence{c2->front().id, 2}, "ACCESS_DENIED", std::nullopt, kT0 + kMinuteMs),
                IsOk());

    auto c3 = store_->Outbox().Claim(10, kT0 + kMinuteMs, kLease);
    ASSERT_THAT(c3, IsOk());
    EXPECT_THAT(ActionKeys(*c3), ElementsAre("a2")) << "a dead action holds nothing back";
    auto depth = store_->Outbox().Depth();
    ASSERT_THAT(depth, IsOk());
    EXPECT_EQ(depth->dead, 1);
    EXPECT_EQ(depth->leased, 1);
}

TEST_P(OutboxRepoTest, DeadActionsAreListedAndRevivedUnlessALaterOneOfTheirTicketWentOut) {
    OutboxAction note = Action("b0", "s/b", kT0);
    note.method = "im.notify";
    ASSERT_THAT(
        store_->Outbox().Enqueue(
            {Action("a1", "s/a", kT0), Action("a2", "s/a", kT0), Action("b1", "s/b", kT0), Action("k", "", kT0), note}),
        IsOk());
    auto first = store_->Outbox().Claim(10, kT0, kLease);
    ASSERT_THAT(first, IsOk());
    ASSERT_THAT(ActionKeys(*first), ElementsAre("a1", "b1", "k"));
    for (const auto& c : *first) {
        ASSERT_THAT(
            store_->Outbox().Fail(
                Fence{c.id, c.attempt}, "ACCESS_DENIED " + c.action.idempotency_key, std::nullopt, kT0 + kSecondMs),
            IsOk());
    }
    auto later = store_->Outbox().Claim(10, kT0, kLease);
    ASSERT_THAT(later, IsOk());
    ASSERT_THAT(ActionKeys(*later), ElementsAre("a2", "b0"));
    for (const auto& c : *later) {  // a newer write of ticket a, a notification about ticket b
        ASSERT_THAT(store_->Outbox().Complete(Fence{c.id, 1}, kT0), IsOk());
    }

    auto dead = store_->Outbox().ListDead(kMember, 10);
    ASSERT_THAT(dead, IsOk());
    ASSERT_EQ(dead->size(), 3U);
    EXPECT_EQ(dead->at(0).claimed.action.idempotency_key, "a1");
    EXPECT_TRUE(dead->at(0).superseded) << "a2, the same method, went out after it";
    EXPECT_EQ(dead->at(1).claimed.action.idempotency_key, "b1");
    EXPECT_FALSE(dead->at(1).superseded) << "a notification overwrites nothing";
    EXPECT_EQ(dead->at(1).last_error, "ACCESS_DENIED b1");
    EXPECT_EQ(dead->at(1).claimed.tries, 1);
    EXPECT_EQ(dead->at(1).dead_at, kT0 + kSecondMs);
    EXPECT_FALSE(dead->at(2).superseded) << "actions without a ticket are not ordered";
    auto elsewhere = store_->Outbox().ListDead("m-other", 10);
    ASSERT_THAT(elsewhere, IsOk());
    EXPECT_THAT(*elsewhere, IsEmpty());

    ASSERT_THAT(store_->Outbox().Enqueue({Action("b2", "s/b", kT0)}), IsOk());  // queued while b1 was dead
    auto revived = store_->Outbox().Revive(kMember, {}, kT0 + kMinuteMs);
    ASSERT_THAT(revived, IsOk());
    EXPECT_EQ(*revived, 2);
    auto superseded = store_->Outbox().Revive(kMember, {dead->at(0).claimed.id}, kT0 + kMinuteMs);
    ASSERT_THAT(superseded, IsOk());
    EXPECT_EQ(*superseded, 0);

    auto early = store_->Outbox().Claim(10, kT0 + kMinuteMs - 1, kLease);
    ASSERT_THAT(early, IsOk());
    EXPECT_THAT(ActionKeys(*early), IsEmpty()) << "revived for the instant given, b2 waiting behind b1";
    auto again = store_->Outbox().Claim(10, kT0 + kMinuteMs, kLease);
    ASSERT_THAT(again, IsOk());
    ASSERT_THAT(ActionKeys(*again), ElementsAre("b1", "k"));
    EXPECT_EQ(again->front().attempt, 2) << "attempt numbers go on counting";
    EXPECT_EQ(again->front().tries, 1) << "the retry policy counts afresh";
    EXPECT_THAT(store_->Outbox().Complete(Fence{again->front().id, 1}, kT0), HasErrc(Errc::kLeaseLost));
    auto still = store_->Outbox().ListDead(kMember, 10);
    ASSERT_THAT(still, IsOk());
    ASSERT_EQ(still->size(), 1U);
    EXPECT_EQ(still->front().claimed.action.idempotency_key, "a1");
}

TEST_P(OutboxRepoTest, DepthOfCountsOnePortalsActionsUnderAKeyPrefix) {
    ASSERT_THAT(store_->Outbox().Enqueue({Action("m-acme/kpi/month:2026-03:all/add", "m-acme/kpi/a", kT0),
                                          Action("m-acme/kpi/year:2026:all/add", "m-acme/kpi/b", kT0),
                                          Action("m-acme/ticket/7/route", "m-acme/ticket/7", kT0),
                                          Action("m2/kpi/month:2026-03:all/add", "m2/kpi/a", kT0, "m2"),
                                          Action("m-acme-2/kpi/x/add", "m-acme-2/kpi/x", kT0, "m-acme-2")}),
                IsOk());
    auto claimed = store_->Outbox().Claim(10, kT0, kLease);
    ASSERT_THAT(claimed, IsOk());
    for (const auto& c : *claimed) {
        if (c.action.idempotency_key == "m-acme/kpi/year:2026:all/add") {
            ASSERT_THAT(store_->Outbox().Complete(Fence{c.id, c.attempt}, kT0), IsOk());
        }
    }

    auto kpi = store_->Outbox().DepthOf(kMember, "m-acme/kpi/");
    auto none = store_->Outbox().DepthOf(kMember, "m-acme/nothing/");

    ASSERT_THAT(kpi, IsOk());
    EXPECT_EQ(kpi->pending + kpi->leased, 1);
    EXPECT_EQ(kpi->done, 1);
    ASSERT_THAT(none, IsOk());
    EXPECT_EQ(none->pending + none->leased + none->done + none->dead, 0);
}

TEST_P(OutboxRepoTest, ActionNotYetDueIsNotClaimedAndNextReadyTellsWhen) {
    auto nothing = store_->Outbox().NextReady();
    ASSERT_THAT(nothing, IsOk());
    EXPECT_FALSE(nothing->has_value());
    ASSERT_THAT(store_->Outbox().Enqueue({Action("later", "s/1", kT0 + kHourMs), Action("soon", "s/2", kT0 + 5)}),
                IsOk());

    auto early = store_->Outbox().Claim(10, kT0, kLease);
    auto next = store_->Outbox().NextReady();

    ASSERT_THAT(early, IsOk());
    EXPECT_THAT(*early, IsEmpty());
    ASSERT_THAT(next, IsOk());
    EXPECT_EQ(*next, kT0 + 5);
    auto soon = store_->Outbox().Claim(10, kT0 + 5, kLease);
    ASSERT_THAT(soon, IsOk());
    EXPECT_THAT(ActionKeys(*soon), ElementsAre("soon"));
    auto after_claim = store_->Outbox().NextReady();
    ASSERT_THAT(after_claim, IsOk());
    EXPECT_EQ(*after_claim, kT0 + 5 + kLease) << "the lease end comes before the later action";
}

TEST_P(OutboxRepoTest, ExpiredLeaseIsClaimedAgainAndFencesTheOldHolder) {
    ASSERT_THAT(store_->Outbox().Enqueue({Action("k1", "s/1", kT0)}), IsOk());
    auto first = store_->Outbox().Claim(1, kT0, kLease);
    ASSERT_THAT(first, IsOk());
    ASSERT_EQ(first->size(), 1u);

    auto before_expiry = store_->Outbox().Claim(1, kT0 + kLease - 1, kLease);
    auto after_expiry = store_->Outbox().Claim(1, kT0 + kLease, kLease);

    ASSERT_THAT(before_expiry, IsOk());
    EXPECT_THAT(*before_expiry, IsEmpty());
    ASSERT_THAT(after_expiry, IsOk());
    ASSERT_EQ(after_expiry->size(), 1u);
    EXPECT_EQ(after_expiry->front().attempt, 2);
    const Fence stale{first->front().id, 1};
    const Fence current{first->front().id, 2};
    EXPECT_THAT(store_->Outbox().Complete(stale, kT0 + kLease), HasErrc(Errc::kLeaseLost));
    EXPECT_THAT(store_->Outbox().Fail(stale, "late", kT0, kT0), HasErrc(Errc::kLeaseLost));
    EXPECT_THAT(store_->Outbox().Complete(current, kT0 + kLease), IsOk());
    EXPECT_THAT(store_->Outbox().Complete(current, kT0 + kLease), HasErrc(Errc::kLeaseLost));
}

TEST_P(OutboxRepoTest, DepthCountsEveryState) {
    ASSERT_THAT(
        store_->Outbox().Enqueue(
            {Action("k1", "s/1", kT0), Action("k2", "s/2", kT0), Action("k3", "s/3", kT0), Action("k4", "s/4", kT0)}),
        IsOk());
    auto claimed = store_->Outbox().Claim(3, kT0, kLease);
    ASSERT_THAT(claimed, IsOk());
    ASSERT_EQ(claimed->size(), 3u);
    ASSERT_THAT(store_->Outbox().Complete(Fence{(*claimed)[0].id, 1}, kT0), IsOk());
    ASSERT_THAT(store_->Outbox().Fail(Fence{(*claimed)[1].id, 1}, "gone", std::nullopt, kT0), IsOk());

    auto depth = store_->Outbox().Depth();

    ASSERT_THAT(depth, IsOk());
    EXPECT_EQ(depth->pending, 1);
    EXPECT_EQ(depth->leased, 1);
    EXPECT_EQ(depth->done, 1);
    EXPECT_EQ(depth->dead, 1);
}

TEST_P(OutboxRepoTest, InvalidActionsAreRefusedAsAWhole) {
    OutboxAction bad = Action("k2", "s/2", kT0);
    bad.params = "[]";

    EXPECT_THAT(store_->Outbox().Enqueue({Action("k1", "s/1", kT0), bad}), HasErrc(Errc::kInvalidArgument));

    auto listed = store_->Outbox().List(kMember);
    ASSERT_THAT(listed, IsOk());
    EXPECT_THAT(*listed, IsEmpty());
}

// Two store instances over one database claiming side by side: every subject's actions still leave one at a time
// and in the order queued.
TEST_P(OutboxRepoTest, TwoInstancesClaimingTogetherKeepSubjectOrder) {
    constexpr int kSubjects = 4;
    constexpr int kPerSubject = 10;
    std::vector<OutboxAction> actions;
    for (int i = 0; i < kPerSubject; ++i) {
        for (int s = 0; s < kSubjects; ++s) {
            actions.push_back(Action(fmt::format("s{}-{:02}", s, i), fmt::format("s/{}", s), kT0));
        }
    }
    ASSERT_THAT(store_->Outbox().Enqueue(actions), IsOk());
    auto other = Open();
    ASSERT_THAT(other, IsOk());
    std::mutex mu;
    std::vector<std::vector<std::string>> sent(kSubjects);
    std::vector<bool> held(kSubjects, false);
    std::atomic<int> violations{0};
    std::atomic<int> done{0};
    auto sender = [&](Store& store) {
        for (int round = 0; round < 2000 && done.load() < kSubjects * kPerSubject; ++round) {
            auto claimed = store.Outbox().Claim(3, kT0, kHourMs);
            if (!claimed) {
                ++violations;
                return;
            }
            for (const auto& c : *claimed) {
                const auto s = static_cast<std::size_t>(c.action.subject.back() - '0');
                std::lock_guard guard(mu);
                if (held[s]) {
                    ++violations;  // two actions of one subject held at once
                }
                held[s] = true;
                sent[s].push_back(c.action.idempotency_key);
            }
            for (const auto& c : *claimed) {
                {
                    // Released before Complete: the subject's next action can only be claimed after it commits.
                    std::lock_guard guard(mu);
                    held[static_cast<std::size_t>(c.action.subject.back() - '0')] = false;
                }
                if (!store.Outbox().Complete(Fence{c.id, c.attempt}, kT0)) {
                    ++violations;
                }
                ++done;
            }
        }
    };

    std::thread a(sender, std::ref(*store_));
    std::thread b(sender, std::ref(**other));
    a.join();
    b.join();

    EXPECT_EQ(violations.load(), 0);
    EXPECT_EQ(done.load(), kSubjects * kPerSubject);
    for (int s = 0; s < kSubjects; ++s) {
        std::vector<std::string> expected;
        for (int i = 0; i < kPerSubject; ++i) {
            expected.push_back(fmt::format("s{}-{:02}", s, i));
        }
        EXPECT_EQ(sent[static_cast<std::size_t>(s)], expected) << "subject " << s;
    }
}

// ---- migration 0003 over a database that already holds 0002's tables -----------------------------------------

using FlowMigrationTest = FlowTest;

TEST_P(FlowMigrationTest, RowsWrittenBefore0003AreReadAfterIt) {
    // A database built by 0001 and 0002 only, as deployed before the flows repositories existed.
    dispatch::testing::TempDir old_schemas;
    for (const char* file : {"0001_core.sql", "0002_flows.sql"}) {
        std::filesystem::copy_file(dispatch::testing::SourcePath("schemas/" + GetParam() + "/" + file),
                                   old_schemas.File(file));
    }
    migrations_dir_ = old_schemas.Path().string();
    Wipe();
    ASSERT_TRUE(Reopen());
    store_.reset();
    ASSERT_THAT(ExecRaw("INSERT INTO ticket_snapshots (member_id, entity_type_id, item_id, stage_id, fields, "
                        "fetched_at, version) VALUES ('m-acme', 1032, 42, 'DT1032_7:NEW', '{}', 5, 3)"),
                IsOk());
    ASSERT_THAT(ExecRaw("INSERT INTO timers (member_id, kind, subject, due_at, state, attempts, lease_until) "
                        "VALUES ('m-acme', 'sla', 'm-acme/1032/42', 100, 'leased', 1, 200)"),
                IsOk());
    ASSERT_THAT(ExecRaw("INSERT INTO outbox (member_id, idempotency_key, method, next_try_at, created_at) "
                        "VALUES ('m-acme', 'k1', 'crm.item.update', 0, 0)"),
                IsOk());

    migrations_dir_.clear();
    ASSERT_TRUE(Reopen());

    auto state = store_->Tickets().Load(Key(42));
    ASSERT_THAT(state, IsOk());
    ASSERT_TRUE(state->snapshot.has_value());
    EXPECT_EQ(state->snapshot->version, 3);
    EXPECT_EQ(state->snapshot->category_id, 0);
    EXPECT_FALSE(state->snapshot->closed);
    auto next_due = store_->Timers().NextDue();
    ASSERT_THAT(next_due, IsOk());
    EXPECT_EQ(*next_due, 200) << "a timer leased before the upgrade comes back at its lease end";
    const DueTimer reclaimed = ClaimOneTimer(200);
    EXPECT_EQ(reclaimed.attempt, 2);
    EXPECT_EQ(reclaimed.tries, 2);
    auto actions = store_->Outbox().Claim(10, 0, kLease);
    ASSERT_THAT(actions, IsOk());
    EXPECT_THAT(ActionKeys(*actions), ElementsAre("k1"));
    EXPECT_EQ(actions->front().action.subject, "");
}

INSTANTIATE_TEST_SUITE_P(Backends, SettingsRepoTest, ::testing::Values("sqlite", "postgres"), testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, TicketRepoTest, ::testing::Values("sqlite", "postgres"), testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, TimerRepoTest, ::testing::Values("sqlite", "postgres"), testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, OutboxRepoTest, ::testing::Values("sqlite", "postgres"), testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, FlowMigrationTest, ::testing::Values("sqlite", "postgres"), testing::BackendName);

}  // namespace
}  // namespace dispatch::store
