#pragma once
// The production Transport: http::Client (keep-alive per host, chain and host-name verification, connect and
// request timeouts). One HttpTransport per portal keeps that portal's connections to itself.

#include "b24/transport.hpp"
#include "http/client.hpp"

namespace dispatch::b24 {

class HttpTransport final : public Transport {
public:
    // `options.ca_file`: the test CA for the emulator; empty = the system store (real portals).
    explicit HttpTransport(http::ClientOptions options = {}) : client_(std::move(options)) {}

    // Maps every http::Errc to Errc::kTransport; the detail keeps the http code's message, never the URL query.
    Result<HttpResponse> Send(const HttpRequest& request) override;

    void CloseIdle() { client_.CloseIdle(); }

private:
    http::Client client_;
};

}  // namespace dispatch::b24
