#include "http/server.hpp"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/time_format.hpp"

namespace dispatch::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
// beast::ssl_stream (not the bare asio one): it gathers a header+body buffer sequence into one TLS record and one
// send, where asio's SSL stream encrypts only the first buffer per write.
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr log::Logger kLog{"http"};
constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);  // Boost 1.81: a completion token is required
constexpr std::size_t kReadChunk = 16 * 1024;
// After a 413 we read and discard what the client still sends, so that closing with unread bytes does not turn
// into a TCP reset that destroys our response before the client reads it. Bounded so a client cannot pin us.
constexpr std::size_t kMaxDrainBytes = 4 * 1024 * 1024;

// Allows Respond callbacks to post into the io_context only while it is running: a store thread may call
// respond after Stop(), when the io_context is about to be destroyed.
struct Gate {
    std::mutex mu;
    bool open = true;
};

// State shared by the server and every session; sessions hold it, so it outlives the Server object if needed.
struct Shared {
    ServerOptions options;
    Router router;
    std::unique_ptr<metrics::Registry> own_registry;  // when the router has none
    metrics::Registry* registry = nullptr;
    // The TLS context new connections get. ReloadCertificate swaps it; each session keeps the one it started with.
    std::mutex tls_mu;
    std::shared_ptr<ssl::context> tls;
    std::shared_ptr<Gate> gate = std::make_shared<Gate>();
    std::atomic<bool> stopping{false};

    metrics::Counter* connections = nullptr;
    metrics::Gauge* open_connections = nullptr;
    metrics::Counter* tls_failures = nullptr;
    metrics::Counter* rejected_bad_request = nullptr;
    metrics::Counter* rejected_header_too_large = nullptr;
    metrics::Counter* rejected_body_too_large = nullptr;
    metrics::Counter* read_timeouts = nullptr;
    metrics::Counter* handler_timeouts = nullptr;
    metrics::Counter* dropped_responds = nullptr;
    metrics::Counter* tls_reloads_ok = nullptr;
    metrics::Counter* tls_reloads_failed = nullptr;
    metrics::Gauge* certificate_not_after = nullptr;

    std::mutex sessions_mu;
    std::condition_variable sessions_cv;
    std::map<std::uint64_t, std::weak_ptr<class Session>> sessions;
    std::uint64_t next_session_id = 0;

    Shared(ServerOptions opts, Router r) : options(std::move(opts)), router(std::move(r)) {
        registry = router.Metrics();
        if (registry == nullptr) {
            own_registry = std::make_unique<metrics::Registry>();
            registry = own_registry.get();
        }
        auto& reg = *registry;
        connections = &reg.GetCounter("dispatch_http_connections_total", "Inbound connections accepted");
        open_connections = &reg.GetGauge("dispatch_http_open_connections", "Inbound connections currently open");
        tls_failures =
            &reg.GetCounter("dispatch_http_tls_handshake_failures_total", "Inbound TLS handshakes that failed");
        const auto rejected = [&](const char* reason) {
            return &reg.GetCounter("dispatch_http_rejected_total",
                                   "Inbound requests answered before routing, by reason",
                                   {{"reason", reason}});
        };
        rejected_bad_request = rejected("bad_request");
        rejected_header_too_large = rejected("header_too_large");
        rejected_body_too_large = rejected("body_too_large");
        read_timeouts =
            &reg.GetCounter("dispatch_http_read_timeouts_total", "Connections closed mid-request by a read timeout");
        handler_timeouts =
            &reg.GetCounter("dispatch_http_handler_timeouts_total", "Handlers that did not respond in time (503)");
        dropped_responds = &reg.GetCounter("dispatch_http_dropped_responds_total",
                                           "Handlers that dropped their respond callback (500)");
        const auto reloads = [&](const char* result) {
            return &reg.GetCounter("dispatch_http_tls_reloads_total",
                                   "Certificate reloads asked for (SIGHUP), by result",
                                   {{"result", result}});
        };
        tls_reloads_ok = reloads("ok");
        tls_reloads_failed = reloads("failed");
        certificate_not_after = &reg.GetGauge("dispatch_http_tls_certificate_not_after_seconds",
                                              "Unix time at which the served certificate expires");
    }

