#pragma once
// The whole emulated portal without a transport: state, REST API, OAuth server, event dispatcher, admin API.
// server.hpp puts it on HTTPS; tests may drive it in-process.
//
//   ManualClock clock(start);
//   ClockControl control(clock);
//   Emulator emu({.portal = {.seed = 7}}, control, sender);
//   auto reply = emu.Rest().Handle({.method = "crm.type.list", .webhook_user = 1, .webhook_secret =
//   emu.WebhookSecret()});

#include <memory>
#include <string>

#include "emulator/admin_api.hpp"
#include "emulator/company.hpp"
#include "emulator/events.hpp"
#include "emulator/oauth.hpp"
#include "emulator/portal.hpp"
#include "emulator/rest_api.hpp"

namespace dispatch::emulator {

struct EmulatorOptions {
    PortalSettings portal;
    Company company = DefaultCompany();
    bool start_event_worker = true;  // false: deliveries wait for Events().DeliverDue() (in-process tests)
};

class Emulator {
public:
    Emulator(EmulatorOptions options, ClockControl& clock, Sender sender);
    ~Emulator();
    Emulator(const Emulator&) = delete;
    Emulator& operator=(const Emulator&) = delete;

    Portal& GetPortal() { return portal_; }
    RestApi& Rest() { return rest_; }
    EventDispatcher& Events() { return events_; }
    AdminApi& Admin() { return admin_; }

    // /oauth/token/ (locks the portal).
    HttpReply Token(const boost::json::object& params);

    // Admin webhook of user 1 and the local app's credentials (what b24emu prints on start-up).
    std::string WebhookSecret();
    std::string WebhookUrl();  // https://host/rest/1/{secret}/
    std::string ClientId();
    std::string ClientSecret();

private:
    Portal portal_;
    EventDispatcher events_;
    RestApi rest_;
    AdminApi admin_;
};

}  // namespace dispatch::emulator
