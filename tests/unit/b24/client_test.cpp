#include "b24/client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <thread>

#include "core/json.hpp"
#include "core/metrics.hpp"
#include "fake_transport.hpp"
#include "support/test_support.hpp"

namespace dispatch::b24 {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;
using testing::ApiError;
using testing::BodyOf;
using testing::ClockSleeper;
using testing::FakeTransport;
using testing::JsonResponse;
using testing::MethodOf;
using testing::Ok;

constexpr TimeMs kStart = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr const char* kWebhook = "https://portal.test/rest/1/s3cr3tw3bh00k/";

ClientSettings WebhookSettings() {
    ClientSettings settings;
    settings.portal = "portal.test";
    settings.auth = AuthMode::kWebhook;
    settings.webhook_url = kWebhook;
    return settings;
}

ClientSettings OAuthClientSettings() {
    ClientSettings settings;
    settings.portal = "portal.test";
    settings.auth = AuthMode::kOAuth;
    settings.rest_url = "https://portal.test/rest/";
    settings.oauth = {
        .client_id = "local.app", .client_secret = "app-secret", .token_url = "https://portal.test/oauth/token/"};
    return settings;
}

class ClientTest : public ::testing::Test {
protected:
    std::unique_ptr<Client> Make(ClientSettings settings) {
        return std::make_unique<Client>(std::move(settings),
                                        ClientDeps{.transport = transport_,
                                                   .clock = clock_,
                                                   .sleeper = sleeper_,
                                                   .tokens = &store_,
                                                   .registry = &registry_,
                                                   .random_unit = [] { return 0.5; }});
    }

    std::uint64_t Counter(std::string_view name, const metrics::Labels& labels) {
        return registry_.GetCounter(name, "", labels).Value();
    }

    ManualClock clock_{kStart};
    ClockSleeper sleeper_{clock_};
    FakeTransport transport_;
    InMemoryTokenStore store_;
    metrics::Registry registry_;
};

TEST_F(ClientTest, WebhookModeAppendsTheMethodToTheWebhookUrl) {
    transport_.SetHandler([](const HttpRequest&) { return Ok(object{{"item", object{{"id", 57}}}}); });
    auto client = Make(WebhookSettings());

    auto result = client->Call("crm.item.get", {{"entityTypeId", 1038}, {"id", 57}});

    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(json::IntAt(result->at("item"), "id"), 57);
    const auto requests = transport_.Requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].url, "https://portal.test/rest/1/s3cr3tw3bh00k/crm.item.get");
    const object body = BodyOf(requests[0]);
    EXPECT_EQ(json::IntAt(body, "entityTypeId"), 1038);
    EXPECT_EQ(body.count("auth"), 0u);
}

TEST_F(ClientTest, OAuthModeSendsTheAccessTokenInTheBody) {
    store_.Put("portal.test", {.access_token = "at-1", .refresh_token = "rt-1"});
    transport_.SetHandler([](const HttpRequest&) { return Ok(true); });
    auto client = Make(OAuthClientSettings());

    ASSERT_THAT(client->Call("im.notify.system.add", {{"USER_ID", 1}, {"MESSAGE", "hi"}}), IsOk());

    const auto requests = transport_.Requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].url, "https://portal.test/rest/im.notify.system.add");
    EXPECT_EQ(json::StringAt(BodyOf(requests[0]), "auth"), "at-1");
}

TEST_F(ClientTest, OAuthRestBaseFallsBackToTheStoredClientEndpoint) {
    store_.Put("portal.test",
               {.access_token = "at-1", .refresh_token = "rt-1", .client_endpoint = "https://moved.test/rest"});
    transport_.SetHandler([](const HttpRequest&) { return Ok(true); });
    auto settings = OAuthClientSettings();
    settings.rest_url.clear();
    auto client = Make(settings);

    ASSERT_THAT(client->Call("event.bind", {{"event", "ONCRMDYNAMICITEMADD"}}), IsOk());

    EXPECT_EQ(transport_.Requests().at(0).url, "https://moved.test/rest/event.bind");
}

