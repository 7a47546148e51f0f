// dispatchd: the service. Reads the config, opens the store (migrations run at start), serves the /b24/* intake,
// /healthz and /metrics over HTTPS, holds one Bitrix24 client per portal, and shuts down gracefully on
// SIGTERM/SIGINT: stop accepting, let in-flight requests finish (each acknowledged event is already committed),
// finish the install checks, close the store; reloads the TLS certificate on SIGHUP. Each subsystem is set up by
// one function below; main() only orders them (construction order, and the reverse for shutdown).

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#ifdef DISPATCH_MIMALLOC
#include <mimalloc.h>
#endif

#include "app/config.hpp"
#include "app/embedded.hpp"
#include "app/flows_service.hpp"
#include "app/portal_clients.hpp"
#include "b24/sleeper.hpp"
#include "core/clock.hpp"
#include "core/time_format.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/work_pool.hpp"
#include "http/server.hpp"
#include "intake/endpoints.hpp"
#include "store/store.hpp"

namespace {

using namespace dispatch;

const log::Logger kLog("dispatchd");

struct Args {
    std::string config_path;
    bool check = false;  // --check: validate what a start would load, then exit
};

std::optional<Args> ParseArgs(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            args.config_path = argv[++i];
        } else if (std::strcmp(argv[i], "--check") == 0) {
            args.check = true;
        } else {
            return std::nullopt;
        }
    }
    if (args.config_path.empty()) {
        return std::nullopt;
    }
    return args;
}

// Blocks the signals main() waits for before any thread starts, so every thread inherits the mask and only the
// main thread's sigwait sees them: SIGTERM and SIGINT stop, SIGHUP reloads the certificate.
sigset_t BlockServiceSignals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
}

std::optional<app::Config> LoadConfig(const std::string& path) {
    auto config = app::LoadConfig(path, std::string(app::kConfigSchema), app::ProcessEnv());
    if (!config) {
        DISPATCH_LOG_ERROR(
            kLog, "bad config", "path={} detail={}", log::Quote(path), log::Quote(config.error().detail));
        return std::nullopt;
    }
    log::SetLevel(log::ParseLevel(config->log_level, log::Level::kInfo));
    if (!config->log_loggers.empty()) {
        log::SetLoggerLevels(config->log_loggers);
    }
    return std::move(*config);
}

std::unique_ptr<store::Store> OpenStore(const app::Config& config, const Clock& clock) {
    Result<std::unique_ptr<store::Store>> opened = app::OpenConfiguredStore(config, clock);
    if (!opened) {
        DISPATCH_LOG_ERROR(kLog, "cannot open store", "detail={}", log::Quote(opened.error().detail));
        return nullptr;
    }
    std::unique_ptr<store::Store> db = std::move(*opened);
    auto registered = app::RegisterWebhookPortals(*db, config.portals, clock.Now());
    if (!registered) {
        DISPATCH_LOG_ERROR(
            kLog, "cannot register configured portals", "detail={}", log::Quote(registered.error().detail));
        return nullptr;
    }
    return db;
}

// A queue's depth by state, from one store query per scrape; -1 for each state when the store cannot say.
template <class Depth>
void RegisterDepthGauges(metrics::Registry& registry,
                         const char* name,
                         const char* help,
                         std::function<Result<Depth>()> read,
                         std::vector<std::pair<std::string, std::int64_t Depth::*>> states) {
    registry.SetGaugeFamilyCallback(name, help, "state", [read, states = std::move(states)] {
        const auto depth = read();
        std::vector<std::pair<std::string, double>> values;
        for (const auto& [state, member] : states) {
            values.emplace_back(state, depth ? static_cast<double>((*depth).*member) : -1.0);
        }
        return values;
    });
}

