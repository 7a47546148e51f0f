// dispatchctl: the admin's command line. `provision plan|apply` makes a portal hold the workplace of
// workplace/helpdesk.json (src/provision): the plan shows what differs, apply changes it, every id Bitrix24
// assigned is stored per portal so the service never hard-codes one. `stats export` asks the running dispatchd to
// write the "HelpDesk KPI" items now (src/flows/kpi_export.*) and waits until they are written. `backup` copies the
// live SQLite database through SQLite's backup API (src/store/backup.*). See kUsage for the rules; exit codes are
// for scripts: 0 done, 2 differences found (plan --exit-code) or backup refused, 1 failure (the message names the
// failing call, its code, and what was already done).

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/config.hpp"
#include "app/embedded.hpp"
#include "app/portal_clients.hpp"
#include "b24/client.hpp"
#include "b24/http_transport.hpp"
#include "b24/sleeper.hpp"
#include "core/clock.hpp"
#include "core/errc.hpp"
#include "core/form.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/time_format.hpp"
#include "http/client.hpp"
#include "intake/endpoints.hpp"
#include "provision/layout.hpp"
#include "provision/provisioner.hpp"
#include "store/backup.hpp"
#include "store/errc.hpp"
#include "store/store.hpp"

namespace {

using namespace dispatch;
namespace bj = boost::json;

constexpr int kExitDone = 0;
constexpr int kExitFailure = 1;
constexpr int kExitDrift = 2;
constexpr int kExitRefused = 2;  // backup: the target exists (no --force), or the database is PostgreSQL

const char* const kUsage = R"(usage:
  dispatchctl provision plan|apply --portal <dispatchd config file | incoming-webhook URL>
              [--member <member_id or portal name>] [--spec FILE] [--schema FILE] [--store CONFIG]
              [--public-url URL] [--ca FILE] [--exit-code] [--prune] [--brief]

