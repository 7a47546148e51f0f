#include "http/server.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "http/client.hpp"
#include "http_fixture.hpp"

namespace dispatch::http {
namespace {

using dispatch::testing::WaitFor;
using testing::CounterValue;
using ::testing::HasSubstr;
using testing::RawTls;
using ::testing::StartsWith;
using testing::TestClientOptions;
using testing::TestServer;
using testing::TestServerOptions;

constexpr auto kIoWait = std::chrono::milliseconds(5000);

class ServerTest : public ::testing::Test {
protected:
    void TearDown() override {
        if (server_) {
            server_->server->Stop();
        }
        for (auto& thread : threads_) {
            thread.join();
        }
    }

    // Starts a server with `router` (which should report into registry_).
    void StartServer(Router router, ServerOptions options = TestServerOptions()) {
        server_ = std::make_unique<TestServer>(std::move(router), std::move(options));
        ASSERT_TRUE(server_->Start());
    }
    std::string Url(const std::string& path) const { return server_->Url(path); }

    metrics::Registry registry_;
    std::unique_ptr<TestServer> server_;
    std::vector<std::thread> threads_;
    Client client_{TestClientOptions()};
};

TEST_F(ServerTest, ServesRouteWithPathParamsOverTls) {
    Router router(&registry_);
    router.Add("POST", "/b24/robots/{code}", [](Request&& request, Respond respond) {
        respond(Response::Json(200, "{\"code\":\"" + request.Param("code") + "\",\"body\":\"" + request.body + "\"}"));
    });
    StartServer(std::move(router));

    auto response = client_.Post(Url("/b24/robots/sla_check?x=1"), "hello", "text/plain");

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->content_type, "application/json");
    EXPECT_EQ(response->body, "{\"code\":\"sla_check\",\"body\":\"hello\"}");
}

TEST_F(ServerTest, RequestCarriesLowerCasedHeadersQueryAndRemoteAddress) {
    Router router(&registry_);
    router.Add("GET", "/echo", [](Request&& request, Respond respond) {
        respond(Response::Text(200,
                               request.Header("x-custom") + "|" + request.query + "|" + request.remote_address + "|" +
                                   request.QueryParam("a").value_or("-")));
    });
    StartServer(std::move(router));

    auto response = client_.Get(Url("/echo?a=b%20c"), {{"X-Custom", "v1"}});

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->body, "v1|a=b%20c|127.0.0.1|b c");
}

TEST_F(ServerTest, UnknownRouteIs404AndWrongMethodIs405) {
    Router router(&registry_);
    router.Add("POST", "/b24/events", [](Request&&, Respond respond) { respond(Response::Text(200, "ok")); });
    StartServer(std::move(router));

    auto missing = client_.Get(Url("/nope"));
    auto wrong_method = client_.Get(Url("/b24/events"));

    ASSERT_THAT(missing, IsOk());
    EXPECT_EQ(missing->status, 404);
    ASSERT_THAT(wrong_method, IsOk());
    EXPECT_EQ(wrong_method->status, 405);
    EXPECT_EQ(wrong_method->Header("allow"), "POST");
}

TEST_F(ServerTest, HandlerMayRespondLaterFromAnotherThread) {
    Router router(&registry_);
    router.Add("POST", "/b24/events", [this](Request&& request, Respond respond) {
        // Stands in for the store thread answering after its group commit.
        threads_.emplace_back(
            [respond, body = std::move(request.body)]() mutable { respond(Response::Text(200, "stored " + body)); });
    });
    StartServer(std::move(router));

    auto response = client_.Post(Url("/b24/events"), "event=1", "application/x-www-form-urlencoded");

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "stored event=1");
}

TEST_F(ServerTest, HandlerExceptionBecomes500) {
    Router router(&registry_);
    router.Add("GET", "/boom", [](Request&&, Respond) { throw std::runtime_error("token=abc leaked?"); });
    StartServer(std::move(router));

    auto response = client_.Get(Url("/boom"));

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 500);
    EXPECT_EQ(response->body, "Internal Server Error\n");
}

TEST_F(ServerTest, HandlerThatDropsRespondGives500) {
    Router router(&registry_);
    router.Add("GET", "/lost", [](Request&&, Respond) {});
    StartServer(std::move(router));

    auto response = client_.Get(Url("/lost"));

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 500);
    EXPECT_EQ(CounterValue(registry_, "dispatch_http_dropped_responds_total"), 1u);
}