// The store's side of /metrics, read at scrape time: the inbox and outbox depths by state and the group-commit
// counters. (The b24 clients count their calls, errors and bucket waits in the same registry as they go.)
void RegisterStoreMetrics(metrics::Registry& registry, store::Store& db) {
    RegisterDepthGauges<store::InboxDepth>(
        registry,
        "dispatch_inbox_depth",
        "Inbox rows by state (done rows are not counted)",
        [&db] { return db.Inbox().Depth(); },
        {{"pending", &store::InboxDepth::pending},
         {"claimed", &store::InboxDepth::claimed},
         {"dead", &store::InboxDepth::dead}});
    // Dead actions are calls Bitrix24 never got: an alert on them, then /_admin/outbox/dead, is how anyone learns.
    RegisterDepthGauges<store::OutboxDepth>(
        registry,
        "dispatch_outbox_depth",
        "Outbox actions by state (done ones are not counted)",
        [&db] { return db.Outbox().Depth(); },
        {{"pending", &store::OutboxDepth::pending},
         {"leased", &store::OutboxDepth::leased},
         {"dead", &store::OutboxDepth::dead}});
    using StatPick = std::uint64_t (*)(const store::GroupCommitStats&);
    const std::tuple<const char*, const char*, StatPick> stats[] = {
        {"dispatch_inbox_commit_transactions",
         "Inbox append transactions committed since start",
         [](const store::GroupCommitStats& s) { return s.transactions; }},
        {"dispatch_inbox_commit_appends",
         "Inbox appends answered since start (stored, duplicate or failed)",
         [](const store::GroupCommitStats& s) { return s.appends; }},
        {"dispatch_inbox_commit_duplicates",
         "Inbox appends recognised as duplicates since start",
         [](const store::GroupCommitStats& s) { return s.duplicates; }},
        {"dispatch_inbox_commit_largest_batch",
         "Most appends one transaction has carried since start",
         [](const store::GroupCommitStats& s) { return s.largest_batch; }},
    };
    // Gauges read at scrape time (the registry has no callback counters); the first three only ever grow.
    for (const auto& [name, help, pick] : stats) {
        registry.SetGaugeCallback(
            name, help, {}, [&db, pick = pick]() -> double { return static_cast<double>(pick(db.Inbox().Stats())); });
    }
}

intake::EndpointOptions IntakeOptions(const app::Config& config, app::InstallChecker& checker) {
    intake::EndpointOptions options;
    options.hook_key = config.hook_key;
    bool credentials = !config.b24.client_id.empty();
    for (const auto& p : config.portals) {
        credentials = credentials || !p.client_id.empty();
    }
    if (config.b24.verify_install && credentials) {
        options.verify_install = [&checker](intake::EventAuth claimed,
                                            std::function<void(Result<intake::EventAuth>)> done) {
            checker.Verify(std::move(claimed), std::move(done));
        };
    } else {
        // Documented in intake/endpoints.cpp (OnInstall): without app credentials nothing can vouch for a callback.
        DISPATCH_LOG_WARN(kLog,
                          "install callbacks are trusted on first use",
                          "reason={}",
                          credentials ? "b24.verify_install=false" : "no app credentials configured");
    }
    options.on_installed = [&checker](const std::string& member_id) { checker.AfterInstall(member_id); };
    return options;
}

http::ServerOptions ServerOptions(const app::Config& config) {
    http::ServerOptions options;
    options.listen = config.listen;
    options.cert_file = config.cert_file;
    options.key_file = config.key_file;
    options.threads = config.threads;
    options.max_body_bytes = config.max_body_bytes;
    options.max_header_bytes = config.max_header_bytes;
    options.header_timeout = std::chrono::milliseconds(config.read_timeout_ms);
    options.body_timeout = std::chrono::milliseconds(config.read_timeout_ms);
    options.write_timeout = std::chrono::milliseconds(config.write_timeout_ms);
    options.handshake_timeout = std::chrono::milliseconds(config.handshake_timeout_ms);
    options.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
    return options;
}

// The service clock: the wall clock, or for tests and the demo a manual one (moved by POST /_admin/clock) or a
// warped one. Only the flows, the intake stamps and the API read it; the Bitrix24 clients keep the wall clock, since
// a portal's rate limit runs in real time whatever the simulated date.
struct ServiceClock {
    std::unique_ptr<Clock> clock;
    ManualClock* manual = nullptr;
};

std::optional<ServiceClock> MakeClock(const app::Config& config) {
    ServiceClock out;
    if (config.clock.mode == "system") {
        out.clock = std::make_unique<SystemClock>();
        return out;
    }
    auto start = ParseIso8601(config.clock.start);
    if (!start) {
        DISPATCH_LOG_ERROR(kLog, "bad config", "detail={}", log::Quote("clock.start is not an ISO 8601 instant"));
        return std::nullopt;
    }
    if (config.clock.mode == "manual") {
        auto manual = std::make_unique<ManualClock>(*start);
        out.manual = manual.get();
        out.clock = std::move(manual);
    } else {
        out.clock = std::make_unique<WarpedClock>(*start, config.clock.rate);
    }
    DISPATCH_LOG_WARN(kLog, "simulated clock", "mode={} start={}", config.clock.mode, config.clock.start);
    return out;
}

