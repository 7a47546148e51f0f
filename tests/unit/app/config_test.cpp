#include "app/config.hpp"

#include <map>

#include "app/embedded.hpp"
#include "core/errc.hpp"
#include "support/test_support.hpp"

namespace dispatch::app {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
}

const std::string kSchema(kConfigSchema);

TEST(Config, ReadsAFullConfigWithSecretsFromTheEnvironment) {
    const std::string text = R"({
        "listen": "127.0.0.1:8443", "tls": {"cert": "c.pem", "key": "k.pem"},
        "database": {"sqlite": {"path": "/var/lib/dispatch/dispatch.db"}},
        "hook_key_env": "DISPATCH_HOOK_KEY",
        "portals": [{"name": "acme", "plan": "enterprise", "webhook_url_env": "ACME_WEBHOOK",
                     "oauth": {"client_id": "local.1", "client_secret_env": "ACME_SECRET"}}],
        "log": {"level": "debug"}})";

    const auto config = ParseConfig(text,
                                    kSchema,
                                    FakeEnv({{"DISPATCH_HOOK_KEY", "hk"},
                                             {"ACME_WEBHOOK", "https://acme.bitrix24.ru/rest/1/s3cr3t/"},
                                             {"ACME_SECRET", "cs"}}));

    ASSERT_THAT(config, IsOk());
    EXPECT_EQ(config->listen, "127.0.0.1:8443");
    EXPECT_EQ(config->sqlite_path, "/var/lib/dispatch/dispatch.db");
    EXPECT_EQ(config->hook_key, "hk");
    ASSERT_EQ(config->portals.size(), 1u);
    EXPECT_TRUE(config->portals[0].enterprise);
    EXPECT_EQ(config->portals[0].client_secret, "cs");
    EXPECT_EQ(config->portals[0].webhook_url, "https://acme.bitrix24.ru/rest/1/s3cr3t/");
    EXPECT_EQ(config->log_level, "debug");
    EXPECT_EQ(config->max_body_bytes, 256u * 1024u);
}

TEST(Config, UnknownKeysAreErrorsNamingTheirPath) {
    const std::string text = R"({"listen": "127.0.0.1:1", "tls": {"cert": "c", "key": "k", "ciphers": "x"},
                                 "database": {"sqlite": {"path": "d"}}, "colour": "blue"})";

    const auto config = ParseConfig(text, kSchema, FakeEnv({}));

    ASSERT_THAT(config, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(config.error().detail, ::testing::HasSubstr("$.tls"));
    EXPECT_THAT(config.error().detail, ::testing::HasSubstr("ciphers"));
    EXPECT_THAT(config.error().detail, ::testing::HasSubstr("colour"));
}

TEST(Config, AMissingSecretIsNamedButNeverShown) {
    const std::string text = R"({"listen": "127.0.0.1:1", "tls": {"cert": "c", "key": "k"},
                                 "database": {"postgres": {"dsn_env": "PG_DSN"}},
                                 "portals": [{"name": "a", "webhook_url_env": "A_HOOK"}]})";

    const auto config = ParseConfig(text, kSchema, FakeEnv({{"A_HOOK", ""}}));

    ASSERT_THAT(config, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(config.error().detail,
                ::testing::HasSubstr("$.database.postgres.dsn_env: environment variable PG_DSN"));
    EXPECT_THAT(config.error().detail, ::testing::HasSubstr("$.portals[0].webhook_url_env"));
}

TEST(Config, APortalNeedsAWayToAuthenticate) {
    const std::string text = R"({"listen": "127.0.0.1:1", "tls": {"cert": "c", "key": "k"},
                                 "database": {"sqlite": {"path": "d"}}, "portals": [{"name": "a"}]})";

    EXPECT_THAT(ParseConfig(text, kSchema, FakeEnv({})), HasErrc(CoreErrc::kInvalid));
}

TEST(Config, TheB24SectionGivesTheAppCredentialsAndTheCa) {
    const std::string text = R"({"listen": "127.0.0.1:1", "tls": {"cert": "c", "key": "k"},
                                 "database": {"sqlite": {"path": "d"}},
                                 "b24": {"oauth": {"client_id": "local.5", "client_secret_env": "APP_SECRET",
                                                   "oauth_server": "https://127.0.0.1:9443"},
                                         "ca_file": "/etc/dispatch/test-ca.pem", "verify_install": false}})";

    const auto config = ParseConfig(text, kSchema, FakeEnv({{"APP_SECRET", "s3"}}));

    ASSERT_THAT(config, IsOk());
    EXPECT_EQ(config->b24.client_id, "local.5");
    EXPECT_EQ(config->b24.client_secret, "s3");
    EXPECT_EQ(config->b24.oauth_server, "https://127.0.0.1:9443");
    EXPECT_EQ(config->b24.ca_file, "/etc/dispatch/test-ca.pem");
    EXPECT_FALSE(config->b24.verify_install);
}

TEST(Config, WithoutAB24SectionInstallsAreCheckedWithTheBitrixOAuthServer) {
    const std::string text = R"({"listen": "127.0.0.1:1", "tls": {"cert": "c", "key": "k"},
                                 "database": {"sqlite": {"path": "d"}}})";

    const auto config = ParseConfig(text, kSchema, FakeEnv({}));

    ASSERT_THAT(config, IsOk());
    EXPECT_TRUE(config->b24.client_id.empty());
    EXPECT_EQ(config->b24.oauth_server, "https://oauth.bitrix.info");
    EXPECT_TRUE(config->b24.verify_install);
}

