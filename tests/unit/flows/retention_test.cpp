// The flows runtime's retention job: when it runs (on the runtime's clock, a ManualClock here), what one pass
// deletes, and that the worker loop runs it on that schedule.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/errc.hpp"
#include "flows/runtime.hpp"
#include "sla/policy.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "support/test_support.hpp"

namespace dispatch::flows {
namespace {

constexpr TimeMs kT0 = 1'772'442'000'000;  // 2026-03-02T09:00:00Z
constexpr TimeMs kRetention = 30 * kDayMs;
constexpr TimeMs kEvery = kHourMs;

class Retention : public ::testing::Test {
protected:
    void SetUp() override {
        store::SqliteOptions options;
        options.path = dir_.File("dispatch.db");
        auto opened = store::OpenSqliteStore(options, clock_);
        ASSERT_THAT(opened, IsOk());
        store_ = std::move(*opened);
        auto raw = store::sqlite::Connection::Open(options.path, {});
        ASSERT_THAT(raw, IsOk());
        raw_ = std::move(*raw);
    }

    void TearDown() override {
        runtime_.reset();
        raw_.reset();
        store_.reset();
    }

    std::unique_ptr<Runtime> MakeRuntime(RuntimeOptions options) {
        options.retention_every = kEvery;
        // No portal answers: nothing in these tests may reach one.
        ClientFor none = [](std::string_view) -> Result<b24::Client*> {
            return Fail(CoreErrc::kNotFound, "no portal in this test");
        };
        return std::make_unique<Runtime>(*store_, engine_, clock_, none, std::move(options));
    }

    // A row finished at `done_at` (dead and pending ones never finished). The newest row of each table is never
    // purged (its id would come back), so tests end the tables with a dead row.
    void DoneInbox(const std::string& key, TimeMs done_at, const std::string& state = "done") {
        ASSERT_THAT(raw_->Exec(fmt::format("INSERT INTO inbox (member_id, received_at, kind, dedup_key, state, "
                                           "available_at, done_at) VALUES ('m', {0}, 'event', '{1}', '{2}', {0}, {3})",
                                           done_at - kMinuteMs,
                                           key,
                                           state,
                                           state == "done" ? std::to_string(done_at) : "NULL")),
                    IsOk());
    }
    void DoneOutbox(const std::string& key, TimeMs done_at, const std::string& state = "done") {
        ASSERT_THAT(raw_->Exec(fmt::format("INSERT INTO outbox (member_id, idempotency_key, method, subject, state, "
                                           "next_try_at, created_at, done_at) VALUES ('m', '{1}', 'crm.item.update', "
                                           "'m/1/2', '{2}', {0}, {0}, {3})",
                                           done_at - kMinuteMs,
                                           key,
                                           state,
                                           state == "done" ? std::to_string(done_at) : "NULL")),
                    IsOk());
    }
    std::string Keys(const std::string& table, const std::string& key) {
        auto text = raw_->QueryText(fmt::format(
            "SELECT COALESCE(group_concat(k, ','), '') FROM (SELECT {} AS k FROM {} ORDER BY id)", key, table));
        EXPECT_THAT(text, IsOk());
        return text ? *text : "";
    }
    std::string InboxKeys() { return Keys("inbox", "dedup_key"); }
    std::string OutboxKeys() { return Keys("outbox", "idempotency_key"); }

