#include "intake/parse.hpp"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

#include "core/form.hpp"
#include "core/json.hpp"
#include "intake/errc.hpp"

namespace dispatch::intake {
namespace bj = boost::json;
namespace {

bool IsJson(std::string_view content_type) {
    return content_type.find("application/json") != std::string_view::npos;
}

// The body as a JSON object (inside a value, so that field lookups need no copy of it).
Result<bj::value> Decode(std::string_view content_type, std::string_view body) {
    if (IsJson(content_type)) {
        auto v = json::Parse(body);
        if (!v) {
            return Fail(Errc::kMalformedBody, v.error().detail);
        }
        if (!v->is_object()) {
            return Fail(Errc::kMalformedBody, "json body is not an object");
        }
        return std::move(*v);
    }
    auto form = form::Parse(body);
    if (!form) {
        return Fail(Errc::kMalformedBody, form.error().detail);
    }
    return bj::value(std::move(*form));
}

std::string Str(const bj::value& v, std::string_view key) { return json::StringAt(v, key).value_or(""); }
std::int64_t Int(const bj::value& v, std::string_view key) { return json::IntAt(v, key).value_or(0); }

EventAuth ReadAuth(const bj::object& body) {
    EventAuth a;
    const auto* auth = body.if_contains("auth");
    if (!auth || !auth->is_object()) {
        return a;
    }
    a.member_id = Str(*auth, "member_id");
    a.domain = Str(*auth, "domain");
    a.application_token = Str(*auth, "application_token");
    a.access_token = Str(*auth, "access_token");
    a.refresh_token = Str(*auth, "refresh_token");
    a.client_endpoint = Str(*auth, "client_endpoint");
    a.server_endpoint = Str(*auth, "server_endpoint");
    a.scope = Str(*auth, "scope");
    a.status = Str(*auth, "status");
    a.expires_in = Int(*auth, "expires_in");
    a.expires = Int(*auth, "expires");
    a.user_id = Int(*auth, "user_id");
    return a;
}

// The stored copy keeps who and what, never credentials.
bj::object Sanitize(bj::object body) {
    if (auto* auth = body.if_contains("auth"); auth && auth->is_object()) {
        auto& a = auth->get_object();
        for (const char* secret : {"access_token", "refresh_token", "application_token"}) {
            a.erase(secret);
        }
    }
    body.erase("event_token");
    return body;
}

std::string Upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

struct KnownEvent {
    std::string_view name;
    EventKind kind;
    bool item;
};
constexpr KnownEvent kKnown[] = {
    {"ONCRMDYNAMICITEMADD", EventKind::kItemAdd, true},
    {"ONCRMDYNAMICITEMUPDATE", EventKind::kItemUpdate, true},
    {"ONCRMDYNAMICITEMDELETE", EventKind::kItemDelete, true},
    {"ONAPPINSTALL", EventKind::kAppInstall, false},
    {"ONAPPUPDATE", EventKind::kAppUpdate, false},
    {"ONAPPUNINSTALL", EventKind::kAppUninstall, false},
};

}  // namespace

namespace {

std::string BodyDigest(std::string_view body) {
    unsigned char hash[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), hash);
    std::string out;
    for (int i = 0; i < 8; ++i) {
        out += fmt::format("{:02x}", hash[i]);
    }
    return out;
}

}  // namespace

Result<InboundEvent> ParseEvent(std::string_view content_type, std::string_view body) {
    auto decoded = Decode(content_type, body);
    if (!decoded) {
        return decoded.error();
    }
    const bj::value& root = *decoded;
    InboundEvent ev;
    std::string name = Upper(Str(root, "event"));
    if (name.empty()) {
        return Fail(Errc::kMissingField, "no event name");
    }
    // ONCRMDYNAMICITEMUPDATE_1038: the per-type form (CONTRACT §10.2) means the same as the generic one.
    std::int64_t suffix_type = 0;
    if (const auto us = name.rfind('_'); us != std::string::npos) {
        if (auto t = json::ParseInt(std::string_view(name).substr(us + 1))) {
            suffix_type = *t;
            name.resize(us);
        }
    }
    const KnownEvent* known = nullptr;
    for (const auto& k : kKnown) {
        if (k.name == name) {
            known = &k;
        }
    }
    if (!known) {
        return Fail(Errc::kUnsupportedEvent, fmt::format("event '{}'", name.substr(0, 64)));
    }
    ev.name = name;
    ev.kind = known->kind;
    ev.auth = ReadAuth(decoded->get_object());
    ev.ts = Int(root, "ts");
    ev.handler_id = Str(root, "event_handler_id");
    if (ev.auth.member_id.empty()) {
        return Fail(Errc::kMissingField, "no auth[member_id]");
    }
    if (ev.auth.application_token.empty()) {
        return Fail(Errc::kMissingField, "no auth[application_token]");
    }
    if (known->item) {
        const bj::value* fields = nullptr;
        if (const auto* data = json::Find(root, "data")) {
            fields = json::Find(*data, "FIELDS");
        }
        if (!fields) {
            return Fail(Errc::kMissingField, "no data[FIELDS]");
        }
        const auto id = json::IntAt(*fields, "ID");
        if (!id || *id <= 0) {
            return Fail(Errc::kMissingField, "no valid data[FIELDS][ID]");
        }
        ev.item_id = *id;
        ev.entity_type_id = json::IntAt(*fields, "ENTITY_TYPE_ID").value_or(suffix_type);
        if (ev.entity_type_id <= 0) {
            return Fail(Errc::kMissingField, "no valid data[FIELDS][ENTITY_TYPE_ID]");
        }
        if (suffix_type != 0 && suffix_type != ev.entity_type_id) {
            return Fail(Errc::kMalformedBody, "event suffix and ENTITY_TYPE_ID disagree");
        }
    }
    ev.sanitized = Sanitize(std::move(decoded->get_object()));
    ev.digest = BodyDigest(body);
    return ev;
}