flows::RuntimeOptions FlowsOptions(const app::Config& config, const ServiceClock& clock) {
    flows::RuntimeOptions options;
    options.reconcile_every = static_cast<TimeMs>(config.flows.reconcile_minutes) * kMinuteMs;
    options.retention = static_cast<TimeMs>(config.flows.retention_days) * kDayMs;
    options.retry.max_attempts = config.flows.retry_max_attempts;
    options.retry.max_backoff = static_cast<TimeMs>(config.flows.retry_max_backoff_minutes) * kMinuteMs;
    if (clock.manual != nullptr) {
        // A manual clock moves only when told: timers wait for POST /_admin/clock, which wakes the runtime.
        options.real_delay = [](TimeMs) -> std::optional<std::chrono::milliseconds> { return std::nullopt; };
    } else if (config.clock.mode == "warp" && config.clock.rate > 0) {
        options.real_delay = [rate = config.clock.rate](TimeMs delay) -> std::optional<std::chrono::milliseconds> {
            return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay) / rate));
        };
    }
    return options;
}

int Usage() {
    std::fprintf(stderr, "usage: dispatchd --config FILE [--check]\n");
    return 2;
}

// `dispatchd --config FILE --check`, like `nginx -t`: loads what a start would (the config is already loaded and
// checked; then the TLS pair and the SLA policy) without opening the store or listening, one line per part on
// stdout. Exit 0 when a start would get past them (a missing production calendar is a warning), 1 otherwise. An
// operator runs it before restarting on an edited file: a failed start refuses every event until it is fixed.
int Check(const std::string& config_path, const app::Config& config, TimeMs now) {
    bool ok = true;
    std::printf("check config=ok path=%s\n", log::Quote(config_path).c_str());
    if (auto tls = http::CheckCertificate(ServerOptions(config)); tls) {
        std::printf("check tls=ok cert=%s not_after=%s\n",
                    log::Quote(config.cert_file).c_str(),
                    *tls ? FormatIso8601(**tls * kSecondMs).c_str() : "unknown");
    } else {
        ok = false;
        std::printf("check tls=error detail=%s\n", log::Quote(tls.error().detail).c_str());
    }
    if (config.flows.enabled) {
        if (auto policy = app::CheckSlaPolicy(config.workplace_sla, now); policy) {
            std::printf("check sla=ok path=%s calendars=%d templates=%d\n",
                        log::Quote(config.workplace_sla).c_str(),
                        policy->calendars,
                        policy->templates);
            for (const auto& m : policy->missing) {
                std::printf("check production_calendar=missing calendar=%s year=%d covered=%s provisional=%s\n",
                            m.calendar.c_str(),
                            m.year,
                            m.covered.c_str(),
                            m.provisional.c_str());
            }
        } else {
            ok = false;
            std::printf("check sla=error detail=%s\n", log::Quote(policy.error().detail).c_str());
        }
    }
    std::printf("check result=%s\n", ok ? "ok" : "failed");
    return ok ? 0 : 1;
}

// Which malloc serves the process: the build links mimalloc unless sanitizers bring their own. Naming it in the
// start line also keeps the link to libmimalloc (nothing else refers to one of its symbols).
std::string Allocator() {
#ifdef DISPATCH_MIMALLOC
    return fmt::format("mimalloc-{}", mi_version());
#else
    return "libc";
#endif
}

}  // namespace

