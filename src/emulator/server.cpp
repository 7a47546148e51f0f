#include "emulator/server.hpp"

#include "core/form.hpp"
#include "core/json.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

http::Response ToResponse(HttpReply&& r) { return http::Response::Json(r.status, std::move(r.body)); }

// Query string, then body; a malformed body gives nullopt.
std::optional<bj::object> ReadParams(const http::Request& req) {
    bj::object params;
    if (!req.query.empty()) {
        auto q = form::Parse(req.query);
        if (!q) {
            return std::nullopt;
        }
        params = std::move(*q);
    }
    if (req.body.empty()) {
        return params;
    }
    const auto type = req.Header("content-type");
    if (type.find("json") != std::string::npos) {
        auto v = json::Parse(req.body);
        if (!v || !v->is_object()) {
            return std::nullopt;
        }
        for (auto& kv : v->get_object()) {
            params[kv.key()] = std::move(kv.value());
        }
        return params;
    }
    auto f = form::Parse(req.body);
    if (!f) {
        return std::nullopt;
    }
    for (auto& kv : *f) {
        params[kv.key()] = std::move(kv.value());
    }
    return params;
}

bool IsLoopback(const std::string& addr) {
    return addr == "127.0.0.1" || addr == "::1" || addr.rfind("127.", 0) == 0 || addr == "::ffff:127.0.0.1";
}

std::string StripFormat(std::string method) {
    for (const char* suffix : {".json", ".xml"}) {
        const std::string s(suffix);
        if (method.size() > s.size() && method.compare(method.size() - s.size(), s.size(), s) == 0) {
            method.resize(method.size() - s.size());
        }
    }
    return method;
}

void HandleRest(Emulator& emu, http::Request&& req, const http::Respond& respond) {
    // Path after /rest/: "{method}" or "{user}/{secret}/{method}".
    const auto rest = req.Param("*");
    std::vector<std::string> parts;
    std::size_t pos = 0;
    while (pos <= rest.size()) {
        auto end = rest.find('/', pos);
        if (end == std::string::npos) {
            end = rest.size();
        }
        if (end > pos) {
            parts.push_back(http::PercentDecode(std::string_view(rest).substr(pos, end - pos), false));
        }
        pos = end + 1;
    }
    RestRequest r;
    r.source_ip = req.remote_address;
    if (parts.size() == 1) {
        r.method = StripFormat(parts[0]);
    } else if (parts.size() == 3) {
        r.webhook_user = json::ParseInt(parts[0]);
        if (!r.webhook_user) {
            respond(ToResponse(
                HttpReply{401, R"({"error":"NO_AUTH_FOUND","error_description":"Wrong authorization data"})"}));
            return;
        }
        r.webhook_secret = parts[1];
        r.method = StripFormat(parts[2]);
    } else {
        respond(ToResponse(
            HttpReply{404, R"({"error":"ERROR_METHOD_NOT_FOUND","error_description":"Method not found!"})"}));
        return;
    }
    auto params = ReadParams(req);
    if (!params) {
        respond(
            ToResponse(HttpReply{400, R"({"error":"INVALID_REQUEST","error_description":"Malformed parameters"})"}));
        return;
    }
    r.params = std::move(*params);
    respond(ToResponse(emu.Rest().Handle(std::move(r))));
}

}  // namespace

void AddEmulatorRoutes(http::Router& router, Emulator& emulator) {
    Emulator* emu = &emulator;
    for (const char* method : {"GET", "POST"}) {
        router.Add(method, "/rest/*", [emu](http::Request&& req, http::Respond respond) {
            HandleRest(*emu, std::move(req), respond);
        });
        auto token = [emu](http::Request&& req, http::Respond respond) {
            auto params = ReadParams(req);
            if (!params) {
                respond(http::Response::Json(400, R"({"error":"invalid_request","error_description":"Malformed"})"));
                return;
            }
            respond(ToResponse(emu->Token(*params)));
        };
        router.Add(method, "/oauth/token", token);
        router.Add(method, "/oauth/token/", token);
        router.Add(method, "/_emu/*", [emu](http::Request&& req, http::Respond respond) {
            if (!IsLoopback(req.remote_address)) {
                respond(http::Response::Json(403, R"({"error":"admin API is loopback only"})"));
                return;
            }
            bj::value body = bj::object{};
            if (!req.body.empty()) {
                auto v = json::Parse(req.body);
                if (!v) {
                    respond(http::Response::Json(400, R"({"error":"body must be JSON"})"));
                    return;
                }
                body = std::move(*v);
            }
            respond(ToResponse(emu->Admin().Handle(req.method, req.Param("*"), body)));
        });
    }
}

Sender HttpSender(http::Client& client) {
    return [&client](const std::string& url, const std::string& body) -> Result<int> {
        auto res = client.Post(url, body, "application/x-www-form-urlencoded");
        if (!res) {
            return res.error();
        }
        return res->status;
    };
}

}  // namespace dispatch::emulator
