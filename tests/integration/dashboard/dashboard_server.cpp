// A stand-in for dispatchd until the flows serve statistics from the store: web::Routes over real HTTPS, with
// FoldResults folded per request from a seeded help desk (seed.hpp) at a fixed "now". Prints one JSON line,
// {"listen":"127.0.0.1:PORT"}, then serves until SIGTERM or SIGINT.
//
//   dashboard_seed_server --cert server.pem --key server.key --sla workplace/sla.json
//                         --schema schemas/sla.schema.json [--tickets 400] [--seed 7]
//                         [--now 2026-04-01T12:00:00+03:00] [--member m1] [--listen 127.0.0.1:0]
//                         [--api-token TOKEN]

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "core/errc.hpp"
#include "core/time_format.hpp"
#include "http/server.hpp"
#include "seed.hpp"
#include "stats/zone.hpp"
#include "web/routes.hpp"

int main(int argc, char** argv) {
    using namespace dispatch;
    std::map<std::string, std::string> args{{"--tickets", "400"},
                                            {"--seed", "7"},
                                            {"--now", "2026-04-01T12:00:00+03:00"},
                                            {"--member", "m1"},
                                            {"--listen", "127.0.0.1:0"}};
    for (int i = 1; i + 1 < argc; i += 2) {
        args[argv[i]] = argv[i + 1];
    }
    for (const char* required : {"--cert", "--key", "--sla", "--schema"}) {
        if (args.count(required) == 0) {
            std::fprintf(stderr, "dashboard_seed_server: %s is required\n", required);
            return 2;
        }
    }
    const auto now = ParseIso8601(args["--now"]);
    if (!now) {
        std::fprintf(stderr, "dashboard_seed_server: bad --now\n");
        return 2;
    }
    auto seed =
        dashboard::MakeSeed(args["--sla"], args["--schema"], std::stoi(args["--tickets"]), std::stoull(args["--seed"]));
    if (!seed) {
        std::fprintf(stderr, "dashboard_seed_server: %s\n", seed.error().detail.c_str());
        return 1;
    }
    auto shared_seed = std::make_shared<const dashboard::Seed>(std::move(*seed));
    auto zone = stats::Zone::Locate(stats::PortalZone(shared_seed->config.policy, shared_seed->calendars));
    if (!zone) {
        std::fprintf(stderr, "dashboard_seed_server: %s\n", zone.error().detail.c_str());
        return 1;
    }

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    ManualClock clock(*now);
    const std::string member = args["--member"];
    web::FoldSource source = [shared_seed, member](std::string_view member_id,
                                                   TimeMs at) -> Result<std::vector<sla::FoldResult>> {
        if (member_id != member) {
            return Fail(CoreErrc::kNotFound, "unknown portal");
        }
        return dashboard::FoldSeed(*shared_seed, at);
    };
    // The policy lives inside the seed, which the aliasing shared_ptr keeps alive.
    std::shared_ptr<const sla::Policy> policy(shared_seed, &shared_seed->config.policy);
    web::Options options;
    options.default_member_id = member;
    options.api_token = args["--api-token"];
    web::Routes routes(source, policy, clock, *zone, options);

    metrics::Registry registry;
    http::Router router(&registry);
    routes.Register(router);
    http::AddStandardRoutes(router, registry);
    http::ServerOptions server_options;
    server_options.listen = args["--listen"];
    server_options.cert_file = args["--cert"];
    server_options.key_file = args["--key"];
    server_options.threads = 2;
    http::Server server(server_options, std::move(router));
    if (auto started = server.Start(); !started) {
        std::fprintf(stderr, "dashboard_seed_server: %s\n", started.error().detail.c_str());
        return 1;
    }
    const std::string host = server_options.listen.substr(0, server_options.listen.rfind(':'));
    std::printf("{\"listen\":\"%s:%d\",\"pid\":%d}\n", host.c_str(), server.Port(), static_cast<int>(getpid()));
    std::fflush(stdout);

    int sig = 0;
    sigwait(&signals, &sig);
    server.Stop();
    return 0;
}
