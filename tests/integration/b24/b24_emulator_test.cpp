// The REST client against the emulated portal over real HTTPS on 127.0.0.1 with the test CA: what the unit tests
// script, here checked on the wire. The emulator and the client share one ManualClock, and the client's sleeper
// advances it, so backoff and bucket waits drain the emulator's bucket without any real sleeping.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <memory>
#include <mutex>
#include <thread>

#include "b24/client.hpp"
#include "b24/http_transport.hpp"
#include "b24/methods.hpp"
#include "core/json.hpp"
#include "core/metrics.hpp"
#include "core/time_format.hpp"
#include "emulator/server.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "support/test_support.hpp"

namespace dispatch::b24 {
namespace {

namespace bj = boost::json;

http::ServerOptions Tls(const std::string& cert = "server") {
    http::ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.cert_file = ::dispatch::testing::BinaryPath("certs/" + cert + ".pem");
    o.key_file = ::dispatch::testing::BinaryPath("certs/" + cert + ".key");
    return o;
}

http::ClientOptions TestCa() {
    http::ClientOptions o;
    o.ca_file = ::dispatch::testing::BinaryPath("certs/ca.pem");
    o.connect_timeout = std::chrono::milliseconds(5000);
    o.request_timeout = std::chrono::milliseconds(10000);
    return o;
}

// Counts what goes through the real transport, so tests can tell how many HTTP requests a call cost.
class CountingTransport final : public Transport {
public:
    explicit CountingTransport(Transport& inner) : inner_(inner) {}
    Result<HttpResponse> Send(const HttpRequest& request) override {
        {
            const std::lock_guard lock(mu_);
            const std::string path = request.url.substr(0, request.url.find('?'));
            methods_.push_back(path.substr(path.rfind('/') + 1));
        }
        return inner_.Send(request);
    }
    std::vector<std::string> Methods() const {
        const std::lock_guard lock(mu_);
        return methods_;
    }
    std::size_t CountOf(std::string_view method) const {
        const std::lock_guard lock(mu_);
        return static_cast<std::size_t>(std::count(methods_.begin(), methods_.end(), method));
    }

private:
    Transport& inner_;
    mutable std::mutex mu_;
    std::vector<std::string> methods_;
};

class ClockSleeper final : public Sleeper {
public:
    explicit ClockSleeper(ManualClock& clock) : clock_(clock) {}
    void SleepFor(TimeMs ms) override {
        if (ms > 0) {
            clock_.Advance(ms);
            total_.fetch_add(ms);
        }
    }
    TimeMs Total() const { return total_.load(); }

private:
    ManualClock& clock_;
    std::atomic<TimeMs> total_{0};
};

class B24EmulatorTest : public ::testing::Test {
protected:
    void SetUp() override {
        emulator::EmulatorOptions options;
        options.portal.seed = 11;
        options.start_event_worker = false;  // no events are bound here
        emu_ = std::make_unique<emulator::Emulator>(std::move(options), control_, emulator::HttpSender(admin_));
        http::Router router;
        emulator::AddEmulatorRoutes(router, *emu_);
        server_ = std::make_unique<http::Server>(Tls(), std::move(router));
        ASSERT_THAT(server_->Start(), IsOk());
        base_ = "https://127.0.0.1:" + std::to_string(server_->Port());
        {
            std::lock_guard lock(emu_->GetPortal().Mutex());
            emu_->GetPortal().SetBaseUrl(base_);
        }
        entity_type_id_ = CreateType();
    }

    void TearDown() override {
        // Kept-alive connections would hold the server's Stop() for its whole stop timeout.
        transport_.CloseIdle();
        admin_.CloseIdle();
        server_.reset();
        emu_.reset();
    }

    std::unique_ptr<Client> MakeClient(ClientSettings settings) {
        settings.portal = "emu";
        return std::make_unique<Client>(std::move(settings),
                                        ClientDeps{.transport = counting_,
                                                   .clock = clock_,
                                                   .sleeper = sleeper_,
                                                   .tokens = &store_,
                                                   .registry = &registry_});
    }

