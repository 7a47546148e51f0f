#include "app/portal_clients.hpp"

#include <fmt/format.h>

#include "b24/errc.hpp"
#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "intake/errc.hpp"
#include "store/errc.hpp"

namespace dispatch::app {
namespace {

// The config's entry for a portal (the first that names its member_id), or nullptr.
const PortalSettings* FindConfigured(const std::vector<PortalSettings>& portals, std::string_view member_id) {
    for (const auto& p : portals) {
        if (!p.member_id.empty() && p.member_id == member_id) {
            return &p;
        }
    }
    return nullptr;
}

const log::Logger kLog("portals");

// The install checker's one catching boundary per task: a throw is logged and its thread goes on with the next.
// (A Verify whose check threw never calls `done`; the dropped Respond answers the install callback 500.)
template <class Task>
void Guarded(Task&& task) {
    try {
        task();
    } catch (const std::exception& e) {
        DISPATCH_LOG_ERROR(kLog, "install task threw", "what={}", log::Quote(e.what()));
    }
}

bool IsStoreErrc(const Error& error, store::Errc errc) { return error.code == make_error_code(errc); }

Error TokenStoreFailure(const Error& error, std::string_view what, std::string_view member_id) {
    return Error{make_error_code(b24::Errc::kTokenStoreFailed),
                 fmt::format("{} portal={}: {} {}", what, member_id, error.code.message(), error.detail)};
}

// "https://host:port/rest/1/secret/" → "host:port"; "" when the URL is not https://host/...
std::string HostOf(std::string_view url) {
    constexpr std::string_view kScheme = "https://";
    if (url.substr(0, kScheme.size()) != kScheme) {
        return {};
    }
    url.remove_prefix(kScheme.size());
    return std::string(url.substr(0, url.find('/')));
}

}  // namespace

std::string TokenUrl(std::string_view oauth_server) {
    std::string url(oauth_server);
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    return url + "/oauth/token/";
}

PortalClientsOptions ClientOptionsFrom(const Config& config) {
    PortalClientsOptions options;
    options.client_id = config.b24.client_id;
    options.client_secret = config.b24.client_secret;
    options.oauth_server = config.b24.oauth_server;
    options.ca_file = config.b24.ca_file;
    options.portals = config.portals;
    options.rate_limit = config.b24.rate_limit;
    return options;
}

Result<b24::OAuthTokens> StoreTokenStore::Load(const std::string& member_id) {
    auto token = store_.Tokens().Get(member_id);
    if (!token) {
        if (IsStoreErrc(token.error(), store::Errc::kNotFound)) {
            return Fail(b24::Errc::kRefreshFailed, "no oauth tokens stored portal=" + member_id);
        }
        return TokenStoreFailure(token.error(), "load tokens", member_id);
    }
    auto portal = store_.Portals().FindByMemberId(member_id);
    if (!portal) {
        return TokenStoreFailure(portal.error(), "load portal", member_id);
    }
    b24::OAuthTokens out;
    out.access_token = std::move(token->access_token);
    out.refresh_token = std::move(token->refresh_token);
    out.expires_at = token->expires_at;
    out.client_endpoint = portal->client_endpoint;
    out.version = token->version;
    return out;
}

Result<std::int64_t> StoreTokenStore::CompareAndSwap(const std::string& member_id,
                                                     std::int64_t expected_version,
                                                     const b24::OAuthTokens& next) {
    store::Token row;
    row.member_id = member_id;
    if (auto current = store_.Tokens().Get(member_id); current) {
        if (current->version != expected_version) {
            return Fail(
                b24::Errc::kTokenConflict,
                fmt::format("token of portal={} is version {}, not {}", member_id, current->version, expected_version));
        }
        row.scope = std::move(current->scope);
    } else if (!IsStoreErrc(current.error(), store::Errc::kNotFound)) {
        return TokenStoreFailure(current.error(), "read tokens", member_id);
    }
    row.access_token = next.access_token;
    row.refresh_token = next.refresh_token;
    row.expires_at = next.expires_at;
    row.updated_at = clock_.Now();
    auto swapped = store_.Tokens().CompareAndSwap(row, expected_version);
    if (!swapped) {
        if (IsStoreErrc(swapped.error(), store::Errc::kConflict)) {
            return Fail(b24::Errc::kTokenConflict, swapped.error().detail);
        }
        return TokenStoreFailure(swapped.error(), "store tokens", member_id);
    }
    if (!next.client_endpoint.empty()) {
        // The pair is safe already; the endpoint is bookkeeping, so a failure here is logged, not returned.
        auto portal = store_.Portals().FindByMemberId(member_id);
        if (portal && portal->client_endpoint != next.client_endpoint) {
            DISPATCH_LOG_INFO(kLog,
                              "portal endpoint changed",
                              "member_id={} from={} to={}",
                              member_id,
                              log::Quote(portal->client_endpoint),
                              log::Quote(next.client_endpoint));
            portal->client_endpoint = next.client_endpoint;
            portal->updated_at = clock_.Now();
            if (auto up = store_.Portals().Upsert(*portal); !up) {
                DISPATCH_LOG_WARN(kLog,
                                  "portal endpoint not stored",
                                  "member_id={} detail={}",
                                  member_id,
                                  log::Quote(up.error().detail));
            }
        }
    }
    return swapped->version;
}

PortalClients::PortalClients(store::Store& store,
                             const Clock& clock,
                             b24::Sleeper& sleeper,
                             metrics::Registry& registry,
                             PortalClientsOptions options)
    : store_(store),
      clock_(clock),
      sleeper_(sleeper),
      registry_(registry),
      options_(std::move(options)),
      tokens_(store, clock) {}

PortalClients::~PortalClients() = default;

const PortalSettings* PortalClients::Configured(std::string_view member_id) const {
    return FindConfigured(options_.portals, member_id);
}

Result<b24::Client*> PortalClients::For(std::string_view member_id) {
    const std::lock_guard lock(mu_);
    if (const auto it = clients_.find(member_id); it != clients_.end()) {
        return it->second.client.get();
    }
    auto portal = store_.Portals().FindByMemberId(member_id);
    if (!portal) {
        return portal.error();
    }
    if (portal->status != store::PortalStatus::kActive) {
        return Fail(b24::Errc::kPortalBlocked,
                    fmt::format("portal={} is {}", member_id, store::ToString(portal->status)));
    }
    const PortalSettings* configured = Configured(member_id);

    b24::ClientSettings settings;
    settings.portal = portal->member_id;
    settings.bucket = configured != nullptr && configured->enterprise ? b24::EnterprisePlan() : b24::StandardPlan();
    if (!options_.rate_limit) {
        // b24emu --limits off has no bucket to mirror; a bucket that never fills keeps the client's code path.
        settings.bucket.drain_per_second = 1e9;
        settings.bucket.capacity = 1e9;
    }
    settings.retry = options_.retry;
    if (portal->auth_mode == store::AuthMode::kWebhook) {
        if (configured == nullptr || configured->webhook_url.empty()) {
            return Fail(b24::Errc::kInvalidArgument,
                        fmt::format("portal={} uses an incoming webhook the config does not give", member_id));
        }
        settings.auth = b24::AuthMode::kWebhook;
        settings.webhook_url = configured->webhook_url;
    } else {
        settings.auth = b24::AuthMode::kOAuth;
        // rest_url stays empty: the client takes the endpoint StoreTokenStore reads from the Portal row.
        const bool own_app = configured != nullptr && !configured->client_id.empty();
        settings.oauth.client_id = own_app ? configured->client_id : options_.client_id;
        settings.oauth.client_secret = own_app ? configured->client_secret : options_.client_secret;
        settings.oauth.token_url = TokenUrl(own_app ? configured->oauth_server : options_.oauth_server);
        if (settings.oauth.client_id.empty()) {
            return Fail(b24::Errc::kInvalidArgument,
                        fmt::format("portal={} is an OAuth portal but no app client_id is configured", member_id));
        }
    }

    http::ClientOptions transport;
    transport.ca_file = configured != nullptr && !configured->ca_file.empty() ? configured->ca_file : options_.ca_file;
    transport.connect_timeout = options_.connect_timeout;
    transport.request_timeout = options_.request_timeout;
    Entry entry;
    entry.transport = std::make_unique<b24::HttpTransport>(std::move(transport));
    b24::ClientDeps deps{.transport = *entry.transport,
                         .clock = clock_,
                         .sleeper = sleeper_,
                         .tokens = &tokens_,
                         .registry = &registry_,
                         .random_unit = {}};
    entry.client = std::make_unique<b24::Client>(std::move(settings), std::move(deps));
    b24::Client* client = entry.client.get();
    clients_.emplace(std::string(member_id), std::move(entry));
    DISPATCH_LOG_INFO(kLog,
                      "portal client ready",
                      "member_id={} auth={} plan={}",
                      member_id,
                      store::ToString(portal->auth_mode),
                      configured != nullptr && configured->enterprise ? "enterprise" : "standard");
    return client;
}

void PortalClients::CloseIdle() {
    const std::lock_guard lock(mu_);
    for (auto& [member_id, entry] : clients_) {
        entry.transport->CloseIdle();
    }
}

std::size_t PortalClients::Size() const {
    const std::lock_guard lock(mu_);
    return clients_.size();
}

InstallChecker::InstallChecker(PortalClients& clients, metrics::Registry& registry, PortalClientsOptions options)
    : clients_(clients), registry_(registry), options_(std::move(options)) {}

InstallChecker::~InstallChecker() { Stop(); }

void InstallChecker::Stop() { pool_.Stop(); }

void InstallChecker::Verify(intake::EventAuth claimed, std::function<void(Result<intake::EventAuth>)> done) {
    if (!pool_.Submit([this, claimed, done]() { Guarded([&] { done(VerifyNow(claimed)); }); })) {
        done(Fail(intake::Errc::kCheckUnavailable, "install checks are shutting down or too many are waiting"));
    }
}

void InstallChecker::AfterInstall(std::string member_id) {
    if (!pool_.Submit([this, member_id] { Guarded([&] { ReadAppInfo(member_id); }); })) {
        DISPATCH_LOG_WARN(kLog, "app.info read skipped", "portal={} reason=\"busy or stopping\"", member_id);
    }
}

Result<intake::EventAuth> InstallChecker::VerifyNow(const intake::EventAuth& claimed) {
    auto count = [this](const char* outcome) {
        registry_
            .GetCounter("dispatch_install_checks_total",
                        "Install callbacks checked with the OAuth server",
                        {{"outcome", outcome}})
            .Inc();
    };
    const PortalSettings* own = FindConfigured(options_.portals, claimed.member_id);
    if (own != nullptr && own->client_id.empty()) {
        own = nullptr;  // configured without app credentials of its own: the service's credentials apply
    }
    const std::string client_id = own != nullptr ? own->client_id : options_.client_id;
    const std::string client_secret = own != nullptr ? own->client_secret : options_.client_secret;
    const std::string server = own != nullptr ? own->oauth_server : options_.oauth_server;
    if (client_id.empty()) {
        count("refused");
        return Fail(intake::Errc::kInstallNotVerified, "no app credentials apply to member_id " + claimed.member_id);
    }
    http::ClientOptions transport_options;
    transport_options.ca_file = own != nullptr && !own->ca_file.empty() ? own->ca_file : options_.ca_file;
    transport_options.connect_timeout = options_.connect_timeout;
    transport_options.request_timeout = std::chrono::milliseconds(20'000);
    b24::HttpTransport transport(std::move(transport_options));

    // auto-renewal.md: GET {oauth}/oauth/token/?grant_type=refresh_token&client_id&client_secret&refresh_token.
    b24::HttpRequest request;
    request.method = "GET";
    request.content_type.clear();
    request.url = TokenUrl(server) + "?grant_type=refresh_token&client_id=" + b24::PercentEncode(client_id) +
                  "&client_secret=" + b24::PercentEncode(client_secret) +
                  "&refresh_token=" + b24::PercentEncode(claimed.refresh_token);
    auto sent = transport.Send(request);
    if (!sent) {
        count("unavailable");
        return Fail(intake::Errc::kCheckUnavailable, log::MaskUrlSecrets(sent.error().detail));
    }
    auto parsed = json::Parse(sent->body);
    if (sent->status >= 500 || !parsed || !parsed->is_object()) {
        count("unavailable");
        return Fail(intake::Errc::kCheckUnavailable, fmt::format("oauth server http={}", sent->status));
    }
    if (const auto* error = json::Find(*parsed, "error")) {
        count("refused");
        return Fail(
            intake::Errc::kInstallNotVerified,
            fmt::format(
                "oauth server http={} error={}", sent->status, log::Quote(json::ToString(*error).value_or(""))));
    }
    const std::string member_id = json::StringAt(*parsed, "member_id").value_or("");
    auto access = json::StringAt(*parsed, "access_token");
    auto refresh = json::StringAt(*parsed, "refresh_token");
    if (member_id != claimed.member_id || !access || !refresh || access->empty() || refresh->empty()) {
        count("refused");
        return Fail(
            intake::Errc::kInstallNotVerified,
            fmt::format(
                "oauth server vouches for member_id '{}', the callback claimed '{}'", member_id, claimed.member_id));
    }
    intake::EventAuth verified = claimed;
    verified.access_token = std::move(*access);
    verified.refresh_token = std::move(*refresh);
    verified.expires = json::IntAt(*parsed, "expires").value_or(0);
    verified.expires_in = json::IntAt(*parsed, "expires_in").value_or(0);
    verified.scope = json::StringAt(*parsed, "scope").value_or(claimed.scope);
    if (auto endpoint = json::StringAt(*parsed, "client_endpoint"); endpoint && !HostOf(*endpoint).empty()) {
        verified.client_endpoint = *endpoint;
        verified.domain = HostOf(*endpoint);
    }
    if (auto endpoint = json::StringAt(*parsed, "server_endpoint"); endpoint && !endpoint->empty()) {
        verified.server_endpoint = *endpoint;
    }
    count("verified");
    DISPATCH_LOG_INFO(kLog, "install verified", "member_id={} domain={}", verified.member_id, verified.domain);
    return verified;
}

void InstallChecker::ReadAppInfo(const std::string& member_id) {
    auto client = clients_.For(member_id);
    if (!client) {
        DISPATCH_LOG_WARN(
            kLog, "no client after install", "member_id={} detail={}", member_id, log::Quote(client.error().detail));
        return;
    }
    auto info = (*client)->Call("app.info");
    if (!info) {
        DISPATCH_LOG_WARN(kLog,
                          "app.info failed after install",
                          "member_id={} code={} detail={}",
                          member_id,
                          info.error().code.message(),
                          log::Quote(info.error().detail));
        return;
    }
    // CONTRACT §14.25: LICENSE_FAMILY is the only documented plan signal ("ent" for Enterprise).
    const std::string family = json::StringAt(*info, "LICENSE_FAMILY").value_or("");
    const PortalSettings* configured = FindConfigured(options_.portals, member_id);
    const bool configured_enterprise = configured != nullptr && configured->enterprise;
    if ((family == "ent") != configured_enterprise) {
        DISPATCH_LOG_WARN(kLog,
                          "portal plan differs from the config",
                          "member_id={} license_family={} configured={}",
                          member_id,
                          log::Quote(family),
                          configured_enterprise ? "enterprise" : "standard");
    } else {
        DISPATCH_LOG_INFO(kLog, "portal app.info", "member_id={} license_family={}", member_id, log::Quote(family));
    }
}

Result<std::unique_ptr<store::Store>> OpenConfiguredStore(const Config& config, const Clock& clock) {
    if (config.sqlite_path.empty()) {
        store::PostgresOptions pg;
        pg.dsn = config.postgres_dsn;
        return store::OpenPostgresStore(pg, clock);
    }
    store::SqliteOptions sqlite;
    sqlite.path = config.sqlite_path;
    return store::OpenSqliteStore(sqlite, clock);
}

Result<int> RegisterWebhookPortals(store::Store& store, const std::vector<PortalSettings>& portals, TimeMs now) {
    int written = 0;
    for (const auto& p : portals) {
        if (p.member_id.empty() || p.webhook_url.empty() || !p.client_id.empty()) {
            continue;
        }
        const std::string host = HostOf(p.webhook_url);
        if (host.empty()) {
            return Fail(CoreErrc::kInvalid, fmt::format("portal '{}': webhook URL is not https://host/...", p.name));
        }
        store::Portal row;
        if (auto existing = store.Portals().FindByMemberId(p.member_id); existing) {
            row = std::move(*existing);
        } else if (!IsStoreErrc(existing.error(), store::Errc::kNotFound)) {
            return existing.error();
        } else {
            row.installed_at = now;
        }
        row.member_id = p.member_id;
        row.domain = host;
        row.client_endpoint = "https://" + host + "/rest/";
        row.application_token = p.application_token;
        row.auth_mode = store::AuthMode::kWebhook;
        row.status = store::PortalStatus::kActive;
        row.updated_at = now;
        if (auto up = store.Portals().Upsert(row); !up) {
            return up.error();
        }
        ++written;
    }
    return written;
}

}  // namespace dispatch::app
