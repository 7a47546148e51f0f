// Group commit of the repositories' writes: the executor gathers grouped writes queued together, and SQLite runs a
// group in one transaction with one savepoint per write.

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "store/errc.hpp"
#include "store/executor.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_store.hpp"
#include "support/test_support.hpp"

namespace dispatch::store {
namespace {

using ::testing::ElementsAre;

// An executor whose write groups are recorded instead of run against a database.
class RecordingExecutor {
public:
    RecordingExecutor()
        : executor_([](std::vector<InboxEvent>& events) { return std::vector<Result<AppendOutcome>>(events.size()); },
                    [this](const std::vector<StoreExecutor::GroupedWrite*>& writes) {
                        {
                            std::lock_guard lock(mu_);
                            groups_.push_back(writes.size());
                        }
                        std::vector<Result<void>> results;
                        for (auto* write : writes) {
                            results.push_back((*write)());
                        }
                        return results;
                    }) {}

    std::vector<std::size_t> Groups() {
        std::lock_guard lock(mu_);
        return groups_;
    }

    StoreExecutor& Executor() { return executor_; }

private:
    std::mutex mu_;
    std::vector<std::size_t> groups_;
    StoreExecutor executor_;  // last: its thread may call back into the members above
};

TEST(StoreExecutor, GroupedWritesQueuedTogetherRunAsOneGroupAndEachGetsItsOwnResult) {
    RecordingExecutor recording;
    StoreExecutor& executor = recording.Executor();
    // Keep the writer thread busy so the writes below queue up behind it.
    std::promise<void> gate;
    std::atomic<bool> busy{false};
    std::thread blocker([&] {
        (void)executor.Call<void>([&]() -> Result<void> {
            busy = true;
            gate.get_future().wait();
            return {};
        });
    });
    ASSERT_TRUE(dispatch::testing::WaitFor([&] { return busy.load(); }, std::chrono::seconds(10), "writer busy"));
    constexpr int kWrites = 5;
    std::vector<Result<void>> results(kWrites);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWrites; ++w) {
        writers.emplace_back([&, w] {
            results[static_cast<std::size_t>(w)] = executor.CallGrouped([w]() -> Result<void> {
                if (w == 2) {
                    return Fail(Errc::kConflict, "version moved");
                }
                return {};
            });
        });
    }
    ASSERT_TRUE(dispatch::testing::WaitFor(
        [&] { return executor.QueueDepth() == kWrites; }, std::chrono::seconds(10), "every write queued"));

    gate.set_value();
    blocker.join();
    for (auto& t : writers) {
        t.join();
    }

    EXPECT_THAT(recording.Groups(), ElementsAre(static_cast<std::size_t>(kWrites)));
    for (int w = 0; w < kWrites; ++w) {
        if (w == 2) {
            EXPECT_THAT(results[static_cast<std::size_t>(w)], HasErrc(Errc::kConflict));
        } else {
            EXPECT_THAT(results[static_cast<std::size_t>(w)], IsOk()) << "write " << w;
        }
    }
}

TEST(StoreExecutor, GroupedWriteFromTheWriterThreadRunsAtOnceAlone) {
    RecordingExecutor recording;
    StoreExecutor& executor = recording.Executor();

    auto outer = executor.Call<int>([&]() -> Result<int> {
        auto inner = executor.CallGrouped([]() -> Result<void> { return {}; });
        if (!inner) {
            return inner.error();
        }
        return 7;
    });

    ASSERT_THAT(outer, IsOk());
    EXPECT_EQ(*outer, 7);
    EXPECT_THAT(recording.Groups(), ElementsAre(1u));
}

TEST(StoreExecutor, GroupedWriteAfterCloseIsRefused) {
    RecordingExecutor recording;
    recording.Executor().Close();

    EXPECT_THAT(recording.Executor().CallGrouped([]() -> Result<void> { return {}; }), HasErrc(Errc::kClosed));
    EXPECT_TRUE(recording.Groups().empty());
}

class SqliteWriteGroupTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto c = sqlite::Connection::Open(dir_.File("t.db"), {});
        ASSERT_THAT(c, IsOk());
        db_ = std::move(*c);
        ASSERT_THAT(db_->Exec("CREATE TABLE t (x INTEGER UNIQUE) STRICT"), IsOk());
    }

    std::function<Result<void>()> Insert(std::vector<int> values) {
        return [this, values]() -> Result<void> {
            for (int v : values) {
                auto st = db_->Prepare("INSERT INTO t VALUES (?1)");
                if (!st) {
                    return st.error();
                }
                if (auto ran = st->Bind(v).Run(); !ran) {
                    return ran.error();
                }
            }
            return {};
        };
    }

    // What another connection sees: only committed rows.
    std::string Committed() {
        auto other = sqlite::Connection::Open(dir_.File("t.db"), {.read_only = true, .busy_timeout_ms = 1000});
        EXPECT_THAT(other, IsOk());
        return other ? (*other)->QueryText("SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x)").value() : "";
    }

    dispatch::testing::TempDir dir_;
    std::unique_ptr<sqlite::Connection> db_;
};

TEST_F(SqliteWriteGroupTest, AWriteThatFailsHalfWayLeavesNothingAndTheOthersCommit) {
    auto first = Insert({1});
    auto failing = Insert({2, 1});  // 2 goes in, then 1 is a duplicate: the write fails after changing the table
    auto last = Insert({3});
    const std::vector<std::function<Result<void>()>*> writes{&first, &failing, &last};

    auto results = RunSqliteWriteGroup(*db_, writes);

    ASSERT_EQ(results.size(), 3u);
    EXPECT_THAT(results[0], IsOk());
    EXPECT_THAT(results[1], HasErrc(Errc::kConstraint));
    EXPECT_THAT(results[2], IsOk());
    EXPECT_EQ(Committed(), "1,3");
    EXPECT_FALSE(db_->InTransaction());
}

TEST_F(SqliteWriteGroupTest, WhenTheTransactionCannotStartEveryWriteFails) {
    auto blocker = sqlite::Connection::Open(dir_.File("t.db"), {.read_only = false, .busy_timeout_ms = 0});
    ASSERT_THAT(blocker, IsOk());
    ASSERT_THAT((*blocker)->Exec("BEGIN IMMEDIATE"), IsOk());
    ASSERT_THAT(db_->Exec("PRAGMA busy_timeout = 0"), IsOk());
    auto a = Insert({1});
    auto b = Insert({2});
    const std::vector<std::function<Result<void>()>*> writes{&a, &b};

    auto results = RunSqliteWriteGroup(*db_, writes);

    ASSERT_EQ(results.size(), 2u);
    EXPECT_THAT(results[0], HasErrc(Errc::kBusy));
    EXPECT_THAT(results[1], HasErrc(Errc::kBusy));
    ASSERT_THAT((*blocker)->Exec("COMMIT"), IsOk());
    EXPECT_EQ(Committed(), "");
}

}  // namespace
}  // namespace dispatch::store
