// b24emu: a Bitrix24 portal emulator over HTTPS (DESIGN.md §2, src/emulator/README.md).
//
//   b24emu --listen 127.0.0.1:0 --cert C --key K [--state FILE] [--plan standard|enterprise]
//          [--company FILE] [--clock real|manual|warp:N] [--start ISO-8601] [--limits on|off] [--seed N]
//          [--install-handler URL] [--handler-ca FILE]
//   b24emu --print-company      the built-in seed company as JSON
//
// Prints one JSON line on stdout (base URL, admin webhook URL, OAuth client id/secret, ...) once it listens, then
// serves until SIGTERM/SIGINT, saving its state to --state if given.

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/time_format.hpp"
#include "emulator/company.hpp"
#include "emulator/emulator.hpp"
#include "emulator/persistence.hpp"
#include "emulator/server.hpp"
#include "http/client.hpp"
#include "http/server.hpp"

namespace {

constexpr dispatch::log::Logger kLog("b24emu");

struct Args {
    std::string listen = "127.0.0.1:0";
    std::string cert;
    std::string key;
    std::string state;
    std::string plan = "standard";
    std::string company;
    std::string clock = "real";
    std::string start;
    bool limits = true;
    std::uint64_t seed = 0;
    std::string install_handler;
    std::string handler_ca;
    bool print_company = false;
};

int Usage(const char* why) {
    std::fprintf(stderr,
                 "b24emu: %s\nusage: b24emu --listen HOST:PORT --cert FILE --key FILE [--state FILE] "
                 "[--plan standard|enterprise] [--company FILE] [--clock real|manual|warp:N] [--start ISO] "
                 "[--limits on|off] [--seed N] [--install-handler URL] [--handler-ca FILE] | --print-company\n",
                 why);
    return 2;
}

std::optional<Args> Parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto next = [&]() -> std::optional<std::string> {
            if (i + 1 >= argc) {
                return std::nullopt;
            }
            return std::string(argv[++i]);
        };
        std::optional<std::string> v;
        if (k == "--print-company") {
            a.print_company = true;
            continue;
        }
        if (!(v = next())) {
            return std::nullopt;
        }
        if (k == "--listen") {
            a.listen = *v;
        } else if (k == "--cert") {
            a.cert = *v;
        } else if (k == "--key") {
            a.key = *v;
        } else if (k == "--state") {
            a.state = *v;
        } else if (k == "--plan") {
            a.plan = *v;
        } else if (k == "--company") {
            a.company = *v;
        } else if (k == "--clock") {
            a.clock = *v;
        } else if (k == "--start") {
            a.start = *v;
        } else if (k == "--limits") {
            a.limits = *v != "off";
        } else if (k == "--seed") {
            a.seed = std::strtoull(v->c_str(), nullptr, 10);
        } else if (k == "--install-handler") {
            a.install_handler = *v;
        } else if (k == "--handler-ca") {
            a.handler_ca = *v;
        } else {
            return std::nullopt;
        }
    }
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace dispatch;
    namespace bj = boost::json;
    auto args = Parse(argc, argv);
    if (!args) {
        return Usage("bad arguments");
    }
    if (args->print_company) {
        std::cout << json::Dump(emulator::CompanyToJson(emulator::DefaultCompany())) << "\n";
        return 0;
    }
    if (args->cert.empty() || args->key.empty()) {
        return Usage("--cert and --key are required (HTTPS only)");
    }
    if (args->plan != "standard" && args->plan != "enterprise") {
        return Usage("--plan must be standard or enterprise");
    }

    // Block the stop signals before any thread starts so that only sigwait below sees them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    TimeMs start = SystemClock().Now();
    if (!args->start.empty()) {
        auto t = ParseIso8601(args->start);
        if (!t) {
            return Usage("--start is not ISO 8601");
        }
        start = *t;
    }
    std::unique_ptr<ManualClock> manual;
    std::unique_ptr<WarpedClock> warped;
    std::unique_ptr<emulator::ClockControl> control;
    if (args->clock == "manual") {
        manual = std::make_unique<ManualClock>(start);
        control = std::make_unique<emulator::ClockControl>(*manual);
    } else if (args->clock == "real" || args->clock.rfind("warp:", 0) == 0) {
        // "real" is a warped clock at rate 1 so the admin API can still jump it forward.
        const double rate = args->clock == "real" ? 1.0 : std::strtod(args->clock.c_str() + 5, nullptr);
        if (rate <= 0) {
            return Usage("--clock warp:N needs N > 0");
        }
        warped = std::make_unique<WarpedClock>(start, rate);
        control = std::make_unique<emulator::ClockControl>(*warped);
    } else {
        return Usage("--clock must be real, manual or warp:N");
    }

    emulator::EmulatorOptions options;
    options.portal.plan = args->plan == "enterprise" ? emulator::Plan::kEnterprise : emulator::Plan::kStandard;
    options.portal.limits_enabled = args->limits;
    options.portal.seed = args->seed;
    if (!args->company.empty()) {
        auto v = json::ParseFile(args->company);
        auto company = v ? emulator::CompanyFromJson(*v) : Result<emulator::Company>(v.error());
        if (!company) {
            DISPATCH_LOG_ERROR(
                kLog, "cannot load company", "file={} error={}", args->company, log::Quote(company.error().detail));
            return 1;
        }
        options.company = std::move(*company);
    }
    http::Client client({.ca_file = args->handler_ca});
    emulator::Emulator emu(std::move(options), *control, emulator::HttpSender(client));
    if (!args->state.empty() && std::filesystem::exists(args->state)) {
        auto state = emulator::LoadState(args->state);
        if (!state) {
            DISPATCH_LOG_ERROR(
                kLog, "cannot load state", "file={} error={}", args->state, log::Quote(state.error().detail));
            return 1;
        }
        std::lock_guard lock(emu.GetPortal().Mutex());
        emu.GetPortal().ReplaceState(std::move(*state));
    }
    if (!args->install_handler.empty()) {
        std::lock_guard lock(emu.GetPortal().Mutex());
        emu.GetPortal().State().app.install_handler = args->install_handler;
    }

    http::Router router;
    emulator::AddEmulatorRoutes(router, emu);
    http::Server server({.listen = args->listen, .cert_file = args->cert, .key_file = args->key, .threads = 1},
                        std::move(router));
    if (auto started = server.Start(); !started) {
        DISPATCH_LOG_ERROR(
            kLog, "cannot start", "listen={} error={}", args->listen, log::Quote(started.error().detail));
        return 1;
    }
    auto host = args->listen.substr(0, args->listen.rfind(':'));
    if (host == "0.0.0.0" || host.empty()) {
        host = "127.0.0.1";
    }
    const auto base_url = "https://" + host + ":" + std::to_string(server.Port());
    {
        std::lock_guard lock(emu.GetPortal().Mutex());
        emu.GetPortal().SetBaseUrl(base_url);
    }
    std::cout << json::Dump(bj::object{{"base_url", base_url},
                                       {"webhook_url", emu.WebhookUrl()},
                                       {"client_id", emu.ClientId()},
                                       {"client_secret", emu.ClientSecret()},
                                       {"admin_url", base_url + "/_emu/"},
                                       {"plan", args->plan},
                                       {"clock", args->clock}})
              << std::endl;
    DISPATCH_LOG_INFO(kLog, "listening", "base_url={} plan={} clock={}", base_url, args->plan, args->clock);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    DISPATCH_LOG_INFO(kLog, "stopping", "signal={}", sig);
    server.Stop();
    emu.Events().Stop();
    if (!args->state.empty()) {
        std::lock_guard lock(emu.GetPortal().Mutex());
        if (auto saved = emulator::SaveState(emu.GetPortal().State(), args->state); !saved) {
            DISPATCH_LOG_ERROR(
                kLog, "cannot save state", "file={} error={}", args->state, log::Quote(saved.error().detail));
            return 1;
        }
    }
    return 0;
}
