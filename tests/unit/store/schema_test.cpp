// The SQLite schema as migrated: what its shape costs each write, and migration 0004 over rows written before it.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "backend_fixture.hpp"
#include "core/clock.hpp"
#include "store/queries.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "support/test_support.hpp"

namespace dispatch::store {
namespace {

using dispatch::testing::TempDir;
using ::testing::HasSubstr;
using testing::LiteOptions;
using ::testing::Not;

// Writes on the tables every event or action touches. EXPLAIN only compiles them, so the values need not fit.
const std::vector<std::string> kHotWrites = {
    "INSERT INTO inbox (member_id, received_at, kind, payload, dedup_key, available_at) "
    "VALUES ('m', 1, 'event', '{}', 'k', 1)",
    "UPDATE inbox SET state = 'done', done_at = 2 WHERE id = 1",
    "INSERT INTO outbox (member_id, idempotency_key, method, next_try_at, created_at) "
    "VALUES ('m', 'k', 'crm.item.update', 1, 1)",
    "UPDATE outbox SET state = 'leased', lease_until = 2 WHERE id = 1",
    "INSERT INTO timers (member_id, kind, subject, due_at, ready_at) VALUES ('m', 'sla', 'm/1/2', 1, 1)",
    "UPDATE timers SET state = 'leased', ready_at = 2 WHERE id = 1",
};

// The statements among kHotWrites whose program opens a temporary b-tree (the OpenEphemeral opcode).
std::vector<std::string> WritesBuildingTempBtrees(sqlite::Connection& db) {
    std::vector<std::string> found;
    for (const auto& sql : kHotWrites) {
        auto st = db.Prepare("EXPLAIN " + sql);
        EXPECT_THAT(st, IsOk()) << sql;
        if (!st) {
            continue;
        }
        for (;;) {
            auto row = st->Step();
            EXPECT_THAT(row, IsOk());
            if (!row || !*row) {
                break;
            }
            if (st->Text(1) == "OpenEphemeral") {
                found.push_back(sql);
                break;
            }
        }
    }
    return found;
}

// EXPLAIN QUERY PLAN of `sql`: its detail lines joined by "; ".
std::string Plan(sqlite::Connection& db, const std::string& sql) {
    std::string plan;
    auto st = db.Prepare("EXPLAIN QUERY PLAN " + sql);
    EXPECT_THAT(st, IsOk()) << sql;
    if (!st) {
        return plan;
    }
    for (;;) {
        auto row = st->Step();
        EXPECT_THAT(row, IsOk());
        if (!row || !*row) {
            break;
        }
        plan += (plan.empty() ? "" : "; ") + st->Text(3);
    }
    return plan;
}

class SchemaTest : public ::testing::Test {
protected:
    // A database migrated by the first `count` SQLite migrations of schemas/sqlite/, as a deployment of that time.
    void MigrateFirst(int count) {
        std::vector<std::filesystem::path> files;
        for (const auto& entry : std::filesystem::directory_iterator(dispatch::testing::SourcePath("schemas/sqlite"))) {
            files.push_back(entry.path());
        }
        std::sort(files.begin(), files.end());
        ASSERT_GE(static_cast<int>(files.size()), count);
        for (int i = 0; i < count; ++i) {
            std::filesystem::copy_file(files[static_cast<std::size_t>(i)], old_.File(files[i].filename().string()));
        }
        Open(old_.Path().string());
    }

    void Open(const std::string& migrations_dir = {}) {
        auto store = OpenSqliteStore(LiteOptions(Path(), migrations_dir), clock_);
        ASSERT_THAT(store, IsOk());
        (*store)->Close();
    }

    std::unique_ptr<sqlite::Connection> Raw() {
        auto db = sqlite::Connection::Open(Path(), {});
        EXPECT_THAT(db, IsOk());
        return db ? std::move(*db) : nullptr;
    }

    std::string Path() { return dir_.File("dispatch.db"); }