    std::shared_ptr<ssl::context> CurrentTls() {
        std::lock_guard lock(tls_mu);
        return tls;
    }
};

// The strand-side half of one pending handler call: the session's coroutine waits on `timer`; a response posted
// from any thread fills `response` and cancels the timer.
struct Pending {
    explicit Pending(const net::any_io_executor& executor) : timer(executor) {}
    net::steady_timer timer;
    std::optional<Response> response;
};

// The thread-safe half: what a Respond callback holds. It holds nothing that belongs to the io_context (no
// executor, no timer), so a callback kept past the server's lifetime can be destroyed anywhere; it reaches the
// strand only through `pending`, and only while the gate is open.
class Responder {
public:
    Responder(std::shared_ptr<Shared> shared, std::weak_ptr<Pending> pending)
        : shared_(std::move(shared)), pending_(std::move(pending)) {}
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;

    ~Responder() {
        if (called_.load()) {
            return;
        }
        std::lock_guard lock(shared_->gate->mu);
        if (!shared_->gate->open) {
            return;  // the server is gone; so may be its metrics registry
        }
        shared_->dropped_responds->Inc();
        DISPATCH_LOG_LIMITED_WARN(kLog, "handler dropped respond", "status=500");
        PostLocked(Response::Status(500));
    }

    void Deliver(Response&& response) {
        if (called_.exchange(true)) {
            return;
        }
        std::lock_guard lock(shared_->gate->mu);
        if (shared_->gate->open) {
            PostLocked(std::move(response));
        }
    }

private:
    // Caller holds the gate open. The strong reference moves into the posted handler, so Pending (and its timer)
    // is released on an io thread or by the io_context itself, never here.
    void PostLocked(Response&& response) {
        std::shared_ptr<Pending> state = pending_.lock();
        if (!state) {
            return;  // the session already answered (handler timeout) or closed
        }
        const auto executor = state->timer.get_executor();
        net::post(executor, [state = std::move(state), response = std::move(response)]() mutable {
            if (!state->response) {
                state->response = std::move(response);
                state->timer.cancel();
            }
        });
    }

    std::shared_ptr<Shared> shared_;
    std::weak_ptr<Pending> pending_;
    std::atomic<bool> called_{false};
};

bool IsHttpParseError(const boost::system::error_code& ec) {
    if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) {
        return false;
    }
    // The peer went away mid-message: nobody to answer.
    return ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(std::shared_ptr<Shared> shared, tcp::socket socket, std::uint64_t id)
        : shared_(std::move(shared)), id_(id), tls_(shared_->CurrentTls()), stream_(std::move(socket), *tls_) {
        boost::system::error_code ec;
        const auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
        if (!ec) {
            remote_ = endpoint.address().to_string();
        }
        shared_->open_connections->Add(1);
    }

    ~Session() {
        shared_->open_connections->Add(-1);
        std::lock_guard lock(shared_->sessions_mu);
        shared_->sessions.erase(id_);
        shared_->sessions_cv.notify_all();
    }

    // The connection's strand: every step of the session runs there.
    net::any_io_executor Executor() { return stream_.get_executor(); }

    // A coroutine taking `self` by value: the frame keeps the session alive for as long as it runs.
    static net::awaitable<void> Run(std::shared_ptr<Session> self) { co_await self->Serve(); }

    // Runs on the session's strand (posted by Server::Stop): an idle connection closes now, a busy one after
    // its current response, which carries Connection: close.
    void OnStop() {
        closing_ = true;
        if (idle_) {
            beast::get_lowest_layer(stream_).cancel();
        }
    }

