#pragma once
// A synchronous, thread-safe HTTPS/1.1 client. Each call blocks its thread until the response or an error; the
// b24 module wraps it with its own queue and strand. Connections are kept alive and reused per scheme://host:port
// (several idle ones when callers send concurrently). A kept connection that turns out dead before any byte of
// the response (the server closed it while idle) is replaced once, transparently; after that the error is returned.
//
//   http::Client client({.ca_file = "/etc/dispatch/ca.pem"});
//   auto res = client.Send("POST", "https://acme.bitrix24.ru/rest/crm.item.get.json", body, {},
//                          "application/x-www-form-urlencoded");
//   if (!res) { ... res.error().code == http::Errc::kTimeout ... }
//
// Peer verification checks the chain against the CA file (or the system store) AND the host name or IP literal
// against the certificate's subjectAltName (SNI is sent for names). Any HTTP status is a success at this layer:
// a 503 comes back as a Response with status 503.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "http/errc.hpp"
#include "http/message.hpp"

namespace dispatch::http {

struct ClientOptions {
    std::string ca_file;                                // PEM bundle of trusted CAs; empty = the system default paths
    bool verify_peer = true;                            // false only for local experiments; never in production config
    std::chrono::milliseconds connect_timeout{5'000};   // resolve + TCP connect + TLS handshake
    std::chrono::milliseconds request_timeout{65'000};  // write + wait + read; Bitrix24 kills calls at 60 s (limits.md)
    std::chrono::milliseconds idle_timeout{30'000};     // a kept connection idle longer than this is not reused
    std::size_t max_response_body = 32 * 1024 * 1024;
    std::size_t max_idle_per_host = 4;
    std::string user_agent = "dispatch/0.1";
};

class Client {
public:
    // A CA file that cannot be loaded makes every Send fail with kTls (the detail names the file).
    explicit Client(ClientOptions options = {});
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // `url` is absolute: "https://host[:port]/path?query" ("http://" works too, for loopback tools). `headers` are
    // added as given; Host, User-Agent, Content-Length and (when `content_type` is not empty) Content-Type are set
    // by the client. Errors: kBadUrl, kTransport, kTimeout, kTls, kTooLarge, kBadResponse. The error detail never
    // holds the URL's query (it may carry secrets); log it through log::MaskUrlSecrets anyway.
    [[nodiscard]] Result<Response> Send(std::string_view method,
                                        std::string_view url,
                                        std::string body = {},
                                        const Headers& headers = {},
                                        std::string_view content_type = {});
    [[nodiscard]] Result<Response> Get(std::string_view url, const Headers& headers = {}) {
        return Send("GET", url, {}, headers);
    }
    [[nodiscard]] Result<Response> Post(std::string_view url,
                                        std::string body,
                                        std::string_view content_type,
                                        const Headers& headers = {}) {
        return Send("POST", url, std::move(body), headers, content_type);
    }

    // Closes every idle kept connection (e.g. after a portal's address changed). Thread-safe.
    void CloseIdle();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace dispatch::http