TEST_F(ClientTest, OAuthWithoutStoredTokensFailsWithoutSending) {
    auto client = Make(OAuthClientSettings());

    EXPECT_THAT(client->Call("crm.type.list"), HasErrc(Errc::kRefreshFailed));
    EXPECT_EQ(transport_.Count(), 0u);
}

TEST_F(ClientTest, RejectsAMethodNameThatCouldAlterTheUrl) {
    auto client = Make(WebhookSettings());

    EXPECT_THAT(client->Call("crm.item.get?id=1"), HasErrc(Errc::kInvalidArgument));
    EXPECT_THAT(client->Call("../profile"), HasErrc(Errc::kInvalidArgument));
    EXPECT_EQ(transport_.Count(), 0u);
}

TEST_F(ClientTest, EnvelopeCarriesTotalNextAndTime) {
    transport_.SetHandler([](const HttpRequest&) {
        return JsonResponse(200,
                            object{{"result", object{{"items", array{}}}},
                                   {"total", "120"},
                                   {"next", 50},
                                   {"time", object{{"operating", 1.5}}}});
    });
    auto client = Make(WebhookSettings());

    auto envelope = client->CallEnvelope("crm.item.list", {{"entityTypeId", 1038}});

    ASSERT_THAT(envelope, IsOk());
    EXPECT_EQ(envelope->total, 120);
    EXPECT_EQ(envelope->next, 50);
    EXPECT_TRUE(envelope->time.is_object());
}

TEST_F(ClientTest, ApiErrorsMapToStableCodesAndAreNotRetried) {
    transport_.SetHandler([](const HttpRequest&) { return ApiError(400, "NOT_FOUND", "Item not found"); });
    auto client = Make(WebhookSettings());

    EXPECT_THAT(client->Call("crm.item.get", {{"entityTypeId", 1038}, {"id", 9}}), HasErrc(Errc::kNotFound));
    EXPECT_EQ(transport_.Count(), 1u);
    EXPECT_EQ(Counter("dispatch_b24_errors_total",
                      {{"portal", "portal.test"}, {"method", "crm.item.get"}, {"code", "not_found"}}),
              1u);
}

TEST_F(ClientTest, NonJsonAnswersAreBadResponsesOrServerErrors) {
    transport_.SetHandler([](const HttpRequest&) { return HttpResponse{200, "<html>", {}}; });
    auto client = Make(WebhookSettings());
    EXPECT_THAT(client->Call("crm.type.list"), HasErrc(Errc::kBadResponse));

    transport_.SetHandler([](const HttpRequest&) { return HttpResponse{502, "<html>bad gateway</html>", {}}; });
    auto settings = WebhookSettings();
    settings.retry.max_attempts = 2;
    auto retrying = Make(settings);
    EXPECT_THAT(retrying->Call("crm.type.list"), HasErrc(Errc::kServerError));
}

TEST_F(ClientTest, TransportFailuresAreRetriedThenSucceed) {
    std::atomic<int> calls{0};
    transport_.SetHandler([&](const HttpRequest&) -> Result<HttpResponse> {
        if (calls.fetch_add(1) < 2) {
            return Fail(Errc::kTransport, "connection reset");
        }
        return Ok(true);
    });
    auto client = Make(WebhookSettings());

    EXPECT_THAT(client->Call("crm.type.list"), IsOk());
    EXPECT_EQ(transport_.Count(), 3u);
    EXPECT_EQ(sleeper_.Waits(), (std::vector<TimeMs>{375, 750}));  // 500·0.75, 1000·0.75 (jitter draw 0.5)
}

