#pragma once
// The one seam between the REST client and the network. Production wires an adapter over http::Client
// (b24/http_transport.hpp); unit tests script answers with a fake, so no test of the client logic needs a server.

#include <map>
#include <string>

#include "core/error.hpp"

namespace dispatch::b24 {

struct HttpRequest {
    std::string method = "POST";  // "GET" for the OAuth server, "POST" with a JSON body for REST calls
    std::string url{};            // absolute https:// URL; may carry a secret (webhook path, refresh query)
    std::string body{};           // empty for GET
    std::string content_type = "application/json";
};

struct HttpResponse {
    unsigned status = 0;
    std::string body{};
    std::map<std::string, std::string> headers{};  // lower-case names; only what the transport chose to keep
};

// Sends one request and returns whatever HTTP answer came back, whatever its status. Fails only when no answer
// arrived (connect, TLS, timeout, reset): code Errc::kTransport, detail without secrets. Must be thread-safe.
class Transport {
public:
    virtual ~Transport() = default;
    virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

}  // namespace dispatch::b24
