// The emulator behind the real HTTPS server: transport parsing (paths, query, form and JSON bodies), the OAuth
// endpoint, the bucket and event delivery to a real HTTPS handler (CONTRACT §13.1, §13.3).
#include <boost/json.hpp>
#include <memory>
#include <mutex>
#include <vector>

#include "core/form.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "emulator/server.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "support/test_support.hpp"

namespace dispatch::emulator {
namespace {

namespace bj = boost::json;

http::ServerOptions Tls() {
    http::ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.cert_file = ::dispatch::testing::BinaryPath("certs/server.pem");
    o.key_file = ::dispatch::testing::BinaryPath("certs/server.key");
    return o;
}

class EmulatorHttpsTest : public ::testing::Test {
protected:
    void SetUp() override {
        // The event handler: a second HTTPS server that records what the portal POSTs.
        http::Router handler_router;
        handler_router.Add("POST", "/events", [this](http::Request&& req, http::Respond respond) {
            {
                std::lock_guard lock(mu_);
                received_.push_back(std::move(req));
            }
            respond(http::Response::Text(200, "ok"));
        });
        handler_ = std::make_unique<http::Server>(Tls(), std::move(handler_router));
        ASSERT_THAT(handler_->Start(), IsOk());

        EmulatorOptions options;
        options.portal.seed = 3;
        emu_ = std::make_unique<Emulator>(std::move(options), control_, HttpSender(client_));
        http::Router router;
        AddEmulatorRoutes(router, *emu_);
        server_ = std::make_unique<http::Server>(Tls(), std::move(router));
        ASSERT_THAT(server_->Start(), IsOk());
        base_ = "https://127.0.0.1:" + std::to_string(server_->Port());
        std::lock_guard lock(emu_->GetPortal().Mutex());
        emu_->GetPortal().SetBaseUrl(base_);
    }

    void TearDown() override {
        // Kept-alive client connections would hold Stop() for its whole stop_timeout.
        client_.CloseIdle();
        server_.reset();
        emu_.reset();
        handler_.reset();
    }

    std::pair<int, bj::value> Send(const std::string& method,
                                   const std::string& path,
                                   std::string body = {},
                                   std::string_view type = {}) {
        auto res = client_.Send(method, base_ + path, std::move(body), {}, type);
        EXPECT_THAT(res, IsOk());
        if (!res) {
            return {0, nullptr};
        }
        auto v = json::Parse(res->body);
        EXPECT_TRUE(v.has_value()) << res->body;
        return {res->status, v ? *v : bj::value()};
    }

    std::string Hook() { return "/rest/1/" + emu_->WebhookSecret() + "/"; }