private:
    net::awaitable<void> Serve();
    net::awaitable<Response> CallHandler(Request&& request);
    net::awaitable<bool> Write(Response&& response, unsigned version, bool keep_alive, bool head);
    net::awaitable<void> Reject(int status, unsigned version, std::size_t drain_bytes);
    net::awaitable<void> Drain(std::size_t max_bytes);
    boost::system::error_code ParseBuffered(bhttp::request_parser<bhttp::string_body>& parser);

    const ServerOptions& Options() const { return shared_->options; }

    std::shared_ptr<Shared> shared_;
    std::uint64_t id_;
    std::shared_ptr<ssl::context> tls_;  // the context this connection started with, alive as long as it is
    TlsStream stream_;
    beast::flat_buffer buffer_;
    std::string remote_;
    bool idle_ = true;      // waiting for a handshake or for the first byte of the next request
    bool closing_ = false;  // the server is stopping
};

net::awaitable<void> Session::Serve() {
    auto& tcp = beast::get_lowest_layer(stream_);
    if (shared_->stopping.load()) {
        co_return;
    }

    tcp.expires_after(Options().handshake_timeout);
    if (auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, kNoThrow); ec) {
        // Scanners, health probes and clients that distrust our certificate: routine, so debug level only.
        shared_->tls_failures->Inc();
        DISPATCH_LOG_DEBUG(kLog, "tls handshake failed", "remote={} error={}", remote_, log::Quote(ec.message()));
        co_return;
    }

    for (bool first = true;; first = false) {
        if (closing_ || shared_->stopping.load()) {
            // Stopping between requests: the client has every response it asked for, and waiting for its
            // close_notify would hold Stop() for shutdown_timeout.
            co_return;
        }
        if (buffer_.size() == 0) {
            // Waiting for a request to begin is the one state in which Stop() may close the connection at once.
            idle_ = true;
            tcp.expires_after(first ? Options().header_timeout : Options().idle_timeout);
            auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), kNoThrow);
            idle_ = false;
            if (ec) {
                // Keep-alive idle timeout, the peer closing (stream_truncated when it skips close_notify), or
                // Stop(): no request was in progress, so there is nothing to answer or flush.
                co_return;
            }
            buffer_.commit(n);
        }

        bhttp::request_parser<bhttp::string_body> parser;  // a fresh parser per message
        parser.header_limit(static_cast<std::uint32_t>(Options().max_header_bytes));
        parser.body_limit(Options().max_body_bytes);

        tcp.expires_after(Options().header_timeout);
        // A request usually arrives whole in one read: parse what is buffered on the spot, and go back to the
        // network (an asynchronous read, a trip through the strand) only for what is still missing.
        const boost::system::error_code buffered_ec = ParseBuffered(parser);
        boost::system::error_code header_ec = parser.is_header_done() ? boost::system::error_code{} : buffered_ec;
        if (!header_ec && !parser.is_header_done()) {
            auto [ec, n] = co_await bhttp::async_read_header(stream_, buffer_, parser, kNoThrow);
            header_ec = ec;
        }
        if (header_ec == bhttp::error::header_limit) {
            shared_->rejected_header_too_large->Inc();
            co_await Reject(431, 11, 0);
            co_return;
        }
        if (header_ec == bhttp::error::body_limit) {
            // Beast checks a declared Content-Length against body_limit while still reading the header.
            shared_->rejected_body_too_large->Inc();
            const unsigned declared_version = parser.get().version() == 10 ? 10 : 11;
            co_await Reject(413, declared_version, kMaxDrainBytes);
            co_return;
        }
        if (IsHttpParseError(header_ec)) {
            shared_->rejected_bad_request->Inc();
            DISPATCH_LOG_DEBUG(kLog, "bad request", "remote={} error={}", remote_, log::Quote(header_ec.message()));
            co_await Reject(400, 11, 0);
            co_return;
        }
        if (header_ec) {
            if (header_ec == beast::error::timeout) {
                shared_->read_timeouts->Inc();
            }
            co_return;  // timeout (the socket is already closed), reset, or the peer left mid-header
        }

        const unsigned version = parser.get().version();
        if (const auto length = parser.content_length(); length && *length > Options().max_body_bytes) {
            shared_->rejected_body_too_large->Inc();
            co_await Reject(413, version, static_cast<std::size_t>(std::min<std::uint64_t>(*length, kMaxDrainBytes)));
            co_return;
        }
        if (!parser.is_done() && beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
            // curl waits for this before sending bodies over 1 MiB; within our limit it may go ahead.
            bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, version};
            tcp.expires_after(Options().write_timeout);
            if (auto [ec, n] = co_await bhttp::async_write(stream_, go_on, kNoThrow); ec) {
                co_return;
            }
        }
        boost::system::error_code body_ec = parser.is_header_done() ? buffered_ec : boost::system::error_code{};
        if (!body_ec && !parser.is_done()) {
            tcp.expires_after(Options().body_timeout);
            auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser, kNoThrow);
            body_ec = ec;
        }
        if (body_ec) {
            if (body_ec == bhttp::error::body_limit) {
                // A chunked body that grew past the limit.
                shared_->rejected_body_too_large->Inc();
                co_await Reject(413, version, kMaxDrainBytes);
                co_return;
            }
            if (IsHttpParseError(body_ec)) {
                shared_->rejected_bad_request->Inc();
                co_await Reject(400, version, 0);
                co_return;
            }
            if (body_ec == beast::error::timeout) {
                shared_->read_timeouts->Inc();
            }
            co_return;
        }

        auto message = parser.release();
        const bool wants_keep_alive = message.keep_alive();
        Request request;
        request.method = std::string(message.method_string());
        request.target = std::string(message.target());
        const std::size_t question = request.target.find('?');
        request.path = request.target.substr(0, question);
        if (question != std::string::npos) {
            request.query = request.target.substr(question + 1);
        }
        for (const auto& field : message) {
            std::string name(field.name_string());
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
            request.headers.emplace_back(std::move(name), std::string(field.value()));
        }
        request.body = std::move(message.body());
        request.remote_address = remote_;
        const bool head = request.method == "HEAD";

        Response response = co_await CallHandler(std::move(request));
        const bool keep_alive = wants_keep_alive && !closing_ && !shared_->stopping.load();
        if (!co_await Write(std::move(response), version, keep_alive, head)) {
            co_return;
        }
        if (!keep_alive) {
            break;
        }
    }

    // Every response was complete; say goodbye properly but never wait longer than shutdown_timeout, since many
    // clients never answer close_notify (STYLE.md §2.3). stream_truncated here is expected and harmless.
    tcp.expires_after(Options().shutdown_timeout);
    auto [ec] = co_await stream_.async_shutdown(kNoThrow);
    (void)ec;
}

