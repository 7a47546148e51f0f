#include "http/client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace dispatch::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
// beast::ssl_stream: a request's header and body leave in one TLS record (see server.cpp).
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Clock = std::chrono::steady_clock;
using net::experimental::awaitable_operators::operator||;

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);  // Boost 1.81: a completion token is required
constexpr std::uint32_t kMaxResponseHeader = 64 * 1024;

struct Url {
    bool tls = true;
    std::string host;  // without IPv6 brackets
    std::string port;
    std::string target;  // "/path?query"
    std::string host_header;
    std::string Key() const { return fmt::format("{}://{}:{}", tls ? "https" : "http", host, port); }
    // For error details: scheme, host, port and path; never the query, which may carry tokens.
    std::string Safe() const {
        return fmt::format("{}://{}:{}{}", tls ? "https" : "http", host, port, target.substr(0, target.find('?')));
    }
};

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) {
            return false;
        }
    }
    return true;
}

Result<Url> ParseUrl(std::string_view text) {
    Url url;
    if (StartsWithIgnoreCase(text, "https://")) {
        text.remove_prefix(8);
    } else if (StartsWithIgnoreCase(text, "http://")) {
        url.tls = false;
        text.remove_prefix(7);
    } else {
        return Fail(Errc::kBadUrl, "url must start with https:// or http://");
    }
    const std::size_t authority_end = std::min(text.find_first_of("/?#"), text.size());
    std::string_view authority = text.substr(0, authority_end);
    std::string_view rest = text.substr(authority_end);
    if (authority.find('@') != std::string_view::npos) {
        return Fail(Errc::kBadUrl, "credentials in the url are not supported");
    }
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return Fail(Errc::kBadUrl, "unterminated IPv6 literal");
        }
        url.host = std::string(authority.substr(1, close - 1));
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return Fail(Errc::kBadUrl, "junk after IPv6 literal");
            }
            port = after.substr(1);
        }
    } else {
        const std::size_t colon = authority.find(':');
        url.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
        }
    }
    if (url.host.empty()) {
        return Fail(Errc::kBadUrl, "url has no host");
    }
    if (port.empty()) {
        url.port = url.tls ? "443" : "80";
    } else {
        if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            std::stoi(std::string(port)) > 65535 || std::stoi(std::string(port)) == 0) {
            return Fail(Errc::kBadUrl, "bad port in url");
        }
        url.port = std::string(port);
    }
    rest = rest.substr(0, rest.find('#'));
    if (rest.empty() || rest.front() == '?') {
        url.target = "/" + std::string(rest);
    } else {
        url.target = std::string(rest);
    }
    url.host_header = std::string(authority);
    return url;
}

bool IsIpLiteral(const std::string& host) {
    boost::system::error_code ec;
    net::ip::make_address(host, ec);
    return !ec;
}

// One kept connection. It owns its io_context, so exactly one thread drives it at a time (whoever took it from
// the pool) and no background thread is needed.
struct Connection {
    Connection(ssl::context& ctx, bool use_tls) {
        if (use_tls) {
            tls.emplace(ioc, ctx);
        } else {
            plain.emplace(ioc);
        }
    }
    beast::tcp_stream& Tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

    net::io_context ioc{1};  // declared first: destroyed after the streams that use it
    std::optional<TlsStream> tls;
    std::optional<beast::tcp_stream> plain;
    beast::flat_buffer buffer;
    Clock::time_point last_used{};
};

Error Classify(const boost::system::error_code& ec, Errc fallback, std::string_view what, const Url& url) {
    Errc errc = fallback;
    if (ec == beast::error::timeout) {
        errc = Errc::kTimeout;
    } else if (ec == bhttp::error::body_limit) {
        errc = Errc::kTooLarge;
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        errc = Errc::kBadResponse;
    }
    return Fail(errc, fmt::format("{} {}: {}", what, url.Safe(), ec.message()));
}

struct ExchangeOutcome {
    std::optional<Result<Response>> result;
    bool response_started = false;  // some bytes of a response arrived: never resend
    bool keep_alive = false;
};

