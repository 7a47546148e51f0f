#pragma once
// dispatchd's configuration: one JSON file read at start-up (no hot reload), validated against
// schemas/config.schema.json (unknown keys are errors; every error names its JSON path), then turned into plain
// Settings. Modules never see JSON. Secrets come from environment variables named in the file and never reach a
// log or an error message.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace dispatch::app {

struct PortalSettings {
    std::string name;
    std::string member_id;
    bool enterprise = false;
    std::string webhook_url;  // secret (from webhook_url_env)
    std::string client_id;
    std::string client_secret;  // secret
    std::string oauth_server = "https://oauth.bitrix.info";
    std::string application_token;  // secret
    std::string ca_file;
};

// How dispatchd calls Bitrix24 (app::PortalClients): the local application's credentials for portals that installed
// it and are not listed under `portals` with their own, where refreshes go, and the CA to trust.
struct B24Settings {
    std::string client_id;
    std::string client_secret;  // secret
    std::string oauth_server = "https://oauth.bitrix.info";
    std::string ca_file;
    // Check each install callback's tokens with the OAuth server before storing them (intake::InstallVerifier).
    bool verify_install = true;
    // false: no client-side leaky bucket (the demo against b24emu --limits off; never a real portal).
    bool rate_limit = true;
};

struct ClockSettings {
    std::string mode = "system";  // system, manual, warp
    std::string start;            // ISO 8601; manual and warp
    double rate = 1.0;            // warp
};

struct FlowsSettings {
    bool enabled = true;
    int reconcile_minutes = 15;
    int retention_days = 30;  // done inbox and outbox rows older than this are deleted
    std::string api_token;    // secret (from api_token_env)
    // Failed work is tried again with a doubling backoff capped at this, until this many tries (flows.retry).
    int retry_max_attempts = 20;
    int retry_max_backoff_minutes = 15;
};

struct Config {
    std::string listen;
    std::string public_url;
    int threads = 2;
    std::string cert_file;
    std::string key_file;
    std::string sqlite_path;   // one of sqlite_path / postgres_dsn is set
    std::string postgres_dsn;  // secret
    std::size_t max_body_bytes = 256 * 1024;
    std::size_t max_header_bytes = 8 * 1024;
    int read_timeout_ms = 15000;
    int write_timeout_ms = 15000;
    int handshake_timeout_ms = 10000;
    int idle_timeout_ms = 60000;
    std::string hook_key;  // secret
    std::vector<PortalSettings> portals;
    B24Settings b24;
    std::string workplace_spec = "workplace/helpdesk.json";
    std::string workplace_sla = "workplace/sla.json";
    ClockSettings clock;
    FlowsSettings flows;
    std::string log_level = "info";
    std::string log_loggers;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// Reads, validates and converts. All problems are reported together in one CoreErrc::kInvalid error whose detail
// is "path: reason; path: reason". A missing environment variable is reported by its name and path, never value.
Result<Config> LoadConfig(const std::string& path, const std::string& schema_text, const EnvLookup& env);
Result<Config> ParseConfig(const std::string& text, const std::string& schema_text, const EnvLookup& env);

}  // namespace dispatch::app
