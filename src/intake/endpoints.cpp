#include "intake/endpoints.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/log.hpp"
#include "core/secret.hpp"
#include "intake/errc.hpp"
#include "intake/parse.hpp"
#include "store/errc.hpp"

namespace dispatch::intake {
namespace {

const log::Logger kLog("intake");

http::Response Ok() { return http::Response::Json(200, R"({"status":"ok"})"); }

// Errors go back as a short JSON reason (the caller is Bitrix24's queue or an admin testing a hook: a reason helps
// them and reveals nothing, since it names only what was wrong with their own request).
http::Response ErrorResponse(unsigned status, std::string_view reason, std::string_view detail = {}) {
    boost::json::object body{{"status", "error"}, {"error", reason}};
    if (!detail.empty()) {
        body["detail"] = detail;
    }
    return http::Response::Json(static_cast<int>(status), boost::json::serialize(body));
}

}  // namespace

std::string HookSecret(std::string_view hook_key, std::string_view member_id) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(),
         hook_key.data(),
         static_cast<int>(hook_key.size()),
         reinterpret_cast<const unsigned char*>(member_id.data()),
         member_id.size(),
         mac,
         &len);
    std::string hex;
    hex.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        hex += fmt::format("{:02x}", mac[i]);
    }
    return hex;
}

Endpoints::Endpoints(store::Store& store, const Clock& clock, metrics::Registry& metrics, EndpointOptions options)
    : store_(store), clock_(clock), metrics_(metrics), options_(std::move(options)) {
    for (const char* route : {"events", "robots", "hook", "install"}) {
        accepted_[route] = &metrics_.GetCounter(
            "dispatch_intake_accepted_total", "Inbound calls made durable, by route", {{"route", route}});
    }
}

void Endpoints::Register(http::Router& router) {
    router.Add("POST", "/b24/events", [this](http::Request&& req, http::Respond respond) {
        OnEvent(std::move(req), std::move(respond));
    });
    router.Add("POST", "/b24/install", [this](http::Request&& req, http::Respond respond) {
        OnInstall(std::move(req), std::move(respond));
    });
    router.Add("POST", "/b24/robots/{code}", [this](http::Request&& req, http::Respond respond) {
        OnRobot(std::move(req), std::move(respond));
    });
    for (const char* method : {"GET", "POST"}) {
        router.Add(method, "/b24/hook", [this](http::Request&& req, http::Respond respond) {
            OnHook(std::move(req), std::move(respond));
        });
    }
}

metrics::Counter& Endpoints::Accepted(const char* route) {
    const auto it = accepted_.find(route);
    DISPATCH_CHECK(it != accepted_.end(), "every appending route has its counter");
    return *it->second;
}

void Endpoints::Invalidate(const std::string& member_id) {
    std::lock_guard lock(mu_);
    portals_.erase(member_id);
}

std::optional<Endpoints::Known> Endpoints::Lookup(const std::string& member_id) {
    {
        std::lock_guard lock(mu_);
        if (auto it = portals_.find(member_id); it != portals_.end()) {
            return it->second;
        }
    }
    auto portal = store_.Portals().FindByMemberId(member_id);
    if (!portal) {
        return std::nullopt;  // unknown, or the store is down: either way nothing is trusted
    }
    Known known{portal->application_token, portal->status == store::PortalStatus::kActive};
    Remember(member_id, known);
    return known;
}

void Endpoints::Remember(const std::string& member_id, Known known) {
    std::lock_guard lock(mu_);
    portals_[member_id] = std::move(known);
}

http::Response Endpoints::Refuse(const Error& error, const char* what) {
    const auto errc = static_cast<Errc>(error.code.value());
    metrics_
        .GetCounter("dispatch_intake_refused_total",
                    "Inbound calls refused, by route and reason",
                    {{"route", what}, {"reason", error.code.message()}})
        .Inc();
    DISPATCH_LOG_LIMITED_WARN(kLog,
                              "refused",
                              "route={} reason={} detail={}",
                              what,
                              log::Quote(error.code.message()),
                              log::Quote(error.detail));
    // A 400 says what was wrong with the caller's own body; a 401 says no more than "not you".
    const unsigned status = HttpStatus(errc);
    return ErrorResponse(status, error.code.message(), status == 400 ? std::string_view(error.detail) : "");
}

void Endpoints::Append(store::InboxEvent&& event, http::Respond respond, const char* what) {
    auto& stored = Accepted(what);
    store_.Inbox().Append(
        std::move(event),
        [respond = std::move(respond), &stored, what, wake = options_.on_stored](Result<store::AppendOutcome> outcome) {
            if (!outcome) {
                // Bitrix24 will not retry; a 503 at least shows up in its queue log and in our alert.
                DISPATCH_LOG_ERROR(
                    kLog, "inbox append failed", "route={} detail={}", what, log::Quote(outcome.error().detail));
                respond(ErrorResponse(HttpStatus(Errc::kStoreUnavailable), "store unavailable"));
                return;
            }
            stored.Inc();
            respond(Ok());
            if (wake && *outcome == store::AppendOutcome::kStored) {
                wake();
            }
        });
}

