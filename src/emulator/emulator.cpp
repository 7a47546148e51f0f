#include "emulator/emulator.hpp"

namespace dispatch::emulator {

Emulator::Emulator(EmulatorOptions options, ClockControl& clock, Sender sender)
    : portal_(options.portal, clock),
      events_(clock, std::move(sender), options.portal.seed != 0 ? options.portal.seed : 1),
      rest_(portal_, &events_),
      admin_(portal_, rest_, events_) {
    {
        std::lock_guard lock(portal_.Mutex());
        portal_.InitializeSecrets();
        portal_.State().users = std::move(options.company.users);
        portal_.State().departments = std::move(options.company.departments);
        // settings/app-installation/local-apps/installation-callback.md: API-only local apps complete installation
        // by themselves; the callback itself is sent on /_emu/app/install.
        portal_.State().app.installed = true;
    }
    if (options.start_event_worker) {
        events_.Start();
    }
}

Emulator::~Emulator() { events_.Stop(); }

HttpReply Emulator::Token(const boost::json::object& params) {
    std::lock_guard lock(portal_.Mutex());
    return HandleTokenRequest(portal_, params);
}

std::string Emulator::WebhookSecret() {
    std::lock_guard lock(portal_.Mutex());
    for (const auto& w : portal_.State().webhooks) {
        if (w.user_id == 1) {
            return w.secret;
        }
    }
    return {};
}

std::string Emulator::WebhookUrl() {
    const auto secret = WebhookSecret();
    std::lock_guard lock(portal_.Mutex());
    return portal_.Settings().base_url + "/rest/1/" + secret + "/";
}

std::string Emulator::ClientId() {
    std::lock_guard lock(portal_.Mutex());
    return portal_.State().app.client_id;
}

std::string Emulator::ClientSecret() {
    std::lock_guard lock(portal_.Mutex());
    return portal_.State().app.client_secret;
}

}  // namespace dispatch::emulator
