// Application-context methods: event.bind/get/unbind (CONTRACT §10.1), bizproc.robot.* and bizproc.event.send
// (§11), app.info.
#include <algorithm>
#include <cctype>

#include "core/json.hpp"
#include "emulator/methods.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

std::string Upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

// Events this portal can raise or accept bindings for. The `_{entityTypeId}` forms need an existing SPA.
bool KnownEvent(Portal& portal, const std::string& name) {
    static constexpr const char* kFixed[] = {"ONCRMDYNAMICITEMADD",
                                             "ONCRMDYNAMICITEMUPDATE",
                                             "ONCRMDYNAMICITEMDELETE",
                                             "ONAPPINSTALL",
                                             "ONAPPUNINSTALL",
                                             "ONAPPUPDATE",
                                             "ONAPPTEST",
                                             "ONCRMTYPEADD",
                                             "ONCRMTYPEUPDATE",
                                             "ONCRMTYPEDELETE"};
    for (const char* f : kFixed) {
        if (name == f) {
            return true;
        }
    }
    for (const char* base : {"ONCRMDYNAMICITEMADD_", "ONCRMDYNAMICITEMUPDATE_", "ONCRMDYNAMICITEMDELETE_"}) {
        const std::string b(base);
        if (name.rfind(b, 0) == 0) {
            const auto e = json::ParseInt(std::string_view(name).substr(b.size()));
            return e && portal.TypeByEntityTypeId(*e) != nullptr;
        }
    }
    return false;
}

MethodReply EventBind(CallContext& ctx, const bj::object& p) {
    const auto event = Upper(StringParam(p, "event").value_or(""));
    const auto handler = StringParam(p, "handler").value_or("");
    const auto event_type = StringParam(p, "event_type").value_or("online");
    const auto auth_type = IntParam(p, "auth_type").value_or(0);
    if (event.empty() || !KnownEvent(ctx.portal, event)) {
        return Err(400, "ERROR_EVENT_NOT_FOUND", "Event not found");
    }
    if (event_type == "offline") {
        // README: offline events are not emulated; non-admins get the documented ACCESS_DENIED anyway.
        return Err(403, "ACCESS_DENIED", "Offline events are not available");
    }
    if (handler.rfind("http://", 0) != 0 && handler.rfind("https://", 0) != 0) {
        return Err(400, "ERROR_HANDLER_URL", "Handler URL is not valid");
    }
    if (auth_type != 0 && auth_type != ctx.caller.user_id && !CallerIsAdmin(ctx)) {
        return Err(403, "ACCESS_DENIED", "Access denied! Only admin can set auth_type");
    }
    auto& bindings = ctx.portal.State().bindings;
    for (const auto& [id, b] : bindings) {
        if (b.event == event && b.handler == handler && b.auth_type == auth_type) {
            // CONTRACT §14.19: status undocumented; we answer 400 (README).
            return Err(400, "ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!");
        }
    }
    EventBinding b;
    b.id = ctx.portal.NextId();
    b.event = event;
    b.handler = handler;
    b.auth_type = auth_type;
    bindings[b.id] = std::move(b);
    return bj::value(true);
}

MethodReply EventGet(CallContext& ctx, const bj::object&) {
    bj::array out;
    for (const auto& [id, b] : ctx.portal.State().bindings) {
        out.push_back(bj::object{
            {"event", b.event}, {"handler", b.handler}, {"auth_type", std::to_string(b.auth_type)}, {"offline", 0}});
    }
    return bj::value(std::move(out));
}

MethodReply EventUnbind(CallContext& ctx, const bj::object& p) {
    const auto event = Upper(StringParam(p, "event").value_or(""));
    const auto handler = StringParam(p, "handler").value_or("");
    const auto auth_type = IntParam(p, "auth_type");
    auto& bindings = ctx.portal.State().bindings;
    const auto before = bindings.size();
    // event-unbind.md: with no parameters every handler the caller may remove is removed.
    std::erase_if(bindings, [&](const auto& kv) {
        const auto& b = kv.second;
        return (event.empty() || b.event == event) && (handler.empty() || b.handler == handler) &&
               (!auth_type || b.auth_type == *auth_type);
    });
    return bj::value(bj::object{{"count", static_cast<std::int64_t>(before - bindings.size())}});
}

ApiError Validation(const std::string& text) { return Err(400, "ERROR_ACTIVITY_VALIDATION_FAILURE", text); }

