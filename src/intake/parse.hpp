#pragma once
// Pure parsing of what Bitrix24 posts to us (CONTRACT §1.3, §10.3, §11.2, app install callback §1.2). No I/O, no
// clock: the endpoint (endpoints.hpp) checks the token against the store and appends to the inbox.
//
// Bodies come form-urlencoded with bracket keys (what Bitrix24 sends) or as JSON (what the docs show, and what
// tests and proxies sometimes send); both parse into the same structs. Every scalar is read leniently (ids as
// strings or numbers).

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace dispatch::intake {

// The `auth` block. Tokens are optional (absent when automation caused the event, CONTRACT §1.3).
struct EventAuth {
    std::string member_id;
    std::string domain;
    std::string application_token;  // never logged
    std::string access_token;       // never logged
    std::string refresh_token;      // never logged
    std::string client_endpoint;
    std::string server_endpoint;
    std::string scope;
    std::string status;
    std::int64_t expires_in = 0;
    std::int64_t expires = 0;  // unix seconds, when present
    std::int64_t user_id = 0;
};

enum class EventKind { kItemAdd, kItemUpdate, kItemDelete, kAppInstall, kAppUpdate, kAppUninstall };

struct InboundEvent {
    std::string name;  // upper case, with the _{entityTypeId} suffix removed: ONCRMDYNAMICITEMUPDATE
    EventKind kind = EventKind::kItemUpdate;
    std::int64_t entity_type_id = 0;  // 0 for app events
    std::int64_t item_id = 0;         // 0 for app events
    std::int64_t ts = 0;              // unix seconds: when the queue sent it (not when the item changed)
    std::string handler_id;
    // A digest of the whole body as sent: `ts` has second precision, so two real changes of one item within a second
    // differ only in the body (the emulator's per-delivery token) or not at all. Only a byte-identical replay is a
    // duplicate; two identical bodies in one second are recognised as one, and the worker's fetch of the item (or the
    // reconciliation sweep) still sees the later change.
    std::string digest;
    EventAuth auth;
    // The body as JSON with every token removed: what the inbox stores (a database dump must not leak tokens).
    boost::json::object sanitized;
};

// `content_type` decides the decoder: application/json → JSON, anything else → form.
Result<InboundEvent> ParseEvent(std::string_view content_type, std::string_view body);

// An app robot call (CONTRACT §11.2).
struct RobotCall {
    std::string code;
    std::string workflow_id;
    std::string event_token;  // kept for bizproc.event.send; never logged
    std::string document_type;  // "DYNAMIC_1038"
    std::int64_t entity_type_id = 0;
    std::int64_t item_id = 0;
    bool use_subscription = true;  // only an explicit "N" means fire-and-forget
    std::int64_t ts = 0;
    boost::json::object properties;
    EventAuth auth;
    boost::json::object sanitized;
};
Result<RobotCall> ParseRobotCall(std::string_view content_type, std::string_view body);

// The local-app installation callback (settings/app-installation/local-apps/installation-callback.md): the same
// auth block, tokens included. Requires member_id, domain, access_token and refresh_token; application_token is
// taken when present (it may come only with ONAPPINSTALL).
struct InstallCallback {
    EventAuth auth;
};
Result<InstallCallback> ParseInstall(std::string_view content_type, std::string_view body);

// The built-in "Webhook" robot of CRM automation calls a URL the admin typed in, with our per-portal secret in the
// query: /b24/hook?member_id=..&secret=..&entity_type_id=1038&item_id={{ID}}&reason=stage (GET or POST form).
struct HookCall {
    std::string member_id;
    std::string secret;  // never logged
    std::int64_t entity_type_id = 0;
    std::int64_t item_id = 0;
    std::string reason;
};
Result<HookCall> ParseHookCall(std::string_view query, std::string_view content_type, std::string_view body);

// Same event delivered twice (a proxy retry, a replayed request) → same key. Bitrix24 documents no dedup key
// (CONTRACT §10.4); (member_id, event, entity type, id, ts, handler) is as close as the payload allows.
std::string DedupKey(const InboundEvent& ev);

}  // namespace dispatch::intake
