#include "emulator/admin_api.hpp"

#include <chrono>

#include "core/json.hpp"
#include "core/time_format.hpp"
#include "emulator/filter.hpp"
#include "emulator/persistence.hpp"
#include "emulator/wire_json.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

HttpReply Json(int status, const bj::value& v) { return HttpReply{status, WireJson(v)}; }

HttpReply Bad(const std::string& why) { return Json(400, bj::object{{"error", why}}); }

const bj::object& AsObject(const bj::value& v) {
    static const bj::object kEmpty;
    return v.is_object() ? v.get_object() : kEmpty;
}

bj::array NotificationsJson(const Portal& portal) {
    bj::array out;
    for (const auto& n : portal.State().notifications) {
        out.push_back(bj::object{{"id", n.id},
                                 {"kind", n.kind},
                                 {"from_user", n.from_user},
                                 {"to_user", n.to_user},
                                 {"message", n.message},
                                 {"tag", n.tag},
                                 {"created_ms", n.created},
                                 {"created", portal.Iso(n.created)}});
    }
    return out;
}

bj::array CommentsJson(const Portal& portal) {
    bj::array out;
    for (const auto& c : portal.State().comments) {
        out.push_back(bj::object{{"id", c.id},
                                 {"entity_type", c.entity_type},
                                 {"entity_id", c.entity_id},
                                 {"comment", c.comment},
                                 {"author_id", c.author_id},
                                 {"created_ms", c.created},
                                 {"created", portal.Iso(c.created)}});
    }
    return out;
}

}  // namespace

AdminApi::AdminApi(Portal& portal, RestApi& rest, EventDispatcher& events)
    : portal_(portal), rest_(rest), events_(events) {}

HttpReply AdminApi::Act(std::int64_t user, std::string_view method, const bj::object& params, bool automation) {
    Caller caller;
    caller.kind = AuthKind::kInternal;
    caller.user_id = user;
    caller.automation = automation;
    const TimeMs start = portal_.Now();
    const auto t0 = std::chrono::steady_clock::now();
    const auto reply = rest_.CallAs(caller, method, params);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bj::object body;
    if (reply.Ok()) {
        body["result"] = reply.Value().result;
        if (reply.Value().total) {
            body["total"] = *reply.Value().total;
        }
        if (reply.Value().next) {
            body["next"] = *reply.Value().next;
        }
        body["time"] = rest_.TimeBlock(start, elapsed);
    } else {
        body["error"] = reply.Error().code;
        body["error_description"] = reply.Error().description;
    }
    const int status = reply.Ok() ? 200 : reply.Error().status;
    return Json(200, bj::object{{"status", status}, {"body", std::move(body)}});
}