// Feeds the parser what buffer_ already holds (the header needs to be complete in it; the body as far as it goes).
// No error when more bytes are needed: the caller reads them.
boost::system::error_code Session::ParseBuffered(bhttp::request_parser<bhttp::string_body>& parser) {
    parser.eager(true);
    boost::system::error_code ec;
    while (buffer_.size() > 0 && !parser.is_done()) {
        const std::size_t used = parser.put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == bhttp::error::need_more) {
            return {};
        }
        if (ec || used == 0) {
            return ec;
        }
    }
    return {};
}

net::awaitable<Response> Session::CallHandler(Request&& request) {
    auto pending = std::make_shared<Pending>(stream_.get_executor());
    pending->timer.expires_after(Options().handler_timeout);
    auto responder = std::make_shared<Responder>(shared_, pending);
    const std::string method = request.method;
    const std::string target = request.target;
    shared_->router.Dispatch(std::move(request),
                             [responder](Response&& response) { responder->Deliver(std::move(response)); });
    responder.reset();  // from now on only the handler's copies keep it alive
    if (!pending->response) {
        auto [ec] = co_await pending->timer.async_wait(kNoThrow);
        (void)ec;  // cancelled when the response arrives; expiring means the handler is late
    }
    if (!pending->response) {
        shared_->handler_timeouts->Inc();
        DISPATCH_LOG_WARN(kLog,
                          "handler timed out",
                          "method={} target={} status=503",
                          method,
                          log::Quote(log::MaskUrlSecrets(target)));
        co_return Response::Status(503);
    }
    DISPATCH_LOG_DEBUG(kLog,
                       "request",
                       "remote={} method={} target={} status={}",
                       remote_,
                       method,
                       log::Quote(log::MaskUrlSecrets(target)),
                       pending->response->status);
    co_return std::move(*pending->response);
}

