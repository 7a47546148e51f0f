#include "store/sqlite.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/clock.hpp"
#include "store/errc.hpp"
#include "store/store.hpp"
#include "backend_fixture.hpp"
#include "support/test_support.hpp"

namespace dispatch::store {
namespace {

using dispatch::testing::TempDir;
using testing::LiteOptions;

class SqliteTest : public ::testing::Test {
protected:
    std::unique_ptr<sqlite::Connection> OpenDb(sqlite::OpenOptions options = {}) {
        auto c = sqlite::Connection::Open(dir_.File("t.db"), options);
        EXPECT_THAT(c, IsOk());
        return c ? std::move(*c) : nullptr;
    }
    TempDir dir_;
};

TEST_F(SqliteTest, OpenTurnsOnWalFullSyncAndForeignKeys) {
    auto db = OpenDb();

    EXPECT_EQ(db->QueryText("PRAGMA journal_mode").value(), "wal");
    EXPECT_EQ(db->QueryText("PRAGMA synchronous").value(), "2");  // FULL
    EXPECT_EQ(db->QueryText("PRAGMA foreign_keys").value(), "1");
}

TEST_F(SqliteTest, TransactionRollsBackUnlessCommitted) {
    auto db = OpenDb();
    ASSERT_THAT(db->Exec("CREATE TABLE t (x INTEGER)"), IsOk());
    {
        auto tx = sqlite::Transaction::Begin(*db);
        ASSERT_THAT(tx, IsOk());
        ASSERT_THAT(db->Exec("INSERT INTO t VALUES (1)"), IsOk());
    }
    {
        auto tx = sqlite::Transaction::Begin(*db);
        ASSERT_THAT(tx, IsOk());
        ASSERT_THAT(db->Exec("INSERT INTO t VALUES (2)"), IsOk());
        ASSERT_THAT(tx->Commit(), IsOk());
    }

    EXPECT_EQ(db->QueryText("SELECT group_concat(x) FROM t").value(), "2");
}

TEST_F(SqliteTest, TypedBindingRoundTrips) {
    auto db = OpenDb();
    ASSERT_THAT(db->Exec("CREATE TABLE t (i INTEGER, s TEXT, n TEXT) STRICT"), IsOk());
    auto insert = db->Prepare("INSERT INTO t VALUES (?1, ?2, ?3)");
    ASSERT_THAT(insert, IsOk());
    ASSERT_THAT(insert->Bind(std::int64_t{1} << 40, std::string("it's \"quoted\""), nullptr).Run(), IsOk());

    auto select = db->Prepare("SELECT i, s, n FROM t");
    ASSERT_THAT(select, IsOk());
    ASSERT_TRUE(select->Step().value());

    EXPECT_EQ(select->Int64(0), std::int64_t{1} << 40);
    EXPECT_EQ(select->Text(1), "it's \"quoted\"");
    EXPECT_TRUE(select->IsNull(2));
    EXPECT_EQ(select->OptionalInt64(2), std::nullopt);
}

TEST_F(SqliteTest, CachedStatementUsedTwiceAtOnceGetsAPrivateCopy) {
    auto db = OpenDb();
    const std::string sql = "SELECT ?1";
    auto outer = db->Prepare(sql);
    ASSERT_THAT(outer, IsOk());
    outer->Bind(1);

    auto inner = db->Prepare(sql);  // while `outer` is still bound
    ASSERT_THAT(inner, IsOk());
    inner->Bind(2);

    ASSERT_TRUE(outer->Step().value());
    ASSERT_TRUE(inner->Step().value());
    EXPECT_EQ(outer->Int64(0), 1);
    EXPECT_EQ(inner->Int64(0), 2);
}

TEST_F(SqliteTest, ErrorsMapToStoreCodes) {
    auto db = OpenDb();
    ASSERT_THAT(db->Exec("CREATE TABLE t (x INTEGER UNIQUE)"), IsOk());
    ASSERT_THAT(db->Exec("INSERT INTO t VALUES (1)"), IsOk());

    EXPECT_THAT(db->Exec("INSERT INTO t VALUES (1)"), HasErrc(Errc::kConstraint));
    EXPECT_THAT(db->Exec("SELEC nonsense"), HasErrc(Errc::kSql));
}

TEST_F(SqliteTest, SecondWriterIsBusyWhileTheFirstHoldsTheLock) {
    auto first = OpenDb();
    auto second = OpenDb({.read_only = false, .busy_timeout_ms = 0});
    ASSERT_THAT(first->Exec("CREATE TABLE t (x INTEGER)"), IsOk());
    auto tx = sqlite::Transaction::Begin(*first);
    ASSERT_THAT(tx, IsOk());

    EXPECT_THAT(sqlite::Transaction::Begin(*second), HasErrc(Errc::kBusy));
}

TEST_F(SqliteTest, NotADatabaseIsCorrupt) {
    std::ofstream(dir_.File("t.db")) << std::string(8192, 'x');

    auto opened = sqlite::Connection::Open(dir_.File("t.db"), {});

    EXPECT_THAT(opened, HasErrc(Errc::kCorrupt));
}

// ---- durability ---------------------------------------------------------------------------------------------------

// Checkpoints leave the commit: the writer's commits only wake the checkpointer, which copies the WAL back on its own
// connection; past the finishing size the writer completes one itself so the WAL restarts and stays bounded.
TEST_F(SqliteTest, WalCheckpointsRunBesideTheWriterAndTheWalStaysBounded) {
    auto db = OpenDb();
    ASSERT_THAT(db->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"), IsOk());
    auto checkpointer = sqlite::WalCheckpointer::Start(*db, dir_.File("t.db"), /*wake_pages=*/50, /*finish_pages=*/400);
    ASSERT_THAT(checkpointer, IsOk());
    (*checkpointer)->Attach();
    const std::string body(3000, 'x');  // about one page per row

    for (int tx = 0; tx < 200; ++tx) {
        auto t = sqlite::Transaction::Begin(*db);
        ASSERT_THAT(t, IsOk());
        for (int row = 0; row < 10; ++row) {
            auto st = db->Prepare("INSERT INTO t (body) VALUES (?1)");
            ASSERT_THAT(st, IsOk());
            st->Bind(body);
            ASSERT_THAT(st->Run(), IsOk());
        }
        ASSERT_THAT(t->Commit(), IsOk());
    }

    EXPECT_TRUE(dispatch::testing::WaitFor(
        [&] { return (*checkpointer)->Checkpoints() > 0; }, std::chrono::seconds(10), "a background checkpoint"));
    // 2000 pages were written; without a restart the WAL would hold them all (8 MB at 4 KiB pages).
    const auto wal_bytes = std::filesystem::file_size(dir_.File("t.db-wal"));
    EXPECT_LT(wal_bytes, 1200u * 4096u) << wal_bytes;
    EXPECT_EQ(db->QueryText("SELECT count(*) FROM t").value(), "2000");
    checkpointer->reset();
    // SQLite's own automatic checkpoint is back on the writer.
    EXPECT_EQ(db->QueryText("PRAGMA wal_autocheckpoint").value(), "1000");
}

// The inbox's promise: once an append's completion fired, the event survives the process dying at once. The child
// appends, reports the completion through a pipe and is SIGKILLed by the parent without any chance to clean up;
// the parent then reopens the file. (Power loss is what synchronous=FULL covers; it cannot be simulated here.)
TEST(SqliteDurability, AcknowledgedAppendSurvivesSigkill) {
    TempDir dir;
    const std::string path = dir.File("inbox.db");
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);

    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        ManualClock clock(1'772'442'000'000);
        auto store = OpenSqliteStore(LiteOptions(path), clock);
        char status = 'F';
        if (store) {
            auto outcome = (*store)->Inbox().AppendAndWait(InboxEvent{.member_id = "m-acme",
                                                                      .received_at = clock.Now(),
                                                                      .kind = InboxKind::kEvent,
                                                                      .event_name = "ONCRMDYNAMICITEMADD",
                                                                      .entity_type_id = 1032,
                                                                      .item_id = 42,
                                                                      .payload = "{}",
                                                                      .dedup_key = "durable-1"});
            if (outcome && *outcome == AppendOutcome::kStored) {
                status = 'S';
            }
        }
        (void)!::write(fds[1], &status, 1);
        for (;;) {
            ::pause();  // wait for the SIGKILL: no destructor, no close, no checkpoint runs
        }
    }
    ::close(fds[1]);
    char status = 0;
    const ssize_t n = ::read(fds[0], &status, 1);  // blocks until the child's completion fired
    ::kill(child, SIGKILL);
    int wstatus = 0;
    ::waitpid(child, &wstatus, 0);
    ::close(fds[0]);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(status, 'S') << "the child could not append";
    ASSERT_TRUE(WIFSIGNALED(wstatus));
    ASSERT_EQ(WTERMSIG(wstatus), SIGKILL);

    ManualClock clock(1'772'442'000'000);
    auto reopened = OpenSqliteStore(LiteOptions(path), clock);
    ASSERT_THAT(reopened, IsOk());
    auto claimed = (*reopened)->Inbox().Claim(10, clock.Now(), kMinuteMs);
    ASSERT_THAT(claimed, IsOk());
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->front().event.dedup_key, "durable-1");
    EXPECT_EQ(claimed->front().event.item_id, 42);
}

}  // namespace
}  // namespace dispatch::store