TEST_F(ServerTest, LateHandlerGets503AndItsLaterRespondIsHarmless) {
    std::mutex mu;
    Respond kept;
    Router router(&registry_);
    router.Add("GET", "/slow", [&](Request&&, Respond respond) {
        std::lock_guard lock(mu);
        kept = std::move(respond);
    });
    ServerOptions options = TestServerOptions();
    options.handler_timeout = std::chrono::milliseconds(100);
    StartServer(std::move(router), options);

    auto response = client_.Get(Url("/slow"));
    server_->server->Stop();
    std::lock_guard lock(mu);
    kept(Response::Text(200, "too late"));  // after Stop: must be dropped, not posted into a dead io_context

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 503);
    EXPECT_EQ(CounterValue(registry_, "dispatch_http_handler_timeouts_total"), 1u);
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
    Router router(&registry_);
    router.Add("GET", "/n", [](Request&&, Respond respond) { respond(Response::Text(200, "n")); });
    StartServer(std::move(router));

    auto first = client_.Get(Url("/n"));
    auto second = client_.Get(Url("/n"));

    ASSERT_THAT(first, IsOk());
    ASSERT_THAT(second, IsOk());
    EXPECT_EQ(CounterValue(registry_, "dispatch_http_connections_total"), 1u);
}

TEST_F(ServerTest, HeadGetsHeadersWithoutBody) {
    Router router(&registry_);
    router.Add("GET", "/page", [](Request&&, Respond respond) { respond(Response::Text(200, "twelve bytes")); });
    StartServer(std::move(router));
    RawTls raw(server_->server->Port());

    raw.Write("HEAD /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto read = raw.ReadUntilClosed(kIoWait);

    EXPECT_THAT(read.data, StartsWith("HTTP/1.1 200 OK\r\n"));
    EXPECT_THAT(read.data, HasSubstr("Content-Length: 12\r\n"));
    EXPECT_EQ(read.data.substr(read.data.find("\r\n\r\n") + 4), "");
}

TEST_F(ServerTest, BodyOverLimitIs413AndNeverReachesTheHandler) {
    std::atomic<int> calls{0};
    Router router(&registry_);
    router.Add("POST", "/b24/events", [&](Request&&, Respond respond) {
        ++calls;
        respond(Response::Text(200, "ok"));
    });
    ServerOptions options = TestServerOptions();
    options.max_body_bytes = 1024;
    StartServer(std::move(router), options);

    auto response = client_.Post(Url("/b24/events"), std::string(4096, 'x'), "text/plain");

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 413);
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_EQ(calls.load(), 0);
    EXPECT_EQ(CounterValue(registry_, "dispatch_http_rejected_total", {{"reason", "body_too_large"}}), 1u);
}

TEST_F(ServerTest, ChunkedBodyOverLimitIs413) {
    std::atomic<int> calls{0};
    Router router(&registry_);
    router.Add("POST", "/b24/events", [&](Request&&, Respond respond) {
        ++calls;
        respond(Response::Text(200, "ok"));
    });
    ServerOptions options = TestServerOptions();
    options.max_body_bytes = 16;
    options.shutdown_timeout = std::chrono::milliseconds(100);  // bounds the discard-read after the 413
    StartServer(std::move(router), options);
    RawTls raw(server_->server->Port());

    raw.Write("POST /b24/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" +
              std::string(32, 'y') + "\r\n0\r\n\r\n");
    const auto read = raw.ReadUntilClosed(kIoWait);

    EXPECT_THAT(read.data, StartsWith("HTTP/1.1 413 "));
    EXPECT_TRUE(read.closed);
    EXPECT_EQ(calls.load(), 0);
}

TEST_F(ServerTest, MalformedRequestIs400AndConnectionCloses) {
    Router router(&registry_);
    StartServer(std::move(router));
    RawTls raw(server_->server->Port());

    raw.Write("NOT HTTP AT ALL\r\n\r\n");
    const auto read = raw.ReadUntilClosed(kIoWait);

    EXPECT_THAT(read.data, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
    EXPECT_TRUE(read.closed);
    EXPECT_EQ(CounterValue(registry_, "dispatch_http_rejected_total", {{"reason", "bad_request"}}), 1u);
}

TEST_F(ServerTest, HeaderOverLimitIs431) {
    Router router(&registry_);
    router.Add("GET", "/", [](Request&&, Respond respond) { respond(Response::Text(200, "ok")); });
    ServerOptions options = TestServerOptions();
    options.max_header_bytes = 1024;
    StartServer(std::move(router), options);

    auto response = client_.Get(Url("/"), {{"X-Big", std::string(2048, 'h')}});

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 431);
}

