// dispatchd: the service. Reads the config, opens the store (migrations run at start), serves the /b24/* intake,
// /healthz and /metrics over HTTPS, and shuts down gracefully on SIGTERM/SIGINT: stop accepting, let in-flight
// requests finish (each acknowledged event is already committed), close the store.

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "app/config.hpp"
#include "app/embedded.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "http/server.hpp"
#include "intake/endpoints.hpp"
#include "store/store.hpp"

namespace {

const dispatch::log::Logger kLog("dispatchd");

int Usage() {
    std::fprintf(stderr, "usage: dispatchd --config FILE\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace dispatch;
    std::string config_path;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else {
            return Usage();
        }
    }
    if (config_path.empty()) {
        return Usage();
    }

    // Block the shutdown signals before any thread starts, so every thread inherits the mask and only the main
    // thread's sigwait sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto config = app::LoadConfig(config_path, std::string(app::kConfigSchema), app::ProcessEnv());
    if (!config) {
        DISPATCH_LOG_ERROR(kLog, "bad config", "path={} detail={}", log::Quote(config_path),
                           log::Quote(config.error().detail));
        return 1;
    }
    log::SetLevel(log::ParseLevel(config->log_level, log::Level::kInfo));
    if (!config->log_loggers.empty()) {
        log::SetLoggerLevels(config->log_loggers);
    }

    SystemClock clock;
    metrics::Registry registry;
    Result<std::unique_ptr<store::Store>> opened = [&] {
        if (config->sqlite_path.empty()) {
            store::PostgresOptions pg;
            pg.dsn = config->postgres_dsn;
            return store::OpenPostgresStore(pg, clock);
        }
        store::SqliteOptions sqlite;
        sqlite.path = config->sqlite_path;
        return store::OpenSqliteStore(sqlite, clock);
    }();
    if (!opened) {
        DISPATCH_LOG_ERROR(kLog, "cannot open store", "detail={}", log::Quote(opened.error().detail));
        return 1;
    }
    std::unique_ptr<store::Store> db = std::move(*opened);
    registry.SetGaugeCallback("dispatch_inbox_depth", "Inbox rows not yet processed", {}, [&db]() -> double {
        auto depth = db->Inbox().Depth();
        return depth ? static_cast<double>(depth->pending + depth->claimed) : -1.0;
    });

    http::Router router(&registry);
    http::AddStandardRoutes(router, registry);
    intake::EndpointOptions intake_options;
    intake_options.hook_key = config->hook_key;
    intake::Endpoints endpoints(*db, clock, registry, intake_options);
    endpoints.Register(router);

    http::ServerOptions options;
    options.listen = config->listen;
    options.cert_file = config->cert_file;
    options.key_file = config->key_file;
    options.threads = config->threads;
    options.max_body_bytes = config->max_body_bytes;
    options.max_header_bytes = config->max_header_bytes;
    options.header_timeout = std::chrono::milliseconds(config->read_timeout_ms);
    options.body_timeout = std::chrono::milliseconds(config->read_timeout_ms);
    options.write_timeout = std::chrono::milliseconds(config->write_timeout_ms);
    options.handshake_timeout = std::chrono::milliseconds(config->handshake_timeout_ms);
    options.idle_timeout = std::chrono::milliseconds(config->idle_timeout_ms);
    http::Server server(options, std::move(router));
    if (auto started = server.Start(); !started) {
        DISPATCH_LOG_ERROR(kLog, "cannot start server", "listen={} detail={}", config->listen,
                           log::Quote(started.error().detail));
        return 1;
    }
    const std::string host = config->listen.substr(0, config->listen.rfind(':'));
    // One JSON line on stdout: scripts and tests that asked for port 0 learn where we listen.
    std::printf("{\"listen\":\"%s:%d\",\"pid\":%d}\n", host.c_str(), server.Port(), static_cast<int>(getpid()));
    std::fflush(stdout);
    DISPATCH_LOG_INFO(kLog, "started", "listen={}:{} store={} portals={}", host, server.Port(), db->Backend(),
                      config->portals.size());

    int sig = 0;
    sigwait(&signals, &sig);
    DISPATCH_LOG_INFO(kLog, "stopping", "signal={}", sig);
    server.Stop();
    db->Close();
    DISPATCH_LOG_INFO(kLog, "stopped", "signal={}", sig);
    return 0;
}