net::awaitable<bool> Session::Write(Response&& response, unsigned version, bool keep_alive, bool head) {
    int status = response.status;
    if (status < 200 || status > 599) {
        // A handler bug; an interim or invalid status would corrupt the exchange.
        DISPATCH_LOG_ERROR(kLog, "handler returned invalid status", "status={}", status);
        response = Response::Status(500);
        status = 500;
    }
    bhttp::response<bhttp::string_body> message{static_cast<bhttp::status>(status), version};
    message.set(bhttp::field::server, "dispatch");
    if (status != 204 && status != 304) {
        message.set(bhttp::field::content_type, response.content_type);
        message.body() = std::move(response.body);
    }
    for (auto& [name, value] : response.headers) {
        message.insert(name, value);
    }
    message.keep_alive(keep_alive);
    message.prepare_payload();
    if (head) {
        // HEAD gets the headers a GET would have, Content-Length included, and no body.
        const std::size_t length = message.body().size();
        message.body().clear();
        message.content_length(length);
    }

    auto& tcp = beast::get_lowest_layer(stream_);
    tcp.expires_after(Options().write_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream_, message, kNoThrow);
    co_return !ec;
}

net::awaitable<void> Session::Reject(int status, unsigned version, std::size_t drain_bytes) {
    // GCC 12 miscompiles a temporary with a destructor inside a co_await expression (it died here with SIGILL on
    // every 413): keep the response in a named local and the co_await expression simple (STYLE.md §2.2).
    Response rejection = Response::Status(status);
    const bool written = co_await Write(std::move(rejection), version == 10 ? 10 : 11, false, false);
    if (!written) {
        co_return;
    }
    if (drain_bytes > 0) {
        co_await Drain(drain_bytes + buffer_.size());
    }
    // No close_notify exchange: the request was not read, so the stream is not in a state worth preserving.
}

net::awaitable<void> Session::Drain(std::size_t max_bytes) {
    auto& tcp = beast::get_lowest_layer(stream_);
    tcp.expires_after(Options().shutdown_timeout);
    std::size_t total = 0;
    std::array<char, kReadChunk> scratch{};
    while (total < max_bytes) {
        auto [ec, n] = co_await stream_.async_read_some(net::buffer(scratch), kNoThrow);
        if (ec) {
            break;
        }
        total += n;
    }
}

std::optional<std::pair<std::string, std::string>> SplitHostPort(std::string_view listen) {
    const std::size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == listen.size()) {
        return std::nullopt;
    }
    std::string_view host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    return std::make_pair(std::string(host), std::string(listen.substr(colon + 1)));
}

// The leaf certificate's notAfter as Unix seconds; nullopt when it cannot be read.
std::optional<std::int64_t> NotAfter(ssl::context& ctx) {
    const X509* leaf = SSL_CTX_get0_certificate(ctx.native_handle());
    if (leaf == nullptr) {
        return std::nullopt;
    }
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) != 1) {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(timegm(&tm));
}

// A server context for the configured files: TLS 1.2 and later only (STYLE.md §2.3), the chain and its key. Used
// at start and by every reload, so a renewed certificate is held to the same rules.
Result<std::shared_ptr<ssl::context>> LoadTls(const ServerOptions& options) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(options.cert_file, ec);
    if (ec) {
        return Fail(Errc::kTls, fmt::format("cannot load certificate file '{}': {}", options.cert_file, ec.message()));
    }
    // OpenSSL checks the key against the certificate here ("key values mismatch"): a renewal caught between
    // replacing its two files fails instead of serving a certificate nobody can complete a handshake with.
    ctx->use_private_key_file(options.key_file, ssl::context::pem, ec);
    if (ec) {
        return Fail(Errc::kTls, fmt::format("cannot load key file '{}': {}", options.key_file, ec.message()));
    }
    return ctx;
}

}  // namespace