int main(int argc, char** argv) {
    const auto args = ParseArgs(argc, argv);
    if (!args) {
        return Usage();
    }
    sigset_t signals = BlockServiceSignals();
    const auto config = LoadConfig(args->config_path);
    if (!config) {
        if (args->check) {
            std::printf("check config=error path=%s\ncheck result=failed\n", log::Quote(args->config_path).c_str());
        }
        return 1;
    }

    SystemClock wall;
    auto service_clock = MakeClock(*config);
    if (!service_clock) {
        return 1;
    }
    const Clock& clock = *service_clock->clock;
    if (args->check) {
        return Check(args->config_path, *config, clock.Now());
    }
    metrics::Registry registry;
    std::unique_ptr<store::Store> db = OpenStore(*config, clock);
    if (!db) {
        return 1;
    }
    RegisterStoreMetrics(registry, *db);

    b24::SteadySleeper sleeper;
    app::PortalClients clients(*db, wall, sleeper, registry, app::ClientOptionsFrom(*config));
    app::InstallChecker checker(clients, registry, app::ClientOptionsFrom(*config));

    // Blocking routes (the store behind /metrics, stats reports, admin calls that wait on a portal) run here, never
    // on an io thread. Two threads: a reconciliation waiting on a portal's budget does not hold up a scrape. Beyond
    // 64 waiting the answer is a 503 at once, not a queue that answers minutes later.
    WorkPool offload("http-offload", 2, 64);
    http::Router router(&registry);
    router.SetOffload([&offload](std::function<void()> work) { return offload.Submit(std::move(work)); });
    http::AddStandardRoutes(router, registry);
    // The flows start after the intake is routed; until then a stored event just waits for the worker's first look.
    std::atomic<flows::Runtime*> wake_flows{nullptr};
    intake::EndpointOptions intake_options = IntakeOptions(*config, checker);
    intake_options.on_stored = [&wake_flows] {
        if (auto* runtime = wake_flows.load()) {
            runtime->Wake();
        }
    };
    intake::Endpoints endpoints(*db, clock, registry, std::move(intake_options));
    endpoints.Register(router);
    std::unique_ptr<app::FlowsService> flows;
    if (config->flows.enabled) {
        auto created = app::FlowsService::Create(
            config->workplace_sla, *db, clock,
            [&clients](std::string_view member_id) { return clients.For(member_id); },
            FlowsOptions(*config, *service_clock));
        if (!created) {
            DISPATCH_LOG_ERROR(kLog, "cannot start the flows", "sla={} detail={}", config->workplace_sla,
                               log::Quote(created.error().detail));
            return 1;
        }
        flows = std::move(*created);
        flows::ApiOptions api;
        api.api_token = config->flows.api_token;
        api.manual_clock = service_clock->manual;
        flows->AddRoutes(router, api);
        // Alert when `dispatch_sla_production_calendar_until_seconds - time()` gets short: next year's holidays are
        // a data change (workplace/sla.json), published by the government in the autumn. Computed once, at start.
        registry.SetGaugeFamilyCallback(
            "dispatch_sla_production_calendar_until_seconds",
            "Jan 1 of each calendar's first year from now on without a production calendar (Unix seconds)",
            "calendar",
            [coverage = flows->ProductionCoverage(clock.Now())] { return coverage; });
        // The server, whose threads scrape, stops before `flows` is destroyed.
        registry.SetGaugeFamilyCallback("dispatch_retention_deleted_rows",
                                        "Done rows deleted by the retention job since start (flows.retention_days)",
                                        "queue",
                                        [runtime = &flows->Runtime()] {
                                            const auto [in, out] = runtime->PurgedSoFar();
                                            return std::vector<std::pair<std::string, double>>{
                                                {"inbox", static_cast<double>(in)},
                                                {"outbox", static_cast<double>(out)}};
                                        });
    }
    http::Server server(ServerOptions(*config), std::move(router));
    if (auto started = server.Start(); !started) {
        DISPATCH_LOG_ERROR(
            kLog, "cannot start server", "listen={} detail={}", config->listen, log::Quote(started.error().detail));
        return 1;
    }
    if (flows) {
        flows->Start();
        wake_flows = &flows->Runtime();
    }
    const std::string host = config->listen.substr(0, config->listen.rfind(':'));
    // One JSON line on stdout: scripts and tests that asked for port 0 learn where we listen.
    std::printf("{\"listen\":\"%s:%d\",\"pid\":%d}\n", host.c_str(), server.Port(), static_cast<int>(getpid()));
    std::fflush(stdout);
    DISPATCH_LOG_INFO(kLog,
                      "started",
                      "listen={}:{} store={} portals={} allocator={}",
                      host,
                      server.Port(),
                      db->Backend(),
                      config->portals.size(),
                      Allocator());

    int sig = 0;
    for (sigwait(&signals, &sig); sig == SIGHUP; sigwait(&signals, &sig)) {
        // A renewed certificate (certbot's deploy hook, say) without a restart: a restart would refuse the events
        // Bitrix24 sends meanwhile, and it never sends them again.
        if (auto reloaded = server.ReloadCertificate(); !reloaded) {
            DISPATCH_LOG_ERROR(kLog,
                               "certificate reload failed, the served one stays",
                               "detail={}",
                               log::Quote(reloaded.error().detail));
        }
    }
    DISPATCH_LOG_INFO(kLog, "stopping", "signal={}", sig);
    server.Stop();   // no new requests; in-flight ones answered (a respond after this is dropped)
    checker.Stop();  // queued install checks finish; they call into `endpoints`, which is still alive
    offload.Stop();  // what is queued runs (its answers are dropped) while the flows it reads are still there
    if (flows) {
        wake_flows = nullptr;
        flows->Stop();  // the unit of work in hand commits or is redone after restart; nothing half-written
    }
    clients.CloseIdle();
    db->Close();
    DISPATCH_LOG_INFO(kLog, "stopped", "signal={}", sig);
    return 0;
}