template <class Stream>
net::awaitable<void> Exchange(Stream& stream,
                              beast::flat_buffer& buffer,
                              const bhttp::request<bhttp::string_body>& request,
                              const Url& url,
                              Clock::time_point deadline,
                              std::size_t max_body,
                              ExchangeOutcome& out) {
    auto& tcp = beast::get_lowest_layer(stream);
    tcp.expires_at(deadline);  // one budget for writing, waiting and reading
    if (auto [ec, n] = co_await bhttp::async_write(stream, request, kNoThrow); ec) {
        out.result = Classify(ec, Errc::kTransport, "write", url);
        co_return;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kMaxResponseHeader);
    parser.body_limit(max_body);
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
    out.response_started = parser.got_some() || buffer.size() > 0;
    if (ec == ssl::error::stream_truncated && parser.need_eof()) {
        // A response delimited by the end of the connection, from a server that skipped close_notify.
        boost::system::error_code eof_ec;
        parser.put_eof(eof_ec);
        ec = eof_ec;
    }
    if (ec) {
        out.result = Classify(ec, Errc::kTransport, "read", url);
        co_return;
    }
    auto message = parser.release();
    Response response;
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        response.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    response.content_type = FindHeader(response.headers, "content-type");
    response.body = std::move(message.body());
    out.keep_alive = message.keep_alive() && !message.need_eof();
    out.result = std::move(response);
}

}  // namespace

struct Client::Impl {
    ClientOptions options;
    ssl::context ssl_ctx{ssl::context::tls_client};
    std::optional<Error> ctx_error;  // set when the CA file could not be loaded
    std::mutex mu;
    std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;

    std::unique_ptr<Connection> TakeIdle(const std::string& key) {
        std::lock_guard lock(mu);
        auto it = idle.find(key);
        if (it == idle.end()) {
            return nullptr;
        }
        auto& pool = it->second;
        const auto now = Clock::now();
        while (!pool.empty()) {
            std::unique_ptr<Connection> conn = std::move(pool.back());
            pool.pop_back();
            if (now - conn->last_used < options.idle_timeout) {
                return conn;
            }
        }
        return nullptr;
    }

    void PutIdle(const std::string& key, std::unique_ptr<Connection> conn) {
        conn->last_used = Clock::now();
        std::lock_guard lock(mu);
        auto& pool = idle[key];
        if (pool.size() < options.max_idle_per_host) {
            pool.push_back(std::move(conn));
        }
    }

    // Resolve, connect and (for https) handshake with verification, all within connect_timeout.
    Result<void> Connect(Connection& conn, const Url& url) {
        const auto deadline = Clock::now() + options.connect_timeout;
        std::optional<Error> error;
        auto run = [&]() -> net::awaitable<void> {
            tcp::resolver resolver(conn.ioc);
            net::steady_timer timer(conn.ioc);
            timer.expires_at(deadline);
            // The resolver has no timeout of its own: race it against the deadline.
            auto raced = co_await (resolver.async_resolve(url.host, url.port, kNoThrow) || timer.async_wait(kNoThrow));
            if (raced.index() == 1) {
                error = Fail(Errc::kTimeout, fmt::format("resolve {}: timed out", url.Safe()));
                co_return;
            }
            auto [resolve_ec, endpoints] = std::get<0>(std::move(raced));
            if (resolve_ec) {
                error = Fail(Errc::kTransport, fmt::format("resolve {}: {}", url.Safe(), resolve_ec.message()));
                co_return;
            }
            auto& tcp = conn.Tcp();
            tcp.expires_at(deadline);
            if (auto [ec, endpoint] = co_await tcp.async_connect(endpoints, kNoThrow); ec) {
                error = Classify(ec, Errc::kTransport, "connect", url);
                co_return;
            }
            tcp.socket().set_option(tcp::no_delay(true));
            if (!conn.tls) {
                co_return;
            }
            if (!IsIpLiteral(url.host)) {
                // SNI only for names (RFC 6066 forbids IP literals in server_name).
                if (!SSL_set_tlsext_host_name(conn.tls->native_handle(), url.host.c_str())) {
                    error = Fail(Errc::kTls, fmt::format("set sni {}", url.Safe()));
                    co_return;
                }
            }
            if (options.verify_peer) {
                // Chain verification alone would accept any certificate our CAs signed: check the name or IP too.
                conn.tls->set_verify_mode(ssl::verify_peer);
                conn.tls->set_verify_callback(ssl::host_name_verification(url.host));
            } else {
                conn.tls->set_verify_mode(ssl::verify_none);
            }
            if (auto [ec] = co_await conn.tls->async_handshake(ssl::stream_base::client, kNoThrow); ec) {
                error = Classify(ec, Errc::kTls, "tls handshake", url);
                if (ec != beast::error::timeout) {
                    error->code = make_error_code(Errc::kTls);
                }
                co_return;
            }
        };
        const auto failure = Drive(conn, run());
        if (failure) {
            return *failure;
        }
        if (error) {
            return *error;
        }
        return {};
    }