    ManualClock clock_{FromCivilUtc(2026, 1, 12, 7, 0, 0)};
    ClockControl control_{clock_};
    http::Client client_{{.ca_file = ::dispatch::testing::BinaryPath("certs/ca.pem")}};
    std::unique_ptr<http::Server> handler_;
    std::unique_ptr<Emulator> emu_;
    std::unique_ptr<http::Server> server_;
    std::string base_;
    std::mutex mu_;
    std::vector<http::Request> received_;
};

TEST_F(EmulatorHttpsTest, WebhookAcceptsFormBodyJsonBodyAndQuery) {
    auto [s1, type] = Send("POST",
                           Hook() + "crm.type.add.json",
                           "fields%5Btitle%5D=Desk&fields%5BisCategoriesEnabled%5D=Y",
                           "application/x-www-form-urlencoded");
    ASSERT_EQ(s1, 200) << json::Dump(type);
    const auto e = type.at("result").at("type").at("entityTypeId").as_int64();

    auto [s2, added] = Send("POST",
                            Hook() + "crm.item.add",
                            json::Dump(bj::object{{"entityTypeId", e}, {"fields", bj::object{{"title", "A"}}}}),
                            "application/json");
    auto [s3, got] = Send("GET", Hook() + "crm.item.get?entityTypeId=" + std::to_string(e) + "&id=1");
    auto [s4, missing] = Send("GET", Hook() + "crm.item.get?entityTypeId=" + std::to_string(e) + "&id=99");

    EXPECT_EQ(s2, 200);
    EXPECT_EQ(s3, 200);
    EXPECT_EQ(got.at("result").at("item").at("title").as_string(), "A");
    EXPECT_EQ(s4, 400);
    EXPECT_EQ(missing.at("error").as_string(), "NOT_FOUND");
}

TEST_F(EmulatorHttpsTest, OAuthCodeExchangeThenRestWithAuthParameter) {
    auto [s1, code] = Send("POST", "/_emu/oauth/code", R"({"user_id":2})", "application/json");
    ASSERT_EQ(s1, 200);
    auto [s2, tokens] =
        Send("GET",
             "/oauth/token/?grant_type=authorization_code&client_id=" + emu_->ClientId() +
                 "&client_secret=" + emu_->ClientSecret() + "&code=" + std::string(code.at("code").as_string()));
    ASSERT_EQ(s2, 200) << json::Dump(tokens);

    auto [s3, me] = Send("GET", "/rest/user.current.json?auth=" + std::string(tokens.at("access_token").as_string()));
    auto [s4, bad] = Send("GET", "/rest/user.current?auth=nope");

    EXPECT_EQ(s3, 200);
    EXPECT_EQ(me.at("result").at("ID").as_string(), "2");
    EXPECT_EQ(s4, 401);
    EXPECT_EQ(bad.at("error").as_string(), "NO_AUTH_FOUND");
}

TEST_F(EmulatorHttpsTest, BurstOfSixtyGetsDocumented503s) {
    int limited = 0;
    for (int i = 0; i < 60; ++i) {
        auto [status, body] = Send("GET", Hook() + "user.current");
        if (status == 503 && body.at("error").as_string() == "QUERY_LIMIT_EXCEEDED") {
            ++limited;
        }
    }

    EXPECT_EQ(limited, 10);
}

TEST_F(EmulatorHttpsTest, ItemEventIsPostedAsFormToTheBoundHandler) {
    auto [s1, code] = Send("POST", "/_emu/oauth/code", R"({"user_id":1})", "application/json");
    auto [s2, tokens] =
        Send("POST",
             "/oauth/token/",
             "grant_type=authorization_code&client_id=" + emu_->ClientId() + "&client_secret=" + emu_->ClientSecret() +
                 "&code=" + std::string(code.at("code").as_string()),
             "application/x-www-form-urlencoded");
    ASSERT_EQ(s2, 200);
    const auto auth = std::string(tokens.at("access_token").as_string());
    auto [s3, type] = Send("POST", Hook() + "crm.type.add", R"({"fields":{"title":"Desk"}})", "application/json");
    const auto e = type.at("result").at("type").at("entityTypeId").as_int64();
    const auto handler = "https://127.0.0.1:" + std::to_string(handler_->Port()) + "/events";
    auto [s4, bound] =
        Send("POST",
             "/rest/event.bind",
             json::Dump(bj::object{{"auth", auth}, {"event", "onCrmDynamicItemAdd"}, {"handler", handler}}),
             "application/json");
    ASSERT_EQ(s4, 200) << json::Dump(bound);

    Send("POST",
         "/_emu/act",
         json::Dump(bj::object{{"user_id", 12},
                               {"method", "crm.item.add"},
                               {"params", bj::object{{"entityTypeId", e}, {"fields", bj::object{}}}}}),
         "application/json");

    ASSERT_TRUE(::dispatch::testing::WaitFor(
        [&] {
            std::lock_guard lock(mu_);
            return !received_.empty();
        },
        std::chrono::seconds(10),
        "the event POST"));
    std::lock_guard lock(mu_);
    ASSERT_EQ(received_.size(), 1u);
    EXPECT_EQ(received_[0].Header("content-type"), "application/x-www-form-urlencoded");
    auto body = form::Parse(received_[0].body);
    ASSERT_THAT(body, IsOk());
    EXPECT_EQ(body->at("event").as_string(), "ONCRMDYNAMICITEMADD");
    EXPECT_EQ(body->at("data").at("FIELDS").at("ID").as_string(), "1");
    EXPECT_EQ(body->at("auth").at("user_id").as_string(), "12");
    EXPECT_EQ(body->at("auth").at("domain").as_string(), "127.0.0.1:" + std::to_string(server_->Port()));
}

TEST_F(EmulatorHttpsTest, AdminClockMovesTheEmulatorTime) {
    auto [status, now] = Send("POST", "/_emu/clock", R"({"advance_ms":3600000})", "application/json");

    EXPECT_EQ(status, 200);
    EXPECT_EQ(now.at("now").as_string(), "2026-01-12T11:00:00+03:00");
    EXPECT_EQ(clock_.Now(), FromCivilUtc(2026, 1, 12, 8, 0, 0));
}

}  // namespace
}  // namespace dispatch::emulator