    dispatch::testing::TempDir dir_;
    ManualClock clock_{kT0};
    sla::Policy policy_;
    sla::CalendarSet calendars_;
    Engine engine_{policy_, calendars_};
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<store::sqlite::Connection> raw_;
    std::unique_ptr<Runtime> runtime_;
};

TEST_F(Retention, APassDeletesDoneRowsOlderThanTheRetentionAndKeepsTheRest) {
    DoneInbox("old", kT0 - kRetention - 1);
    DoneInbox("young", kT0 - kRetention + kMinuteMs);
    DoneInbox("dead", 0, "dead");
    DoneOutbox("old", kT0 - kRetention - 1);
    DoneOutbox("pending", 0, "pending");
    DoneOutbox("young", kT0 - kRetention + kMinuteMs);
    DoneOutbox("dead", 0, "dead");
    RuntimeOptions options;
    options.retention = kRetention;
    runtime_ = MakeRuntime(options);

    auto purged = runtime_->PurgeDone();

    ASSERT_THAT(purged, IsOk());
    EXPECT_EQ(purged->cutoff, kT0 - kRetention);
    EXPECT_EQ(purged->inbox, 1);
    EXPECT_EQ(purged->outbox, 1);
    EXPECT_EQ(purged->chunks, 2);
    EXPECT_FALSE(purged->more);
    EXPECT_EQ(InboxKeys(), "young,dead");
    EXPECT_EQ(OutboxKeys(), "pending,young,dead");
}

TEST_F(Retention, RunsAtTheFirstLookThenEveryPeriodOnTheRuntimeClock) {
    DoneInbox("a", kT0 - kRetention - kHourMs);
    DoneInbox("b", kT0 - kRetention + 30 * kMinuteMs);  // old enough half an hour from now
    DoneInbox("dead", 0, "dead");
    RuntimeOptions options;
    options.retention = kRetention;
    runtime_ = MakeRuntime(options);

    auto first = runtime_->PurgeDoneIfDue();
    ASSERT_THAT(first, IsOk());
    ASSERT_TRUE(first->has_value()) << "due at the first look";
    EXPECT_EQ((*first)->inbox, 1);
    EXPECT_EQ(InboxKeys(), "b,dead");
    EXPECT_EQ(runtime_->PurgedSoFar(), (std::pair<std::int64_t, std::int64_t>(1, 0)));

    clock_.Advance(kEvery - 1);
    auto early = runtime_->PurgeDoneIfDue();
    ASSERT_THAT(early, IsOk());
    EXPECT_FALSE(early->has_value()) << "not due before the period";
    EXPECT_EQ(InboxKeys(), "b,dead") << "b is old enough now, but the job has not run";

    clock_.Advance(1);
    auto second = runtime_->PurgeDoneIfDue();
    ASSERT_THAT(second, IsOk());
    ASSERT_TRUE(second->has_value());
    EXPECT_EQ((*second)->cutoff, kT0 + kEvery - kRetention);
    EXPECT_EQ((*second)->inbox, 1);
    EXPECT_EQ(InboxKeys(), "dead");
    EXPECT_EQ(runtime_->PurgedSoFar(), (std::pair<std::int64_t, std::int64_t>(2, 0))) << "since start, for /metrics";
}

TEST_F(Retention, APassStopsAfterItsChunksAndIsDueAgainAtOnce) {
    for (int i = 0; i < 5; ++i) {
        DoneInbox(fmt::format("i{}", i), kT0 - kRetention - kDayMs + i);
    }
    DoneInbox("dead", 0, "dead");
    DoneOutbox("o0", kT0 - kRetention - kDayMs);
    DoneOutbox("dead", 0, "dead");
    RuntimeOptions options;
    options.retention = kRetention;
    options.retention_chunk = 2;
    options.retention_chunks_per_pass = 3;
    runtime_ = MakeRuntime(options);

    auto first = runtime_->PurgeDoneIfDue();
    ASSERT_THAT(first, IsOk());
    ASSERT_TRUE(first->has_value());
    // inbox 2, outbox 1 (a short chunk: the outbox is finished), inbox 2: three chunks, one inbox row left.
    EXPECT_EQ((*first)->inbox, 4);
    EXPECT_EQ((*first)->outbox, 1);
    EXPECT_EQ((*first)->chunks, 3);
    EXPECT_TRUE((*first)->more);
    EXPECT_EQ(InboxKeys(), "i4,dead");

    auto second = runtime_->PurgeDoneIfDue();  // same instant
    ASSERT_THAT(second, IsOk());
    ASSERT_TRUE(second->has_value()) << "rows were left: due again without waiting for the period";
    EXPECT_EQ((*second)->inbox, 1);
    EXPECT_FALSE((*second)->more);
    EXPECT_EQ(InboxKeys(), "dead");
    EXPECT_EQ(OutboxKeys(), "dead");

    auto third = runtime_->PurgeDoneIfDue();
    ASSERT_THAT(third, IsOk());
    EXPECT_FALSE(third->has_value());
}

TEST_F(Retention, ZeroRetentionKeepsEverything) {
    DoneInbox("old", kT0 - 400 * kDayMs);
    DoneInbox("dead", 0, "dead");
    RuntimeOptions options;
    options.retention = 0;
    runtime_ = MakeRuntime(options);

    auto result = runtime_->PurgeDoneIfDue();

    ASSERT_THAT(result, IsOk());
    EXPECT_FALSE(result->has_value());
    EXPECT_EQ(InboxKeys(), "old,dead");
}

TEST_F(Retention, TheWorkerRunsItAtStartAndAgainWhenTheClockReachesThePeriod) {
    DoneInbox("old", kT0 - kRetention - 1);
    DoneInbox("dead", 0, "dead");
    DoneOutbox("old", kT0 - kRetention - 1);
    DoneOutbox("dead", 0, "dead");
    RuntimeOptions options;
    options.retention = kRetention;
    // The manual clock moves only when told: the loops wait for Wake(), as in dispatchd on a manual clock.
    options.real_delay = [](TimeMs) -> std::optional<std::chrono::milliseconds> { return std::nullopt; };
    options.idle_recheck = std::chrono::hours(1);
    runtime_ = MakeRuntime(options);

    runtime_->Start();
    ASSERT_TRUE(dispatch::testing::WaitFor(
        [&] { return InboxKeys() == "dead" && OutboxKeys() == "dead"; }, std::chrono::seconds(10), "first pass"));

    // Old enough already, but the next pass is a period away.
    DoneInbox("later", kT0 - kRetention - 1);
    DoneInbox("dead2", 0, "dead");
    runtime_->Wake();
    ASSERT_TRUE(dispatch::testing::WaitFor(
        [&] { return !runtime_->Busy(); }, std::chrono::seconds(10), "the worker looked after the wake"));
    EXPECT_EQ(InboxKeys(), "dead,later,dead2");

    clock_.Advance(kEvery);
    runtime_->Wake();
    EXPECT_TRUE(dispatch::testing::WaitFor(
        [&] { return InboxKeys() == "dead,dead2"; }, std::chrono::seconds(10), "the pass a period later"));
    runtime_->Stop();
}

}  // namespace
}  // namespace dispatch::flows
