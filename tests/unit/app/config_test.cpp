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

    const auto config = ParseConfig(text, kSchema,
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
    EXPECT_THAT(config.error().detail, ::testing::HasSubstr("$.database.postgres.dsn_env: environment variable PG_DSN"));
    EXPECT_THAT(config.error().detail, ::testing::HasSubstr("$.portals[0].webhook_url_env"));
}

TEST(Config, APortalNeedsAWayToAuthenticate) {
    const std::string text = R"({"listen": "127.0.0.1:1", "tls": {"cert": "c", "key": "k"},
                                 "database": {"sqlite": {"path": "d"}}, "portals": [{"name": "a"}]})";

    EXPECT_THAT(ParseConfig(text, kSchema, FakeEnv({})), HasErrc(CoreErrc::kInvalid));
}

TEST(Config, MalformedJsonIsAnError) {
    EXPECT_THAT(ParseConfig("{", kSchema, FakeEnv({})), HasErrc(CoreErrc::kInvalid));
}

}  // namespace
}  // namespace dispatch::app
