#pragma once
// One Bitrix24 REST client per portal, for everything in dispatchd that talks back to a portal (the flows, the
// install check). A client is built on first use from the store's Portal row (auth mode, client_endpoint), the
// OAuth pair in the store's TokenRepo, the app credentials and CA from the config, and the bucket of the portal's
// plan (config `plan`; standard, the slower bucket, when the config does not name the portal). It then lives as
// long as the registry, so its bucket, keep-alive connection and single-flight refresh are shared by every caller.
//
//   app::PortalClients clients(*db, clock, sleeper, registry, app::ClientOptionsFrom(config));
//   auto client = clients.For(member_id);
//   if (!client) { ... }                       // unknown portal, uninstalled, not configured, store down
//   auto item = (*client)->Call("crm.item.get", {{"entityTypeId", 1038}, {"id", 57}});

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.hpp"
#include "b24/client.hpp"
#include "b24/http_transport.hpp"
#include "b24/sleeper.hpp"
#include "b24/token_store.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "core/work_pool.hpp"
#include "intake/parse.hpp"
#include "store/store.hpp"

namespace dispatch::app {

// b24::TokenStore over store::TokenRepo, keyed by member_id. Load adds the portal's client_endpoint from its
// Portal row (the store keeps it there, not with the token). CompareAndSwap writes through the repository's own
// compare-and-swap, so the rotated refresh token is durable before the client uses the new pair; the scope of the
// stored row is kept. A client_endpoint that the OAuth server reports differently (the portal moved,
// change-domen.md) updates the Portal row.
// Errors: kRefreshFailed when the portal has no tokens (nothing to refresh: it must be installed again),
// kTokenConflict when another refresher swapped first, kTokenStoreFailed for anything else the store reports.
class StoreTokenStore final : public b24::TokenStore {
public:
    StoreTokenStore(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

    Result<b24::OAuthTokens> Load(const std::string& member_id) override;
    Result<std::int64_t> CompareAndSwap(const std::string& member_id,
                                        std::int64_t expected_version,
                                        const b24::OAuthTokens& next) override;

private:
    store::Store& store_;
    const Clock& clock_;
};

struct PortalClientsOptions {
    // The local application's credentials, for portals the config does not list with their own `oauth` block.
    std::string client_id;
    std::string client_secret;  // never logged
    // Where refreshes go. Deliberately from the config, never from the install callback's server_endpoint: the
    // client secret must only ever reach the OAuth server we chose.
    std::string oauth_server = "https://oauth.bitrix.info";
    std::string ca_file;  // extra CA bundle for portals (the emulator's test CA); empty = the system store
    std::vector<PortalSettings> portals;  // per-portal overrides by member_id: plan, webhook URL, credentials, CA
    b24::RetrySettings retry{};
    bool rate_limit = true;  // false: no client-side bucket (config b24.rate_limit; the demo's emulator only)
    std::chrono::milliseconds connect_timeout{5'000};
    std::chrono::milliseconds request_timeout{65'000};  // Bitrix24 kills requests at 60 s (limits.md)
};

// The options dispatchd derives from its config.
PortalClientsOptions ClientOptionsFrom(const Config& config);

// The token URL of an OAuth server base ("https://oauth.bitrix.info" → "https://oauth.bitrix.info/oauth/token/").
std::string TokenUrl(std::string_view oauth_server);

class PortalClients {
public:
    // Every reference must outlive the registry. `sleeper` does every wait of every client (SteadySleeper in
    // production); `registry` receives the clients' metrics (dispatch_b24_*).
    PortalClients(store::Store& store,
                  const Clock& clock,
                  b24::Sleeper& sleeper,
                  metrics::Registry& registry,
                  PortalClientsOptions options);
    ~PortalClients();
    PortalClients(const PortalClients&) = delete;
    PortalClients& operator=(const PortalClients&) = delete;

    // The client of the portal; the pointer stays valid for the registry's life. Thread-safe. Building a client
    // sends nothing; the first call loads the tokens. Errors:
    //   store::Errc::kNotFound          no such portal (never installed, not in the config);
    //   b24::Errc::kPortalBlocked       the portal is uninstalled or suspended: nothing may be sent;
    //   b24::Errc::kInvalidArgument     the portal cannot be called as configured (webhook mode without a
    //                                   webhook URL, OAuth without app credentials);
    //   other store codes               the Portal row could not be read (retry later).
    // A failure is not cached: the next For() looks again (the portal may be installed meanwhile).
    [[nodiscard]] Result<b24::Client*> For(std::string_view member_id);

    // Closes idle keep-alive connections of every client (shutdown, tests).
    void CloseIdle();
    std::size_t Size() const;

private:
    struct Entry {
        std::unique_ptr<b24::HttpTransport> transport;
        std::unique_ptr<b24::Client> client;
    };
    const PortalSettings* Configured(std::string_view member_id) const;

    store::Store& store_;
    const Clock& clock_;
    b24::Sleeper& sleeper_;
    metrics::Registry& registry_;
    PortalClientsOptions options_;
    StoreTokenStore tokens_;
    mutable std::mutex mu_;
    std::map<std::string, Entry, std::less<>> clients_;
};

// dispatchd's install check (intake::InstallVerifier) and what follows an install, on one background thread so
// that no io thread waits for a portal or the OAuth server.
//
// Verify: the claimed refresh token is exchanged at the configured OAuth server with the app credentials that
// apply to the claimed member_id (its own `oauth` block, else b24.oauth). Only a genuine install of our app holds
// a refresh token that server accepts; its answer must name the claimed member_id. The rotated pair, the
// server's client_endpoint and the domain of that endpoint replace what the callback claimed. Outcomes:
// kInstallNotVerified (refused by the server, another member_id, no credentials apply) or kCheckUnavailable
// (transport failure or 5xx: the admin may retry the install).
//
// AfterInstall: reads app.info through the portal's client (PortalClients) and logs the licence family, warning
// when it disagrees with the configured plan (an enterprise bucket on a standard portal would trip its limits).
class InstallChecker {
public:
    InstallChecker(PortalClients& clients, metrics::Registry& registry, PortalClientsOptions options);
    ~InstallChecker();  // Stop()
    InstallChecker(const InstallChecker&) = delete;
    InstallChecker& operator=(const InstallChecker&) = delete;

    void Verify(intake::EventAuth claimed, std::function<void(Result<intake::EventAuth>)> done);
    void AfterInstall(std::string member_id);
    // Finishes the queued work, then joins the thread. Work queued afterwards, or beyond 64 waiting, fails
    // verification at once (kCheckUnavailable) or is dropped (AfterInstall). Idempotent.
    void Stop();

    // Blocking form of Verify, on the calling thread (the background thread runs this).
    Result<intake::EventAuth> VerifyNow(const intake::EventAuth& claimed);

private:
    void ReadAppInfo(const std::string& member_id);

    PortalClients& clients_;
    metrics::Registry& registry_;
    PortalClientsOptions options_;
    WorkPool pool_{"install-check", 1, 64};  // last: its thread starts after every member above exists
};

// Writes a Portal row for every configured portal in incoming-webhook mode (member_id and webhook URL set, no
// `oauth` block), so intake can check their outgoing webhook's application_token and PortalClients can build
// their client. The domain is the webhook URL's host. OAuth portals get their row from the install callback.
// Returns the number of rows written; fails on the first store error.
[[nodiscard]] Result<int> RegisterWebhookPortals(store::Store& store,
                                                 const std::vector<PortalSettings>& portals,
                                                 TimeMs now);

// The store the config names: its SQLite file, else its PostgreSQL DSN (the schema allows exactly one). Migrations
// run on open. Shared by dispatchd and dispatchctl, so both always open the same database the same way.
[[nodiscard]] Result<std::unique_ptr<store::Store>> OpenConfiguredStore(const Config& config, const Clock& clock);

}  // namespace dispatch::app
