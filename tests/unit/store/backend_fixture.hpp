#pragma once
// Runs the same repository tests against every backend: SQLite always (a fresh file per test), PostgreSQL when
// DISPATCH_TEST_PG_DSN is set (a fresh schema per test, dropped afterwards), skipped otherwise.

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "store/pg.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "support/test_support.hpp"

namespace dispatch::store::testing {

// An item update event of ticket 1032/`item` of `member`, received at `at`.
inline InboxEvent Event(std::string dedup, std::int64_t item, TimeMs at, std::string member = "m-acme") {
    return InboxEvent{.member_id = std::move(member),
                      .received_at = at,
                      .kind = InboxKind::kEvent,
                      .event_name = "ONCRMDYNAMICITEMUPDATE",
                      .entity_type_id = 1032,
                      .item_id = item,
                      .payload = R"({"data":{"FIELDS":{"ID":)" + std::to_string(item) + "}}}",
                      .dedup_key = std::move(dedup)};
}

// The params every Action carries.
inline constexpr std::string_view kActionParams = R"({"entityTypeId":1032,"fields":{"stageId":"DT1032_7:NEW"}})";

// An item update queued for `subject` at `at`.
inline OutboxAction Action(std::string key, std::string subject, TimeMs at, std::string member = "m-acme") {
    OutboxAction a;
    a.member_id = std::move(member);
    a.idempotency_key = std::move(key);
    a.method = "crm.item.update";
    a.params = std::string(kActionParams);
    a.subject = std::move(subject);
    a.next_try_at = at;
    a.created_at = at;
    return a;
}

// The idempotency keys of `actions`, in order.
inline std::vector<std::string> ActionKeys(const std::vector<ClaimedAction>& actions) {
    std::vector<std::string> keys;
    for (const auto& a : actions) {
        keys.push_back(a.action.idempotency_key);
    }
    return keys;
}

// Options for a SQLite file (designated initializers would trip -Wmissing-field-initializers).
inline SqliteOptions LiteOptions(std::string path, std::string migrations_dir = {}) {
    SqliteOptions options;
    options.path = std::move(path);
    options.migrations_dir = std::move(migrations_dir);
    return options;
}

inline std::string PgDsn() {
    const char* dsn = std::getenv("DISPATCH_TEST_PG_DSN");
    return dsn != nullptr ? dsn : "";
}

class BackendTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (GetParam() == "postgres") {
            if (PgDsn().empty()) {
                GTEST_SKIP() << "DISPATCH_TEST_PG_DSN is not set (scripts/pg-test-server.sh start prints one)";
            }
            std::random_device rd;
            schema_ = "t_" + std::to_string(rd()) + "_" + std::to_string(rd() % 100000);
        }
        ASSERT_TRUE(Reopen());
    }

    void TearDown() override { Wipe(); }

    // Closes the store and deletes the database (the file and its WAL, or the schema): the next Reopen starts empty.
    void Wipe() {
        store_.reset();
        if (!schema_.empty()) {
            auto admin = pg::Connection::Open(PgDsn(), "");
            if (admin) {
                (void)(*admin)->Exec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
            }
            return;
        }
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(dir_.File(std::string("dispatch.db") + suffix));
        }
    }

    // Closes and opens the store again over the same file or schema (migrations run again).
    ::testing::AssertionResult Reopen() {
        store_.reset();
        auto opened = Open();
        if (!opened) {
            return ::testing::AssertionFailure() << opened.error();
        }
        store_ = std::move(*opened);
        return ::testing::AssertionSuccess();
    }

    Result<std::unique_ptr<Store>> Open() {
        if (GetParam() == "postgres") {
            return OpenPostgresStore(
                {.dsn = PgDsn(), .schema = schema_, .migrations_dir = migrations_dir_, .pool_size = 4}, clock_);
        }
        return OpenSqliteStore(LiteOptions(dir_.File("dispatch.db"), migrations_dir_), clock_);
    }

    // Runs SQL beside the store, on a connection of its own.
    Result<void> ExecRaw(const std::string& sql) {
        if (GetParam() == "postgres") {
            auto c = pg::Connection::Open(PgDsn(), schema_);
            if (!c) {
                return c.error();
            }
            return (*c)->Exec(sql);
        }
        auto c = sqlite::Connection::Open(dir_.File("dispatch.db"), {});
        if (!c) {
            return c.error();
        }
        return (*c)->Exec(sql);
    }

    // The first column of the first row of `sql`, as text ("" when there is no row), read beside the store.
    Result<std::string> QueryRaw(const std::string& sql) {
        if (GetParam() == "postgres") {
            auto c = pg::Connection::Open(PgDsn(), schema_);
            if (!c) {
                return c.error();
            }
            auto rows = (*c)->Query(sql, {});
            if (!rows) {
                return rows.error();
            }
            return rows->Size() > 0 ? rows->At(0).Text(0) : std::string();
        }
        auto c = sqlite::Connection::Open(dir_.File("dispatch.db"), {});
        if (!c) {
            return c.error();
        }
        return (*c)->QueryText(sql);
    }

    // Holds the database's write lock from another connection until Release(): the store's next append
    // transaction waits on it, so appends queued meanwhile are gathered into the following batch.
    class WriteLock {
    public:
        virtual ~WriteLock() = default;
        virtual Result<void> Release() = 0;
    };
    Result<std::unique_ptr<WriteLock>> HoldWriteLock() {
        if (GetParam() == "postgres") {
            struct PgLock final : WriteLock {
                std::unique_ptr<pg::Connection> c;
                Result<void> Release() override { return c->Exec("COMMIT"); }
            };
            auto c = pg::Connection::Open(PgDsn(), schema_);
            if (!c) {
                return c.error();
            }
            if (auto locked = (*c)->Exec("BEGIN; LOCK TABLE inbox IN EXCLUSIVE MODE"); !locked) {
                return locked.error();
            }
            auto lock = std::make_unique<PgLock>();
            lock->c = std::move(*c);
            return std::unique_ptr<WriteLock>(std::move(lock));
        }
        struct SqliteLock final : WriteLock {
            std::unique_ptr<sqlite::Connection> c;
            Result<void> Release() override { return c->Exec("COMMIT"); }
        };
        auto c = sqlite::Connection::Open(dir_.File("dispatch.db"), {});
        if (!c) {
            return c.error();
        }
        if (auto locked = (*c)->Exec("BEGIN IMMEDIATE"); !locked) {
            return locked.error();
        }
        auto lock = std::make_unique<SqliteLock>();
        lock->c = std::move(*c);
        return std::unique_ptr<WriteLock>(std::move(lock));
    }

    static constexpr TimeMs kT0 = 1'772'442'000'000;  // 2026-03-02T09:00:00Z
    ManualClock clock_{kT0};
    dispatch::testing::TempDir dir_;
    std::string schema_;
    std::string migrations_dir_;  // empty: the embedded migrations
    std::unique_ptr<Store> store_;
};

inline std::string BackendName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace dispatch::store::testing