Result<std::optional<std::int64_t>> CheckCertificate(const ServerOptions& options) {
    auto tls = LoadTls(options);
    if (!tls) {
        return tls.error();
    }
    return NotAfter(**tls);
}

struct Server::Impl {
    std::shared_ptr<Shared> shared;
    // Declared after `shared` so that it is destroyed first: destroying it destroys pending session frames, which
    // touch `shared`.
    std::unique_ptr<net::io_context> ioc;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::vector<std::thread> threads;
    int port = 0;
    bool started = false;
    bool stopped = false;

    net::awaitable<void> AcceptLoop() {
        net::steady_timer backoff(acceptor->get_executor());
        while (!shared->stopping.load()) {
            auto [ec, socket] = co_await acceptor->async_accept(net::make_strand(*ioc), kNoThrow);
            if (ec) {
                if (ec == net::error::operation_aborted || shared->stopping.load()) {
                    co_return;
                }
                // Usually EMFILE: back off briefly instead of spinning on the error.
                DISPATCH_LOG_LIMITED_WARN(kLog, "accept failed", "error={}", log::Quote(ec.message()));
                backoff.expires_after(std::chrono::milliseconds(100));
                auto [wait_ec] = co_await backoff.async_wait(kNoThrow);
                (void)wait_ec;
                continue;
            }
            shared->connections->Inc();
            // Without this a response written as several TLS records waits for the peer's delayed ACK (~40 ms).
            boost::system::error_code nodelay_ec;
            socket.set_option(tcp::no_delay(true), nodelay_ec);
            std::shared_ptr<Session> session;
            {
                std::lock_guard lock(shared->sessions_mu);
                const std::uint64_t id = ++shared->next_session_id;
                session = std::make_shared<Session>(shared, std::move(socket), id);
                shared->sessions.emplace(id, session);
            }
            const net::any_io_executor executor = session->Executor();
            net::co_spawn(executor, Session::Run(std::move(session)), [](std::exception_ptr e) {
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                        DISPATCH_LOG_ERROR(kLog, "session failed", "what={}", log::Quote(ex.what()));
                    } catch (...) {
                        DISPATCH_LOG_ERROR(kLog, "session failed", "what=unknown");
                    }
                }
            });
        }
    }
};

Server::Server(ServerOptions options, Router router) : impl_(std::make_unique<Impl>()) {
    impl_->shared = std::make_shared<Shared>(std::move(options), std::move(router));
}

Server::~Server() { Stop(); }

int Server::Port() const { return impl_->port; }

