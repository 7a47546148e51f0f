#include "store/migrations.hpp"

#include <fstream>

#include "core/clock.hpp"
#include "store/errc.hpp"
#include "store/pg.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_store.hpp"
#include "store/store.hpp"
#include "backend_fixture.hpp"
#include "support/test_support.hpp"

namespace dispatch::store {
namespace {

using dispatch::testing::SourcePath;
using dispatch::testing::TempDir;
using testing::LiteOptions;

void ExpectSame(const std::vector<Migration>& a, const std::vector<Migration>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].version, b[i].version);
        EXPECT_EQ(a[i].name, b[i].name);
        EXPECT_EQ(a[i].sql, b[i].sql) << "embedded copy of " << a[i].name << " is stale";
    }
}

TEST(Migrations, EmbeddedCopiesMatchTheSourceTree) {
    auto sqlite_files = LoadMigrations(SourcePath("schemas/sqlite"));
    auto postgres_files = LoadMigrations(SourcePath("schemas/postgres"));

    ASSERT_THAT(sqlite_files, IsOk());
    ASSERT_THAT(postgres_files, IsOk());
    ExpectSame(EmbeddedMigrations(SchemaBackend::kSqlite), *sqlite_files);
    ExpectSame(EmbeddedMigrations(SchemaBackend::kPostgres), *postgres_files);
}

TEST(Migrations, BothBackendsHaveTheSameVersionsAndNames) {
    const auto& lite = EmbeddedMigrations(SchemaBackend::kSqlite);
    const auto& pg = EmbeddedMigrations(SchemaBackend::kPostgres);

    ASSERT_FALSE(lite.empty());
    ASSERT_EQ(lite.size(), pg.size());
    for (std::size_t i = 0; i < lite.size(); ++i) {
        EXPECT_EQ(lite[i].version, pg[i].version);
        EXPECT_EQ(lite[i].name, pg[i].name);
    }
}

TEST(Migrations, GapInVersionsIsRejected) {
    TempDir dir;
    std::ofstream(dir.File("0001_a.sql")) << "CREATE TABLE a (x INTEGER);";
    std::ofstream(dir.File("0003_c.sql")) << "CREATE TABLE c (x INTEGER);";
    std::ofstream(dir.File("README.md")) << "ignored";

    EXPECT_THAT(LoadMigrations(dir.Path().string()), HasErrc(Errc::kMigration));
}

TEST(Migrations, PendingListsOnlyWhatTheDatabaseLacks) {
    const std::vector<Migration> known{{1, "a", ""}, {2, "b", ""}, {3, "c", ""}};

    auto pending = PendingMigrations(known, {{1, "a"}});

    ASSERT_THAT(pending, IsOk());
    ASSERT_EQ(pending->size(), 2u);
    EXPECT_EQ((*pending)[0]->version, 2);
    EXPECT_EQ((*pending)[1]->version, 3);
    EXPECT_THAT(PendingMigrations(known, {{4, "d"}}), HasErrc(Errc::kMigration));
    EXPECT_THAT(PendingMigrations(known, {{2, "renamed"}}), HasErrc(Errc::kMigration));
}

class SqliteMigrationTest : public ::testing::Test {
protected:
    std::unique_ptr<sqlite::Connection> Raw() {
        auto c = sqlite::Connection::Open(dir_.File("d.db"), {});
        EXPECT_THAT(c, IsOk());
        return c ? std::move(*c) : nullptr;
    }
    ManualClock clock_{1'772'442'000'000};
    TempDir dir_;
};

TEST_F(SqliteMigrationTest, FreshFileGetsEveryMigrationInWalMode) {
    auto store = OpenSqliteStore(LiteOptions(dir_.File("d.db")), clock_);
    ASSERT_THAT(store, IsOk());

    auto raw = Raw();
    EXPECT_EQ(raw->QueryText("PRAGMA journal_mode").value(), "wal");
    EXPECT_EQ(raw->QueryText("SELECT COUNT(*) FROM schema_migrations").value(),
              std::to_string(EmbeddedMigrations(SchemaBackend::kSqlite).size()));
    for (const char* table : {"portals", "tokens", "inbox", "ticket_snapshots", "ledger", "timers", "outbox"}) {
        EXPECT_EQ(raw->QueryText(std::string("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '") +
                                 table + "'")
                      .value(),
                  "1")
            << table;
    }
}

TEST_F(SqliteMigrationTest, SecondOpenKeepsTheFirstApplication) {
    ASSERT_THAT(OpenSqliteStore(LiteOptions(dir_.File("d.db")), clock_), IsOk());
    clock_.Advance(kDayMs);

    ASSERT_THAT(OpenSqliteStore(LiteOptions(dir_.File("d.db")), clock_), IsOk());

    auto raw = Raw();
    EXPECT_EQ(raw->QueryText("SELECT MAX(applied_at) FROM schema_migrations").value(),
              std::to_string(clock_.Now() - kDayMs));
}

TEST_F(SqliteMigrationTest, FailedMigrationLeavesNothingBehind) {
    TempDir schemas;
    std::ofstream(schemas.File("0001_good.sql")) << "CREATE TABLE good (x INTEGER);";
    std::ofstream(schemas.File("0002_bad.sql")) << "CREATE TABLE half (x INTEGER); CREATE TABLE oops (;";

    auto store = OpenSqliteStore(LiteOptions(dir_.File("d.db"), schemas.Path().string()), clock_);

    EXPECT_THAT(store, HasErrc(Errc::kMigration));
    auto raw = Raw();
    EXPECT_EQ(raw->QueryText("SELECT group_concat(version) FROM schema_migrations").value(), "1");
    EXPECT_EQ(raw->QueryText("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'half'").value(), "0");
}

TEST_F(SqliteMigrationTest, MigrationsCanComeFromADirectory) {
    TempDir schemas;
    std::ofstream(schemas.File("0001_only.sql")) << "CREATE TABLE only_table (x INTEGER);";

    ASSERT_THAT(OpenSqliteStore(LiteOptions(dir_.File("d.db"), schemas.Path().string()), clock_),
                IsOk());

    EXPECT_EQ(Raw()->QueryText("SELECT name FROM schema_migrations").value(), "only");
}

TEST(PgHelpers, SqliteParametersBecomeDollarParameters) {
    EXPECT_EQ(pg::FromSqliteParams("SELECT ?1 + ?12 WHERE x = ?2"), "SELECT $1 + $12 WHERE x = $2");
}

TEST(PgHelpers, OnlyPlainIdentifiersAreSafe) {
    EXPECT_TRUE(pg::IsSafeIdentifier("t_123_abc"));
    EXPECT_FALSE(pg::IsSafeIdentifier("1abc"));
    EXPECT_FALSE(pg::IsSafeIdentifier("a\"; DROP"));
    EXPECT_FALSE(pg::IsSafeIdentifier(""));
}

TEST(RetryBackoff, DoublesFromTheFirstDelayUpToTheCap) {
    const RetryPolicy policy{.max_attempts = 10, .first_backoff = kSecondMs, .max_backoff = 5 * kSecondMs};

    EXPECT_EQ(Backoff(policy, 1), kSecondMs);
    EXPECT_EQ(Backoff(policy, 2), 2 * kSecondMs);
    EXPECT_EQ(Backoff(policy, 3), 4 * kSecondMs);
    EXPECT_EQ(Backoff(policy, 4), 5 * kSecondMs);
    EXPECT_EQ(Backoff(policy, 60), 5 * kSecondMs);
}

}  // namespace
}  // namespace dispatch::store
