#pragma once
// Shared helpers for the http tests: a server on 127.0.0.1:0 with the generated test certificates
// (scripts/gen-test-certs.sh at configure time), a verifying client, and a raw TLS connection for sending bytes
// no well-behaved client would send.

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "core/metrics.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "support/test_support.hpp"
#include "support/tls_peer.hpp"

namespace dispatch::http::testing {

inline std::string CertPath(const std::string& name) { return dispatch::testing::BinaryPath("certs/" + name); }

// Short timeouts keep the suite fast; tests that exercise a timeout wait on I/O for it, never sleep.
inline ServerOptions TestServerOptions() {
    ServerOptions options;
    options.cert_file = CertPath("server.pem");
    options.key_file = CertPath("server.key");
    options.threads = 2;
    options.handshake_timeout = std::chrono::milliseconds(2000);
    options.header_timeout = std::chrono::milliseconds(2000);
    options.body_timeout = std::chrono::milliseconds(2000);
    options.write_timeout = std::chrono::milliseconds(2000);
    options.shutdown_timeout = std::chrono::milliseconds(500);
    options.idle_timeout = std::chrono::milliseconds(5000);
    options.handler_timeout = std::chrono::milliseconds(5000);
    options.stop_timeout = std::chrono::milliseconds(5000);
    return options;
}

inline ClientOptions TestClientOptions() {
    ClientOptions options;
    options.ca_file = CertPath("ca.pem");
    options.connect_timeout = std::chrono::milliseconds(5000);
    options.request_timeout = std::chrono::milliseconds(5000);
    return options;
}

// A server plus the registry it reports into.
struct TestServer {
    explicit TestServer(Router router, ServerOptions options = TestServerOptions())
        : server(std::make_unique<Server>(std::move(options), std::move(router))) {}

    ::testing::AssertionResult Start() {
        auto started = server->Start();
        if (!started) {
            return ::testing::AssertionFailure() << started.error();
        }
        return ::testing::AssertionSuccess();
    }
    std::string Url(const std::string& path, const std::string& host = "127.0.0.1") const {
        return "https://" + host + ":" + std::to_string(server->Port()) + path;
    }

    std::unique_ptr<Server> server;
};

inline std::uint64_t CounterValue(metrics::Registry& registry,
                                  const std::string& name,
                                  const metrics::Labels& labels = {}) {
    return registry.GetCounter(name, "", labels).Value();
}

// A TLS connection driven by hand. Reads are bounded by a deadline, so a server bug fails the test instead of
// hanging it.
class RawTls {
public:
    explicit RawTls(int port) : ctx_(boost::asio::ssl::context::tls_client), stream_(ioc_, ctx_) {
        ctx_.load_verify_file(CertPath("ca.pem"));
        stream_.set_verify_mode(boost::asio::ssl::verify_peer);
        const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                      static_cast<unsigned short>(port));
        stream_.next_layer().connect(endpoint);
        stream_.handshake(boost::asio::ssl::stream_base::client);
    }

    void Write(const std::string& bytes) { boost::asio::write(stream_, boost::asio::buffer(bytes)); }

    // The CN of the certificate the server presented ("" when none).
    std::string PeerCommonName() { return dispatch::testing::PeerCommonName(stream_.native_handle()); }

    struct ReadResult {
        std::string data;
        bool closed = false;  // the server ended the connection (EOF, close_notify or reset)
    };
    // Collects bytes until the server closes the connection or `timeout` passes.
    ReadResult ReadUntilClosed(std::chrono::milliseconds timeout) {
        ReadResult result;
        ReadMore(result);
        ioc_.restart();
        ioc_.run_for(timeout);
        if (!result.closed) {
            boost::system::error_code ec;
            stream_.next_layer().close(ec);
            ioc_.run();
            result.closed = false;
        }
        return result;
    }
    // Collects bytes until `marker` appears (or the deadline), leaving the connection open.
    ReadResult ReadUntil(const std::string& marker, std::chrono::milliseconds timeout) {
        ReadResult result;
        stop_marker_ = marker;
        ReadMore(result);
        ioc_.restart();
        ioc_.run_for(timeout);
        stop_marker_.clear();
        return result;
    }

private:
    void ReadMore(ReadResult& result) {
        stream_.async_read_some(boost::asio::buffer(chunk_),
                                [this, &result](boost::system::error_code ec, std::size_t n) {
                                    if (ec) {
                                        result.closed = ec != boost::asio::error::operation_aborted;
                                        return;
                                    }
                                    result.data.append(chunk_.data(), n);
                                    if (!stop_marker_.empty() && result.data.find(stop_marker_) != std::string::npos) {
                                        return;  // no read left pending: run_for returns at once
                                    }
                                    ReadMore(result);
                                });
    }

    boost::asio::io_context ioc_;
    boost::asio::ssl::context ctx_;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
    std::array<char, 4096> chunk_{};
    std::string stop_marker_;
};

}  // namespace dispatch::http::testing