Result<RobotCall> ParseRobotCall(std::string_view content_type, std::string_view body) {
    auto decoded = Decode(content_type, body);
    if (!decoded) {
        return decoded.error();
    }
    const bj::value& root = *decoded;
    RobotCall call;
    call.code = Str(root, "code");
    call.workflow_id = Str(root, "workflow_id");
    call.event_token = Str(root, "event_token");
    call.ts = Int(root, "ts");
    call.use_subscription = Str(root, "use_subscription") != "N";
    call.auth = ReadAuth(decoded->get_object());
    if (const auto* props = json::Find(root, "properties"); props && props->is_object()) {
        call.properties = props->get_object();
    }
    if (call.auth.member_id.empty() || call.auth.application_token.empty()) {
        return Fail(Errc::kMissingField, "no auth[member_id] or auth[application_token]");
    }
    // document_id = ["crm", "Bitrix\\Crm\\Integration\\BizProc\\Document\\Dynamic", "DYNAMIC_1038_57"]
    const auto* doc = json::Find(root, "document_id");
    if (!doc || !doc->is_array() || doc->get_array().size() < 3 || !doc->get_array()[2].is_string()) {
        return Fail(Errc::kMissingField, "no document_id[2]");
    }
    const std::string_view id(doc->get_array()[2].get_string());
    constexpr std::string_view kPrefix = "DYNAMIC_";
    const auto last = id.rfind('_');
    if (id.substr(0, kPrefix.size()) != kPrefix || last == std::string_view::npos || last < kPrefix.size()) {
        return Fail(Errc::kMalformedBody, fmt::format("document_id '{}' is not a smart-process item", id.substr(0, 64)));
    }
    const auto type = json::ParseInt(id.substr(kPrefix.size(), last - kPrefix.size()));
    const auto item = json::ParseInt(id.substr(last + 1));
    if (!type || !item || *type <= 0 || *item <= 0) {
        return Fail(Errc::kMalformedBody, fmt::format("document_id '{}' has no valid ids", id.substr(0, 64)));
    }
    call.entity_type_id = *type;
    call.item_id = *item;
    call.document_type = std::string(id.substr(0, last));
    if (call.code.empty()) {
        return Fail(Errc::kMissingField, "no robot code");
    }
    if (call.use_subscription && call.event_token.empty()) {
        return Fail(Errc::kMissingField, "no event_token for a robot that waits for an answer");
    }
    call.sanitized = Sanitize(std::move(decoded->get_object()));
    return call;
}

Result<InstallCallback> ParseInstall(std::string_view content_type, std::string_view body) {
    auto decoded = Decode(content_type, body);
    if (!decoded) {
        return decoded.error();
    }
    InstallCallback cb;
    cb.auth = ReadAuth(decoded->get_object());
    // Some callbacks put the fields at the top level (AUTH_ID / REFRESH_ID style); the documented callback nests
    // them under auth[...]. Accept both spellings of the essentials.
    const bj::value& root = *decoded;
    if (cb.auth.member_id.empty()) cb.auth.member_id = Str(root, "member_id");
    if (cb.auth.domain.empty()) cb.auth.domain = Str(root, "DOMAIN");
    if (cb.auth.access_token.empty()) cb.auth.access_token = Str(root, "AUTH_ID");
    if (cb.auth.refresh_token.empty()) cb.auth.refresh_token = Str(root, "REFRESH_ID");
    if (cb.auth.application_token.empty()) cb.auth.application_token = Str(root, "APPLICATION_TOKEN");
    if (cb.auth.member_id.empty() || cb.auth.domain.empty()) {
        return Fail(Errc::kMissingField, "no member_id or domain");
    }
    if (cb.auth.access_token.empty() || cb.auth.refresh_token.empty()) {
        return Fail(Errc::kMissingField, "no access_token or refresh_token");
    }
    return cb;
}

Result<HookCall> ParseHookCall(std::string_view query, std::string_view content_type, std::string_view body) {
    auto q = form::Parse(query);
    if (!q) {
        return Fail(Errc::kMalformedBody, q.error().detail);
    }
    bj::object merged = std::move(*q);
    if (!body.empty()) {
        auto b = Decode(content_type, body);
        if (!b) {
            return b.error();
        }
        for (auto& kv : b->get_object()) {
            merged[kv.key()] = std::move(kv.value());
        }
    }
    const bj::value root(std::move(merged));
    HookCall call;
    call.member_id = Str(root, "member_id");
    call.secret = Str(root, "secret");
    call.entity_type_id = Int(root, "entity_type_id");
    call.item_id = Int(root, "item_id");
    call.reason = Str(root, "reason");
    if (call.member_id.empty() || call.secret.empty()) {
        return Fail(Errc::kMissingField, "no member_id or secret");
    }
    if (call.entity_type_id <= 0 || call.item_id <= 0) {
        return Fail(Errc::kMissingField, "no valid entity_type_id or item_id");
    }
    return call;
}

std::string DedupKey(const InboundEvent& ev) {
    return fmt::format("{}|{}|{}|{}|{}|{}|{}", ev.auth.member_id, ev.name, ev.entity_type_id, ev.item_id, ev.ts,
                       ev.handler_id, ev.digest);
}

}  // namespace dispatch::intake