Result<void> Server::Start() {
    Impl& impl = *impl_;
    Shared& shared = *impl.shared;
    const ServerOptions& options = shared.options;
    if (impl.started) {
        return Fail(Errc::kBadConfig, "server already started");
    }
    if (options.threads < 1) {
        return Fail(Errc::kBadConfig, fmt::format("threads must be at least 1, got {}", options.threads));
    }
    const auto host_port = SplitHostPort(options.listen);
    if (!host_port) {
        return Fail(Errc::kBadConfig, fmt::format("listen address '{}' is not host:port", options.listen));
    }
    boost::system::error_code ec;
    const auto address = net::ip::make_address(host_port->first, ec);
    if (ec) {
        return Fail(Errc::kBadConfig, fmt::format("listen host '{}' is not an IP address", host_port->first));
    }
    int port = 0;
    try {
        std::size_t used = 0;
        port = std::stoi(host_port->second, &used);
        if (used != host_port->second.size() || port < 0 || port > 65535) {
            throw std::out_of_range("port");
        }
    } catch (const std::exception&) {
        return Fail(Errc::kBadConfig, fmt::format("listen port '{}' is not a port number", host_port->second));
    }

    auto tls = LoadTls(options);
    if (!tls) {
        return tls.error();
    }
    if (const auto not_after = NotAfter(**tls)) {
        shared.certificate_not_after->Set(static_cast<double>(*not_after));
    }
    shared.tls = std::move(*tls);

    impl.ioc = std::make_unique<net::io_context>(options.threads);
    impl.acceptor = std::make_unique<tcp::acceptor>(net::make_strand(*impl.ioc));
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    if (impl.acceptor->open(endpoint.protocol(), ec); !ec) {
        impl.acceptor->set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        impl.acceptor->bind(endpoint, ec);
    }
    if (!ec) {
        impl.acceptor->listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return Fail(Errc::kTransport, fmt::format("cannot listen on {}: {}", options.listen, ec.message()));
    }
    impl.port = impl.acceptor->local_endpoint().port();
    impl.started = true;

    net::co_spawn(impl.acceptor->get_executor(), impl.AcceptLoop(), [](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                DISPATCH_LOG_ERROR(kLog, "accept loop failed", "what={}", log::Quote(ex.what()));
            } catch (...) {
                DISPATCH_LOG_ERROR(kLog, "accept loop failed", "what=unknown");
            }
        }
    });
    for (int i = 0; i < options.threads; ++i) {
        impl.threads.emplace_back([ioc = impl.ioc.get()] {
            ::pthread_setname_np(::pthread_self(), "http-io");
            ioc->run();
        });
    }
    DISPATCH_LOG_INFO(
        kLog, "listening", "address={} port={} threads={}", address.to_string(), impl.port, options.threads);
    return {};
}

Result<void> Server::ReloadCertificate() {
    Shared& shared = *impl_->shared;
    auto tls = LoadTls(shared.options);
    if (!tls) {
        shared.tls_reloads_failed->Inc();
        return tls.error();
    }
    const auto not_after = NotAfter(**tls);
    {
        std::lock_guard lock(shared.tls_mu);
        shared.tls = std::move(*tls);
    }
    if (not_after) {
        shared.certificate_not_after->Set(static_cast<double>(*not_after));
    }
    shared.tls_reloads_ok->Inc();
    DISPATCH_LOG_INFO(kLog,
                      "certificate reloaded",
                      "cert={} not_after={}",
                      log::Quote(shared.options.cert_file),
                      not_after ? FormatIso8601(*not_after * kSecondMs) : std::string("unknown"));
    return {};
}

void Server::Stop() {
    Impl& impl = *impl_;
    if (!impl.started || impl.stopped) {
        return;
    }
    impl.stopped = true;
    Shared& shared = *impl.shared;
    shared.stopping.store(true);

    net::post(impl.acceptor->get_executor(), [acceptor = impl.acceptor.get()] {
        boost::system::error_code ec;
        acceptor->close(ec);
    });

    // Collect under the lock, post and release outside it: the last reference to a session may be ours, and
    // ~Session takes sessions_mu.
    std::vector<std::shared_ptr<Session>> live;
    {
        std::lock_guard lock(shared.sessions_mu);
        for (auto& [id, weak] : shared.sessions) {
            if (auto session = weak.lock()) {
                live.push_back(std::move(session));
            }
        }
    }
    const std::size_t in_flight = live.size();
    for (auto& session : live) {
        net::post(session->Executor(), [session] { session->OnStop(); });
    }
    live.clear();

    std::unique_lock lock(shared.sessions_mu);
    const bool drained =
        shared.sessions_cv.wait_for(lock, shared.options.stop_timeout, [&] { return shared.sessions.empty(); });
    const std::size_t left = shared.sessions.size();
    lock.unlock();

    {
        std::lock_guard gate_lock(shared.gate->mu);
        shared.gate->open = false;
    }
    impl.ioc->stop();
    for (auto& thread : impl.threads) {
        thread.join();
    }
    impl.threads.clear();
    if (drained) {
        DISPATCH_LOG_INFO(kLog, "stopped", "port={} connections={}", impl.port, in_flight);
    } else {
        DISPATCH_LOG_WARN(kLog, "stopped with connections still open", "port={} abandoned={}", impl.port, left);
    }
}

}  // namespace dispatch::http
