#include <deque>
#include <functional>
#include <stdexcept>

#include "core/metrics.hpp"
#include "http/server.hpp"
#include "support/test_support.hpp"

namespace dispatch::http {
namespace {

// The router without sockets: Dispatch calls respond synchronously for synchronous handlers.
struct Captured {
    std::optional<Response> response;
    Respond Callback() {
        return [this](Response&& r) { response = std::move(r); };
    }
};

Request MakeRequest(std::string method, std::string path) {
    Request request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.target = request.path;
    return request;
}

Handler Echo(std::string tag) {
    return [tag](Request&& request, Respond respond) {
        std::string body = tag;
        for (const auto& [key, value] : request.params) {
            body += " " + key + "=" + value;
        }
        respond(Response::Text(200, body));
    };
}

TEST(Router, NamedSegmentIsDecodedIntoParams) {
    Router router;
    router.Add("POST", "/b24/robots/{code}", Echo("robot"));
    Captured captured;

    router.Dispatch(MakeRequest("POST", "/b24/robots/sla%5Fcheck"), captured.Callback());

    ASSERT_TRUE(captured.response);
    EXPECT_EQ(captured.response->status, 200);
    EXPECT_EQ(captured.response->body, "robot code=sla_check");
}

TEST(Router, LiteralBeatsNamedSegmentRegardlessOfOrder) {
    Router router;
    router.Add("GET", "/api/v1/{thing}", Echo("named"));
    router.Add("GET", "/api/v1/stats", Echo("literal"));
    Captured captured;

    router.Dispatch(MakeRequest("GET", "/api/v1/stats"), captured.Callback());

    ASSERT_TRUE(captured.response);
    EXPECT_EQ(captured.response->body, "literal");
}

TEST(Router, PrefixPatternMatchesItselfAndEverythingBelow) {
    Router router;
    router.Add("POST", "/_emu/*", Echo("emu"));
    Captured below;
    Captured itself;

    router.Dispatch(MakeRequest("POST", "/_emu/faults/next"), below.Callback());
    router.Dispatch(MakeRequest("POST", "/_emu"), itself.Callback());

    ASSERT_TRUE(below.response);
    EXPECT_EQ(below.response->body, "emu *=faults/next");
    ASSERT_TRUE(itself.response);
    EXPECT_EQ(itself.response->body, "emu *=");
}

TEST(Router, UnknownPathIs404) {
    Router router;
    router.Add("GET", "/healthz", Echo("ok"));
    Captured captured;

    router.Dispatch(MakeRequest("GET", "/healthz/extra"), captured.Callback());

    ASSERT_TRUE(captured.response);
    EXPECT_EQ(captured.response->status, 404);
}

TEST(Router, KnownPathWithOtherMethodIs405WithAllow) {
    Router router;
    router.Add("POST", "/b24/events", Echo("events"));
    router.Add("PUT", "/b24/events", Echo("events"));
    Captured captured;

    router.Dispatch(MakeRequest("GET", "/b24/events"), captured.Callback());

    ASSERT_TRUE(captured.response);
    EXPECT_EQ(captured.response->status, 405);
    EXPECT_EQ(captured.response->Header("allow"), "POST, PUT");
}

TEST(Router, HeadIsAnsweredByTheGetRoute) {
    Router router;
    router.Add("GET", "/healthz", Echo("ok"));
    Captured captured;

    router.Dispatch(MakeRequest("HEAD", "/healthz"), captured.Callback());

    ASSERT_TRUE(captured.response);
    EXPECT_EQ(captured.response->status, 200);
}

TEST(Router, ThrowingHandlerBecomesNeutral500) {
    Router router;
    router.Add("GET", "/boom", [](Request&&, Respond) { throw std::runtime_error("secret detail"); });
    Captured captured;

    router.Dispatch(MakeRequest("GET", "/boom"), captured.Callback());

    ASSERT_TRUE(captured.response);
    EXPECT_EQ(captured.response->status, 500);
    EXPECT_EQ(captured.response->body.find("secret"), std::string::npos);
}

// An offload that keeps the work for the test to run, or refuses it.
struct HeldWork {
    std::deque<std::function<void()>> queue;
    bool refuse = false;
    Offload Take() {
        return [this](std::function<void()> work) {
            if (refuse) {
                return false;
            }
            queue.push_back(std::move(work));
            return true;
        };
    }
};

TEST(Router, ABlockingRouteRunsOnTheOffloadNotOnTheCallingThread) {
    Router router;
    HeldWork held;
    router.SetOffload(held.Take());
    router.AddBlocking("GET", "/slow/{id}", Echo("slow"));
    router.Add("GET", "/fast", Echo("fast"));
    Captured slow;
    Captured fast;

    router.Dispatch(MakeRequest("GET", "/slow/7"), slow.Callback());
    router.Dispatch(MakeRequest("GET", "/fast"), fast.Callback());

    EXPECT_FALSE(slow.response);  // nothing of it ran here
    ASSERT_TRUE(fast.response);   // the other routes stay on the calling thread
    EXPECT_EQ(fast.response->body, "fast");
    ASSERT_EQ(held.queue.size(), 1u);
    held.queue.front()();
    ASSERT_TRUE(slow.response);
    EXPECT_EQ(slow.response->status, 200);
    EXPECT_EQ(slow.response->body, "slow id=7");
}

TEST(Router, AFullOffloadIsA503WithRetryAfterAndTheHandlerNeverRuns) {
    metrics::Registry registry;
    Router router(&registry);
    HeldWork held;
    held.refuse = true;
    router.SetOffload(held.Take());
    int ran = 0;
    router.AddBlocking("POST", "/_admin/x", [&ran](Request&&, Respond respond) {
        ++ran;
        respond(Response::Text(200, "done"));
    });
    Captured captured;

    router.Dispatch(MakeRequest("POST", "/_admin/x"), captured.Callback());

    ASSERT_TRUE(captured.response);
    EXPECT_EQ(captured.response->status, 503);
    EXPECT_EQ(FindHeader(captured.response->headers, "retry-after"), "1");
    EXPECT_EQ(ran, 0);
    EXPECT_THAT(registry.RenderPrometheus(), ::testing::HasSubstr(R"(route="/_admin/x",status="503"} 1)"));
}

TEST(Router, ABlockingHandlerThatThrowsOnTheOffloadIsANeutral500) {
    Router router;
    HeldWork held;
    router.SetOffload(held.Take());
    router.AddBlocking("GET", "/boom", [](Request&&, Respond) { throw std::runtime_error("secret detail"); });
    Captured captured;

    router.Dispatch(MakeRequest("GET", "/boom"), captured.Callback());
    ASSERT_EQ(held.queue.size(), 1u);
    held.queue.front()();

    ASSERT_TRUE(captured.response);
    EXPECT_EQ(captured.response->status, 500);
    EXPECT_EQ(captured.response->body.find("secret"), std::string::npos);
}

TEST(Router, WithoutAnOffloadABlockingRouteRunsInline) {
    Router router;
    router.AddBlocking("GET", "/slow", Echo("slow"));
    Captured captured;

    router.Dispatch(MakeRequest("GET", "/slow"), captured.Callback());

    ASSERT_TRUE(captured.response);
    EXPECT_EQ(captured.response->body, "slow");
}

TEST(Router, RespondingTwiceDeliversOnlyTheFirst) {
    Router router;
    router.Add("GET", "/twice", [](Request&&, Respond respond) {
        respond(Response::Text(200, "first"));
        throw std::runtime_error("after responding");
    });
    int calls = 0;
    Response last;

    router.Dispatch(MakeRequest("GET", "/twice"), [&](Response&& r) {
        ++calls;
        last = std::move(r);
    });

    EXPECT_EQ(calls, 1);
    EXPECT_EQ(last.body, "first");
}

TEST(Router, CountsRequestsByRouteAndStatus) {
    metrics::Registry registry;
    Router router(&registry);
    router.Add("POST", "/b24/robots/{code}", Echo("robot"));
    Captured a;
    Captured b;
    Captured c;

    router.Dispatch(MakeRequest("POST", "/b24/robots/x"), a.Callback());
    router.Dispatch(MakeRequest("POST", "/b24/robots/y"), b.Callback());
    router.Dispatch(MakeRequest("POST", "/nowhere"), c.Callback());

    const std::string text = registry.RenderPrometheus();
    EXPECT_THAT(text,
                ::testing::HasSubstr(
                    "dispatch_http_requests_total{method=\"POST\",route=\"/b24/robots/{code}\",status=\"200\"} 2"));
    EXPECT_THAT(
        text,
        ::testing::HasSubstr("dispatch_http_requests_total{method=\"POST\",route=\"unmatched\",status=\"404\"} 1"));
    EXPECT_THAT(text,
                ::testing::HasSubstr(
                    "dispatch_http_request_duration_seconds_count{method=\"POST\",route=\"/b24/robots/{code}\"} 2"));
}

}  // namespace
}  // namespace dispatch::http
