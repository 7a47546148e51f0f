#include "app/config.hpp"

#include <cstdlib>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/json_schema.hpp"

namespace dispatch::app {
namespace bj = boost::json;
namespace {

std::string Str(const bj::value& v, std::string_view key, std::string fallback = {}) {
    return json::StringAt(v, key).value_or(std::move(fallback));
}

template <class T>
T IntOr(const bj::value& v, std::string_view key, T fallback) {
    const auto i = json::IntAt(v, key);
    return i ? static_cast<T>(*i) : fallback;
}

// Reads the secret named by `key` (an *_env field) from the environment; records a problem when it is unset.
std::string Secret(const bj::value& obj,
                   std::string_view key,
                   const std::string& path,
                   const EnvLookup& env,
                   std::vector<std::string>& problems) {
    const auto name = json::StringAt(obj, key);
    if (!name) {
        return {};
    }
    auto value = env(*name);
    if (!value || value->empty()) {
        problems.push_back(json::PathKey(path, key) + ": environment variable " + *name + " is not set");
        return {};
    }
    return *value;
}

}  // namespace

EnvLookup ProcessEnv() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        return v ? std::optional<std::string>(v) : std::nullopt;
    };
}

Result<Config> ParseConfig(const std::string& text, const std::string& schema_text, const EnvLookup& env) {
    auto schema_json = json::Parse(schema_text);
    if (!schema_json) {
        return Fail(CoreErrc::kInvalid, "config schema: " + schema_json.error().detail);
    }
    auto schema = json::Schema::Load(*schema_json);
    if (!schema) {
        return schema.error();
    }
    auto doc = json::Parse(text);
    if (!doc) {
        return Fail(CoreErrc::kInvalid, "config: " + doc.error().detail);
    }
    if (auto checked = schema->Check(*doc); !checked) {
        return Fail(CoreErrc::kInvalid, "config: " + checked.error().detail);
    }
    const bj::value& root = *doc;
    std::vector<std::string> problems;
    Config c;
    c.listen = Str(root, "listen");
    c.public_url = Str(root, "public_url");
    c.threads = IntOr(root, "threads", c.threads);
    const bj::value& tls = root.at("tls");
    c.cert_file = Str(tls, "cert");
    c.key_file = Str(tls, "key");
    const bj::value& db = root.at("database");
    if (const auto* sqlite = json::Find(db, "sqlite")) {
        c.sqlite_path = Str(*sqlite, "path");
    }
    if (const auto* pg = json::Find(db, "postgres")) {
        c.postgres_dsn = Secret(*pg, "dsn_env", "$.database.postgres", env, problems);
    }
    if (const auto* limits = json::Find(root, "limits")) {
        c.max_body_bytes = IntOr(*limits, "max_body_bytes", c.max_body_bytes);
        c.max_header_bytes = IntOr(*limits, "max_header_bytes", c.max_header_bytes);
        c.read_timeout_ms = IntOr(*limits, "read_timeout_ms", c.read_timeout_ms);
        c.write_timeout_ms = IntOr(*limits, "write_timeout_ms", c.write_timeout_ms);
        c.handshake_timeout_ms = IntOr(*limits, "handshake_timeout_ms", c.handshake_timeout_ms);
        c.idle_timeout_ms = IntOr(*limits, "idle_timeout_ms", c.idle_timeout_ms);
    }
    c.hook_key = Secret(root, "hook_key_env", "$", env, problems);
    if (const auto* portals = json::Find(root, "portals")) {
        std::size_t i = 0;
        for (const auto& p : portals->get_array()) {
            const std::string path = json::PathIndex("$.portals", i++);
            PortalSettings s;
            s.name = Str(p, "name");
            s.member_id = Str(p, "member_id");
            s.enterprise = Str(p, "plan", "standard") == "enterprise";
            s.webhook_url = Secret(p, "webhook_url_env", path, env, problems);
            s.application_token = Secret(p, "application_token_env", path, env, problems);
            s.ca_file = Str(p, "ca_file");
            if (const auto* oauth = json::Find(p, "oauth")) {
                s.client_id = Str(*oauth, "client_id");
                s.client_secret = Secret(*oauth, "client_secret_env", json::PathKey(path, "oauth"), env, problems);
                s.oauth_server = Str(*oauth, "oauth_server", s.oauth_server);
            }
            for (const auto& other : c.portals) {
                if (other.name == s.name) {
                    problems.push_back(json::PathKey(path, "name") + ": duplicate portal name '" + s.name + "'");
                }
            }
            c.portals.push_back(std::move(s));
        }
    }
    if (const auto* b24 = json::Find(root, "b24")) {
        c.b24.ca_file = Str(*b24, "ca_file");
        if (const auto* verify = json::Find(*b24, "verify_install"); verify != nullptr && verify->is_bool()) {
            c.b24.verify_install = verify->get_bool();
        }
        if (const auto* rate = json::Find(*b24, "rate_limit"); rate != nullptr && rate->is_bool()) {
            c.b24.rate_limit = rate->get_bool();
        }
        if (const auto* oauth = json::Find(*b24, "oauth")) {
            c.b24.client_id = Str(*oauth, "client_id");
            c.b24.client_secret = Secret(*oauth, "client_secret_env", "$.b24.oauth", env, problems);
            c.b24.oauth_server = Str(*oauth, "oauth_server", c.b24.oauth_server);
        }
    }
    if (const auto* wp = json::Find(root, "workplace")) {
        c.workplace_spec = Str(*wp, "spec", c.workplace_spec);
        c.workplace_sla = Str(*wp, "sla", c.workplace_sla);
    }
    if (const auto* clock = json::Find(root, "clock")) {
        c.clock.mode = Str(*clock, "mode", c.clock.mode);
        c.clock.start = Str(*clock, "start");
        if (const auto* rate = json::Find(*clock, "rate"); rate != nullptr && rate->is_number()) {
            c.clock.rate = rate->to_number<double>();
        }
        if (c.clock.mode != "system" && c.clock.start.empty()) {
            problems.push_back("$.clock.start: a manual or warped clock needs a start instant");
        }
    }
    if (const auto* flows = json::Find(root, "flows")) {
        if (const auto* enabled = json::Find(*flows, "enabled"); enabled != nullptr && enabled->is_bool()) {
            c.flows.enabled = enabled->as_bool();
        }
        c.flows.reconcile_minutes =
            static_cast<int>(json::IntAt(*flows, "reconcile_minutes").value_or(c.flows.reconcile_minutes));
        c.flows.retention_days =
            static_cast<int>(json::IntAt(*flows, "retention_days").value_or(c.flows.retention_days));
        if (const auto* retry = json::Find(*flows, "retry")) {
            c.flows.retry_max_attempts =
                static_cast<int>(json::IntAt(*retry, "max_attempts").value_or(c.flows.retry_max_attempts));
            c.flows.retry_max_backoff_minutes = static_cast<int>(
                json::IntAt(*retry, "max_backoff_minutes").value_or(c.flows.retry_max_backoff_minutes));
        }
        if (json::Find(*flows, "api_token_env") != nullptr) {
            c.flows.api_token = Secret(*flows, "api_token_env", "$.flows", env, problems);
        }
    }
    if (const auto* lg = json::Find(root, "log")) {
        c.log_level = Str(*lg, "level", c.log_level);
        c.log_loggers = Str(*lg, "loggers");
    }
    if (!problems.empty()) {
        std::string detail = "config: ";
        for (std::size_t i = 0; i < problems.size(); ++i) {
            detail += (i ? "; " : "") + problems[i];
        }
        return Fail(CoreErrc::kInvalid, std::move(detail));
    }
    return c;
}

Result<Config> LoadConfig(const std::string& path, const std::string& schema_text, const EnvLookup& env) {
    auto text = json::ReadFile(path);
    if (!text) {
        return text.error();
    }
    return ParseConfig(*text, schema_text, env);
}

}  // namespace dispatch::app
