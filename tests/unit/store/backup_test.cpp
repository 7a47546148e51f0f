#include "store/backup.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "backend_fixture.hpp"
#include "core/clock.hpp"
#include "store/errc.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "support/test_support.hpp"

namespace dispatch::store {
namespace {

using dispatch::testing::Slurp;
using dispatch::testing::TempDir;
using testing::LiteOptions;
namespace fs = std::filesystem;

constexpr TimeMs kT0 = 1'772'442'000'000;  // 2026-03-02T09:00:00Z

// An event with a payload of about 600 bytes, so a few hundred of them fill enough pages for many backup steps.
InboxEvent Event(const std::string& dedup, std::int64_t item) {
    return InboxEvent{
        .member_id = "m-acme",
        .received_at = kT0,
        .kind = InboxKind::kEvent,
        .event_name = "ONCRMDYNAMICITEMUPDATE",
        .entity_type_id = 1032,
        .item_id = item,
        .payload = fmt::format(R"({{"data":{{"FIELDS":{{"ID":{}}}}},"pad":"{}"}})", item, std::string(600, 'x')),
        .dedup_key = dedup};
}

// Appends "live-<n>" events on its own thread until stopped, as dispatchd's intake does while a backup runs.
class Appender {
public:
    explicit Appender(Store& store) : store_(store), thread_([this] { Run(); }) {}
    ~Appender() { Stop(); }

    int Acked() {
        std::lock_guard lock(mu_);
        return acked_;
    }

    // Waits for the store to acknowledge the n-th event (I/O: the writer thread's commit).
    ::testing::AssertionResult WaitForAcked(int n) {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return acked_ >= n || !error_.empty(); })) {
            return ::testing::AssertionFailure() << "event " << n << " not acknowledged within 30 s";
        }
        if (!error_.empty()) {
            return ::testing::AssertionFailure() << "append failed: " << error_;
        }
        return ::testing::AssertionSuccess();
    }

    // Stops appending; returns how many events were acknowledged in all.
    int Stop() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        if (thread_.joinable()) {
            thread_.join();
        }
        return Acked();
    }

private:
    void Run() {
        for (int n = 0;; ++n) {
            {
                std::lock_guard lock(mu_);
                if (stop_) {
                    return;
                }
            }
            auto stored = store_.Inbox().AppendAndWait(Event(fmt::format("live-{}", n), 1000 + n));
            std::lock_guard lock(mu_);
            if (!stored) {
                error_ = stored.error().detail;
                cv_.notify_all();
                return;
            }
            acked_ = n + 1;
            cv_.notify_all();
        }
    }

    Store& store_;
    std::mutex mu_;
    std::condition_variable cv_;
    int acked_ = 0;
    bool stop_ = false;
    std::string error_;
    std::thread thread_;
};

// A plain SQLite handle for the tests' own writers: sqlite::Connection would turn every writable file to WAL, and
// some tests need a rollback-journal database or a lock held on purpose.
class RawDb {
public:
    explicit RawDb(const std::string& path) {
        EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), SQLITE_OK);
    }
    ~RawDb() { sqlite3_close_v2(db_); }
    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;

    ::testing::AssertionResult Exec(const std::string& sql) {
        char* message = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
            auto failure = ::testing::AssertionFailure() << sql << ": " << (message ? message : "?");
            sqlite3_free(message);
            return failure;
        }
        return ::testing::AssertionSuccess();
    }

private:
    sqlite3* db_ = nullptr;
};

class BackupTest : public ::testing::Test {
protected:
    void OpenStore() {
        auto opened = OpenSqliteStore(LiteOptions(db_), clock_);
        ASSERT_THAT(opened, IsOk());
        store_ = std::move(*opened);
    }

    void AppendEvents(const std::string& prefix, int count) {
        for (int i = 0; i < count; ++i) {
            ASSERT_THAT(store_->Inbox().AppendAndWait(Event(fmt::format("{}-{}", prefix, i), i + 1)), IsOk());
        }
    }

    // A rollback-journal database (never dispatchd's, which keeps WAL) with `rows` rows of 600 bytes.
    void MakeRollbackDb(const std::string& path, int rows) {
        RawDb db(path);
        ASSERT_TRUE(db.Exec("PRAGMA journal_mode=DELETE; CREATE TABLE t (x TEXT)"));
        ASSERT_TRUE(
            db.Exec(fmt::format("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) "
                                "INSERT INTO t SELECT printf('%.600c', 'x') FROM n",
                                rows)));
    }