void Endpoints::OnEvent(http::Request&& req, http::Respond respond) {
    auto ev = ParseEvent(req.Header("content-type"), req.body);
    if (!ev) {
        return respond(Refuse(ev.error(), "events"));
    }
    auto known = Lookup(ev->auth.member_id);
    if (!known) {
        return respond(Refuse(Fail(Errc::kUnknownPortal, "member_id " + ev->auth.member_id), "events"));
    }
    if (ev->kind == EventKind::kAppInstall && known->application_token.empty()) {
        // The install callback may come without application_token; ONAPPINSTALL then brings it (CONTRACT §1.2).
        // Trust on first use, for a portal whose callback already gave us valid OAuth tokens.
        if (auto portal = store_.Portals().FindByMemberId(ev->auth.member_id); portal) {
            portal->application_token = ev->auth.application_token;
            portal->updated_at = clock_.Now();
            if (store_.Portals().Upsert(*portal)) {
                known->application_token = ev->auth.application_token;
                Remember(ev->auth.member_id, *known);
            }
        }
    }
    if (!SecretsEqual(known->application_token, ev->auth.application_token)) {
        return respond(Refuse(Fail(Errc::kBadToken, "member_id " + ev->auth.member_id), "events"));
    }
    store::InboxEvent row;
    row.member_id = ev->auth.member_id;
    row.received_at = clock_.Now();
    row.kind = store::InboxKind::kEvent;
    row.event_name = ev->name;
    row.entity_type_id = ev->entity_type_id;
    row.item_id = ev->item_id;
    row.payload = boost::json::serialize(ev->sanitized);
    row.dedup_key = DedupKey(*ev);
    Append(std::move(row), std::move(respond), "events");
}

void Endpoints::OnRobot(http::Request&& req, http::Respond respond) {
    auto call = ParseRobotCall(req.Header("content-type"), req.body);
    if (!call) {
        return respond(Refuse(call.error(), "robots"));
    }
    if (call->code != req.Param("code")) {
        return respond(Refuse(Fail(Errc::kMalformedBody, "robot code does not match the path"), "robots"));
    }
    auto known = Lookup(call->auth.member_id);
    if (!known) {
        return respond(Refuse(Fail(Errc::kUnknownPortal, "member_id " + call->auth.member_id), "robots"));
    }
    if (!SecretsEqual(known->application_token, call->auth.application_token)) {
        return respond(Refuse(Fail(Errc::kBadToken, "member_id " + call->auth.member_id), "robots"));
    }
    // The event token is needed later to answer (bizproc.event.send), so it is stored with the row; the rest of the
    // auth block is not.
    boost::json::object payload = std::move(call->sanitized);
    payload["event_token"] = call->event_token;
    store::InboxEvent row;
    row.member_id = call->auth.member_id;
    row.received_at = clock_.Now();
    row.kind = store::InboxKind::kRobot;
    row.event_name = call->code;
    row.entity_type_id = call->entity_type_id;
    row.item_id = call->item_id;
    row.payload = boost::json::serialize(payload);
    row.dedup_key = fmt::format("{}|robot|{}|{}|{}",
                                call->auth.member_id,
                                call->code,
                                call->workflow_id,
                                call->event_token.empty() ? std::to_string(call->ts) : call->event_token);
    Append(std::move(row), std::move(respond), "robots");
}

void Endpoints::OnHook(http::Request&& req, http::Respond respond) {
    if (options_.hook_key.empty()) {
        return respond(ErrorResponse(404, "hooks are not enabled"));
    }
    auto call = ParseHookCall(req.query, req.Header("content-type"), req.body);
    if (!call) {
        return respond(Refuse(call.error(), "hook"));
    }
    auto known = Lookup(call->member_id);
    if (!known) {
        return respond(Refuse(Fail(Errc::kUnknownPortal, "member_id " + call->member_id), "hook"));
    }
    if (!SecretsEqual(HookSecret(options_.hook_key, call->member_id), call->secret)) {
        return respond(Refuse(Fail(Errc::kBadToken, "hook secret for member_id " + call->member_id), "hook"));
    }
    const TimeMs now = clock_.Now();
    store::InboxEvent row;
    row.member_id = call->member_id;
    row.received_at = now;
    row.kind = store::InboxKind::kHook;
    row.event_name = call->reason.empty() ? "hook" : call->reason;
    row.entity_type_id = call->entity_type_id;
    row.item_id = call->item_id;
    row.payload = boost::json::serialize(boost::json::object{
        {"entity_type_id", call->entity_type_id}, {"item_id", call->item_id}, {"reason", call->reason}});
    // The automation robot carries no delivery id; a hook is a nudge to re-read the item, so repeats within the
    // same millisecond are the only ones worth folding.
    row.dedup_key = fmt::format("{}|hook|{}|{}|{}", call->member_id, call->entity_type_id, call->item_id, now);
    Append(std::move(row), std::move(respond), "hook");
}

