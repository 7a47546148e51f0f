#include "emulator/rest_api.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>

#include "core/json.hpp"
#include "core/log.hpp"
#include "emulator/events.hpp"
#include "emulator/methods.hpp"
#include "emulator/wire_json.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

constexpr log::Logger kLog("emulator");

double SecondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool ScopeGranted(const std::string& granted_csv, const std::string& scope) {
    if (scope.empty() || scope == "basic") {
        return true;
    }
    std::size_t pos = 0;
    while (pos <= granted_csv.size()) {
        auto end = granted_csv.find_first_of(", ", pos);
        if (end == std::string::npos) {
            end = granted_csv.size();
        }
        if (granted_csv.compare(pos, end - pos, scope) == 0) {
            return true;
        }
        pos = end + 1;
    }
    return false;
}

}  // namespace

// --- helpers declared in methods.hpp ---

const bj::value* Param(const bj::object& params, std::string_view name) {
    if (const auto* v = params.if_contains(bj::string_view(name.data(), name.size()))) {
        return v;
    }
    for (const auto& kv : params) {
        const auto& k = kv.key();
        if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            })) {
            return &kv.value();
        }
    }
    return nullptr;
}

std::optional<std::int64_t> IntParam(const bj::object& params, std::string_view name) {
    const auto* v = Param(params, name);
    return v ? json::ToInt(*v) : std::nullopt;
}

std::optional<std::string> StringParam(const bj::object& params, std::string_view name) {
    const auto* v = Param(params, name);
    return v ? json::ToString(*v) : std::nullopt;
}

const bj::object* ObjectParam(const bj::object& params, std::string_view name) {
    const auto* v = Param(params, name);
    return v && v->is_object() ? &v->get_object() : nullptr;
}

bool YesParam(const bj::value* v) {
    if (v == nullptr) {
        return false;
    }
    const auto b = json::ToBool(*v);
    return b.value_or(false);
}

ApiError MissingParam(std::string_view name) {
    return Err(400, "100", "Could not find value for parameter {" + std::string(name) + "}");
}

ApiError AccessDenied() { return Err(400, "ACCESS_DENIED", "Access denied."); }

bj::object FieldDescription(
    const char* type, bool required, bool read_only, bool immutable, bool multiple, const char* title) {
    return bj::object{{"type", type},
                      {"isRequired", required},
                      {"isReadOnly", read_only},
                      {"isImmutable", immutable},
                      {"isMultiple", multiple},
                      {"isDynamic", false},
                      {"title", title}};
}

bool CallerIsAdmin(const CallContext& ctx) {
    return ctx.caller.kind == AuthKind::kInternal ? ctx.portal.IsAdmin(ctx.caller.user_id) || ctx.caller.user_id == 0
                                                  : ctx.portal.IsAdmin(ctx.caller.user_id);
}

// --- RestApi ---

RestApi::RestApi(Portal& portal, EventDispatcher* events) : portal_(portal), events_(events), bucket_(2, 50) {
    RegisterTypeMethods(methods_);
    RegisterCategoryMethods(methods_);
    RegisterUserFieldMethods(methods_);
    RegisterItemMethods(methods_);
    RegisterDirectoryMethods(methods_);
    RegisterAppMethods(methods_);
    RegisterBatchMethod(methods_);
    RegisterAutomationMethods(methods_);
    ApplyPlanLimits();
}

void RestApi::ApplyPlanLimits() {
    // limits.md: Enterprise drains 5/s with threshold 250; every other plan 2/s with threshold 50.
    if (portal_.Settings().plan == Plan::kEnterprise) {
        bucket_.Configure(5, 250);
    } else {
        bucket_.Configure(2, 50);
    }
}

bj::object RestApi::TimeBlock(TimeMs start, double elapsed_s) const {
    // Rounded to microseconds like PHP's microtime(true) arithmetic shows them; doubles are printed in plain
    // decimals by WireJson.
    const double duration = std::round(elapsed_s * 1e6) / 1e6;
    const double s = static_cast<double>(start) / 1000.0;
    const TimeMs finish = start + static_cast<TimeMs>(std::llround(duration * 1000.0));
    return bj::object{{"start", s},
                      {"finish", s + duration},
                      {"duration", duration},
                      {"processing", duration},
                      {"date_start", portal_.Iso(start)},
                      {"date_finish", portal_.Iso(finish)},
                      // limits.md: per-method budget; the emulator does not account execution time (README).
                      {"operating_reset_at", start / 1000 + 600},
                      {"operating", 0}};
}

HttpReply RestApi::Envelope(MethodReply&& reply, TimeMs start, double elapsed_s) const {
    if (!reply.Ok()) {
        const auto& e = reply.Error();
        bj::object body{{"error", e.code}, {"error_description", e.description}};
        if (e.operating_reset_at != 0) {
            // limits.md: a method over its budget answers 429 with the time block saying when it is released;
            // `operating` shows the budget as spent (480 s is the cloud example).
            auto time = TimeBlock(start, elapsed_s);
            time["operating_reset_at"] = e.operating_reset_at;
            time["operating"] = 480.0;
            body["time"] = std::move(time);
        }
        return HttpReply{e.status, WireJson(body)};
    }
    auto& ok = reply.Value();
    // In the result's own storage, so that moving a list page in does not copy it.
    bj::object body(ok.result.storage());
    body["result"] = std::move(ok.result);
    if (ok.next) {
        body["next"] = *ok.next;
    }
    if (ok.total) {
        body["total"] = *ok.total;
    }
    body["time"] = TimeBlock(start, elapsed_s);
    return HttpReply{200, WireJson(body)};
}