    // Runs one coroutine to completion on the connection's own io_context, on this thread.
    std::optional<Error> Drive(Connection& conn, net::awaitable<void> work) {
        std::optional<Error> failure;
        conn.ioc.restart();
        net::co_spawn(conn.ioc, std::move(work), [&failure](std::exception_ptr e) {
            if (!e) {
                return;
            }
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                failure = Fail(Errc::kTransport, fmt::format("unexpected: {}", ex.what()));
            } catch (...) {
                failure = Fail(Errc::kTransport, "unexpected exception");
            }
        });
        conn.ioc.run();
        return failure;
    }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    auto& ctx = impl_->ssl_ctx;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (impl_->options.ca_file.empty()) {
        ctx.set_default_verify_paths(ec);
    } else {
        ctx.load_verify_file(impl_->options.ca_file, ec);
    }
    if (ec) {
        impl_->ctx_error = Fail(Errc::kTls,
                                fmt::format("cannot load ca file '{}': {}",
                                            impl_->options.ca_file.empty() ? "(system)" : impl_->options.ca_file,
                                            ec.message()));
    }
}

Client::~Client() = default;

void Client::CloseIdle() {
    std::lock_guard lock(impl_->mu);
    impl_->idle.clear();
}

Result<Response> Client::Send(std::string_view method,
                              std::string_view url_text,
                              std::string body,
                              const Headers& headers,
                              std::string_view content_type) {
    Impl& impl = *impl_;
    if (impl.ctx_error) {
        return *impl.ctx_error;
    }
    auto url = ParseUrl(url_text);
    if (!url) {
        return url.error();
    }

    bhttp::request<bhttp::string_body> request;
    request.method_string(std::string(method));
    request.target(url->target);
    request.version(11);
    request.set(bhttp::field::host, url->host_header);
    request.set(bhttp::field::user_agent, impl.options.user_agent);
    if (!content_type.empty()) {
        request.set(bhttp::field::content_type, content_type);
    }
    for (const auto& [name, value] : headers) {
        request.insert(name, value);
    }
    const bool has_body = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
    request.body() = std::move(body);
    if (has_body) {
        request.prepare_payload();
    }
    request.keep_alive(true);

    const std::string key = url->Key();
    for (int attempt = 0;; ++attempt) {
        std::unique_ptr<Connection> conn = impl.TakeIdle(key);
        const bool reused = conn != nullptr;
        if (!conn) {
            conn = std::make_unique<Connection>(impl.ssl_ctx, url->tls);
            if (auto connected = impl.Connect(*conn, *url); !connected) {
                return connected.error();
            }
        }
        conn->buffer.clear();
        ExchangeOutcome out;
        const auto deadline = Clock::now() + impl.options.request_timeout;
        std::optional<Error> failure;
        if (conn->tls) {
            failure = impl.Drive(
                *conn,
                Exchange(*conn->tls, conn->buffer, request, *url, deadline, impl.options.max_response_body, out));
        } else {
            failure = impl.Drive(
                *conn,
                Exchange(*conn->plain, conn->buffer, request, *url, deadline, impl.options.max_response_body, out));
        }
        if (failure) {
            return *failure;
        }
        if (!out.result->has_value() && reused && !out.response_started && attempt == 0) {
            // The server closed the kept connection while it sat idle; nothing of ours was processed that we can
            // tell, so one fresh connection gets the request.
            continue;
        }
        if (out.result->has_value() && out.keep_alive) {
            impl.PutIdle(key, std::move(conn));
        }
        return std::move(*out.result);
    }
}

}  // namespace dispatch::http