  plan    reads the portal and lists every object of the spec as create / update / unchanged / drift
          (and delete / keep / manual); changes nothing, stores nothing.
  apply   makes those changes in dependency order (workplace, types, binding, funnels, stages, fields,
          event bindings, robots) in batches of up to 50 calls, one progress line per request, and
          stores the id of every object Bitrix24 assigned (the portal's "layout"). Running it again
          makes no write call; a run cut off midway completes on the next one.

  --portal CONFIG       dispatchd's config file: its store is opened and the portal is --member (or
                        the only portal in the store). An OAuth portal (local application) is called
                        with its stored tokens: apply binds the item events and registers the robots
                        (handlers below the config's public_url). A portal the config lists with an
                        incoming webhook is called through it. The layout is read from and stored in
                        that store.
  --portal URL          https://<portal>/rest/<user>/<secret>/: the incoming webhook itself. Nothing is
                        stored unless --store CONFIG names a dispatchd config: the layout then goes to
                        that config's store under --member (required with --store). An incoming
                        webhook cannot bind events or register robots: the plan prints the outgoing
                        webhook and automation settings the admin creates by hand.
  --member ID           the portal's member_id, or its name in the config's portals[].
  --spec FILE           the workplace spec (default: the config's workplace.spec, else
                        workplace/helpdesk.json).
  --schema FILE         its JSON schema (default: the spec's "$schema", relative to the spec).
  --public-url URL      the service's public base URL (default: the config's public_url).
  --ca FILE             extra CA bundle to trust for the portal (a test portal's CA).
  --exit-code           plan: exit 2 when anything is to create, update, repair or delete.
  --prune               also delete what is not in the spec when it holds data, and recreate fields
                        whose type changed; the plan says what would be lost first.
  --brief               leave unchanged objects out of the listing.

  dispatchctl stats export --config <dispatchd config file> --url <dispatchd base URL>
              [--member <member_id or portal name>] [--from WHEN] [--to WHEN] [--ca FILE] [--wait SECONDS]

  export  asks the running dispatchd to compute the KPIs and upsert one "HelpDesk KPI" item per period
          (month, year) and scope (all, each line, each assignee) for every month and year that meets
          [--from, --to], writing only the fields whose values changed (the service also does this on its
          own schedule). Then waits until the service has written them.

  --config CONFIG       dispatchd's config file: its flows API token (flows.api_token_env) and, without
                        --member, its only portal.
  --url URL             where dispatchd listens, e.g. https://127.0.0.1:8443.
  --from, --to WHEN     an instant (2026-11-01T00:00:00Z) or a date of the portal's calendar: 2026,
                        2026-11 or 2026-11-05 (--to includes that whole period). Default: the current
                        month and the one before.
  --ca FILE             CA bundle that signed dispatchd's certificate (default: the system store).
  --wait SECONDS        how long to wait for the writes (default 120; 0 returns once they are queued).

  dispatchctl dead list|revive --config <dispatchd config file> --url <dispatchd base URL>
              [--member <member_id or portal name>] [--queue inbox|outbox] [--ids 12,15] [--ca FILE]

  list    prints the dead letters: inbox events and outbox calls that used up their attempts, one line each
          with the last error (an outbox call is "superseded" when a later call of the same method for its
          ticket went out; revive leaves those alone).
  revive  gives them another full round of attempts (both queues, or --queue; --ids picks some of one
          queue's). They keep their place in their ticket's order.

  dispatchctl backup --config <dispatchd config file> --to <path> [--force]

  backup  copies the config's SQLite database (database.sqlite.path, relative to the current directory as
          for dispatchd) while dispatchd keeps running, through SQLite's online backup API: a consistent
          copy, checked with integrity_check, written as <path>.partial, fsynced and renamed to <path>. The
          copy is one self-contained file (no -wal beside it). Prints one line:
          backup ok path=... pages=... bytes=... ms=...
          PostgreSQL is not copied here: use pg_dump for PostgreSQL.

  --config CONFIG       dispatchd's config file (its secrets are not needed).
  --to PATH             the copy's file; an existing one is refused (exit 2) unless --force.
  --force               replace an existing PATH.

exit codes: 0 done (or nothing differs), 2 differences found (plan --exit-code) or backup refused (PATH exists
without --force, or the database is PostgreSQL), 1 failure.
)";

struct Args {
    std::string command;  // plan | apply
    std::string portal;
    std::string member;
    std::string spec;
    std::string schema;
    std::string store_config;
    std::string public_url;
    std::string ca_file;
    bool exit_code = false;
    bool prune = false;
    bool brief = false;
};

int Die(const std::string& message) {
    std::cerr << "dispatchctl: " << message << "\n";
    return kExitFailure;
}

std::optional<Args> Parse(int argc, char** argv, std::string& error) {
    Args args;
    std::vector<std::string> rest(argv + 1, argv + argc);
    if (rest.size() < 2 || rest[0] != "provision" || (rest[1] != "plan" && rest[1] != "apply")) {
        error = "expected `provision plan`, `provision apply`, `stats export` or `backup`";
        return std::nullopt;
    }
    args.command = rest[1];
    for (std::size_t i = 2; i < rest.size(); ++i) {
        const std::string& flag = rest[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= rest.size()) {
                error = flag + " needs a value";
                return false;
            }
            out = rest[++i];
            return true;
        };
        bool ok = true;
        if (flag == "--portal") {
            ok = value(args.portal);
        } else if (flag == "--member") {
            ok = value(args.member);
        } else if (flag == "--spec") {
            ok = value(args.spec);
        } else if (flag == "--schema") {
            ok = value(args.schema);
        } else if (flag == "--store") {
            ok = value(args.store_config);
        } else if (flag == "--public-url") {
            ok = value(args.public_url);
        } else if (flag == "--ca") {
            ok = value(args.ca_file);
        } else if (flag == "--exit-code") {
            args.exit_code = true;
        } else if (flag == "--prune") {
            args.prune = true;
        } else if (flag == "--brief") {
            args.brief = true;
        } else {
            error = "unknown option " + flag;
            return std::nullopt;
        }
        if (!ok) {
            return std::nullopt;
        }
    }
    if (args.portal.empty()) {
        error = "--portal is required";
        return std::nullopt;
    }
    return args;
}

bool IsWebhookUrl(std::string_view portal) { return portal.rfind("https://", 0) == 0; }

Result<app::Config> ReadConfig(const std::string& path) {
    return app::LoadConfig(path, std::string(app::kConfigSchema), app::ProcessEnv());
}

// For commands that need few of the config's secrets, whose variables may be unset where an admin runs them: an
// unset variable reads as kUnset instead of failing the whole config. A command checks the ones it needs.
constexpr std::string_view kUnset = "\x01unset";
app::EnvLookup EnvOrUnset() {
    return [process = app::ProcessEnv()](const std::string& name) {
        auto value = process(name);
        return value && !value->empty() ? value : std::optional<std::string>(std::string(kUnset));
    };
}

// --member as given: the member_id of a portal the config names so, else the member_id itself ("" when not given).
std::string NamedMember(const std::string& member, const app::Config& config) {
    for (const auto& p : config.portals) {
        if (!member.empty() && p.name == member && !p.member_id.empty()) {
            return p.member_id;
        }
    }
    return member;
}

// --member as NamedMember reads it; not given: the store's only portal.
Result<std::string> ResolveMember(const std::string& member, const app::Config& config, store::Store& db) {
    if (auto named = NamedMember(member, config); !named.empty()) {
        return named;
    }
    auto portals = db.Portals().List();
    if (!portals) {
        return portals.error();
    }
    if (portals->size() == 1) {
        return portals->front().member_id;
    }
    std::string known;
    for (const auto& p : *portals) {
        known += (known.empty() ? "" : ", ") + p.member_id + " (" + p.domain + ")";
    }
    return dispatch::Fail(CoreErrc::kInvalid,
                          portals->empty() ? std::string("the store knows no portal yet: install the app first, or "
                                                         "list the portal in the config")
                                           : "several portals in the store; choose one with --member: " + known);
}

// The schema next to the spec, as its "$schema" names it.
std::string SchemaFor(const std::string& spec_path) {
    auto doc = json::ParseFile(spec_path);
    const auto ref = doc ? json::StringAt(*doc, "$schema") : std::nullopt;
    if (!ref || ref->empty()) {
        return "schemas/workplace.schema.json";
    }
    return (std::filesystem::path(spec_path).parent_path() / *ref).lexically_normal().string();
}

std::optional<provision::Layout> LoadLayout(store::Store& db, const std::string& member) {
    auto text = db.Settings().Get(member, provision::kLayoutSettingsKey);
    if (!text) {
        if (text.error().code != make_error_code(store::Errc::kNotFound)) {
            std::cerr << "dispatchctl: warning: the stored layout could not be read (" << text.error().detail
                      << "); objects are matched by their codes only\n";
        }
        return std::nullopt;
    }
    auto doc = json::Parse(*text);
    auto layout = doc ? provision::Layout::FromJson(*doc) : Result<provision::Layout>(doc.error());
    if (!layout) {
        std::cerr << "dispatchctl: warning: the stored layout is not usable (" << layout.error().detail
                  << "); objects are matched by their codes only\n";
        return std::nullopt;
    }
    return std::move(*layout);
}

// Where the built-in "Webhook" robot of CRM automation reaches dispatchd for a portal without the local app.
std::string HookUrl(const std::string& public_url,
                    const std::string& hook_key,
                    const std::string& member,
                    const provision::Layout& layout,
                    const provision::RobotSpec& robot) {
    const auto* process = layout.FindProcess(robot.process);
    const auto e = process != nullptr ? process->entity_type_id : 0;
    return fmt::format("{}/b24/hook?member_id={}&secret={}&entity_type_id={}&item_id={{{{ID}}}}&reason={}",
                       public_url,
                       member,
                       intake::HookSecret(hook_key, member),
                       e,
                       robot.code);
}

struct Target {
    std::unique_ptr<store::Store> db;  // when the layout is stored
    std::string member;
    b24::Client* client = nullptr;
    bool app_context = false;
    std::string public_url;
    std::string hook_key;  // secret: printed to the admin only inside the hook URL
    std::string spec_path;
};

// `stats export`: the service owns the outbox (batched, retried, never doubled writes), so the command asks the
// running dispatchd to queue the KPI items and then watches its outbox drain, rather than writing to the portal
// itself.
// Options of the commands that talk to a running dispatchd (stats export, dead): --config, --url, --member, --ca,
// and the command's own text options; `other` takes the rest (nullopt: taken; else what is wrong). Returns the
// exit code when the arguments are wrong (reported), nullopt when they are fine.
struct AdminArgs {
    std::string config_path, url, member, ca_file;
};
using OtherOption = std::function<std::optional<std::string>(const std::string& flag, const std::string& value)>;
std::optional<int> ParseAdminArgs(const std::vector<std::string>& rest,
                                  AdminArgs& args,
                                  std::map<std::string_view, std::string*> text_options,
                                  const OtherOption& other,
                                  const std::string& command) {
    text_options.emplace("--config", &args.config_path);
    text_options.emplace("--url", &args.url);
    text_options.emplace("--member", &args.member);
    text_options.emplace("--ca", &args.ca_file);
    for (std::size_t i = 0; i < rest.size(); ++i) {
        const std::string& flag = rest[i];
        if (i + 1 >= rest.size()) {
            return Die(flag + (flag.rfind("--", 0) == 0 ? " needs a value" : ": unexpected argument"));
        }
        const std::string& value = rest[++i];
        if (auto it = text_options.find(flag); it != text_options.end()) {
            *it->second = value;
        } else if (auto wrong = other ? other(flag, value) : std::optional<std::string>("unknown option " + flag)) {
            return Die(*wrong);
        }
    }
    if (args.config_path.empty() || args.url.empty()) {
        return Die(command + " needs --config and --url");
    }
    while (!args.url.empty() && args.url.back() == '/') {
        args.url.pop_back();
    }
    return std::nullopt;
}

// dispatchd's admin API as the config's token holder, for one portal.
struct AdminApi {
    std::string url;
    std::string member;
    std::unique_ptr<http::Client> client;
    http::Headers auth;

