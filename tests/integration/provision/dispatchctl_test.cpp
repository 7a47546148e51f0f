// `dispatchctl provision` as a real process against b24emu (a real process too): exit codes a script relies on,
// the plan and progress it prints, the failure message, and the layout it stores in a real SQLite store when run
// with dispatchd's config (OAuth tokens from the store) or with an incoming webhook plus --store.
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <random>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "emu_portal.hpp"
#include "provision/layout.hpp"
#include "store/pg.hpp"
#include "store/store.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"

namespace dispatch::provision {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

using Ran = dispatch::testing::Finished;

// Runs `argv` to its end (60 s at most); `env` is added to the environment.
Ran RunProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& dir) {
    Ran ran = dispatch::testing::RunToEnd(argv, env, dir);
    if (ran.timed_out) {
        ADD_FAILURE() << "dispatchctl did not finish";
    }
    return ran;
}

std::string PgDsn() {
    const char* dsn = std::getenv("DISPATCH_TEST_PG_DSN");
    return dsn != nullptr ? dsn : "";
}

class DispatchctlTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string error;
        ASSERT_TRUE(emu_.Start(B24EMU_BIN, dir_.File("b24emu.log"), error)) << error;
        db_path_ = dir_.File("dispatch.db");
    }

    void TearDown() override {
        if (HasFailure()) {
            std::cerr << "--- last stdout ---\n" << last_.out << "\n--- last stderr ---\n" << last_.err << "\n";
        }
        if (!schema_.empty()) {
            if (auto admin = store::pg::Connection::Open(PgDsn(), "")) {
                (void)(*admin)->Exec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
            }
        }
    }

    // PostgreSQL instead of SQLite: a schema of this test's own, which dispatchctl reaches through its DSN.
    void UsePostgres() {
        std::random_device rd;
        schema_ = "ctl_" + std::to_string(rd()) + "_" + std::to_string(rd() % 100000);
    }

    Ran Ctl(std::vector<std::string> args, std::vector<std::string> env = {}) {
        args.insert(args.begin(), DISPATCHCTL_BIN);
        args.push_back("--spec");
        args.push_back(dispatch::testing::SourcePath("workplace/helpdesk.json"));
        env.push_back("DISPATCH_TEST_CLIENT_SECRET=" + emu_.ClientSecret());
        env.push_back("DISPATCH_TEST_HOOK_KEY=hook-key");
        if (!schema_.empty()) {
            env.push_back("DISPATCH_TEST_DSN=" + PgDsn() + " options='-csearch_path=" + schema_ + "'");
        }
        last_ = RunProcess(args, env, dir_.Path().string());
        return last_;
    }

    // dispatchd's config: the SQLite store, the local app's credentials, the emulator as OAuth server.
    std::string WriteConfig() {
        const auto path = dir_.File("config.json");
        std::ofstream(path) << json::Dump(
            bj::object{{"listen", "127.0.0.1:0"},
                       {"public_url", "https://dispatch.test"},
                       {"tls",
                        bj::object{{"cert", dispatch::testing::BinaryPath("certs/server.pem")},
                                   {"key", dispatch::testing::BinaryPath("certs/server.key")}}},
                       {"database",
                        schema_.empty() ? bj::object{{"sqlite", bj::object{{"path", db_path_}}}}
                                        : bj::object{{"postgres", bj::object{{"dsn_env", "DISPATCH_TEST_DSN"}}}}},
                       {"hook_key_env", "DISPATCH_TEST_HOOK_KEY"},
                       {"b24",
                        bj::object{{"oauth",
                                    bj::object{{"client_id", emu_.ClientId()},
                                               {"client_secret_env", "DISPATCH_TEST_CLIENT_SECRET"},
                                               {"oauth_server", emu_.BaseUrl()}}},
                                   {"ca_file", dispatch::testing::BinaryPath("certs/ca.pem")}}}});
        return path;
    }

    std::unique_ptr<store::Store> OpenStore() {
        store::SqliteOptions options;
        options.path = db_path_;
        store::PostgresOptions pg;
        pg.dsn = PgDsn();
        pg.schema = schema_;
        pg.pool_size = 1;
        auto opened = schema_.empty() ? store::OpenSqliteStore(options, clock_) : store::OpenPostgresStore(pg, clock_);
        EXPECT_TRUE(opened) << (opened ? "" : opened.error().detail);
        return opened ? std::move(*opened) : nullptr;
    }

    // What the install callback would have stored: the portal row and its OAuth pair.
    std::string Install() {
        const auto tokens = emu_.FreshTokens();
        const auto member = json::StringAt(tokens, "member_id").value_or("");
        auto db = OpenStore();
        store::Portal portal;
        portal.member_id = member;
        portal.domain = "127.0.0.1";
        portal.client_endpoint = json::StringAt(tokens, "client_endpoint").value_or("");
        portal.auth_mode = store::AuthMode::kOAuth;
        portal.installed_at = portal.updated_at = clock_.Now();
        EXPECT_THAT(db->Portals().Upsert(portal), IsOk());
        store::Token token;
        token.member_id = member;
        token.access_token = json::StringAt(tokens, "access_token").value_or("");
        token.refresh_token = json::StringAt(tokens, "refresh_token").value_or("");
        token.expires_at = clock_.Now() + kHourMs;
        token.updated_at = clock_.Now();
        EXPECT_THAT(db->Tokens().CompareAndSwap(token, 0), IsOk());
        return member;
    }

    std::optional<Layout> StoredLayout(const std::string& member) {
        auto db = OpenStore();
        auto text = db->Settings().Get(member, kLayoutSettingsKey);
        if (!text) {
            return std::nullopt;
        }
        auto layout = Layout::FromJson(*json::Parse(*text));
        EXPECT_THAT(layout, IsOk());
        return layout ? std::optional<Layout>(std::move(*layout)) : std::nullopt;
    }

    std::string Ca() { return dispatch::testing::BinaryPath("certs/ca.pem"); }

    dispatch::testing::TempDir dir_;
    dispatch::testing::EmuPortal emu_;
    std::string db_path_;
    ManualClock clock_{FromCivilUtc(2026, 1, 12, 7, 0, 0)};
    Ran last_;
    std::string schema_;
};