TEST_F(ServerTest, SlowClientIsDisconnectedAtHeaderTimeout) {
    std::atomic<int> calls{0};
    Router router(&registry_);
    router.Add("GET", "/", [&](Request&&, Respond respond) {
        ++calls;
        respond(Response::Text(200, "ok"));
    });
    ServerOptions options = TestServerOptions();
    options.header_timeout = std::chrono::milliseconds(200);
    StartServer(std::move(router), options);
    RawTls raw(server_->server->Port());
    const auto start = std::chrono::steady_clock::now();

    raw.Write("GET / HTTP/1.1\r\nHost: x\r\n");  // half a header, then silence
    const auto read = raw.ReadUntilClosed(kIoWait);

    EXPECT_TRUE(read.closed);
    EXPECT_EQ(read.data, "");
    EXPECT_LT(std::chrono::steady_clock::now() - start, kIoWait);
    EXPECT_EQ(calls.load(), 0);
    // The server counts after closing, so the count may trail our view of the close by a moment.
    EXPECT_TRUE(WaitFor([&] { return CounterValue(registry_, "dispatch_http_read_timeouts_total") == 1u; },
                        kIoWait,
                        "the timeout to be counted"));
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponse) {
    Router router(&registry_);
    router.Add("POST", "/up", [](Request&& request, Respond respond) { respond(Response::Text(200, request.body)); });
    StartServer(std::move(router));
    RawTls raw(server_->server->Port());

    raw.Write("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
    const auto interim = raw.ReadUntil("\r\n\r\n", kIoWait);
    raw.Write("hello");
    const auto final_part = raw.ReadUntilClosed(kIoWait);

    EXPECT_EQ(interim.data, "HTTP/1.1 100 Continue\r\n\r\n");
    EXPECT_THAT(final_part.data, StartsWith("HTTP/1.1 200 OK\r\n"));
    EXPECT_THAT(final_part.data, ::testing::EndsWith("\r\n\r\nhello"));
}

TEST_F(ServerTest, MetricsEndpointShowsCounters) {
    Router router(&registry_);
    router.Add("GET", "/n", [](Request&&, Respond respond) { respond(Response::Text(200, "n")); });
    AddStandardRoutes(router, registry_);
    StartServer(std::move(router));

    ASSERT_THAT(client_.Get(Url("/n")), IsOk());
    auto health = client_.Get(Url("/healthz"));
    auto scrape = client_.Get(Url("/metrics"));

    ASSERT_THAT(health, IsOk());
    EXPECT_EQ(health->body, "ok\n");
    ASSERT_THAT(scrape, IsOk());
    EXPECT_THAT(scrape->content_type, StartsWith("text/plain; version=0.0.4"));
    EXPECT_THAT(scrape->body,
                HasSubstr("dispatch_http_requests_total{method=\"GET\",route=\"/n\",status=\"200\"} 1\n"));
    EXPECT_THAT(scrape->body, HasSubstr("dispatch_http_connections_total 1\n"));
    EXPECT_THAT(scrape->body, HasSubstr("# TYPE dispatch_http_request_duration_seconds histogram\n"));
}

TEST_F(ServerTest, StopLetsInFlightRequestFinishWithConnectionClose) {
    std::mutex mu;
    Respond kept;
    std::atomic<bool> arrived{false};
    Router router(&registry_);
    router.Add("POST", "/b24/events", [&](Request&&, Respond respond) {
        std::lock_guard lock(mu);
        kept = std::move(respond);
        arrived = true;
    });
    StartServer(std::move(router));
    auto in_flight =
        std::async(std::launch::async, [&] { return client_.Post(Url("/b24/events"), "e", "text/plain"); });
    ASSERT_TRUE(WaitFor([&] { return arrived.load(); }, kIoWait, "the request to reach the handler"));

    auto stopping = std::async(std::launch::async, [&] { server_->server->Stop(); });
    // Stop has begun once new connections are turned away.
    Client probe(TestClientOptions());
    ASSERT_TRUE(
        WaitFor([&] { return !probe.Get(Url("/healthz")).has_value(); }, kIoWait, "the server to stop accepting"));
    {
        std::lock_guard lock(mu);
        kept(Response::Text(200, "stored"));
    }
    stopping.get();
    auto response = in_flight.get();

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "stored");
    EXPECT_EQ(response->Header("connection"), "close");
}

