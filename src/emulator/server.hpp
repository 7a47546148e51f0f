#pragma once
// Puts an Emulator on the http module's Router (CONTRACT §13.1):
//   /rest/{user}/{secret}/{method}[.json]   incoming webhook
//   /rest/{method}[.json]?auth=…            OAuth access token (query, form or JSON body)
//   /oauth/token/                           the OAuth server
//   /_emu/…                                 admin API, loopback peers only (403 otherwise)
// Parameters come from the query string, then the body (JSON when Content-Type says so, otherwise a form with
// bracket keys); body keys win.

#include "emulator/emulator.hpp"
#include "http/client.hpp"
#include "http/server.hpp"

namespace dispatch::emulator {

void AddEmulatorRoutes(http::Router& router, Emulator& emulator);

// The Sender deliveries use: a POST with application/x-www-form-urlencoded through `client`.
Sender HttpSender(http::Client& client);

}  // namespace dispatch::emulator
