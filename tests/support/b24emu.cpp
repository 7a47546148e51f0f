#include "support/b24emu.hpp"

#include <chrono>

#include "core/json.hpp"
#include "support/test_support.hpp"

namespace dispatch::testing {

bool StartB24emu(ChildProcess& process,
                 const std::string& bin,
                 const EmuOptions& options,
                 const std::string& log_file,
                 EmuEndpoints& endpoints,
                 std::string& error) {
    std::vector<std::string> argv{bin,
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--cert",
                                  BinaryPath("certs/server.pem"),
                                  "--key",
                                  BinaryPath("certs/server.key"),
                                  "--clock",
                                  "manual",
                                  "--start",
                                  options.start,
                                  "--seed",
                                  options.seed};
    if (!options.limits) {
        argv.insert(argv.end(), {"--limits", "off"});
    }
    if (options.handler_ca) {
        argv.insert(argv.end(), {"--handler-ca", BinaryPath("certs/ca.pem")});
    }
    argv.insert(argv.end(), options.extra.begin(), options.extra.end());
    if (!process.Start(argv, {}, log_file, std::chrono::seconds(20), error)) {
        return false;
    }
    const auto line = json::Parse(process.FirstLine());
    if (!line || !line->is_object()) {
        error = "b24emu's start line is not a JSON object: " + process.FirstLine();
        return false;
    }
    endpoints.base_url = json::StringAt(*line, "base_url").value_or("");
    endpoints.admin_url = json::StringAt(*line, "admin_url").value_or("");
    endpoints.webhook_url = json::StringAt(*line, "webhook_url").value_or("");
    endpoints.client_id = json::StringAt(*line, "client_id").value_or("");
    endpoints.client_secret = json::StringAt(*line, "client_secret").value_or("");
    if (endpoints.base_url.empty() || endpoints.admin_url.empty()) {
        error = "b24emu's start line lacks base_url or admin_url: " + process.FirstLine();
        return false;
    }
    return true;
}

boost::json::object FlowsServiceConfig(const EmuEndpoints& emu, const std::string& db_path, const std::string& start) {
    namespace bj = boost::json;
    std::string oauth_server = emu.base_url;
    if (!oauth_server.empty() && oauth_server.back() == '/') {
        oauth_server.pop_back();
    }
    return bj::object{
        {"listen", "127.0.0.1:0"},
        {"tls", bj::object{{"cert", BinaryPath("certs/server.pem")}, {"key", BinaryPath("certs/server.key")}}},
        {"database", bj::object{{"sqlite", bj::object{{"path", db_path}}}}},
        {"hook_key_env", "DISPATCH_HOOK_KEY"},
        {"b24",
         bj::object{{"oauth",
                     bj::object{{"client_id", emu.client_id},
                                {"client_secret_env", "DISPATCH_CLIENT_SECRET"},
                                {"oauth_server", oauth_server}}},
                    {"ca_file", BinaryPath("certs/ca.pem")},
                    {"verify_install", false}}},
        {"workplace",
         bj::object{{"spec", SourcePath("workplace/helpdesk.json")}, {"sla", SourcePath("workplace/sla.json")}}},
        {"clock", bj::object{{"mode", "manual"}, {"start", start}}}};
}

}  // namespace dispatch::testing