    // `path` answered with 200 and a JSON object; otherwise an error naming the call and dispatchd's reason.
    Result<bj::object> Call(std::string_view method, const std::string& path) {
        auto res = client->Send(method, url + path, {}, auth);
        if (!res) {
            return dispatch::Fail(CoreErrc::kIo, "dispatchd at " + url + " did not answer: " + res.error().detail);
        }
        auto body = json::Parse(res->body);
        const std::string reason =
            body && body->is_object() ? json::StringAt(*body, "error").value_or(res->body) : res->body;
        if (res->status != 200 || !body || !body->is_object()) {
            return dispatch::Fail(CoreErrc::kInvalid,
                                  fmt::format("{} {}: HTTP {}: {}", method, path, res->status, reason));
        }
        return body->as_object();
    }
};

// The config's API token and portal (--member, or the store's only one), ready to call dispatchd. The portals'
// secrets stay with the service, so their variables may be unset here; a variable the command needs and does not
// get is named.
Result<AdminApi> OpenAdminApi(const AdminArgs& args, const std::string& command) {
    auto config = app::LoadConfig(args.config_path, std::string(app::kConfigSchema), EnvOrUnset());
    if (!config) {
        return dispatch::Fail(CoreErrc::kInvalid, "config " + args.config_path + ": " + config.error().detail);
    }
    if (config->flows.api_token == kUnset) {
        auto doc = json::ParseFile(args.config_path);
        const bj::value* flows = doc ? json::Find(*doc, "flows") : nullptr;
        const std::string name = flows != nullptr ? json::StringAt(*flows, "api_token_env").value_or("") : "";
        return dispatch::Fail(CoreErrc::kInvalid,
                              "config " + args.config_path + ": $.flows.api_token_env: environment variable " + name +
                                  " is not set; the " + command + " needs the API token");
    }
    AdminApi api;
    api.url = args.url;
    api.member = NamedMember(args.member, *config);
    if (api.member.empty()) {
        if (config->postgres_dsn == kUnset) {
            return dispatch::Fail(CoreErrc::kInvalid,
                                  "pass --member: the database's DSN variable is not set here, so the store cannot "
                                  "say which portal is meant");
        }
        SystemClock clock;
        auto db = app::OpenConfiguredStore(*config, clock);
        if (!db) {
            return dispatch::Fail(CoreErrc::kIo,
                                  "cannot open the store to find the portal (or pass --member): " + db.error().detail);
        }
        auto resolved = ResolveMember(args.member, *config, **db);
        if (!resolved) {
            return resolved.error();
        }
        api.member = *resolved;
    }
    api.client = std::make_unique<http::Client>(http::ClientOptions{.ca_file = args.ca_file});
    if (!config->flows.api_token.empty()) {
        api.auth.emplace_back("Authorization", "Bearer " + config->flows.api_token);
    }
    return api;
}

int StatsExport(int argc, char** argv) {
    AdminArgs args;
    std::string from, to;
    int wait_seconds = 120;
    const auto bad = ParseAdminArgs(
        std::vector<std::string>(argv + 3, argv + argc),
        args,
        {{"--from", &from}, {"--to", &to}},
        [&](const std::string& flag, const std::string& value) -> std::optional<std::string> {
            if (flag != "--wait") {
                return "unknown option " + flag;
            }
            const auto seconds = json::ParseInt(value);
            wait_seconds = seconds && *seconds >= 0 && *seconds <= 86400 ? static_cast<int>(*seconds) : -1;
            if (wait_seconds < 0) {
                return "--wait needs a number of seconds (>= 0)";
            }
            return std::nullopt;
        },
        "stats export");
    if (bad) {
        return *bad;
    }
    auto api = OpenAdminApi(args, "export");
    if (!api) {
        return Die(api.error().detail);
    }
    const std::string& member = api->member;
    auto call = [&](std::string_view method, const std::string& path) { return api->Call(method, path); };

    std::string query = "member_id=" + form::EscapeComponent(member);
    if (!from.empty()) {
        query += "&from=" + form::EscapeComponent(from);
    }
    if (!to.empty()) {
        query += "&to=" + form::EscapeComponent(to);
    }
    auto queued = call("POST", "/_admin/kpi/export?" + query);
    if (!queued) {
        return Die("stats export: " + queued.error().detail);
    }
    const auto count = [&](std::string_view key) { return json::IntAt(*queued, key).value_or(0); };
    std::cout << fmt::format("kpi items portal={} items={} created={} updated={} unchanged={}\n",
                             member,
                             count("items"),
                             count("created"),
                             count("updated"),
                             count("unchanged"))
              << std::flush;
    if (count("created") + count("updated") == 0 || wait_seconds == 0) {
        return kExitDone;
    }
    // The KPI writes are the portal's outbox actions under one key prefix: once none of them is pending or leased,
    // ours went out (or died, which the dead count says). Other actions of the service do not hold the wait up.
    const std::string progress_path = "/_admin/outbox?member_id=" + form::EscapeComponent(member) + "&prefix=" +
                                      form::EscapeComponent(json::StringAt(*queued, "outbox_prefix").value_or(""));
    const std::int64_t dead_before = count("dead_before");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
    for (;;) {
        auto outbox = call("GET", progress_path);
        if (!outbox) {
            return Die("stats export: " + outbox.error().detail);
        }
        const auto field = [&](std::string_view key) { return json::IntAt(*outbox, key).value_or(0); };
        if (field("pending") + field("leased") == 0) {
            if (field("dead") > dead_before) {
                return Die(fmt::format("stats export: {} write(s) failed for good; see dispatchd's log (kind=outbox)",
                                       field("dead") - dead_before));
            }
            std::cout << "written\n";
            return kExitDone;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return Die(fmt::format("stats export: still {} write(s) queued after {} s; dispatchd keeps retrying them",
                                   field("pending") + field("leased"),
                                   wait_seconds));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

// `dead list|revive`: the dead letters of dispatchd's inbox and outbox, through its admin API (the service holds
// the only writer of an SQLite store, and it wakes its workers after a revive).
int DeadLetters(int argc, char** argv) {
    const std::string action = argc >= 3 ? argv[2] : "";
    if (action != "list" && action != "revive") {
        return Die("dead needs list or revive");
    }
    AdminArgs args;
    std::string queue, ids;
    if (const auto bad = ParseAdminArgs(std::vector<std::string>(argv + 3, argv + argc),
                                        args,
                                        {{"--queue", &queue}, {"--ids", &ids}},
                                        {},
                                        "dead " + action)) {
        return *bad;
    }
    if (!queue.empty() && queue != "inbox" && queue != "outbox") {
        return Die("--queue is inbox or outbox");
    }
    if (!ids.empty() && (action != "revive" || queue.empty())) {
        return Die("--ids goes with revive and one --queue (ids are per queue)");
    }
    auto api = OpenAdminApi(args, "dead " + action);
    if (!api) {
        return Die(api.error().detail);
    }
    const std::string portal = "member_id=" + form::EscapeComponent(api->member);
    for (const std::string q : {"inbox", "outbox"}) {
        if (!queue.empty() && q != queue) {
            continue;
        }
        if (action == "revive") {
            auto revived =
                api->Call("POST", fmt::format("/_admin/{}/revive?{}{}", q, portal, ids.empty() ? "" : "&ids=" + ids));
            if (!revived) {
                return Die("dead revive: " + revived.error().detail);
            }
            std::cout << fmt::format(
                "revived queue={} portal={} count={}\n", q, api->member, json::IntAt(*revived, "revived").value_or(0));
            continue;
        }
        auto listed = api->Call("GET", fmt::format("/_admin/{}/dead?{}&limit=1000", q, portal));
        if (!listed) {
            return Die("dead list: " + listed.error().detail);
        }
        const bj::value* rows = listed->if_contains("dead");
        const std::size_t count = rows != nullptr && rows->is_array() ? rows->as_array().size() : 0;
        // dispatchd answers at most 1000 rows a queue: say so rather than let a full page pass for the whole.
        std::cout << fmt::format(
            "dead queue={} portal={} count={}{}\n", q, api->member, count, count >= 1000 ? " (the first 1000)" : "");
        for (std::size_t i = 0; i < count; ++i) {
            // One line a row, its fields as dispatchd gave them (strings quoted), in dispatchd's order.
            std::string line = "  queue=" + q;
            for (const auto& [key, value] : rows->as_array()[i].as_object()) {
                line += " " + std::string(key) + "=" +
                        (value.is_string() ? log::Quote(std::string(value.as_string())) : json::Dump(value));
            }
            std::cout << line << "\n";
        }
    }
    std::cout << std::flush;
    return kExitDone;
}

// `backup`: copying the .db file by hand while dispatchd runs can miss commits still in the -wal file, so the copy
// goes through SQLite's backup API, which reads the database as SQLite sees it.
int Backup(int argc, char** argv) {
    std::string config_path, to;
    bool force = false;
    std::vector<std::string> rest(argv + 2, argv + argc);
    for (std::size_t i = 0; i < rest.size(); ++i) {
        const std::string& flag = rest[i];
        if (flag == "--force") {
            force = true;
            continue;
        }
        if (flag != "--config" && flag != "--to") {
            return Die("unknown option " + flag);
        }
        if (i + 1 >= rest.size()) {
            return Die(flag + " needs a value");
        }
        (flag == "--config" ? config_path : to) = rest[++i];
    }
    if (config_path.empty() || to.empty()) {
        return Die("backup needs --config and --to");
    }
    // The copy needs no secret; the portals' and the API's variables may be unset where the admin runs this.
    auto config = app::LoadConfig(config_path, std::string(app::kConfigSchema), EnvOrUnset());
    if (!config) {
        return Die("config " + config_path + ": " + config.error().detail);
    }
    if (config->sqlite_path.empty()) {
        std::cerr << "dispatchctl: backup: the database of " << config_path
                  << " is PostgreSQL, which this command does not copy: use pg_dump for PostgreSQL\n";
        return kExitRefused;
    }
    store::BackupOptions options;
    options.force = force;
    const auto started = std::chrono::steady_clock::now();
    auto stats = store::BackupSqlite(config->sqlite_path, to, options);
    if (!stats) {
        if (stats.error().code == make_error_code(store::Errc::kConflict)) {
            std::cerr << "dispatchctl: backup: " << stats.error().detail << "; pass --force to replace it\n";
            return kExitRefused;
        }
        return Die("backup failed: " + stats.error().detail);
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    std::cout << fmt::format(
        "backup ok path={} pages={} bytes={} ms={}\n", log::Quote(to), stats->pages, stats->bytes, ms);
    return kExitDone;
}

int ProvisionMain(int argc, char** argv) {
    std::string error;
    const auto args = Parse(argc, argv, error);
    if (!args) {
        std::cerr << "dispatchctl: " << error << "\n" << kUsage;
        return kExitFailure;
    }

    SystemClock clock;
    b24::SteadySleeper sleeper;
    metrics::Registry registry;
    Target target;
    std::unique_ptr<app::PortalClients> clients;
    std::unique_ptr<b24::HttpTransport> transport;
    std::unique_ptr<b24::Client> own_client;
    std::optional<app::Config> config;

    const bool webhook = IsWebhookUrl(args->portal);
    const std::string config_path = webhook ? args->store_config : args->portal;
    if (!config_path.empty()) {
        auto loaded = ReadConfig(config_path);
        if (!loaded) {
            return Die("config " + config_path + ": " + loaded.error().detail);
        }
        config = std::move(*loaded);
        auto opened = app::OpenConfiguredStore(*config, clock);
        if (!opened) {
            return Die("cannot open the store: " + opened.error().detail);
        }
        target.db = std::move(*opened);
        target.public_url = config->public_url;
        target.hook_key = config->hook_key;
        target.spec_path = config->workplace_spec;
    }
    if (!args->public_url.empty()) {
        target.public_url = args->public_url;
    }
    if (!args->spec.empty()) {
        target.spec_path = args->spec;
    }
    if (target.spec_path.empty()) {
        target.spec_path = "workplace/helpdesk.json";
    }

    if (webhook) {
        if (target.db && args->member.empty()) {
            return Die("--store needs --member: the layout is stored per portal");
        }
        if (target.db) {
            auto member = ResolveMember(args->member, *config, *target.db);
            if (!member) {
                return Die(member.error().detail);
            }
            target.member = *member;
        }
        http::ClientOptions http_options;
        http_options.ca_file = args->ca_file;
        transport = std::make_unique<b24::HttpTransport>(std::move(http_options));
        b24::ClientSettings settings;
        settings.portal = target.member.empty() ? std::string("webhook") : target.member;
        settings.auth = b24::AuthMode::kWebhook;
        settings.webhook_url = args->portal;
        if (settings.webhook_url.back() != '/') {
            settings.webhook_url += '/';
        }
        settings.bucket = b24::StandardPlan();
        own_client = std::make_unique<b24::Client>(
            std::move(settings),
            b24::ClientDeps{.transport = *transport, .clock = clock, .sleeper = sleeper, .registry = &registry});
        target.client = own_client.get();
        target.app_context = false;
    } else {
        auto registered = app::RegisterWebhookPortals(*target.db, config->portals, clock.Now());
        if (!registered) {
            return Die("cannot register the config's webhook portals: " + registered.error().detail);
        }
        auto member = ResolveMember(args->member, *config, *target.db);
        if (!member) {
            return Die(member.error().detail);
        }
        target.member = *member;
        auto portal = target.db->Portals().FindByMemberId(target.member);
        if (!portal) {
            return Die(
                fmt::format("portal {} is not in the store ({}): install the app or list the portal in the "
                            "config",
                            target.member,
                            portal.error().detail));
        }
        auto options = app::ClientOptionsFrom(*config);
        if (!args->ca_file.empty()) {
            options.ca_file = args->ca_file;
        }
        clients = std::make_unique<app::PortalClients>(*target.db, clock, sleeper, registry, std::move(options));
        auto client = clients->For(target.member);
        if (!client) {
            return Die(fmt::format("no client for portal {}: {}", target.member, client.error().detail));
        }
        target.client = *client;
        target.app_context = portal->auth_mode == store::AuthMode::kOAuth;
    }

    const std::string schema_path = args->schema.empty() ? SchemaFor(target.spec_path) : args->schema;
    auto spec = provision::LoadWorkplaceSpec(target.spec_path, schema_path);
    if (!spec) {
        return Die("spec " + target.spec_path + ": " + spec.error().detail);
    }

    std::optional<provision::Layout> stored;
    if (target.db) {
        stored = LoadLayout(*target.db, target.member);
    }

    const bool apply = args->command == "apply";
    provision::ProvisionOptions options;
    options.apply = apply;
    options.plan.app_context = target.app_context;
    options.plan.public_url = target.public_url;
    options.plan.prune = args->prune;
    options.on_plan = [&](const provision::Plan& plan) {
        std::cout << provision::FormatPlan(plan, !args->brief) << std::flush;
    };
    options.progress = [](const std::string& line) { std::cout << "progress: " << line << "\n" << std::flush; };
    if (apply && target.db) {
        options.save_layout = [&](const provision::Layout& layout) -> Result<void> {
            return target.db->Settings().Put(
                target.member, provision::kLayoutSettingsKey, json::Dump(layout.ToJson()), clock.Now());
        };
    }

    std::cout << fmt::format("{} portal={} auth={} spec={}{}\n",
                             apply ? "apply" : "plan",
                             target.member.empty() ? "(incoming webhook)" : target.member,
                             target.app_context ? "oauth" : "webhook",
                             target.spec_path,
                             stored ? " (layout stored earlier: recorded objects that differ show as drift)" : "")
              << std::flush;
    auto outcome = provision::Provision(*target.client, *spec, stored ? &*stored : nullptr, options);
    if (clients) {
        clients->CloseIdle();
    }
    if (transport) {
        transport->CloseIdle();
    }
    if (!outcome) {
        return Die(fmt::format("provision {} failed: {}", args->command, outcome.error().detail));
    }

    if (!target.app_context && !spec->robots.empty() && !target.hook_key.empty() && !target.member.empty() &&
        !target.public_url.empty()) {
        // The exact URL for the built-in "Webhook" robot on each stage that would carry one of our robots.
        for (const auto& robot : spec->robots) {
            if (robot.used_in.empty()) {
                continue;
            }
            std::cout << fmt::format(
                "  by hand: automation rule \"Webhook\" for {} on its stages: {}\n",
                robot.code,
                HookUrl(target.public_url, target.hook_key, target.member, outcome->layout, robot));
        }
    }
    if (apply) {
        std::cout << fmt::format("done: {} requests, {} write calls{}{}\n",
                                 outcome->requests,
                                 outcome->write_calls,
                                 outcome->done.empty() ? "" : "; ",
                                 fmt::join(outcome->done, "; "));
        if (!target.db) {
            std::cout << "layout not stored (no store: pass --store CONFIG --member ID to keep it)\n";
        }
        return kExitDone;
    }
    if (args->exit_code && outcome->plan.HasChanges()) {
        return kExitDrift;
    }
    return kExitDone;
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
            std::cout << kUsage;
            return kExitDone;
        }
    }
    if (std::getenv("DISPATCH_LOG_LEVEL") == nullptr) {
        log::SetLevel(log::Level::kWarn);  // the command prints its own lines; logs are for what goes wrong
    }
    if (argc >= 3 && std::string_view(argv[1]) == "stats" && std::string_view(argv[2]) == "export") {
        return StatsExport(argc, argv);
    }
    if (argc >= 2 && std::string_view(argv[1]) == "dead") {
        return DeadLetters(argc, argv);
    }
    if (argc >= 2 && std::string_view(argv[1]) == "backup") {
        return Backup(argc, argv);
    }
    return ProvisionMain(argc, argv);
}