    ClientSettings Webhook() {
        ClientSettings settings;
        settings.auth = AuthMode::kWebhook;
        settings.webhook_url = emu_->WebhookUrl();
        return settings;
    }

    ClientSettings OAuth() {
        ClientSettings settings;
        settings.auth = AuthMode::kOAuth;
        settings.oauth = {
            .client_id = emu_->ClientId(), .client_secret = emu_->ClientSecret(), .token_url = base_ + "/oauth/token/"};
        return settings;  // rest_url empty: the client_endpoint of the stored pair
    }

    bj::value Admin(const std::string& path, const bj::object& body) {
        auto res = admin_.Send("POST", base_ + "/_emu/" + path, json::Dump(body), {}, "application/json");
        EXPECT_THAT(res, IsOk());
        if (!res) {
            return nullptr;
        }
        EXPECT_EQ(res->status, 200) << res->body;
        auto parsed = json::Parse(res->body);
        return parsed ? *parsed : bj::value();
    }

    // The install-time token pair of user 1 (authorization-code flow), stored as the app would store it.
    void InstallTokens() {
        const auto code = json::StringAt(Admin("oauth/code", {{"user_id", 1}}), "code").value_or("");
        auto res = admin_.Get(base_ + "/oauth/token/?grant_type=authorization_code&client_id=" + emu_->ClientId() +
                              "&client_secret=" + emu_->ClientSecret() + "&code=" + code);
        ASSERT_THAT(res, IsOk());
        ASSERT_EQ(res->status, 200) << res->body;
        auto tokens = json::Parse(res->body);
        ASSERT_TRUE(tokens.has_value());
        store_.Put("emu",
                   {.access_token = json::StringAt(*tokens, "access_token").value_or(""),
                    .refresh_token = json::StringAt(*tokens, "refresh_token").value_or(""),
                    .client_endpoint = json::StringAt(*tokens, "client_endpoint").value_or("")});
    }

    std::int64_t CreateType() {
        auto res = admin_.Post(base_ + "/rest/1/" + emu_->WebhookSecret() + "/crm.type.add",
                               R"({"fields":{"title":"IT request","isCategoriesEnabled":"Y","isStagesEnabled":"Y"}})",
                               "application/json");
        EXPECT_THAT(res, IsOk());
        if (!res) {
            return 0;
        }
        auto parsed = json::Parse(res->body);
        EXPECT_TRUE(parsed.has_value()) << res->body;
        return parsed ? json::IntAt(parsed->at("result").at("type"), "entityTypeId").value_or(0) : 0;
    }

    ManualClock clock_{FromCivilUtc(2026, 1, 12, 7, 0, 0)};
    emulator::ClockControl control_{clock_};
    http::Client admin_{TestCa()};
    std::unique_ptr<emulator::Emulator> emu_;
    std::unique_ptr<http::Server> server_;
    std::string base_;
    std::int64_t entity_type_id_ = 0;