// The runs that keep the layout in dispatchd's store, on both backends.
class DispatchctlStoreTest : public DispatchctlTest, public ::testing::WithParamInterface<std::string> {
protected:
    void SetUp() override {
        if (GetParam() == "postgres") {
            if (PgDsn().empty()) {
                GTEST_SKIP() << "DISPATCH_TEST_PG_DSN is not set (scripts/pg-test-server.sh start prints one)";
            }
            UsePostgres();
        }
        DispatchctlTest::SetUp();
        // The database as dispatchd leaves it after its first start: migrated (and the PostgreSQL schema made).
        ASSERT_NE(OpenStore(), nullptr);
    }
};

INSTANTIATE_TEST_SUITE_P(Backends, DispatchctlStoreTest, ::testing::Values("sqlite", "postgres"));

TEST_F(DispatchctlTest, WebhookPlanExitCodesAroundAnApply) {
    const auto before = Ctl({"provision", "plan", "--portal", emu_.WebhookUrl(), "--ca", Ca(), "--exit-code"});
    EXPECT_EQ(before.exit, 2);
    EXPECT_THAT(before.out, HasSubstr("create    type      it_request"));
    EXPECT_THAT(before.out, HasSubstr("outgoing webhook"));

    const auto apply = Ctl({"provision", "apply", "--portal", emu_.WebhookUrl(), "--ca", Ca()});
    EXPECT_EQ(apply.exit, 0);
    EXPECT_THAT(apply.out, HasSubstr("progress: write request"));
    EXPECT_THAT(apply.out, HasSubstr("done:"));
    EXPECT_THAT(apply.out, HasSubstr("layout not stored"));

    const auto after = Ctl({"provision", "plan", "--portal", emu_.WebhookUrl(), "--ca", Ca(), "--exit-code"});
    EXPECT_EQ(after.exit, 0);
    EXPECT_THAT(after.out, HasSubstr("create=0 update=0 drift=0 delete=0"));
    EXPECT_THAT(after.out, Not(HasSubstr("progress: write")));
}

TEST_P(DispatchctlStoreTest, ConfigModeUsesTheStoredTokensBindsEventsAndStoresTheLayout) {
    const auto config = WriteConfig();
    const auto member = Install();

    const auto apply = Ctl({"provision", "apply", "--portal", config});

    ASSERT_EQ(apply.exit, 0) << apply.err;
    EXPECT_THAT(apply.out, HasSubstr("auth=oauth"));
    EXPECT_THAT(apply.out, HasSubstr("event: 3 created"));
    EXPECT_THAT(apply.out, HasSubstr("robot: 4 created"));
    const auto layout = StoredLayout(member);
    ASSERT_TRUE(layout.has_value());
    const auto* requests = layout->FindProcess("it_request");
    ASSERT_NE(requests, nullptr);
    ASSERT_EQ(requests->funnels.size(), 3u);
    // The ids the store holds are the portal's, as its REST API reports them.
    dispatch::testing::EmuClient reader(emu_, dispatch::testing::EmuClient::Mode::kWebhook);
    auto type = reader.Get().Call("crm.type.get", {{"id", requests->type_id}});
    ASSERT_THAT(type, IsOk());
    EXPECT_EQ(json::IntAt(type->at("type"), "entityTypeId"), requests->entity_type_id);
    EXPECT_EQ(json::StringAt(type->at("type"), "code"), "it_request");

    const auto again = Ctl({"provision", "apply", "--portal", config, "--member", member});
    EXPECT_EQ(again.exit, 0);
    EXPECT_THAT(again.out, HasSubstr(", 0 write calls"));
}

