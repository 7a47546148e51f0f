#include "http/message.hpp"

// Boost 1.81 core/detail/string_view.hpp uses std::ostream without including <ostream>; message.hpp includes it.
#include <boost/beast/http/status.hpp>
#include <cctype>

#include "core/secret.hpp"

namespace dispatch::http {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace

std::string FindHeader(const Headers& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (EqualsIgnoreCase(key, name)) {
            return value;
        }
    }
    return {};
}

bool Request::BearerMatches(std::string_view token) const {
    if (token.empty()) {
        return true;
    }
    const std::string value = Header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    return value.size() > kBearer.size() && value.compare(0, kBearer.size(), kBearer) == 0 &&
           SecretsEqual(token, std::string_view(value).substr(kBearer.size()));
}

std::string PercentDecode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '+' && plus_is_space) {
            out += ' ';
        } else if (c == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
            out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
            i += 2;
        } else {
            // A stray '%' stays as it is: the header promises lenient decoding, validation is the caller's.
            out += c;
        }
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (part.empty()) {
            continue;
        }
        const std::size_t eq = part.find('=');
        if (eq == std::string_view::npos) {
            out.emplace_back(PercentDecode(part, true), std::string());
        } else {
            out.emplace_back(PercentDecode(part.substr(0, eq), true), PercentDecode(part.substr(eq + 1), true));
        }
    }
    return out;
}

std::string Request::Param(std::string_view name) const {
    const auto it = params.find(std::string(name));
    return it == params.end() ? std::string() : it->second;
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
    for (auto& [key, value] : ParseQuery(query)) {
        if (key == name) {
            return std::move(value);
        }
    }
    return std::nullopt;
}

Response Response::Text(int status, std::string body) {
    Response res;
    res.status = status;
    res.body = std::move(body);
    return res;
}

Response Response::Json(int status, std::string body) {
    Response res;
    res.status = status;
    res.content_type = "application/json";
    res.body = std::move(body);
    return res;
}

Response Response::Html(int status, std::string body) {
    Response res;
    res.status = status;
    res.content_type = "text/html; charset=utf-8";
    res.body = std::move(body);
    return res;
}

Response Response::Status(int status) {
    std::string body(ReasonPhrase(status));
    body += '\n';
    return Text(status, std::move(body));
}

std::string_view ReasonPhrase(int status) {
    if (status < 100 || status > 999) {
        return "Unknown";
    }
    const auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
    return reason.empty() || reason.front() == '<' ? std::string_view("Unknown")
                                                   : std::string_view(reason.data(), reason.size());
}

}  // namespace dispatch::http