    HttpTransport transport_{TestCa()};
    CountingTransport counting_{transport_};
    ClockSleeper sleeper_{clock_};
    InMemoryTokenStore store_;
    metrics::Registry registry_;
};

TEST_F(B24EmulatorTest, WebhookModeAddsGetsAndMapsNotFound) {
    auto client = MakeClient(Webhook());

    auto id = ItemAdd(*client, entity_type_id_, {{"title", "Printer on floor 3 is down"}});
    ASSERT_THAT(id, IsOk());
    auto item = ItemGet(*client, entity_type_id_, *id);

    ASSERT_THAT(item, IsOk());
    EXPECT_EQ(json::StringAt(*item, "title"), "Printer on floor 3 is down");
    EXPECT_THAT(ItemGet(*client, entity_type_id_, 9999), HasErrc(Errc::kNotFound));
    EXPECT_THAT(client->Call("no.such.method"), HasErrc(Errc::kMethodNotFound));
}

TEST_F(B24EmulatorTest, TypedDirectoriesReadTheSeededPortal) {
    auto client = MakeClient(Webhook());

    auto types = TypeList(*client);
    auto categories = CategoryList(*client, entity_type_id_);

    ASSERT_THAT(types, IsOk());
    EXPECT_FALSE(types->empty());
    ASSERT_THAT(categories, IsOk());
    ASSERT_FALSE(categories->empty());
    const auto category = json::IntAt(bj::value(categories->front()), "id").value_or(0);
    auto stages =
        StatusList(*client, {.filter = {{"ENTITY_ID", fmt::format("DYNAMIC_{}_STAGE_{}", entity_type_id_, category)}}});
    ASSERT_THAT(stages, IsOk());
    EXPECT_EQ(stages->size(), 5u);  // emulator README §14.10: five default stages
}

TEST_F(B24EmulatorTest, OneHundredTwentyCallsGoAsThreeBatchesAndListBackInPagesOfFifty) {
    auto client = MakeClient(Webhook());
    std::vector<BatchCall> calls;
    for (int i = 0; i < 120; ++i) {
        calls.push_back(
            {"add" + std::to_string(i),
             "crm.item.add",
             {{"entityTypeId", entity_type_id_}, {"fields", bj::object{{"title", fmt::format("T {}", i)}}}}});
    }

    auto added = client->CallBatches(std::move(calls));

    ASSERT_THAT(added, IsOk());
    EXPECT_EQ(added->by_key.size(), 120u);
    EXPECT_EQ(added->ErrorCount(), 0u);
    EXPECT_EQ(counting_.CountOf("batch"), 3u);

    auto items = ItemList(*client, entity_type_id_, {.select = {"id", "title"}, .order = {{"id", "ASC"}}});
    ASSERT_THAT(items, IsOk());
    EXPECT_EQ(items->size(), 120u);
    EXPECT_EQ(counting_.CountOf("crm.item.list"), 3u);
}

TEST_F(B24EmulatorTest, BatchReferencesResolveOnThePortal) {
    auto client = MakeClient(Webhook());
    BatchBuilder batch(/*halt=*/true);
    ASSERT_THAT(batch.Add("add",
                          "crm.item.add",
                          {{"entityTypeId", entity_type_id_}, {"fields", bj::object{{"title", "Via ref & more"}}}}),
                IsOk());
    ASSERT_THAT(
        batch.Add("get", "crm.item.get", {{"entityTypeId", entity_type_id_}, {"id", Ref("add", {"item", "id"})}}),
        IsOk());

    auto result = client->CallBatch(batch);

    ASSERT_THAT(result, IsOk());
    auto got = result->Get("get");
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(json::StringAt(got->at("item"), "title"), "Via ref & more");
}

TEST_F(B24EmulatorTest, OAuthRefreshesOnExpiryPersistsAndReplays) {
    InstallTokens();
    auto client = MakeClient(OAuth());
    ASSERT_THAT(client->Call("user.current"), IsOk());
    const auto before = store_.Load("emu");
    ASSERT_THAT(before, IsOk());

    Admin("faults", {{"expire_tokens", true}});
    auto after_expiry = client->Call("user.current");

    ASSERT_THAT(after_expiry, IsOk());
    EXPECT_EQ(counting_.CountOf("user.current"), 3u);  // ok, expired, replay
    auto after = store_.Load("emu");
    ASSERT_THAT(after, IsOk());
    EXPECT_EQ(after->version, before->version + 1);
    EXPECT_NE(after->refresh_token, before->refresh_token);
    EXPECT_NE(after->access_token, before->access_token);
    EXPECT_GT(after->expires_at, clock_.Now());
}

TEST_F(B24EmulatorTest, ConcurrentCallersShareOneRefresh) {
    InstallTokens();
    auto client = MakeClient(OAuth());
    Admin("faults", {{"expire_tokens", true}});

    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] { ok.fetch_add(client->Call("user.current").has_value() ? 1 : 0); });
    }
    for (auto& t : threads) {
        t.join();
    }

    EXPECT_EQ(ok.load(), 4);
    // The emulator rotates the refresh token on every refresh and refuses a stale one, so a second refresh
    // would have failed a caller; one swap in the store proves one refresh.
    EXPECT_EQ(store_.SwapCount(), 1);
}