bool ValidCode(const std::string& code, bool robot_code) {
    if (code.empty()) {
        return false;
    }
    return std::all_of(code.begin(), code.end(), [&](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || (robot_code && (c == '.' || c == '-'));
    });
}

// Validates robot fields into `r`; `partial` for update (only given keys).
std::optional<ApiError> ReadRobot(const bj::object& p, Robot& r, bool partial) {
    if (const auto* h = Param(p, "HANDLER"); h || !partial) {
        const auto handler = h ? json::ToString(*h).value_or("") : "";
        if (handler.rfind("http://", 0) != 0 && handler.rfind("https://", 0) != 0) {
            return handler.find("://") == std::string::npos
                       ? Err(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
                       : Err(400, "ERROR_UNSUPPORTED_PROTOCOL", "Unsupported handler protocol");
        }
        r.handler = handler;
    }
    if (const auto* n = Param(p, "NAME"); n || !partial) {
        if (n == nullptr || (n->is_string() && n->get_string().empty()) || n->is_null()) {
            return Validation("Empty activity NAME!");
        }
        r.name = *n;
    }
    if (const auto* v = Param(p, "AUTH_USER_ID")) {
        r.auth_user_id = json::ToInt(*v).value_or(0);
    }
    if (const auto* v = Param(p, "USE_SUBSCRIPTION")) {
        // bizproc-robot-add.md: only an explicit N means fire-and-forget.
        r.use_subscription = json::ToString(*v).value_or("") != "N";
    }
    for (const char* key : {"PROPERTIES", "RETURN_PROPERTIES"}) {
        const auto* v = Param(p, key);
        if (v == nullptr) {
            continue;
        }
        if (!(v->is_object() || (v->is_array() && v->get_array().empty()))) {
            return Validation("Wrong properties array!");
        }
        if (v->is_object()) {
            for (const auto& kv : v->get_object()) {
                const std::string k(kv.key());
                if (!ValidCode(k, false) || std::isalpha(static_cast<unsigned char>(k[0])) == 0) {
                    return Validation("Wrong property key " + k + "!");
                }
                const auto* name = kv.value().is_object() ? kv.value().get_object().if_contains("Name") : nullptr;
                if (name == nullptr) {
                    return Validation("Empty property NAME " + k + "!");
                }
            }
        }
        (std::string_view(key) == "PROPERTIES" ? r.properties : r.return_properties) = *v;
    }
    if (const auto* v = Param(p, "DOCUMENT_TYPE")) {
        if (!v->is_array() || v->get_array().size() != 3) {
            return Validation("Wrong activity DOCUMENT_TYPE!");
        }
        r.document_type = json::ToString(v->get_array()[2]).value_or("");
    }
    return std::nullopt;
}

MethodReply RobotAdd(CallContext& ctx, const bj::object& p) {
    if (!CallerIsAdmin(ctx)) {
        return Err(400, "ACCESS_DENIED", "Access denied!");
    }
    if (p.empty()) {
        return Validation("Empty data!");
    }
    const auto code = StringParam(p, "CODE").value_or("");
    if (code.empty()) {
        return Validation("Empty activity code!");
    }
    if (!ValidCode(code, true)) {
        return Validation("Wrong activity code!");
    }
    auto& robots = ctx.portal.State().robots;
    if (robots.count(code) > 0) {
        return Err(400, "ERROR_ACTIVITY_ALREADY_INSTALLED", "Activity or Robot already installed!");
    }
    Robot r;
    r.code = code;
    if (auto err = ReadRobot(p, r, false)) {
        return *err;
    }
    robots[code] = std::move(r);
    return bj::value(true);
}

MethodReply RobotUpdate(CallContext& ctx, const bj::object& p) {
    if (!CallerIsAdmin(ctx)) {
        return Err(400, "ACCESS_DENIED", "Access denied!");
    }
    const auto code = StringParam(p, "CODE").value_or("");
    auto& robots = ctx.portal.State().robots;
    auto it = robots.find(code);
    if (it == robots.end()) {
        return Err(400, "ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!");
    }
    const auto* fields = ObjectParam(p, "FIELDS");
    if (fields == nullptr || fields->empty()) {
        return Validation("No fields to update");
    }
    Robot r = it->second;
    if (auto err = ReadRobot(*fields, r, true)) {
        return *err;
    }
    it->second = std::move(r);
    return bj::value(true);
}

MethodReply RobotList(CallContext& ctx, const bj::object&) {
    if (!CallerIsAdmin(ctx)) {
        return Err(400, "ACCESS_DENIED", "Access denied!");
    }
    bj::array out;
    for (const auto& [code, r] : ctx.portal.State().robots) {
        out.push_back(bj::value(code));
    }
    return bj::value(std::move(out));
}

MethodReply RobotDelete(CallContext& ctx, const bj::object& p) {
    if (!CallerIsAdmin(ctx)) {
        return Err(400, "ACCESS_DENIED", "Access denied!");
    }
    const auto code = StringParam(p, "CODE").value_or("");
    if (code.empty()) {
        return Validation("Empty activity code!");
    }
    if (ctx.portal.State().robots.erase(code) == 0) {
        return Err(400, "ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!");
    }
    std::erase_if(ctx.portal.State().placements, [&](const RobotPlacement& pl) { return pl.code == code; });
    return bj::value(true);
}

MethodReply EventSend(CallContext& ctx, const bj::object& p) {
    // CONTRACT §14.7: table says EVENT_TOKEN, the example event_token; Param() accepts both.
    const auto token = StringParam(p, "EVENT_TOKEN").value_or("");
    auto& runs = ctx.portal.State().robot_runs;
    auto it = runs.find(token);
    if (it == runs.end() || it->second.answered) {
        return Err(403, "ACCESS_DENIED", "Access denied!");
    }
    it->second.answered = true;
    if (const auto* v = Param(p, "RETURN_VALUES")) {
        it->second.return_values = *v;
    }
    it->second.log_message = StringParam(p, "LOG_MESSAGE").value_or("");
    return bj::value(true);
}

MethodReply ActivityLog(CallContext& ctx, const bj::object& p) {
    const auto token = StringParam(p, "EVENT_TOKEN").value_or("");
    const auto message = StringParam(p, "LOG_MESSAGE").value_or("");
    if (message.empty()) {
        return Err(400, "ERROR_EMPTY_LOG_MESSAGE", "Empty log message!");
    }
    auto& runs = ctx.portal.State().robot_runs;
    auto it = runs.find(token);
    if (it == runs.end() || it->second.answered) {
        return Err(403, "ACCESS_DENIED", "Access denied!");
    }
    it->second.log_message += (it->second.log_message.empty() ? "" : "\n") + message;
    return bj::value(true);
}

MethodReply AppInfo(CallContext& ctx, const bj::object&) {
    const bool enterprise = ctx.portal.Settings().plan == Plan::kEnterprise;
    const auto& app = ctx.portal.State().app;
    // app-info.md; LICENSE_FAMILY is the only documented plan signal (CONTRACT §14.25).
    return bj::value(bj::object{{"ID", 1},
                                {"CODE", app.client_id},
                                {"VERSION", 1},
                                {"STATUS", "L"},
                                {"INSTALLED", app.installed},
                                {"PAYMENT_EXPIRED", "N"},
                                {"DAYS", nullptr},
                                {"LANGUAGE_ID", "en"},
                                {"LICENSE", enterprise ? "en_ent250" : "en_basic"},
                                {"LICENSE_TYPE", enterprise ? "ent250" : "basic"},
                                {"LICENSE_FAMILY", enterprise ? "ent" : "basic"}});
}

MethodReply OfflineEvents(CallContext&, const bj::object&) {
    // README: offline events are not emulated; the methods answer as they do for a caller without the right.
    return Err(403, "ACCESS_DENIED", "Offline events are not available");
}

}  // namespace

void RegisterAppMethods(MethodMap& m) {
    m["event.bind"] = {"basic", true, EventBind};
    m["event.get"] = {"basic", true, EventGet};
    m["event.unbind"] = {"basic", true, EventUnbind};
    m["bizproc.robot.add"] = {"bizproc", true, RobotAdd};
    m["bizproc.robot.update"] = {"bizproc", true, RobotUpdate};
    m["bizproc.robot.list"] = {"bizproc", true, RobotList};
    m["bizproc.robot.delete"] = {"bizproc", true, RobotDelete};
    m["bizproc.event.send"] = {"bizproc", false, EventSend};
    m["bizproc.activity.log"] = {"bizproc", false, ActivityLog};
    m["app.info"] = {"basic", false, AppInfo};
    for (const char* offline :
         {"event.offline.get", "event.offline.list", "event.offline.clear", "event.offline.error"}) {
        m[offline] = {"basic", true, OfflineEvents};
    }
}

}  // namespace dispatch::emulator
