#pragma once
// A generic HTTPS/1.1 server (Beast + OpenSSL, STYLE.md §4 E3): one io_context with a few threads, a strand per
// connection, a timeout before every operation, size limits, keep-alive, TLS 1.2+ only. It knows nothing of
// Bitrix24; modules above register handlers on a Router.
//
//   http::Router router(&metrics::DefaultRegistry());
//   router.Add("POST", "/b24/robots/{code}", [&](http::Request&& req, http::Respond respond) {
//       store.AppendAsync(..., [respond](Result<void> r) { respond(r ? Response::Text(200, "ok\n")
//                                                                  : Response::Status(503)); });
//   });
//   http::AddStandardRoutes(router, metrics::DefaultRegistry());
//   http::Server server({.listen = "0.0.0.0:8443", .cert_file = ..., .key_file = ...}, std::move(router));
//   if (auto started = server.Start(); !started) { ... }
//   ...
//   server.Stop();

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/metrics.hpp"
#include "http/errc.hpp"
#include "http/message.hpp"

namespace dispatch::http {

// Completes a request. May be called from any thread, at most once (later calls are ignored); the response is
// posted back to the connection's strand. If every copy of a Respond is destroyed without being called, the
// client gets a 500 (a handler bug, logged), so a lost callback never hangs a connection.
using Respond = std::function<void(Response&&)>;

// Runs on the connection's strand (an io thread): it must not block. Work that blocks (SQLite) is handed to
// another executor, which later calls `respond`. A handler may also call `respond` before returning.
using Handler = std::function<void(Request&&, Respond)>;

// Where the router sends a blocking route's handler (Router::AddBlocking; a WorkPool in dispatchd): runs `work`
// elsewhere and returns true, or returns false at once when it cannot take more (the router then answers 503).
// Accepted work must run: it answers the request.
using Offload = std::function<bool(std::function<void()> work)>;

// Maps (method, path) to a handler and is the single error boundary for handlers (STYLE.md §3.5): an exception
// thrown by a handler becomes a 500 with a neutral body and is logged once; no matching path gives 404; a path
// that matches with another method gives 405 with an Allow header. Per-route request counts by status and a
// latency histogram are recorded in the registry given at construction (none when nullptr):
//   dispatch_http_requests_total{method,route,status}, dispatch_http_request_duration_seconds{method,route}.
class Router {
public:
    explicit Router(metrics::Registry* registry = nullptr);

    // Patterns are matched segment by segment against the raw path:
    //   "/healthz"             exact;
    //   "/b24/robots/{code}"   a named segment, any non-empty value, percent-decoded into params["code"];
    //   "/_emu/*"              a prefix: "/_emu" itself and everything below; the rest goes to params["*"].
    // A literal segment beats a named one, which beats a prefix; among equals the first added wins.
    // `method` is upper case ("GET"); a GET route also answers HEAD.
    void Add(std::string method, std::string pattern, Handler handler);

    // Like Add, for a handler that blocks (a store query over many rows, a call that waits on a portal): it runs
    // through the offload (SetOffload) instead of on an io thread, where it would hold up every other connection
    // of that thread, Bitrix24's events among them. Same error boundary and metrics; when the offload refuses,
    // the client gets 503 with Retry-After. Without an offload it runs inline.
    void AddBlocking(std::string method, std::string pattern, Handler handler);
    // Before the router serves.
    void SetOffload(Offload offload);

    // Routes `request` and eventually calls `respond` exactly once. Never throws.
    void Dispatch(Request&& request, Respond respond) const;

    metrics::Registry* Metrics() const { return registry_; }

private:
    struct Route;
    void AddRoute(std::string method, std::string pattern, Handler handler, bool blocking);
    static void RunHandler(const Route& route, std::size_t method_index, Request&& request, const Respond& once);

    std::vector<std::shared_ptr<const Route>> routes_;
    metrics::Registry* registry_;
    Offload offload_;
};

// GET /healthz → 200 "ok\n"; GET /metrics → the registry in Prometheus text format.
void AddStandardRoutes(Router& router, metrics::Registry& registry);

struct ServerOptions {
    // "host:port"; port 0 picks a free one (see Server::Port). IPv6 as "[::1]:8443".
    std::string listen = "127.0.0.1:0";
    // PEM files: the certificate chain (leaf first) and its private key.
    std::string cert_file;
    std::string key_file;
    int threads = 1;

    std::chrono::milliseconds handshake_timeout{10'000};
    std::chrono::milliseconds header_timeout{15'000};  // from the first byte of a request to its last header byte
    std::chrono::milliseconds body_timeout{15'000};    // reading the body
    std::chrono::milliseconds write_timeout{15'000};
    std::chrono::milliseconds shutdown_timeout{5'000};  // TLS close_notify exchange; also the 413 drain
    std::chrono::milliseconds idle_timeout{60'000};     // keep-alive: waiting for the next request's first byte
    std::chrono::milliseconds handler_timeout{30'000};  // a handler that has not responded by then → 503
    std::chrono::milliseconds stop_timeout{5'000};      // Stop(): how long in-flight requests may finish

    std::size_t max_header_bytes = 8 * 1024;  // over → 431 and close
    std::size_t max_body_bytes = 256 * 1024;  // over → 413 and close; the handler never sees the request
};

// Loads cert_file and key_file as Start and ReloadCertificate do, without serving anything: the leaf's notAfter in
// Unix seconds (nullopt when unreadable), or the kTls error Start would give (`dispatchd --check`).
[[nodiscard]] Result<std::optional<std::int64_t>> CheckCertificate(const ServerOptions& options);

// Errors from Start: kBadConfig (listen address, threads), kTls (certificate/key files), kTransport (bind/listen).
class Server {
public:
    Server(ServerOptions options, Router router);
    ~Server();  // calls Stop()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Loads the certificate, binds, listens and starts the io threads. Call once.
    [[nodiscard]] Result<void> Start();
    // The bound port (useful with port 0); 0 before Start.
    int Port() const;
    // Loads cert_file and key_file again, for connections accepted from now on (open ones keep theirs): renewing
    // a certificate needs no restart, and a restart would refuse the events Bitrix24 sends meanwhile, which it never
    // sends again. On error (kTls: unreadable, or the key does not match) the current certificate stays. Counted in
    // dispatch_http_tls_reloads_total{result}; dispatch_http_tls_certificate_not_after_seconds follows the served one.
    // Thread-safe; any time after Start.
    [[nodiscard]] Result<void> ReloadCertificate();
    // Graceful and idempotent: stops accepting, closes idle keep-alive connections, lets in-flight requests finish
    // and answers them with Connection: close, waits at most stop_timeout for that, then closes everything and
    // joins the io threads. A Respond called after Stop is dropped.
    void Stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace dispatch::http