TEST_F(DispatchctlTest, AFailedCallExitsOneNamingTheCallItsCodeAndWhatWasDone) {
    emu_.FailNext("crm.status.add", 1, 400, "ERROR_CORE", "Error on creating status.");

    const auto failed = Ctl({"provision", "apply", "--portal", emu_.WebhookUrl(), "--ca", Ca()});

    EXPECT_EQ(failed.exit, 1);
    EXPECT_THAT(failed.err, HasSubstr("call crm.status.add for stage it_request/"));
    EXPECT_THAT(failed.err, HasSubstr("ERROR_CORE"));
    EXPECT_THAT(failed.err, HasSubstr("already done: workplace: 1 created; type: 2 created"));
    EXPECT_THAT(failed.err, Not(HasSubstr("/rest/1/")));  // the webhook secret never shows

    const auto rerun = Ctl({"provision", "apply", "--portal", emu_.WebhookUrl(), "--ca", Ca()});
    EXPECT_EQ(rerun.exit, 0);
}

TEST_P(DispatchctlStoreTest, AWebhookWithAStoreKeepsTheLayoutAndPlanReportsDrift) {
    const auto config = WriteConfig();
    const std::string member = "webhook-portal";

    const auto apply =
        Ctl({"provision", "apply", "--portal", emu_.WebhookUrl(), "--ca", Ca(), "--store", config, "--member", member});
    ASSERT_EQ(apply.exit, 0);
    const auto layout = StoredLayout(member);
    ASSERT_TRUE(layout.has_value());
    const auto* requests = layout->FindProcess("it_request");
    ASSERT_NE(requests, nullptr);
    const auto* line2 = requests->FindFunnel("line2");
    ASSERT_NE(line2, nullptr);
    // By hand: rename a stage of Line 2.
    emu_.Act("crm.status.update", {{"id", line2->stages.at(1).id}, {"fields", bj::object{{"NAME", "Queue"}}}});

    const auto plan = Ctl({"provision",
                           "plan",
                           "--portal",
                           emu_.WebhookUrl(),
                           "--ca",
                           Ca(),
                           "--store",
                           config,
                           "--member",
                           member,
                           "--exit-code"});

    EXPECT_EQ(plan.exit, 2);
    EXPECT_THAT(plan.out, HasSubstr("drift     stage     it_request/line2/QUEUED"));
    // The robots' stand-in for a portal without the app: the built-in Webhook robot calling /b24/hook.
    EXPECT_THAT(plan.out, HasSubstr("https://dispatch.test/b24/hook?member_id=webhook-portal&secret="));
}

TEST_F(DispatchctlTest, UsageErrorsExitOneAndHelpExitsZero) {
    EXPECT_EQ(Ctl({"provision", "deploy", "--portal", emu_.WebhookUrl()}).exit, 1);
    EXPECT_THAT(last_.err, HasSubstr("usage:"));
    EXPECT_EQ(Ctl({"provision", "plan"}).exit, 1);
    EXPECT_EQ(Ctl({"--help"}).exit, 0);
    EXPECT_THAT(last_.out, HasSubstr("exit codes"));
    EXPECT_THAT(last_.out, HasSubstr("stats export"));
    const auto stats = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {DISPATCHCTL_BIN, "stats", "export"});
        return RunProcess(args, {}, dir_.Path().string());
    };
    const auto no_url = stats({"--config", WriteConfig()});
    EXPECT_EQ(no_url.exit, 1);
    EXPECT_THAT(no_url.err, HasSubstr("needs --config and --url"));
    const auto no_value = stats({"--url", "https://127.0.0.1:1", "--config"});
    EXPECT_EQ(no_value.exit, 1);
    EXPECT_THAT(no_value.err, HasSubstr("--config needs a value"));
}

}  // namespace
}  // namespace dispatch::provision
