#include "b24/http_transport.hpp"

#include <fmt/format.h>

#include "b24/errc.hpp"
#include "core/log.hpp"

namespace dispatch::b24 {

Result<HttpResponse> HttpTransport::Send(const HttpRequest& request) {
    const http::Headers headers{{"Accept", "application/json"}};
    auto sent = client_.Send(request.method, request.url, request.body, headers, request.content_type);
    if (!sent) {
        // STYLE.md §3.5: b24 never leaks transport codes; the original message stays in the detail.
        return Fail(Errc::kTransport,
                    log::MaskUrlSecrets(fmt::format("http {} ({})", sent.error().code.message(), sent.error().detail)));
    }
    HttpResponse out;
    out.status = static_cast<unsigned>(sent->status);
    out.body = std::move(sent->body);
    for (const auto& [name, value] : sent->headers) {
        out.headers.emplace(name, value);
    }
    return out;
}

}  // namespace dispatch::b24