HttpReply AdminApi::Handle(std::string_view method, std::string_view path, const bj::value& body_value) {
    const auto& body = AsObject(body_value);
    const bj::value bv(body);
    if (method == "GET" && path == "state") {
        std::lock_guard lock(portal_.Mutex());
        auto state = StateToJson(portal_.State());
        auto& o = state.as_object();
        o["now_ms"] = portal_.Now();
        o["now"] = portal_.Iso(portal_.Now());
        o["base_url"] = portal_.Settings().base_url;
        o["faults"] = bj::object{{"events", events_.Faults()}, {"fail", rest_.Faults().Describe()}};
        return Json(200, state);
    }
    if (method == "GET" && path == "requests") {
        std::lock_guard lock(portal_.Mutex());
        return Json(200, rest_.RequestLog());
    }
    if (method == "GET" && path == "events") {
        return Json(200, events_.Log());
    }
    if (method == "GET" && (path == "notifications" || path == "comments")) {
        std::lock_guard lock(portal_.Mutex());
        return Json(200, path == "notifications" ? NotificationsJson(portal_) : CommentsJson(portal_));
    }
    if (method != "POST") {
        return Json(404, bj::object{{"error", "unknown admin endpoint"}});
    }
    if (path == "clock") {
        auto& clock = portal_.Clock();
        bool ok = true;
        if (auto by = json::IntAt(bv, "advance_ms")) {
            ok = clock.Advance(*by);
        } else if (auto t = json::IntAt(bv, "set_ms")) {
            ok = clock.Set(*t);
        } else if (auto iso = json::StringAt(bv, "set")) {
            auto t2 = ParseIso8601(*iso);
            ok = t2 && clock.Set(*t2);
        }
        if (const auto* r = body.if_contains("rate")) {
            ok = ok && ToDouble(*r) && clock.SetRate(*ToDouble(*r));
        }
        if (!ok) {
            return Bad("this clock cannot do that");
        }
        return Json(200,
                    bj::object{{"now_ms", clock.Now()}, {"now", portal_.Iso(clock.Now())}, {"rate", clock.Rate()}});
    }
    const auto user = json::IntAt(bv, "user_id").value_or(1);
    if (path == "act") {
        const auto m = json::StringAt(bv, "method");
        if (!m) {
            return Bad("method is required");
        }
        const auto* params = body.if_contains("params");
        const bool automation =
            json::ToBool(body.contains("automation") ? body.at("automation") : bj::value(false)).value_or(false);
        return Act(user, *m, params && params->is_object() ? params->get_object() : bj::object{}, automation);
    }
    if (path == "move" || path == "assign") {
        const auto e = json::IntAt(bv, "entityTypeId");
        const auto id = json::IntAt(bv, "id");
        if (!e || !id) {
            return Bad("entityTypeId and id are required");
        }
        bj::object fields;
        if (path == "move") {
            fields["stageId"] = json::StringAt(bv, "stageId").value_or("");
        } else {
            fields["assignedById"] = json::IntAt(bv, "assignedById").value_or(0);
        }
        return Act(user, "crm.item.update", bj::object{{"entityTypeId", *e}, {"id", *id}, {"fields", fields}}, false);
    }
    if (path == "comment") {
        const auto e = json::IntAt(bv, "entityTypeId").value_or(0);
        return Act(user,
                   "crm.timeline.comment.add",
                   bj::object{{"fields",
                               bj::object{{"ENTITY_TYPE", "dynamic_" + std::to_string(e)},
                                          {"ENTITY_ID", json::IntAt(bv, "id").value_or(0)},
                                          {"COMMENT", json::StringAt(bv, "text").value_or("")},
                                          {"AUTHOR_ID", user}}}},
                   false);
    }
    if (path == "faults") {
        if (const auto* v = body.if_contains("clear"); v && json::ToBool(*v).value_or(false)) {
            events_.SetDropShare(0);
            events_.SetDelay(0);
            std::lock_guard lock(portal_.Mutex());
            rest_.Faults().Clear();
        }
        if (const auto* v = body.if_contains("drop_events")) {
            events_.SetDropShare(ToDouble(*v).value_or(0));
        }
        if (auto d = json::IntAt(bv, "event_delay_ms")) {
            events_.SetDelay(*d);
        }
        if (const auto* v = body.if_contains("expire_tokens"); v && json::ToBool(*v).value_or(false)) {
            std::lock_guard lock(portal_.Mutex());
            ExpireAccessTokens(portal_);
        }
        if (const auto* f = body.if_contains("fail"); f && f->is_object()) {
            const auto m = json::StringAt(*f, "method").value_or("*");
            ApiError e{
                static_cast<int>(json::IntAt(*f, "status").value_or(503)),
                f->get_object().contains("error") ? f->get_object().at("error") : bj::value("INTERNAL_SERVER_ERROR"),
                json::StringAt(*f, "error_description").value_or("Injected fault"),
                json::IntAt(*f, "operating_reset_at").value_or(0)};
            const TimeMs reset_in = json::IntAt(*f, "reset_in_ms").value_or(FaultPlan::kDefaultResetInMs);
            std::lock_guard lock(portal_.Mutex());
            rest_.Faults().FailNext(m, static_cast<int>(json::IntAt(*f, "times").value_or(1)), std::move(e), reset_in);
        }
        std::lock_guard lock(portal_.Mutex());
        return Json(200, bj::object{{"events", events_.Faults()}, {"fail", rest_.Faults().Describe()}});
    }
    if (path == "limits") {
        std::lock_guard lock(portal_.Mutex());
        if (const auto* v = body.if_contains("enabled")) {
            portal_.SetLimitsEnabled(json::ToBool(*v).value_or(true));
        }
        if (auto plan = json::StringAt(bv, "plan")) {
            PortalSettings s = portal_.Settings();
            (void)s;
            // Plan changes only the bucket parameters; the portal's settings keep the start-up plan for app.info.
            rest_.Bucket().Configure(*plan == "enterprise" ? 5 : 2, *plan == "enterprise" ? 250 : 50);
        }
        if (const auto* v = body.if_contains("reset"); v && json::ToBool(*v).value_or(false)) {
            rest_.Bucket().Reset();
        }
        return Json(200, bj::object{{"enabled", portal_.Settings().limits_enabled}});
    }
    if (path == "oauth/code") {
        std::lock_guard lock(portal_.Mutex());
        if (portal_.FindUser(user) == nullptr) {
            return Bad("unknown user");
        }
        return Json(200, bj::object{{"code", IssueAuthCode(portal_, user)}});
    }
    if (path == "app/install") {
        Delivery d;
        {
            std::lock_guard lock(portal_.Mutex());
            if (auto h = json::StringAt(bv, "handler")) {
                portal_.State().app.install_handler = *h;
            }
            if (portal_.State().app.install_handler.empty()) {
                return Bad("no install handler configured");
            }
            d = BuildInstallCallback(portal_, user);
        }
        events_.Enqueue({std::move(d)});
        return Json(200, bj::object{{"queued", true}});
    }
    if (path == "robots/place") {
        std::lock_guard lock(portal_.Mutex());
        const auto code = json::StringAt(bv, "code").value_or("");
        const auto stage = json::StringAt(bv, "stageId").value_or("");
        if (portal_.State().robots.count(code) == 0 || portal_.StageByStatusId(stage) == nullptr) {
            return Bad("unknown robot code or stage");
        }
        RobotPlacement pl{code, stage, {}};
        if (const auto* p = body.if_contains("properties"); p && p->is_object()) {
            pl.properties = p->get_object();
        }
        portal_.State().placements.push_back(std::move(pl));
        return Json(200, bj::object{{"placed", true}});
    }
    if (path == "triggers/place") {
        std::lock_guard lock(portal_.Mutex());
        const auto code = json::StringAt(bv, "code").value_or("");
        const auto stage = json::StringAt(bv, "stageId").value_or("");
        if (portal_.StageByStatusId(stage) == nullptr) {
            return Bad("unknown stage");
        }
        // Any code: "incoming webhook" triggers are made in the UI and never registered through REST.
        portal_.State().trigger_placements.push_back(TriggerPlacement{code, stage});
        return Json(200, bj::object{{"placed", true}});
    }
    if (path == "app") {
        std::lock_guard lock(portal_.Mutex());
        auto& app = portal_.State().app;
        if (auto scope = json::StringAt(bv, "scope")) {
            app.scope = *scope;
        }
        if (const auto* v = body.if_contains("installed")) {
            app.installed = json::ToBool(*v).value_or(app.installed);
        }
        return Json(200, bj::object{{"scope", app.scope}, {"installed", app.installed}});
    }
    if (path == "events/flush") {
        return Json(200, bj::object{{"attempted", static_cast<std::int64_t>(events_.DeliverDue())}});
    }
    return Json(404, bj::object{{"error", "unknown admin endpoint"}});
}

}  // namespace dispatch::emulator