// Who may install. Bitrix24 signs nothing in the install callback (installation-callback.md), so whoever can
// reach /b24/install can claim any member_id. Trusted on first use (no verifier), a forged callback could replace
// an installed portal's application_token and tokens, and so both feed us forged events and point our REST calls
// at a client_endpoint of its choosing. With a verifier (dispatchd's, when the config gives the app credentials)
// the claimed refresh token is spent at the OAuth server we trust with our client secret: only a genuine install
// of our app holds a refresh token that server accepts, and its answer names the member_id and client_endpoint
// the tokens belong to. Nothing is stored before that answer.
void Endpoints::OnInstall(http::Request&& req, http::Respond respond) {
    auto cb = ParseInstall(req.Header("content-type"), req.body);
    if (!cb) {
        return respond(Refuse(cb.error(), "install"));
    }
    if (!options_.verify_install) {
        return StoreInstall(cb->auth, std::move(respond));
    }
    options_.verify_install(std::move(cb->auth),
                            [this, respond = std::move(respond)](Result<EventAuth> verified) mutable {
                                if (!verified) {
                                    return respond(Refuse(verified.error(), "install"));
                                }
                                StoreInstall(*verified, std::move(respond));
                            });
}

void Endpoints::StoreInstall(const EventAuth& auth, http::Respond respond) {
    const TimeMs now = clock_.Now();
    store::Portal portal;
    if (auto existing = store_.Portals().FindByMemberId(auth.member_id); existing) {
        portal = *existing;
    } else {
        portal.installed_at = now;
    }
    portal.member_id = auth.member_id;
    portal.domain = auth.domain;
    if (!auth.client_endpoint.empty()) portal.client_endpoint = auth.client_endpoint;
    if (!auth.server_endpoint.empty()) portal.server_endpoint = auth.server_endpoint;
    if (!auth.application_token.empty()) portal.application_token = auth.application_token;
    portal.auth_mode = store::AuthMode::kOAuth;
    portal.status = store::PortalStatus::kActive;
    portal.updated_at = now;
    if (auto up = store_.Portals().Upsert(portal); !up) {
        DISPATCH_LOG_ERROR(
            kLog, "portal upsert failed", "member_id={} detail={}", portal.member_id, log::Quote(up.error().detail));
        return respond(ErrorResponse(503, "store unavailable"));
    }
    store::Token token;
    token.member_id = auth.member_id;
    token.access_token = auth.access_token;
    token.refresh_token = auth.refresh_token;
    token.expires_at =
        auth.expires > 0 ? auth.expires * 1000 : now + (auth.expires_in > 0 ? auth.expires_in : 3600) * 1000;
    token.scope = auth.scope;
    token.updated_at = now;
    // A reinstall replaces whatever pair we held; retry once if a refresher swapped at the same moment.
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto current = store_.Tokens().Get(auth.member_id);
        const std::int64_t expected = current ? current->version : 0;
        auto swapped = store_.Tokens().CompareAndSwap(token, expected);
        if (swapped) {
            Remember(portal.member_id, Known{portal.application_token, true});
            DISPATCH_LOG_INFO(kLog,
                              "portal installed",
                              "member_id={} domain={} verified={}",
                              portal.member_id,
                              portal.domain,
                              options_.verify_install ? "yes" : "no");
            if (options_.on_installed) {
                options_.on_installed(portal.member_id);
            }
            store::InboxEvent row;
            row.member_id = portal.member_id;
            row.received_at = now;
            row.kind = store::InboxKind::kInstall;
            row.event_name = "INSTALL";
            row.payload = boost::json::serialize(boost::json::object{{"domain", portal.domain}});
            row.dedup_key = fmt::format("{}|install|{}", portal.member_id, now);
            return Append(std::move(row), std::move(respond), "install");
        }
        if (swapped.error().code != make_error_code(store::Errc::kConflict)) {
            DISPATCH_LOG_ERROR(kLog,
                               "token store failed",
                               "member_id={} detail={}",
                               portal.member_id,
                               log::Quote(swapped.error().detail));
            break;
        }
    }
    respond(ErrorResponse(503, "store unavailable"));
}

}  // namespace dispatch::intake
