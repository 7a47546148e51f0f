#pragma once
// The flows' HTTP face:
//   GET  /api/v1/portals/{member_id}/tickets/{id}/sla   a ticket's clocks, each deadline explained, its ledger
//                                                        and the actions sent for it: the per-ticket timeline
//   GET  /_admin/flows                                   inbox, outbox and timer state (operators, the demo)
//   POST /_admin/flows/reconcile?member_id=              queue a reconciliation sweep now
//   POST /_admin/kpi/export?member_id=[&from=&to=]      queue the KPI items' writes (months and years of [from, to))
//   POST /_admin/clock  {"now": ISO} | {"advance_ms": n} moves a manual service clock (tests, the demo); only
//                                                        registered when the service runs on a manual clock
// With an api_token set, every route asks for "Authorization: Bearer <token>" (constant-time compare).
// All but the clock are blocking routes (http::Router::AddBlocking): they query the store, and reconciliation and the
// KPI export wait on the portal's request budget, so they run on the router's offload, never on an io thread.

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "flows/runtime.hpp"
#include "http/server.hpp"

namespace dispatch::flows {

struct ApiOptions {
    std::string api_token;                // empty: no token asked (loopback deployments, the demo)
    ManualClock* manual_clock = nullptr;  // set: POST /_admin/clock is served
};

void AddRoutes(http::Router& router, Runtime& runtime, const Clock& clock, ApiOptions options);

// The ticket view served by the API, as JSON (also used by dispatchctl and tests).
[[nodiscard]] Result<bj::object> TicketSla(Runtime& runtime, const store::TicketKey& key, TimeMs now);

// Every ticket of a portal folded at `now` (statistics). The results point into the runtime's policy and
// calendars, which live as long as the runtime's Engine.
[[nodiscard]] Result<std::vector<sla::FoldResult>> FoldAll(Runtime& runtime, std::string_view member_id, TimeMs now);

}  // namespace dispatch::flows