TEST_F(ServerTest, StopClosesIdleKeepAliveConnectionsPromptly) {
    Router router(&registry_);
    router.Add("GET", "/n", [](Request&&, Respond respond) { respond(Response::Text(200, "n")); });
    ServerOptions options = TestServerOptions();
    options.idle_timeout = std::chrono::milliseconds(60'000);
    options.stop_timeout = std::chrono::milliseconds(30'000);
    StartServer(std::move(router), options);
    ASSERT_THAT(client_.Get(Url("/n")), IsOk());  // leaves one idle kept connection
    const auto start = std::chrono::steady_clock::now();

    server_->server->Stop();

    // Far below both the idle and the stop timeouts: the idle connection was closed, not waited for.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(5000));
    EXPECT_TRUE(WaitFor([&] { return registry_.GetGauge("dispatch_http_open_connections", "").Value() == 0; },
                        kIoWait,
                        "connections to close"));
}

TEST(ServerStart, MissingCertificateIsTlsError) {
    ServerOptions options = TestServerOptions();
    options.cert_file = "/nonexistent/server.pem";
    Server server(options, Router());

    EXPECT_THAT(server.Start(), HasErrc(Errc::kTls));
}

TEST(ServerStart, BadListenAddressIsConfigError) {
    ServerOptions options = TestServerOptions();
    options.listen = "localhost";
    Server server(options, Router());

    EXPECT_THAT(server.Start(), HasErrc(Errc::kBadConfig));
}

// The served certificate lives in files the test may replace, as an operator's renewal does.
class CertificateReloadTest : public ServerTest {
protected:
    void SetUp() override { Install("server"); }

    // Copies the generated pair `name`.pem / `name`.key over the served files.
    void Install(const std::string& name, const std::string& key_name = "") {
        const auto copy = [](const std::string& from, const std::string& to) {
            std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
        };
        copy(testing::CertPath(name + ".pem"), Cert());
        copy(testing::CertPath((key_name.empty() ? name : key_name) + ".key"), Key());
    }
    std::string Cert() const { return dir_.File("cert.pem"); }
    std::string Key() const { return dir_.File("key.pem"); }

    void StartServing() {
        Router router(&registry_);
        router.Add("GET", "/n", [](Request&&, Respond respond) { respond(Response::Text(200, "n")); });
        ServerOptions options = TestServerOptions();
        options.cert_file = Cert();
        options.key_file = Key();
        StartServer(std::move(router), options);
    }
    std::string CommonNameOfANewConnection() { return RawTls(server_->server->Port()).PeerCommonName(); }
    double NotAfterGauge() { return registry_.GetGauge("dispatch_http_tls_certificate_not_after_seconds", "").Value(); }
    // notAfter of the generated certificate `name`, read with OpenSSL directly.
    static double NotAfterOf(const std::string& name) {
        FILE* file = std::fopen(testing::CertPath(name + ".pem").c_str(), "r");
        X509* cert = file != nullptr ? PEM_read_X509(file, nullptr, nullptr, nullptr) : nullptr;
        if (file != nullptr) {
            std::fclose(file);
        }
        std::tm tm{};
        const bool read = cert != nullptr && ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1;
        X509_free(cert);
        return read ? static_cast<double>(timegm(&tm)) : -1;
    }

    dispatch::testing::TempDir dir_;
};

TEST_F(CertificateReloadTest, NewConnectionsGetTheRenewedCertificateAndOpenOnesKeepWorking) {
    StartServing();
    RawTls open(server_->server->Port());
    ASSERT_EQ(open.PeerCommonName(), "localhost");
    EXPECT_EQ(NotAfterGauge(), NotAfterOf("server"));

    Install("wrong-host");  // another certificate of the same CA, so the test client trusts both
    ASSERT_THAT(server_->server->ReloadCertificate(), IsOk());

    EXPECT_EQ(CommonNameOfANewConnection(), "wrong-host.invalid");
    open.Write("GET /n HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto answer = open.ReadUntil("\r\n\r\nn", kIoWait);
    EXPECT_THAT(answer.data, StartsWith("HTTP/1.1 200")) << "a connection opened before the reload is still served";
    EXPECT_EQ(CounterValue(registry_, "dispatch_http_tls_reloads_total", {{"result", "ok"}}), 1u);
    EXPECT_EQ(NotAfterGauge(), NotAfterOf("wrong-host"));
    EXPECT_NE(NotAfterOf("wrong-host"), NotAfterOf("server")) << "the gauge check needs certificates that differ";
}

TEST_F(CertificateReloadTest, AFailedReloadKeepsTheServedCertificate) {
    StartServing();
    const double served_until = NotAfterGauge();

    { std::ofstream(Cert(), std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nnot base64\n"; }
    const auto unreadable = server_->server->ReloadCertificate();
    Install("wrong-host", "server");  // a renewal caught between its two files: the key is still the old one
    const auto mismatched = server_->server->ReloadCertificate();

    ASSERT_THAT(unreadable, HasErrc(Errc::kTls));
    EXPECT_THAT(unreadable.error().detail, HasSubstr(Cert()));
    ASSERT_THAT(mismatched, HasErrc(Errc::kTls));
    EXPECT_THAT(mismatched.error().detail, HasSubstr("mismatch"));
    EXPECT_EQ(CommonNameOfANewConnection(), "localhost");
    EXPECT_EQ(CounterValue(registry_, "dispatch_http_tls_reloads_total", {{"result", "failed"}}), 2u);
    EXPECT_EQ(CounterValue(registry_, "dispatch_http_tls_reloads_total", {{"result", "ok"}}), 0u);
    EXPECT_EQ(NotAfterGauge(), served_until);
}

}  // namespace
}  // namespace dispatch::http
