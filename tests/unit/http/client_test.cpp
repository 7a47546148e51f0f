#include "http/client.hpp"

#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <thread>

#include "http_fixture.hpp"

namespace dispatch::http {
namespace {

using dispatch::testing::WaitFor;
using testing::CertPath;
using testing::CounterValue;
using testing::TestClientOptions;
using testing::TestServer;
using testing::TestServerOptions;

constexpr auto kIoWait = std::chrono::milliseconds(5000);

class ClientTest : public ::testing::Test {
protected:
    void StartServer(ServerOptions options = TestServerOptions()) {
        Router router(&registry_);
        router.Add("GET", "/hello", [](Request&&, Respond respond) { respond(Response::Text(200, "hello")); });
        router.Add(
            "GET", "/big", [](Request&&, Respond respond) { respond(Response::Text(200, std::string(4096, 'b'))); });
        router.Add("GET", "/never", [this](Request&&, Respond respond) {
            std::lock_guard lock(mu_);
            kept_.push_back(std::move(respond));
        });
        router.Add("POST", "/echo", [](Request&& request, Respond respond) {
            respond(Response::Text(200, request.Header("content-type") + "|" + request.body));
        });
        server_ = std::make_unique<TestServer>(std::move(router), std::move(options));
        ASSERT_TRUE(server_->Start());
    }
    std::string Url(const std::string& path, const std::string& host = "127.0.0.1") const {
        return server_->Url(path, host);
    }

    metrics::Registry registry_;
    std::mutex mu_;
    std::vector<Respond> kept_;
    std::unique_ptr<TestServer> server_;
};

TEST_F(ClientTest, PostsBodyWithContentType) {
    StartServer();
    Client client(TestClientOptions());

    auto response = client.Post(Url("/echo"), "a=1", "application/x-www-form-urlencoded");

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->body, "application/x-www-form-urlencoded|a=1");
}

TEST_F(ClientTest, VerifiesHostNameAndSendsSniForNames) {
    StartServer();
    Client client(TestClientOptions());

    auto response = client.Get(Url("/hello", "localhost"));

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->body, "hello");
}

TEST_F(ClientTest, CertificateFromAnotherCaIsTlsError) {
    StartServer();
    ClientOptions options = TestClientOptions();
    options.ca_file = CertPath("other-ca.pem");
    Client client(options);

    EXPECT_THAT(client.Get(Url("/hello")), HasErrc(Errc::kTls));
}

TEST_F(ClientTest, HostNameMismatchIsTlsError) {
    ServerOptions server_options = TestServerOptions();
    server_options.cert_file = CertPath("wrong-host.pem");
    server_options.key_file = CertPath("wrong-host.key");
    StartServer(server_options);
    Client client(TestClientOptions());

    // The chain is valid (same CA); only the name check can reject it.
    EXPECT_THAT(client.Get(Url("/hello")), HasErrc(Errc::kTls));
}

TEST_F(ClientTest, UnreadableCaFileFailsEverySendWithTls) {
    ClientOptions options = TestClientOptions();
    options.ca_file = "/nonexistent/ca.pem";
    Client client(options);

    EXPECT_THAT(client.Get("https://127.0.0.1:1/"), HasErrc(Errc::kTls));
}

TEST_F(ClientTest, ReconnectsWhenServerClosedTheIdleConnection) {
    ServerOptions options = TestServerOptions();
    options.idle_timeout = std::chrono::milliseconds(100);
    StartServer(options);
    Client client(TestClientOptions());
    ASSERT_THAT(client.Get(Url("/hello")), IsOk());
    auto& open = registry_.GetGauge("dispatch_http_open_connections", "");
    ASSERT_TRUE(WaitFor([&] { return open.Value() == 0; }, kIoWait, "the server to close the idle connection"));

    auto response = client.Get(Url("/hello"));

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->body, "hello");
    EXPECT_EQ(CounterValue(registry_, "dispatch_http_connections_total"), 2u);
}

TEST_F(ClientTest, ReusesConnectionAcrossCalls) {
    StartServer();
    Client client(TestClientOptions());

    for (int i = 0; i < 3; ++i) {
        ASSERT_THAT(client.Get(Url("/hello")), IsOk());
    }

    EXPECT_EQ(CounterValue(registry_, "dispatch_http_connections_total"), 1u);
}

TEST_F(ClientTest, ConcurrentCallersEachGetTheirResponse) {
    StartServer();
    Client client(TestClientOptions());
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};

    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            auto response = client.Post(Url("/echo"), std::to_string(i), "text/plain");
            if (response && response->body == "text/plain|" + std::to_string(i)) {
                ++ok;
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }

    EXPECT_EQ(ok.load(), 4);
}

TEST_F(ClientTest, ResponseOverLimitIsTooLarge) {
    StartServer();
    ClientOptions options = TestClientOptions();
    options.max_response_body = 1024;
    Client client(options);

    EXPECT_THAT(client.Get(Url("/big")), HasErrc(Errc::kTooLarge));
}

TEST_F(ClientTest, SilentServerIsTimeout) {
    ServerOptions server_options = TestServerOptions();
    server_options.stop_timeout = std::chrono::milliseconds(100);  // the parked request would hold Stop() otherwise
    StartServer(server_options);
    ClientOptions options = TestClientOptions();
    options.request_timeout = std::chrono::milliseconds(200);
    Client client(options);

    EXPECT_THAT(client.Get(Url("/never")), HasErrc(Errc::kTimeout));
}

TEST_F(ClientTest, RefusedConnectionIsTransportError) {
    // A port that was free a moment ago: bind, read it, close.
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const int port = acceptor.local_endpoint().port();
    acceptor.close();
    Client client(TestClientOptions());

    EXPECT_THAT(client.Get("https://127.0.0.1:" + std::to_string(port) + "/"), HasErrc(Errc::kTransport));
}

TEST(PlainClient, SpeaksHttpWithoutTlsForLoopbackTools) {
    // A one-shot plain-TCP server: reads one request head, answers, closes.
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const int port = acceptor.local_endpoint().port();
    std::string seen;
    acceptor.async_accept([&](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
        if (ec) {
            return;
        }
        boost::asio::streambuf head;
        boost::asio::read_until(socket, head, "\r\n\r\n", ec);
        seen.assign(boost::asio::buffers_begin(head.data()), boost::asio::buffers_end(head.data()));
        boost::asio::write(
            socket, boost::asio::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain")), ec);
    });
    // Bounded, so a client that never connects fails the test instead of hanging it.
    std::thread server([&] { ioc.run_for(std::chrono::seconds(5)); });
    Client client(TestClientOptions());

    auto response = client.Get("http://127.0.0.1:" + std::to_string(port) + "/x?y=1");
    server.join();

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->body, "plain");
    EXPECT_THAT(seen, ::testing::StartsWith("GET /x?y=1 HTTP/1.1\r\n"));
}

TEST_F(ClientTest, BadUrlsAreRejectedBeforeConnecting) {
    Client client(TestClientOptions());

    EXPECT_THAT(client.Get("ftp://127.0.0.1/"), HasErrc(Errc::kBadUrl));
    EXPECT_THAT(client.Get("https:///path"), HasErrc(Errc::kBadUrl));
    EXPECT_THAT(client.Get("https://127.0.0.1:99999/"), HasErrc(Errc::kBadUrl));
    EXPECT_THAT(client.Get("https://user:pw@127.0.0.1/"), HasErrc(Errc::kBadUrl));
}

}  // namespace
}  // namespace dispatch::http