TEST_F(B24EmulatorTest, StormOf503FromThePortalsOwnBucketLosesNoCall) {
    // The client believes in a far larger bucket than the portal's 50, so the portal's 503s do the limiting.
    auto settings = Webhook();
    settings.bucket = {.drain_per_second = 100.0, .capacity = 1000.0, .headroom = 0.0};
    settings.retry = {.max_attempts = 10, .base_delay_ms = 500, .max_delay_ms = 8000, .budget_ms = 120'000};
    auto client = MakeClient(settings);

    int ok = 0;
    for (int i = 0; i < 80; ++i) {
        ok += client->Call("user.current").has_value() ? 1 : 0;
    }

    EXPECT_EQ(ok, 80);
    EXPECT_GT(counting_.CountOf("user.current"), 80u);  // some were refused and sent again
    EXPECT_GT(
        registry_.GetCounter("dispatch_b24_retries_total", "", {{"portal", "emu"}, {"code", "query_limit_exceeded"}})
            .Value(),
        0u);
}

TEST_F(B24EmulatorTest, InjectedStormIsRetriedWithinTheBudget) {
    Admin("faults",
          {{"fail",
            bj::object{{"method", "crm.item.add"}, {"times", 4}, {"status", 503}, {"error", "QUERY_LIMIT_EXCEEDED"}}}});
    auto client = MakeClient(Webhook());

    auto id = ItemAdd(*client, entity_type_id_, {{"title", "after the storm"}});

    ASSERT_THAT(id, IsOk());
    EXPECT_EQ(counting_.CountOf("crm.item.add"), 5u);
    EXPECT_LE(sleeper_.Total(), RetrySettings{}.budget_ms + 60'000);  // backoff plus the bucket's own pacing
}

TEST_F(B24EmulatorTest, OverloadLimitBlocksThePortal) {
    Admin("faults",
          {{"fail", bj::object{{"method", "*"}, {"times", 1}, {"status", 503}, {"error", "OVERLOAD_LIMIT"}}}});
    auto client = MakeClient(Webhook());

    EXPECT_THAT(client->Call("user.current"), HasErrc(Errc::kPortalBlocked));
    EXPECT_THAT(client->Call("user.current"), HasErrc(Errc::kPortalBlocked));
    EXPECT_EQ(counting_.Methods().size(), 1u);
}

TEST(B24Tls, AHostNameMismatchIsATransportFailure) {
    ManualClock clock(FromCivilUtc(2026, 1, 12, 7, 0, 0));
    emulator::ClockControl control(clock);
    http::Client admin(TestCa());
    emulator::EmulatorOptions options;
    options.start_event_worker = false;
    emulator::Emulator emu(std::move(options), control, emulator::HttpSender(admin));
    http::Router router;
    emulator::AddEmulatorRoutes(router, emu);
    http::Server server(Tls("wrong-host"), std::move(router));
    ASSERT_THAT(server.Start(), IsOk());
    HttpTransport transport(TestCa());
    ClockSleeper sleeper(clock);
    metrics::Registry registry;
    ClientSettings settings;
    settings.portal = "emu";
    settings.webhook_url = "https://127.0.0.1:" + std::to_string(server.Port()) + "/rest/1/secret/";
    settings.retry.max_attempts = 1;
    Client client(settings, {.transport = transport, .clock = clock, .sleeper = sleeper, .registry = &registry});

    EXPECT_THAT(client.Call("user.current"), HasErrc(Errc::kTransport));
}

}  // namespace
}  // namespace dispatch::b24
