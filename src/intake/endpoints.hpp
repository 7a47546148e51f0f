#pragma once
// The /b24/* routes of dispatchd: the only place where intake failures become HTTP statuses. Each accepted call is
// appended to the durable inbox and answered only after the commit (Bitrix24 never retries, CONTRACT §10.4), so an
// acknowledged event survives a crash; nothing is processed on the request path.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "http/server.hpp"
#include "intake/parse.hpp"
#include "store/store.hpp"

namespace dispatch::intake {

// Confirms what an install callback claims before anything is stored. Called on an io thread; must not block:
// it calls `done` exactly once, later and from any thread, with the auth block to store (the check may have
// rotated the tokens, and fills member_id, domain and client_endpoint from the source it trusts) or with an
// intake error: kInstallNotVerified (→ 401) or kCheckUnavailable (→ 503).
using InstallVerifier = std::function<void(EventAuth claimed, std::function<void(Result<EventAuth>)> done)>;

struct EndpointOptions {
    // Key of the HMAC that derives each portal's /b24/hook secret (HookSecret). From config or the environment;
    // never logged. Empty disables /b24/hook.
    std::string hook_key;
    // Empty: install callbacks are trusted on first use (see OnInstall in endpoints.cpp for what that risks).
    InstallVerifier verify_install;
    // Called once a portal's install is stored (tokens durable), on whatever thread stored it; must not block.
    std::function<void(const std::string& member_id)> on_installed;
    // Called after a new inbox row is durable (not for duplicates), on the store's writer thread: it must be quick
    // and must not block (dispatchd wakes the flows' worker, so an event is processed without waiting for a poll).
    std::function<void()> on_stored;
};

// HMAC-SHA256(hook_key, member_id) as lower-case hex: the secret an admin pastes into the "Webhook" robot URL.
// Derived, not stored, so rotating hook_key revokes every hook URL at once.
std::string HookSecret(std::string_view hook_key, std::string_view member_id);

class Endpoints {
public:
    Endpoints(store::Store& store, const Clock& clock, metrics::Registry& metrics, EndpointOptions options);

    // POST /b24/events, POST /b24/install, POST /b24/robots/{code}, GET|POST /b24/hook.
    void Register(http::Router& router);

    // Forget a cached portal (after an uninstall processed elsewhere).
    void Invalidate(const std::string& member_id);

private:
    struct Known {
        std::string application_token;
        bool active = true;
    };
    std::optional<Known> Lookup(const std::string& member_id);
    void Remember(const std::string& member_id, Known known);

    void OnEvent(http::Request&& req, http::Respond respond);
    void OnInstall(http::Request&& req, http::Respond respond);
    void OnRobot(http::Request&& req, http::Respond respond);
    void OnHook(http::Request&& req, http::Respond respond);
    void StoreInstall(const EventAuth& auth, http::Respond respond);
    void Append(store::InboxEvent&& event, http::Respond respond, const char* what);
    http::Response Refuse(const Error& error, const char* what);
    metrics::Counter& Accepted(const char* route);

    store::Store& store_;
    const Clock& clock_;
    metrics::Registry& metrics_;
    EndpointOptions options_;
    std::mutex mu_;
    std::map<std::string, Known, std::less<>> portals_;  // member_id → token; the hot path reads no database
    // route → dispatch_intake_accepted_total, resolved in the constructor: read without a lock on the hot path.
    std::map<std::string, metrics::Counter*, std::less<>> accepted_;
};

}  // namespace dispatch::intake