    ManualClock clock_{1'772'442'000'000};
    TempDir dir_;
    TempDir old_;
};

TEST_F(SchemaTest, NoWriteOnTheHotTablesBuildsATemporaryBtree) {
    Open();
    auto db = Raw();
    ASSERT_NE(db, nullptr);

    EXPECT_THAT(WritesBuildingTempBtrees(*db), ::testing::IsEmpty());
}

TEST_F(SchemaTest, OneTicketsActionsAreReadThroughTheirOwnIndex) {
    Open();
    auto db = Raw();
    ASSERT_NE(db, nullptr);

    const std::string plan = Plan(*db, sql::kListOutboxSubject);

    EXPECT_THAT(plan, HasSubstr("USING INDEX outbox_subject (subject=?)"));
    EXPECT_THAT(plan, Not(HasSubstr("TEMP B-TREE"))) << "id order comes from the index";
    // The claim and the sender's wake-up keep the partial index for "is an older action of this subject
    // unfinished?": the new one would read the subject's finished actions too.
    for (const std::string& hot : {sql::ClaimOutbox("", ""), sql::kNextReadyOutbox}) {
        const std::string hot_plan = Plan(*db, hot);
        EXPECT_THAT(hot_plan, HasSubstr("USING INDEX outbox_subject_open (member_id=? AND subject=? AND id<?)"));
        EXPECT_THAT(hot_plan, Not(HasSubstr("USING INDEX outbox_subject ("))) << hot;
    }
}

TEST_F(SchemaTest, RetentionReadsOnlyTheDoneRowsBeforeTheCutoff) {
    Open();
    auto db = Raw();
    ASSERT_NE(db, nullptr);

    EXPECT_THAT(Plan(*db, sql::PurgeDoneInbox("")), HasSubstr("USING INDEX inbox_ready (state=? AND available_at<?)"));
    EXPECT_THAT(Plan(*db, sql::PurgeDoneOutbox("")), HasSubstr("USING INDEX outbox_ready (state=? AND next_try_at<?)"));
}

TEST_F(SchemaTest, TheChecksBefore0004BuiltATemporaryBtreePerWrite) {
    // What 0004 is for, and proof that the check above can fail: the CHECK (x IN (4 values)) of 0001-0003.
    MigrateFirst(3);
    auto db = Raw();
    ASSERT_NE(db, nullptr);

    EXPECT_EQ(WritesBuildingTempBtrees(*db).size(), kHotWrites.size());
}

TEST_F(SchemaTest, Migration0004KeepsRowsChecksAndTheTimerSequence) {
    MigrateFirst(3);
    {
        auto db = Raw();
        ASSERT_NE(db, nullptr);
        ASSERT_THAT(db->Exec("INSERT INTO inbox (member_id, received_at, kind, event_name, entity_type_id, item_id, "
                             "payload, dedup_key, state, attempts, available_at) VALUES ('m', 1, 'robot', "
                             "'ONE', 1038, 7, '{\"a\":1}', 'key-1', 'claimed', 2, 5)"),
                    IsOk());
        ASSERT_THAT(db->Exec("INSERT INTO outbox (member_id, idempotency_key, method, params, next_try_at, "
                             "created_at, subject) VALUES ('m', 'o-1', 'crm.item.update', '{}', 3, 3, 'm/1038/7')"),
                    IsOk());
        // Timers 1 and 2, then 2 completes: its id must never come back, or a stale fencing token could match.
        ASSERT_THAT(db->Exec("INSERT INTO timers (member_id, kind, subject, due_at, ready_at) VALUES "
                             "('m', 'sla', 'm/1038/7', 10, 10), ('m', 'sla', 'm/1038/8', 20, 20)"),
                    IsOk());
        ASSERT_THAT(db->Exec("DELETE FROM timers WHERE id = 2"), IsOk());
    }

    Open();
    auto db = Raw();
    ASSERT_NE(db, nullptr);

    EXPECT_EQ(db->QueryText("SELECT count(*) FROM schema_migrations WHERE version = 4").value(), "1");
    EXPECT_EQ(db->QueryText("SELECT kind || '|' || event_name || '|' || item_id || '|' || payload || '|' || state || "
                            "'|' || attempts || '|' || available_at FROM inbox WHERE dedup_key = 'key-1'")
                  .value(),
              "robot|ONE|7|{\"a\":1}|claimed|2|5");
    EXPECT_EQ(db->QueryText("SELECT method || '|' || subject || '|' || state FROM outbox WHERE idempotency_key = 'o-1'")
                  .value(),
              "crm.item.update|m/1038/7|pending");
    ASSERT_THAT(db->Exec("INSERT INTO timers (member_id, kind, subject, due_at, ready_at) VALUES "
                         "('m', 'sla', 'm/1038/9', 30, 30)"),
                IsOk());
    EXPECT_EQ(db->QueryText("SELECT group_concat(id) FROM (SELECT id FROM timers ORDER BY id)").value(), "1,3");
    // The checks still refuse what they refused before.
    EXPECT_FALSE(db->Exec("UPDATE inbox SET state = 'lost'"));
    EXPECT_FALSE(db->Exec("UPDATE inbox SET kind = 'mail'"));
    EXPECT_FALSE(db->Exec("UPDATE outbox SET state = 'claimed'"));
    EXPECT_FALSE(db->Exec("UPDATE timers SET state = 'claimed'"));
    EXPECT_FALSE(db->Exec("UPDATE inbox SET payload = '{'"));
    EXPECT_EQ(db->QueryText("SELECT count(*) FROM sqlite_master WHERE name IN ('inbox_ready', 'inbox_ticket_open', "
                            "'outbox_ready', 'outbox_subject_open', 'timers_ready', 'timers_member')")
                  .value(),
              "6");
}

}  // namespace
}  // namespace dispatch::store