TEST_F(ClientTest, StormOf503IsRetriedWithinTheBudgetAndNoCallIsLost) {
    // During the storm the portal refuses two requests of every three, whichever call they belong to.
    std::atomic<int> seen{0};
    std::atomic<int> served{0};
    transport_.SetHandler([&](const HttpRequest&) {
        const int n = seen.fetch_add(1);
        if (n < 30 && n % 3 != 2) {
            return ApiError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests");
        }
        served.fetch_add(1);
        return Ok(true);
    });
    auto settings = WebhookSettings();
    settings.retry = {.max_attempts = 8, .base_delay_ms = 500, .max_delay_ms = 8000, .budget_ms = 60'000};
    auto client = Make(settings);

    int ok = 0;
    for (int i = 0; i < 20; ++i) {
        ok += client->Call("crm.item.update", {{"id", i}}).has_value() ? 1 : 0;
    }

    EXPECT_EQ(ok, 20);
    EXPECT_EQ(served.load(), 20);
    EXPECT_EQ(Counter("dispatch_b24_retries_total", {{"portal", "portal.test"}, {"code", "query_limit_exceeded"}}),
              20u);
    EXPECT_LE(sleeper_.Total(), 20 * settings.retry.budget_ms);
    // Each 503 also told the bucket the portal is full, so the client paced itself before the retry.
    EXPECT_GT(Counter("dispatch_b24_bucket_waits_total", {{"portal", "portal.test"}}), 0u);
}

TEST_F(ClientTest, EndlessStormGivesUpAfterMaxAttempts) {
    transport_.SetHandler([](const HttpRequest&) { return ApiError(503, "QUERY_LIMIT_EXCEEDED"); });
    auto settings = WebhookSettings();
    settings.retry = {.max_attempts = 4, .base_delay_ms = 100, .max_delay_ms = 1000, .budget_ms = 60'000};
    auto client = Make(settings);

    EXPECT_THAT(client->Call("crm.item.update"), HasErrc(Errc::kQueryLimitExceeded));
    EXPECT_EQ(transport_.Count(), 4u);
}

TEST_F(ClientTest, OperationTimeLimitWaitsForTheResetThenSucceeds) {
    const TimeMs reset_s = kStart / 1000 + 90;
    std::atomic<int> calls{0};
    transport_.SetHandler([&](const HttpRequest&) {
        if (calls.fetch_add(1) == 0) {
            return JsonResponse(429,
                                object{{"error", "OPERATION_TIME_LIMIT"},
                                       {"error_description", "Method is blocked due to operation time limit."},
                                       {"time", object{{"operating_reset_at", reset_s}}}});
        }
        return Ok(true);
    });
    auto client = Make(WebhookSettings());

    EXPECT_THAT(client->Call("crm.item.list"), IsOk());
    EXPECT_GE(clock_.Now(), reset_s * 1000);
    EXPECT_EQ(transport_.Count(), 2u);
}

TEST_F(ClientTest, OverloadLimitBlocksThePortalAndAlertsOnce) {
    transport_.SetHandler([](const HttpRequest&) { return ApiError(503, "OVERLOAD_LIMIT", "REST API is blocked"); });
    auto client = Make(WebhookSettings());

    EXPECT_THAT(client->Call("crm.item.get"), HasErrc(Errc::kPortalBlocked));
    EXPECT_THAT(client->Call("crm.item.get"), HasErrc(Errc::kPortalBlocked));
    EXPECT_THAT(client->Call("crm.type.list"), HasErrc(Errc::kPortalBlocked));

    EXPECT_TRUE(client->Blocked());
    EXPECT_EQ(transport_.Count(), 1u);  // refused without sending after the first answer
    EXPECT_EQ(Counter("dispatch_b24_portal_blocked_total", {{"portal", "portal.test"}}), 1u);
}

TEST_F(ClientTest, UnblockLetsCallsThroughAgain) {
    std::atomic<bool> blocked{true};
    transport_.SetHandler(
        [&](const HttpRequest&) { return blocked.load() ? ApiError(503, "OVERLOAD_LIMIT") : Ok(true); });
    auto client = Make(WebhookSettings());
    ASSERT_THAT(client->Call("crm.item.get"), HasErrc(Errc::kPortalBlocked));

    blocked = false;
    client->Unblock();

    EXPECT_THAT(client->Call("crm.item.get"), IsOk());
}

TEST_F(ClientTest, BucketPacesABurstBeyondThePlan) {
    transport_.SetHandler([](const HttpRequest&) { return Ok(true); });
    auto settings = WebhookSettings();
    settings.bucket = StandardPlan(/*headroom=*/5.0);
    auto client = Make(settings);

    for (int i = 0; i < 55; ++i) {
        ASSERT_THAT(client->Call("crm.item.get", {{"id", i}}), IsOk());
    }

    // 45 go at once; each of the other 10 waits for half a second of drain (2 per second).
    EXPECT_EQ(sleeper_.Waits(), std::vector<TimeMs>(10, 500));
    EXPECT_EQ(clock_.Now(), kStart + 5000);
    EXPECT_EQ(Counter("dispatch_b24_bucket_waits_total", {{"portal", "portal.test"}}), 10u);
    EXPECT_EQ(Counter("dispatch_b24_calls_total", {{"portal", "portal.test"}, {"method", "crm.item.get"}}), 55u);
}

TEST_F(ClientTest, ListAllFollowsNextInPagesOfFifty) {
    transport_.SetHandler([](const HttpRequest& request) {
        const object body = BodyOf(request);
        const std::int64_t start = json::IntAt(body, "start").value_or(0);
        array items;
        for (std::int64_t id = start + 1; id <= std::min<std::int64_t>(start + 50, 120); ++id) {
            items.push_back(object{{"id", id}});
        }
        object envelope{{"result", object{{"items", items}}}, {"total", 120}};
        if (start + 50 < 120) {
            envelope["next"] = start + 50;
        }
        return JsonResponse(200, envelope);
    });
    auto client = Make(WebhookSettings());

    auto rows = client->ListAll("crm.item.list", {{"entityTypeId", 1038}}, "items");

    ASSERT_THAT(rows, IsOk());
    ASSERT_EQ(rows->size(), 120u);
    EXPECT_EQ(json::IntAt(rows->back(), "id"), 120);
    const auto requests = transport_.Requests();
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_EQ(BodyOf(requests[0]).count("start"), 0u);
    EXPECT_EQ(json::IntAt(BodyOf(requests[1]), "start"), 50);
    EXPECT_EQ(json::IntAt(BodyOf(requests[2]), "start"), 100);
}

TEST_F(ClientTest, ListAllReadsABareArrayAndStopsAtMaxRows) {
    transport_.SetHandler([](const HttpRequest&) {
        return JsonResponse(200, object{{"result", array{object{{"ID", "1"}}, object{{"ID", "2"}}}}, {"total", 2}});
    });
    auto client = Make(WebhookSettings());

    auto all = client->ListAll("crm.status.list", {}, "");
    auto one = client->ListAll("crm.status.list", {}, "", 1);

    ASSERT_THAT(all, IsOk());
    EXPECT_EQ(all->size(), 2u);
    ASSERT_THAT(one, IsOk());
    EXPECT_EQ(one->size(), 1u);
}

TEST_F(ClientTest, ListAllRefusesANextThatDoesNotAdvance) {
    transport_.SetHandler([](const HttpRequest&) {
        return JsonResponse(200, object{{"result", object{{"items", array{object{{"id", 1}}}}}}, {"next", 50}});
    });
    auto client = Make(WebhookSettings());

    EXPECT_THAT(client->ListAll("crm.item.list", {}, "items"), HasErrc(Errc::kBadResponse));
}

// Plays a portal that answers `batch`: every sub-call succeeds with {"n": <its key>}.
HttpResponse AnswerBatch(const HttpRequest& request) {
    const object body = BodyOf(request);
    object results;
    for (const auto& kv : body.at("cmd").as_object()) {
        results[kv.key()] = object{{"cmd", kv.value()}};
    }
    return Ok(
        object{{"result", results}, {"result_error", array{}}, {"result_total", array{}}, {"result_next", array{}}});
}

TEST_F(ClientTest, OneHundredTwentyCallsGoAsThreeBatches) {
    transport_.SetHandler(AnswerBatch);
    auto client = Make(WebhookSettings());
    std::vector<BatchCall> calls;
    for (int i = 0; i < 120; ++i) {
        calls.push_back({"u" + std::to_string(i),
                         "crm.item.update",
                         {{"entityTypeId", 1038}, {"id", i + 1}, {"fields", object{{"ufCrm21EscalationLevel", 1}}}}});
    }

    auto result = client->CallBatches(std::move(calls));

    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(result->by_key.size(), 120u);
    EXPECT_EQ(result->ErrorCount(), 0u);
    const auto requests = transport_.Requests();
    ASSERT_EQ(requests.size(), 3u);
    std::vector<std::size_t> sizes;
    for (const auto& request : requests) {
        EXPECT_EQ(MethodOf(request), "batch");
        sizes.push_back(BodyOf(request).at("cmd").as_object().size());
    }
    EXPECT_EQ(sizes, (std::vector<std::size_t>{50, 50, 20}));
    auto last = result->Get("u119");
    ASSERT_THAT(last, IsOk());
    EXPECT_EQ(json::StringAt(*last, "cmd"),
              "crm.item.update?entityTypeId=1038&id=120&fields[ufCrm21EscalationLevel]=1");
}

TEST_F(ClientTest, BatchSubCallErrorsStayPerKeyAndAreCounted) {
    transport_.SetHandler([](const HttpRequest&) {
        return Ok(object{{"result", object{{"a", object{{"item", object{{"id", 1}}}}}}},
                         {"result_error", object{{"b", object{{"error", "NOT_FOUND"}, {"error_description", "x"}}}}}});
    });
    auto client = Make(WebhookSettings());
    BatchBuilder batch;
    ASSERT_THAT(batch.Add("a", "crm.item.get", {{"id", 1}}), IsOk());
    ASSERT_THAT(batch.Add("b", "crm.item.get", {{"id", 2}}), IsOk());

    auto result = client->CallBatch(batch);

    ASSERT_THAT(result, IsOk());
    EXPECT_THAT(result->Get("a"), IsOk());
    EXPECT_THAT(result->Get("b"), HasErrc(Errc::kNotFound));
    EXPECT_EQ(Counter("dispatch_b24_errors_total",
                      {{"portal", "portal.test"}, {"method", "crm.item.get"}, {"code", "not_found"}}),
              1u);
}

// ---- OAuth refresh -------------------------------------------------------------------------------------------

// A portal plus its OAuth server. Access tokens "at-N" / refresh tokens "rt-N"; only the newest pair is valid,
// every refresh rotates both (CONTRACT §13.1: stale refresh tokens get invalid_grant).
class FakeOAuthPortal {
public:
    Result<HttpResponse> operator()(const HttpRequest& request) {
        if (request.method == "GET" && request.url.find("/oauth/token/") != std::string::npos) {
            return Refresh(request);
        }
        const auto token = json::StringAt(BodyOf(request), "auth").value_or("");
        std::unique_lock lock(mu_);
        if (token != Access(generation_)) {
            ++expired_answers_;
            cv_.notify_all();
            // Hold every stale request until all expected ones arrived, so they all really race into the refresh.
            cv_.wait_for(lock, std::chrono::seconds(5), [&] { return expired_answers_ >= gate_; });
            return ApiError(401, "expired_token", "The access token provided has expired.");
        }
        ++served_with_current_;
        return Ok(true);
    }

    void SetGate(int n) {
        const std::lock_guard lock(mu_);
        gate_ = n;
    }
    int Refreshes() const {
        const std::lock_guard lock(mu_);
        return refreshes_;
    }
    int ServedWithCurrent() const {
        const std::lock_guard lock(mu_);
        return served_with_current_;
    }
    void SetRefreshError(std::string error) {
        const std::lock_guard lock(mu_);
        refresh_error_ = std::move(error);
    }
    // Rotates the pair as if another instance refreshed (its result is what the store should then hold).
    void RotateElsewhere() {
        const std::lock_guard lock(mu_);
        ++generation_;
    }
    static std::string Access(int generation) { return "at-" + std::to_string(generation); }
    static std::string Refresh(int generation) { return "rt-" + std::to_string(generation); }
    std::function<void()> on_refresh;  // runs before the refresh answer (tests check the store at that moment)

private:
    Result<HttpResponse> Refresh(const HttpRequest& request) {
        std::unique_lock lock(mu_);
        ++refreshes_;
        if (!refresh_error_.empty()) {
            return JsonResponse(400, object{{"error", refresh_error_}, {"error_description", "refresh refused"}});
        }
        if (request.url.find("refresh_token=" + Refresh(generation_)) == std::string::npos ||
            request.url.find("client_secret=app-secret") == std::string::npos) {
            return JsonResponse(400, object{{"error", "invalid_grant"}, {"error_description", "stale"}});
        }
        ++generation_;
        return JsonResponse(200,
                            object{{"access_token", Access(generation_)},
                                   {"refresh_token", Refresh(generation_)},
                                   {"expires_in", 3600},
                                   {"client_endpoint", "https://portal.test/rest/"}});
    }

    mutable std::mutex mu_;
    std::condition_variable cv_;
    int generation_ = 1;
    int gate_ = 0;
    int expired_answers_ = 0;
    int refreshes_ = 0;
    int served_with_current_ = 0;
    std::string refresh_error_;
};

class OAuthClientTest : public ClientTest {
protected:
    void SetUp() override {
        portal_.RotateElsewhere();  // the portal is at generation 2; the store still holds generation 1
        store_.Put("portal.test",
                   {.access_token = FakeOAuthPortal::Access(1), .refresh_token = FakeOAuthPortal::Refresh(2)});
        transport_.SetHandler([this](const HttpRequest& r) { return portal_(r); });
    }

    FakeOAuthPortal portal_;
};

TEST_F(OAuthClientTest, ExpiredTokenIsRefreshedPersistedAndTheCallReplayed) {
    auto client = Make(OAuthClientSettings());

    ASSERT_THAT(client->Call("crm.item.get", {{"entityTypeId", 1038}, {"id", 1}}), IsOk());

    EXPECT_EQ(portal_.Refreshes(), 1);
    auto stored = store_.Load("portal.test");
    ASSERT_THAT(stored, IsOk());
    EXPECT_EQ(stored->access_token, FakeOAuthPortal::Access(3));
    EXPECT_EQ(stored->refresh_token, FakeOAuthPortal::Refresh(3));
    EXPECT_EQ(stored->expires_at, kStart + 3600 * kSecondMs);
    EXPECT_EQ(stored->version, 2);  // Put made version 1; one compare-and-swap
    const auto requests = transport_.Requests();
    ASSERT_EQ(requests.size(), 3u);  // stale call, refresh, replay
    EXPECT_EQ(requests[1].method, "GET");
    EXPECT_EQ(json::StringAt(BodyOf(requests[2]), "auth"), FakeOAuthPortal::Access(3));
}

// Checks, when the first request with the new token arrives, that the store already holds the new pair.
class CheckingTransport final : public Transport {
public:
    CheckingTransport(FakeOAuthPortal& portal, InMemoryTokenStore& store) : portal_(portal), store_(store) {}
    Result<HttpResponse> Send(const HttpRequest& request) override {
        const auto token = json::StringAt(BodyOf(request), "auth");
        if (token && *token == FakeOAuthPortal::Access(3)) {
            auto stored = store_.Load("portal.test");
            persisted_before_use_ = stored && stored->refresh_token == FakeOAuthPortal::Refresh(3);
        }
        return portal_(request);
    }
    bool persisted_before_use_ = false;

private:
    FakeOAuthPortal& portal_;
    InMemoryTokenStore& store_;
};

TEST_F(OAuthClientTest, RotatedPairIsPersistedBeforeItIsUsed) {
    CheckingTransport checking(portal_, store_);
    Client client(OAuthClientSettings(),
                  ClientDeps{.transport = checking,
                             .clock = clock_,
                             .sleeper = sleeper_,
                             .tokens = &store_,
                             .registry = &registry_,
                             .random_unit = [] { return 0.5; }});

    ASSERT_THAT(client.Call("crm.type.list"), IsOk());

    EXPECT_TRUE(checking.persisted_before_use_);
}

TEST_F(OAuthClientTest, ManyThreadsShareOneRefreshAndAllReplay) {
    constexpr int kThreads = 8;
    portal_.SetGate(kThreads);
    auto client = Make(OAuthClientSettings());
    std::barrier start(kThreads);
    std::atomic<int> ok{0};

    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            if (client->Call("crm.item.get", {{"entityTypeId", 1038}, {"id", i}})) {
                ok.fetch_add(1);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }

    EXPECT_EQ(ok.load(), kThreads);
    EXPECT_EQ(portal_.Refreshes(), 1);
    EXPECT_EQ(store_.SwapCount(), 1);
    EXPECT_EQ(portal_.ServedWithCurrent(), kThreads);  // every call replayed with the new token
    EXPECT_EQ(Counter("dispatch_b24_token_refreshes_total", {{"portal", "portal.test"}, {"outcome", "ok"}}), 1u);
}

TEST_F(OAuthClientTest, InvalidGrantFailsWithoutRetrying) {
    portal_.SetRefreshError("invalid_grant");
    auto client = Make(OAuthClientSettings());

    EXPECT_THAT(client->Call("crm.type.list"), HasErrc(Errc::kRefreshFailed));
    EXPECT_EQ(portal_.Refreshes(), 1);
    EXPECT_EQ(transport_.Count(), 2u);  // the stale call and the refused refresh; nothing more
}

TEST_F(OAuthClientTest, APairRotatedByAnotherInstanceIsAdoptedWithoutRefreshing) {
    auto client = Make(OAuthClientSettings());
    ASSERT_THAT(client->Call("crm.type.list"), IsOk());  // loads generation 1, refreshes to 3
    ASSERT_EQ(portal_.Refreshes(), 1);

    // Another instance refreshes to generation 4 and stores it; this client still holds generation 3.
    portal_.RotateElsewhere();
    auto stored = store_.Load("portal.test");
    ASSERT_THAT(stored, IsOk());
    ASSERT_THAT(store_.CompareAndSwap(
                    "portal.test",
                    stored->version,
                    {.access_token = FakeOAuthPortal::Access(4), .refresh_token = FakeOAuthPortal::Refresh(4)}),
                IsOk());

    EXPECT_THAT(client->Call("crm.type.list"), IsOk());
    EXPECT_EQ(portal_.Refreshes(), 1);  // adopted from the store, no second refresh
    EXPECT_EQ(Counter("dispatch_b24_token_refreshes_total", {{"portal", "portal.test"}, {"outcome", "adopted"}}), 1u);
}

// A store whose compare-and-swap always loses, as if another worker stored a newer pair in between.
class LosingStore final : public TokenStore {
public:
    explicit LosingStore(InMemoryTokenStore& inner) : inner_(inner) {}
    Result<OAuthTokens> Load(const std::string& portal) override { return inner_.Load(portal); }
    Result<std::int64_t> CompareAndSwap(const std::string& portal, std::int64_t, const OAuthTokens&) override {
        // The winner stored generation 3 first (what the portal now accepts).
        auto current = inner_.Load(portal);
        (void)inner_.CompareAndSwap(
            portal,
            current->version,
            {.access_token = FakeOAuthPortal::Access(3), .refresh_token = FakeOAuthPortal::Refresh(3)});
        return Fail(Errc::kTokenConflict, "version conflict");
    }

private:
    InMemoryTokenStore& inner_;
};

TEST_F(OAuthClientTest, LostCompareAndSwapAdoptsTheWinnersPair) {
    LosingStore losing(store_);
    Client client(OAuthClientSettings(),
                  ClientDeps{.transport = transport_,
                             .clock = clock_,
                             .sleeper = sleeper_,
                             .tokens = &losing,
                             .registry = &registry_,
                             .random_unit = [] { return 0.5; }});

    EXPECT_THAT(client.Call("crm.type.list"), IsOk());
    EXPECT_EQ(json::StringAt(BodyOf(transport_.Requests().back()), "auth"), FakeOAuthPortal::Access(3));
}

TEST_F(ClientTest, ExpiredTokenInWebhookModeIsNotRefreshed) {
    transport_.SetHandler([](const HttpRequest&) { return ApiError(401, "expired_token"); });
    auto client = Make(WebhookSettings());

    EXPECT_THAT(client->Call("crm.type.list"), HasErrc(Errc::kExpiredToken));
    EXPECT_EQ(transport_.Count(), 1u);
}

}  // namespace
}  // namespace dispatch::b24
