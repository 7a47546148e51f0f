#pragma once
// Plain HTTP messages shared by the server and the client. No Beast types leak out of the http module, so the
// modules above (intake, emulator, b24) build requests and responses without knowing the transport.

#include <map>
#include <optional>
#include <ostream>  // before any Boost header in message.cpp: Boost 1.81 string_view.hpp needs it
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dispatch::http {

// Header names are lower-cased by the module when it fills these (server requests, client responses); names a
// caller adds are sent as given. Order is kept; a name may repeat.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (compared case-insensitively), or "" when absent.
std::string FindHeader(const Headers& headers, std::string_view name);

// `a=1&b=x+y&c=%2F` → {{"a","1"},{"b","x y"},{"c","/"}}. Keys and values are percent-decoded and '+' becomes a
// space. A malformed escape is kept literally rather than failing: the caller validates what it needs.
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);

// Percent-decodes one path segment or query component ("%2F" → "/"); `plus_is_space` for form encoding.
std::string PercentDecode(std::string_view text, bool plus_is_space);

struct Request {
    std::string method;  // "GET", "POST": upper case as sent
    std::string target;  // raw request target: "/b24/robots/sla_check?x=1"
    std::string path;    // raw path part of target (not decoded): "/b24/robots/sla_check"
    std::string query;   // raw query without '?': "x=1"
    Headers headers;     // names lower-cased
    std::string body;
    std::string remote_address;  // peer IP as text ("127.0.0.1"); empty on the client side
    // Filled by the Router: path parameters from the matched pattern, percent-decoded ({code} → params["code"];
    // a trailing "/*" puts the rest of the path, undecoded, in params["*"]), and the pattern itself.
    std::map<std::string, std::string> params;
    std::string route;

    std::string Header(std::string_view name) const { return FindHeader(headers, name); }
    // A path parameter, or "" when the pattern has no such name.
    std::string Param(std::string_view name) const;
    // The first query parameter named `name`, decoded; nullopt when absent.
    std::optional<std::string> QueryParam(std::string_view name) const;
    // All query parameters, decoded, in order.
    std::vector<std::pair<std::string, std::string>> QueryParams() const { return ParseQuery(query); }
    // "Authorization: Bearer <token>" carries `token` (constant-time compare). An empty `token` means the
    // deployment asks for none: always true.
    bool BearerMatches(std::string_view token) const;
};

struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    Headers headers;  // extra headers (Location, Retry-After, Allow...); Content-Type/Length are set from the fields
    std::string body;

    std::string Header(std::string_view name) const { return FindHeader(headers, name); }
    Response& WithHeader(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }

    static Response Text(int status, std::string body);
    static Response Json(int status, std::string body);  // application/json; body already serialized
    static Response Html(int status, std::string body);
    // A text body holding only the reason phrase ("Not Found\n"): for errors whose detail the caller never sees.
    static Response Status(int status);
};

// "Not Found" for 404; "Unknown" for codes Beast does not know.
std::string_view ReasonPhrase(int status);

}  // namespace dispatch::http
