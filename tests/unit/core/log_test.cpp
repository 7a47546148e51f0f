#include "core/log.hpp"

#include <gtest/gtest.h>

namespace dispatch::log {
namespace {

TEST(MaskUrlSecrets, HidesIncomingWebhookSecretSegment) {
    const std::string masked = MaskUrlSecrets("url=https://acme.bitrix24.ru/rest/1/abcdef123456/crm.item.get");

    EXPECT_EQ(masked, "url=https://acme.bitrix24.ru/rest/1/***/crm.item.get");
}

TEST(MaskUrlSecrets, HidesTokenQueryParameters) {
    const std::string masked = MaskUrlSecrets("GET /rest/crm.item.get?auth=tok123&id=5 refresh_token=zzz");

    EXPECT_EQ(masked, "GET /rest/crm.item.get?auth=***&id=5 refresh_token=***");
}

TEST(MaskSecret, KeepsOnlyAPrefixOfLongSecrets) {
    EXPECT_EQ(MaskSecret("0123456789abcdef"), "0123***(16)");
    EXPECT_EQ(MaskSecret("short"), "***(5)");
    EXPECT_EQ(MaskSecret(""), "<empty>");
}

TEST(Quote, QuotesOnlyWhenNeeded) {
    EXPECT_EQ(Quote("plain"), "plain");
    EXPECT_EQ(Quote("two words"), "\"two words\"");
    EXPECT_EQ(Quote("a\"b"), "\"a\\\"b\"");
    EXPECT_EQ(Quote(""), "\"\"");
}

TEST(Logger, LevelOverridePerLogger) {
    Logger http("http_test_logger");
    SetLoggerLevels("http_test_logger=error");

    EXPECT_FALSE(http.Enabled(Level::kWarn));
    EXPECT_TRUE(http.Enabled(Level::kError));

    SetLoggerLevels("");
    EXPECT_TRUE(http.Enabled(Level::kWarn));
}

}  // namespace
}  // namespace dispatch::log