TEST(Config, TheB24SectionRefusesUnknownKeysAndNamesAMissingSecret) {
    const std::string unknown = R"({"listen": "127.0.0.1:1", "tls": {"cert": "c", "key": "k"},
                                    "database": {"sqlite": {"path": "d"}}, "b24": {"plan": "ent"}})";
    const std::string missing = R"({"listen": "127.0.0.1:1", "tls": {"cert": "c", "key": "k"},
                                    "database": {"sqlite": {"path": "d"}},
                                    "b24": {"oauth": {"client_id": "x", "client_secret_env": "NOPE"}}})";

    const auto a = ParseConfig(unknown, kSchema, FakeEnv({}));
    const auto b = ParseConfig(missing, kSchema, FakeEnv({}));

    ASSERT_THAT(a, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(a.error().detail, ::testing::HasSubstr("$.b24"));
    EXPECT_THAT(a.error().detail, ::testing::HasSubstr("plan"));
    ASSERT_THAT(b, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(b.error().detail, ::testing::HasSubstr("$.b24.oauth.client_secret_env: environment variable NOPE"));
}

// A minimal valid config whose "flows" object is `flows`.
std::string WithFlows(const std::string& flows) {
    return R"({"listen": "127.0.0.1:1", "tls": {"cert": "c", "key": "k"}, "database": {"sqlite": {"path": "d"}},
               "flows": )" +
           flows + "}";
}

TEST(Config, RetentionDaysDefaultsToThirtyZeroKeepsRowsAndOnlyWholeDaysWithinAHundredYearsPass) {
    const auto absent = ParseConfig(WithFlows("{}"), kSchema, FakeEnv({}));
    const auto given = ParseConfig(WithFlows(R"({"retention_days": 7})"), kSchema, FakeEnv({}));
    const auto zero = ParseConfig(WithFlows(R"({"retention_days": 0})"), kSchema, FakeEnv({}));
    const auto fraction = ParseConfig(WithFlows(R"({"retention_days": 1.5})"), kSchema, FakeEnv({}));
    const auto text = ParseConfig(WithFlows(R"({"retention_days": "30"})"), kSchema, FakeEnv({}));
    const auto huge = ParseConfig(WithFlows(R"({"retention_days": 99999999999})"), kSchema, FakeEnv({}));

    ASSERT_THAT(absent, IsOk());
    EXPECT_EQ(absent->flows.retention_days, 30);
    ASSERT_THAT(given, IsOk());
    EXPECT_EQ(given->flows.retention_days, 7);
    ASSERT_THAT(zero, IsOk()) << "0 switches retention off";
    EXPECT_EQ(zero->flows.retention_days, 0);
    EXPECT_THAT(fraction, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(text, HasErrc(CoreErrc::kInvalid));
    ASSERT_THAT(huge, HasErrc(CoreErrc::kInvalid)) << "days beyond any int (and any TimeMs once in milliseconds)";
    EXPECT_THAT(huge.error().detail, ::testing::HasSubstr("retention_days"));
}

TEST(Config, ReconcileMinutesRunFromOffToAWeek) {
    const auto off = ParseConfig(WithFlows(R"({"reconcile_minutes": 0})"), kSchema, FakeEnv({}));
    const auto week = ParseConfig(WithFlows(R"({"reconcile_minutes": 10080})"), kSchema, FakeEnv({}));
    const auto longer = ParseConfig(WithFlows(R"({"reconcile_minutes": 10081})"), kSchema, FakeEnv({}));
    const auto huge = ParseConfig(WithFlows(R"({"reconcile_minutes": 99999999999})"), kSchema, FakeEnv({}));

    ASSERT_THAT(off, IsOk());
    EXPECT_EQ(off->flows.reconcile_minutes, 0);
    ASSERT_THAT(week, IsOk());
    EXPECT_EQ(week->flows.reconcile_minutes, 10080);
    ASSERT_THAT(longer, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(longer.error().detail, ::testing::HasSubstr("reconcile_minutes"));
    ASSERT_THAT(huge, HasErrc(CoreErrc::kInvalid)) << "a count that would not fit an int";
}

TEST(Config, RetryDefaultsToTwentyTriesFifteenMinutesApartAtMostAndRefusesZeroAndUnknownKeys) {
    const auto absent = ParseConfig(WithFlows("{}"), kSchema, FakeEnv({}));
    const auto given =
        ParseConfig(WithFlows(R"({"retry": {"max_attempts": 5, "max_backoff_minutes": 60}})"), kSchema, FakeEnv({}));
    const auto zero = ParseConfig(WithFlows(R"({"retry": {"max_attempts": 0}})"), kSchema, FakeEnv({}));
    const auto typo = ParseConfig(WithFlows(R"({"retry": {"max_backof_minutes": 5}})"), kSchema, FakeEnv({}));

    ASSERT_THAT(absent, IsOk());
    EXPECT_EQ(absent->flows.retry_max_attempts, 20);
    EXPECT_EQ(absent->flows.retry_max_backoff_minutes, 15);
    ASSERT_THAT(given, IsOk());
    EXPECT_EQ(given->flows.retry_max_attempts, 5);
    EXPECT_EQ(given->flows.retry_max_backoff_minutes, 60);
    ASSERT_THAT(zero, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(zero.error().detail, ::testing::HasSubstr("max_attempts"));
    ASSERT_THAT(typo, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(typo.error().detail, ::testing::HasSubstr("max_backof_minutes"));
}

TEST(Config, MalformedJsonIsAnError) {
    EXPECT_THAT(ParseConfig("{", kSchema, FakeEnv({})), HasErrc(CoreErrc::kInvalid));
}

}  // namespace
}  // namespace dispatch::app
