// `dispatchctl backup` as a real process over a real SQLite store that stays open meanwhile (as under dispatchd):
// the one line it prints, the exit codes a script relies on, and that it never echoes a secret of the config.
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"

namespace dispatch {
namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr const char* kHookKey = "hook-key-that-must-never-be-printed";

using Ran = dispatch::testing::Finished;
using dispatch::testing::Slurp;

class DispatchctlBackupTest : public ::testing::Test {
protected:
    void TearDown() override {
        if (HasFailure()) {
            std::cerr << "--- last stdout ---\n" << last_.out << "\n--- last stderr ---\n" << last_.err << "\n";
        }
    }

    // Runs dispatchctl with `args` to its end (60 s at most), stdout and stderr in files; the config's hook key
    // variable is set so a leak of it would show.
    Ran Ctl(const std::vector<std::string>& args) {
        std::vector<std::string> argv{DISPATCHCTL_BIN};
        argv.insert(argv.end(), args.begin(), args.end());
        last_ = dispatch::testing::RunToEnd(
            argv, {std::string("DISPATCH_TEST_BACKUP_HOOK_KEY=") + kHookKey}, dir_.Path().string());
        if (last_.timed_out) {
            ADD_FAILURE() << "dispatchctl did not finish";
        }
        return last_;
    }

    // dispatchd's config with `database`; its hook key and API token come from variables (the token's is unset:
    // the backup needs neither).
    std::string WriteConfig(bj::object database) {
        const auto path = dir_.File("config.json");
        std::ofstream(path) << json::Dump(
            bj::object{{"listen", "127.0.0.1:0"},
                       {"tls", bj::object{{"cert", "cert.pem"}, {"key", "key.pem"}}},
                       {"database", std::move(database)},
                       {"hook_key_env", "DISPATCH_TEST_BACKUP_HOOK_KEY"},
                       {"flows", bj::object{{"api_token_env", "DISPATCH_TEST_UNSET_TOKEN"}}}});
        return path;
    }

    std::string SqliteConfig() { return WriteConfig(bj::object{{"sqlite", bj::object{{"path", db_}}}}); }

    // A store with `events` inbox rows, left open like dispatchd's.
    void OpenStoreWith(int events) {
        store::SqliteOptions options;
        options.path = db_;
        auto opened = store::OpenSqliteStore(options, clock_);
        ASSERT_THAT(opened, IsOk());
        store_ = std::move(*opened);
        for (int i = 0; i < events; ++i) {
            store::InboxEvent event;
            event.member_id = "m-acme";
            event.received_at = clock_.Now();
            event.event_name = "ONCRMDYNAMICITEMADD";
            event.entity_type_id = 1032;
            event.item_id = i + 1;
            event.dedup_key = fmt::format("e-{}", i);
            ASSERT_THAT(store_->Inbox().AppendAndWait(event), IsOk());
        }
    }

    std::string InboxRowsInCopy() {
        auto c = store::sqlite::Connection::Open(copy_, store::sqlite::OpenOptions{.read_only = true});
        EXPECT_THAT(c, IsOk());
        if (!c) {
            return {};
        }
        EXPECT_EQ((*c)->QueryText("PRAGMA integrity_check").value(), "ok");
        return (*c)->QueryText("SELECT count(*) FROM inbox").value();
    }

    void ExpectNoSecretPrinted() {
        EXPECT_THAT(last_.out, Not(HasSubstr(kHookKey)));
        EXPECT_THAT(last_.err, Not(HasSubstr(kHookKey)));
    }

    dispatch::testing::TempDir dir_;
    ManualClock clock_{1'772'442'000'000};
    std::string db_ = dir_.File("dispatch.db");
    std::string copy_ = dir_.File("backup.db");
    std::unique_ptr<store::Store> store_;
    Ran last_;
};

TEST_F(DispatchctlBackupTest, CopiesTheOpenStoreAndPrintsOneKeyValueLine) {
    OpenStoreWith(25);

    const Ran ran = Ctl({"backup", "--config", SqliteConfig(), "--to", copy_});

    EXPECT_EQ(ran.exit, 0);
    EXPECT_THAT(ran.out,
                MatchesRegex(fmt::format("backup ok path={} pages=[1-9][0-9]* bytes=[1-9][0-9]* ms=[0-9]+\n", copy_)));
    EXPECT_EQ(ran.err, "");
    ExpectNoSecretPrinted();
    EXPECT_EQ(InboxRowsInCopy(), "25");
    for (const char* suffix : {".partial", "-wal", "-journal"}) {
        EXPECT_FALSE(fs::exists(copy_ + suffix)) << suffix;
    }
}

TEST_F(DispatchctlBackupTest, ExistingTargetExitsTwoNamingItUnlessForced) {
    OpenStoreWith(3);
    std::ofstream(copy_) << "last night's backup";

    const Ran refused = Ctl({"backup", "--config", SqliteConfig(), "--to", copy_});

    EXPECT_EQ(refused.exit, 2);
    EXPECT_EQ(refused.out, "");
    EXPECT_THAT(refused.err, HasSubstr(copy_));
    EXPECT_THAT(refused.err, HasSubstr("--force"));
    EXPECT_THAT(refused.err, MatchesRegex("[^\n]*\n")) << "one line";
    EXPECT_EQ(Slurp(copy_), "last night's backup");

    const Ran forced = Ctl({"backup", "--config", SqliteConfig(), "--to", copy_, "--force"});

    EXPECT_EQ(forced.exit, 0);
    EXPECT_THAT(forced.out, HasSubstr("backup ok "));
    EXPECT_EQ(InboxRowsInCopy(), "3");
}

TEST_F(DispatchctlBackupTest, PostgresConfigExitsTwoPointingToPgDump) {
    const auto config = WriteConfig(bj::object{{"postgres", bj::object{{"dsn_env", "DISPATCH_TEST_UNSET_DSN"}}}});

    const Ran ran = Ctl({"backup", "--config", config, "--to", copy_});

    EXPECT_EQ(ran.exit, 2);
    EXPECT_THAT(ran.err, HasSubstr("use pg_dump for PostgreSQL"));
    EXPECT_THAT(ran.err, MatchesRegex("[^\n]*\n")) << "one line";
    EXPECT_FALSE(fs::exists(copy_));
    EXPECT_FALSE(fs::exists(copy_ + ".partial"));
}

TEST_F(DispatchctlBackupTest, MissingConfigFailsWithOneLine) {
    const Ran ran = Ctl({"backup", "--config", dir_.File("absent.json"), "--to", copy_});

    EXPECT_EQ(ran.exit, 1);
    EXPECT_THAT(ran.err, HasSubstr("absent.json"));
    EXPECT_THAT(ran.err, MatchesRegex("[^\n]*\n")) << "one line";
    EXPECT_FALSE(fs::exists(copy_));
    EXPECT_FALSE(fs::exists(copy_ + ".partial"));
}

TEST_F(DispatchctlBackupTest, MissingDatabaseFailsWithOneLineAndLeavesNothing) {
    const Ran ran = Ctl({"backup", "--config", SqliteConfig(), "--to", copy_});

    EXPECT_EQ(ran.exit, 1);
    EXPECT_THAT(ran.err, HasSubstr(db_));
    EXPECT_THAT(ran.err, MatchesRegex("[^\n]*\n")) << "one line";
    EXPECT_FALSE(fs::exists(copy_));
    EXPECT_FALSE(fs::exists(copy_ + ".partial"));
    EXPECT_FALSE(fs::exists(db_)) << "a backup must not create the database it was to copy";
}

}  // namespace
}  // namespace dispatch