    // The first column of the first row of `sql` on the copy, read through a read-only connection.
    std::string OnCopy(const std::string& sql) {
        auto c = sqlite::Connection::Open(copy_, sqlite::OpenOptions{.read_only = true});
        EXPECT_THAT(c, IsOk());
        if (!c) {
            return {};
        }
        auto text = (*c)->QueryText(sql);
        EXPECT_THAT(text, IsOk()) << sql;
        return text ? *text : std::string();
    }

    bool NothingBesideCopy() const {
        for (const char* suffix : {".partial", "-wal", "-shm", "-journal", ".partial-journal", ".partial-wal"}) {
            if (fs::exists(copy_ + suffix)) {
                ADD_FAILURE() << copy_ + suffix << " is left";
                return false;
            }
        }
        return true;
    }

    TempDir dir_;
    ManualClock clock_{kT0};
    std::string db_ = dir_.File("dispatch.db");
    std::string copy_ = dir_.File("backup.db");
    std::unique_ptr<Store> store_;
};

TEST_F(BackupTest, CopyHoldsEveryAcknowledgedEventWhileAnotherThreadKeepsAppending) {
    constexpr int kBefore = 200;
    OpenStore();
    AppendEvents("pre", kBefore);
    Appender appender(*store_);
    ASSERT_TRUE(appender.WaitForAcked(1));
    const int acked_at_start = appender.Acked();
    BackupOptions options;
    options.pages_per_step = 4;
    options.max_restarts = 0;  // a WAL source is read from one snapshot: any restart is a failure
    // Between every two steps another connection commits: without the snapshot each would restart the copy.
    options.on_step = [&](std::int64_t, std::int64_t) { EXPECT_TRUE(appender.WaitForAcked(appender.Acked() + 1)); };

    auto stats = BackupSqlite(db_, copy_, options);
    const int acked_at_end = appender.Stop();

    ASSERT_THAT(stats, IsOk());
    EXPECT_GT(stats->steps, 10);
    EXPECT_EQ(stats->restarts, 0);
    EXPECT_GT(acked_at_end, acked_at_start + 10) << "the appends must have run during the backup";
    EXPECT_EQ(stats->bytes, static_cast<std::int64_t>(fs::file_size(copy_)));
    EXPECT_TRUE(NothingBesideCopy());
    EXPECT_EQ(OnCopy("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(OnCopy("PRAGMA journal_mode"), "delete");
    EXPECT_EQ(std::to_string(stats->pages), OnCopy("PRAGMA page_count"));
    EXPECT_EQ(OnCopy("SELECT count(*) FROM inbox WHERE dedup_key LIKE 'pre-%'"), std::to_string(kBefore));
    EXPECT_EQ(OnCopy(fmt::format("SELECT count(*) FROM inbox WHERE dedup_key LIKE 'live-%' "
                                 "AND CAST(substr(dedup_key, 6) AS INTEGER) < {}",
                                 acked_at_start)),
              std::to_string(acked_at_start));
    const int live_in_copy = std::stoi(OnCopy("SELECT count(*) FROM inbox WHERE dedup_key LIKE 'live-%'"));
    EXPECT_LE(live_in_copy, acked_at_end);
    EXPECT_TRUE(NothingBesideCopy()) << "reading the copy must not turn it back into WAL";
}

TEST_F(BackupTest, ExistingTargetIsRefusedWithoutForceAndReplacedWithForce) {
    OpenStore();
    AppendEvents("e", 5);
    std::ofstream(copy_) << "an older backup";
    std::ofstream(copy_ + "-wal") << "a stale WAL that must not be replayed into the new copy";

    auto refused = BackupSqlite(db_, copy_, BackupOptions{});

    EXPECT_THAT(refused, HasErrc(Errc::kConflict));
    EXPECT_EQ(Slurp(copy_), "an older backup");
    EXPECT_FALSE(fs::exists(copy_ + ".partial"));

    BackupOptions force;
    force.force = true;
    auto replaced = BackupSqlite(db_, copy_, force);

    ASSERT_THAT(replaced, IsOk());
    EXPECT_TRUE(NothingBesideCopy());
    EXPECT_EQ(OnCopy("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(OnCopy("SELECT count(*) FROM inbox"), "5");
}

TEST_F(BackupTest, MissingSourceFailsAndLeavesNothing) {
    auto result = BackupSqlite(dir_.File("absent.db"), copy_, BackupOptions{});

    EXPECT_THAT(result, HasErrc(Errc::kNotFound));
    EXPECT_FALSE(fs::exists(copy_));
    EXPECT_TRUE(NothingBesideCopy());
}

TEST_F(BackupTest, SourceThatIsNotADatabaseFailsAndLeavesNoPartial) {
    std::ofstream(db_) << std::string(8192, 'z');

    auto result = BackupSqlite(db_, copy_, BackupOptions{});

    EXPECT_THAT(result, HasErrc(Errc::kCorrupt));
    EXPECT_FALSE(fs::exists(copy_));
    EXPECT_TRUE(NothingBesideCopy());
}

TEST_F(BackupTest, TargetThatIsTheDatabaseItselfIsRefusedEvenWithForce) {
    OpenStore();
    BackupOptions force;
    force.force = true;

    EXPECT_THAT(BackupSqlite(db_, db_, force), HasErrc(Errc::kInvalidArgument));
    EXPECT_FALSE(fs::exists(db_ + ".partial"));
}

TEST_F(BackupTest, SourceLockedExclusivelyFailsBusyAfterBoundedRetries) {
    RawDb holder(db_);
    ASSERT_TRUE(holder.Exec("PRAGMA journal_mode=WAL; CREATE TABLE t (x); PRAGMA locking_mode=EXCLUSIVE"));
    ASSERT_TRUE(holder.Exec("BEGIN EXCLUSIVE; INSERT INTO t VALUES (1); COMMIT"));  // keeps the lock from now on
    BackupOptions options;
    options.busy_timeout_ms = 0;
    options.max_busy_retries = 3;

    auto result = BackupSqlite(db_, copy_, options);

    EXPECT_THAT(result, HasErrc(Errc::kBusy));
    EXPECT_FALSE(fs::exists(copy_));
    EXPECT_TRUE(NothingBesideCopy());
}

TEST_F(BackupTest, LockTakenBetweenStepsIsRetriedThenFailsBusy) {
    MakeRollbackDb(db_, 200);
    RawDb writer(db_);
    bool locked = false;
    BackupOptions options;
    options.pages_per_step = 4;
    options.busy_timeout_ms = 0;
    options.max_busy_retries = 3;
    options.on_step = [&](std::int64_t, std::int64_t) {
        if (!locked) {
            locked = writer.Exec("BEGIN EXCLUSIVE");
            EXPECT_TRUE(locked);
        }
    };

    auto result = BackupSqlite(db_, copy_, options);

    EXPECT_THAT(result, HasErrc(Errc::kBusy));
    EXPECT_TRUE(locked);
    EXPECT_FALSE(fs::exists(copy_));
    EXPECT_TRUE(NothingBesideCopy());
}

TEST_F(BackupTest, RollbackJournalSourceChangedBetweenEveryStepGivesUpAfterBoundedRestarts) {
    MakeRollbackDb(db_, 200);
    RawDb writer(db_);
    int commits = 0;
    BackupOptions options;
    options.pages_per_step = 4;
    options.max_restarts = 3;
    options.on_step = [&](std::int64_t, std::int64_t) {
        EXPECT_TRUE(writer.Exec("INSERT INTO t VALUES ('more')"));
        ++commits;
    };

    auto result = BackupSqlite(db_, copy_, options);

    EXPECT_THAT(result, HasErrc(Errc::kBusy));
    EXPECT_GE(commits, 4);
    EXPECT_FALSE(fs::exists(copy_));
    EXPECT_TRUE(NothingBesideCopy());
}

TEST_F(BackupTest, QuietRollbackJournalSourceIsCopiedInSteps) {
    MakeRollbackDb(db_, 200);

    BackupOptions options;
    options.pages_per_step = 4;
    auto stats = BackupSqlite(db_, copy_, options);

    ASSERT_THAT(stats, IsOk());
    EXPECT_EQ(stats->steps, (stats->pages + 3) / 4);
    EXPECT_EQ(OnCopy("SELECT count(*) FROM t"), "200");
    EXPECT_EQ(OnCopy("PRAGMA journal_mode"), "delete");
    EXPECT_TRUE(NothingBesideCopy());
}

}  // namespace
}  // namespace dispatch::store
