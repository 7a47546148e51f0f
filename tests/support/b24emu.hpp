#pragma once
// b24emu as a child process for the integration tests: on loopback with the test certificate (certs/ in the build
// folder), a manual clock, and the endpoints of its start line.

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace dispatch::testing {

struct EmuOptions {
    std::string start;       // the manual clock's first instant (ISO 8601)
    std::string seed = "1";  // the seed company
    bool limits = true;      // false: --limits off
    bool handler_ca = true;  // trust the test CA when posting events to our HTTPS handlers
    std::vector<std::string> extra = {};
};

// What its start line says.
struct EmuEndpoints {
    std::string base_url;
    std::string admin_url;  // ends with "/"
    std::string webhook_url;
    std::string client_id;
    std::string client_secret;
};

// Starts `bin`; false with `error` when it does not come up (or its start line is not what it should be).
bool StartB24emu(ChildProcess& process,
                 const std::string& bin,
                 const EmuOptions& options,
                 const std::string& log_file,
                 EmuEndpoints& endpoints,
                 std::string& error);

// dispatchd's config for running the SLA flows with this emulator as the portal: the emulator's OAuth server and
// app (install checks off), the test certificates, the repository's workplace spec and SLA policy, an SQLite file
// at `db_path`, and a manual clock from `start`. The secrets come from DISPATCH_HOOK_KEY and
// DISPATCH_CLIENT_SECRET. Callers add what is theirs (flows options, the client's rate limit).
boost::json::object FlowsServiceConfig(const EmuEndpoints& emu, const std::string& db_path, const std::string& start);

}  // namespace dispatch::testing