MethodReply RestApi::Dispatch(CallContext& ctx, std::string_view method_in, const bj::object& params) {
    std::string method(method_in);
    std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    auto it = methods_.find(method);
    if (it == methods_.end()) {
        // CONTRACT §2.4: undocumented for classic REST; we answer like REST 3.0.
        return Err(404, "ERROR_METHOD_NOT_FOUND", "Method not found!");
    }
    const auto& info = it->second;
    if (info.app_only && ctx.caller.kind == AuthKind::kWebhook) {
        if (method.rfind("event.", 0) == 0) {
            // CONTRACT §14.1: the webhook error of event.* is undocumented; we answer WRONG_AUTH_TYPE (README).
            return Err(403, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method");
        }
        return Err(400, "ACCESS_DENIED", "Application context required");
    }
    if (ctx.caller.kind == AuthKind::kOAuth && !ScopeGranted(portal_.State().app.scope, info.scope)) {
        return Err(403, "insufficient_scope", "The request requires higher privileges than provided.");
    }
    if (auto fault = faults_.Take(method, portal_.Now())) {
        return *fault;
    }
    return info.handler(ctx, params);
}

HttpReply RestApi::Handle(RestRequest request) {
    HttpReply reply;
    RequestRecord rec;
    {
        const auto t0 = std::chrono::steady_clock::now();
        std::lock_guard lock(portal_.Mutex());
        const TimeMs start = portal_.Now();
        rec.at = start;
        rec.method = request.method;
        rec.auth = request.webhook_user ? "webhook" : (Param(request.params, "auth") ? "oauth" : "none");
        auto finish = [&](MethodReply&& r) {
            if (!r.Ok()) {
                rec.error = json::ToString(r.Error().code).value_or("");
            }
            reply = Envelope(std::move(r), start, SecondsSince(t0));
            rec.status = reply.status;
        };
        [&] {
            if (!request.https) {
                finish(Err(400, "INVALID_REQUEST", "Https required."));
                return;
            }
            if (portal_.Settings().limits_enabled && !bucket_.Admit(request.source_ip, start)) {
                finish(Err(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"));
                return;
            }
            Caller caller;
            if (request.webhook_user) {
                caller.kind = AuthKind::kWebhook;
                const auto& hooks = portal_.State().webhooks;
                const bool known = std::any_of(hooks.begin(), hooks.end(), [&](const Webhook& w) {
                    return w.user_id == *request.webhook_user && w.secret == request.webhook_secret;
                });
                const auto* user = portal_.FindUser(*request.webhook_user);
                if (!known || user == nullptr || !user->active) {
                    finish(Err(401, "NO_AUTH_FOUND", "Wrong authorization data"));
                    return;
                }
                caller.user_id = *request.webhook_user;
            } else {
                const auto token = StringParam(request.params, "auth");
                if (!token || token->empty()) {
                    finish(Err(401, "NO_AUTH_FOUND", "Wrong authorization data"));
                    return;
                }
                auto checked = CheckAccessToken(portal_, *token);
                if (auto* e = std::get_if<ApiError>(&checked)) {
                    finish(*e);
                    return;
                }
                caller.kind = AuthKind::kOAuth;
                caller.user_id = std::get<std::int64_t>(checked);
            }
            request.params.erase("auth");
            rec.user_id = caller.user_id;
            CallContext ctx{portal_, *this, caller};
            finish(Dispatch(ctx, request.method, request.params));
        }();
        log_.push_back(std::move(rec));
        if (log_.size() > kLogSize) {
            log_.pop_front();
        }
    }
    DISPATCH_LOG_DEBUG(kLog, "rest call", "method={} status={}", request.method, reply.status);
    Flush();
    return reply;
}

MethodReply RestApi::CallAs(const Caller& caller, std::string_view method, const bj::object& params) {
    std::optional<MethodReply> reply;
    {
        std::lock_guard lock(portal_.Mutex());
        CallContext ctx{portal_, *this, caller};
        reply.emplace(Dispatch(ctx, method, params));
    }
    Flush();
    return std::move(*reply);
}

void RestApi::Flush() {
    std::vector<Delivery> deliveries;
    {
        std::lock_guard lock(portal_.Mutex());
        auto events = portal_.TakeEvents();
        auto robots = portal_.TakeRobotCalls();
        if (events.empty() && robots.empty()) {
            return;
        }
        deliveries = BuildDeliveries(portal_, events, robots);
    }
    if (events_ != nullptr && !deliveries.empty()) {
        events_->Enqueue(std::move(deliveries));
    }
}

bj::array RestApi::RequestLog() const {
    bj::array out;
    for (const auto& r : log_) {
        out.push_back(bj::object{{"at", portal_.Iso(r.at)},
                                 {"at_ms", r.at},
                                 {"method", r.method},
                                 {"auth", r.auth},
                                 {"user_id", r.user_id},
                                 {"status", r.status},
                                 {"error", r.error}});
    }
    return out;
}

}  // namespace dispatch::emulator
