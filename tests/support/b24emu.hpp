#pragma once
// b24emu as a child process for the integration tests: on loopback with the test certificate (certs/ in the build
// folder), a manual clock, and the endpoints of its start line.

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

}  // namespace dispatch::testing
