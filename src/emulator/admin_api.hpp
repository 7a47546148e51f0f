#pragma once
// `/_emu/…`: the emulator's own control surface for tests and the demo (loopback only; the transport checks).
// Every endpoint takes and returns JSON.
//
//   GET  state                 the full portal state (persistence.hpp format) plus clock and fault settings
//   GET  requests              the REST request log, oldest first
//   GET  events                the outgoing-delivery log: {id, kind, event, url, body, outcome, status, at_ms}
//   POST clock                 {"advance_ms": n} | {"set_ms": t} | {"set": "ISO-8601"} | {"rate": r}  → {"now_ms",
//   "now"} POST act                   {"user_id", "method", "params", "automation"?}: any REST method as that user, no
//   auth,
//                              no bucket → {"status", "body"}; events are raised as for a UI change
//   POST move                  {"user_id", "entityTypeId", "id", "stageId"}              (crm.item.update)
//   POST assign                {"user_id", "entityTypeId", "id", "assignedById"}         (crm.item.update)
//   POST comment               {"user_id", "entityTypeId", "id", "text"}                 (crm.timeline.comment.add)
//   POST faults                {"drop_events": 0..1, "event_delay_ms": n, "expire_tokens": true, "clear": true,
//                               "fail": {"method", "times", "status", "error", "error_description",
//                                        "reset_in_ms"?, "operating_reset_at"?}}
//                              drop_events drops that share of outgoing deliveries, chosen by a generator seeded
//                              with --seed (same calls, same losses); an OPERATION_TIME_LIMIT fail answers with a
//                              time block whose operating_reset_at is now + reset_in_ms (default 10 min)
//   POST limits                {"enabled": bool, "plan": "standard"|"enterprise", "reset": true}
//   POST oauth/code            {"user_id"} → {"code"}: what the user's browser would bring to redirect_uri
//   POST app/install           {"user_id"?, "handler"?}: POSTs the install callback (ONAPPINSTALL) to the handler
//   POST robots/place          {"code", "stageId", "properties"?}: the robot runs when an item enters that stage
//   POST triggers/place        {"code", "stageId"}: firing trigger `code` for an item moves it to that stage
//   POST app                   {"scope"?: "crm,user,...", "installed"?: bool}: the local app's granted scopes and
//                              installation flag (insufficient_scope, app.info INSTALLED)
//   POST events/flush          delivers what is due now on the calling thread → {"attempted"}
//   GET  notifications         im.notify.* sent so far: {id, kind, from_user, to_user, message, tag, created[_ms]}
//   GET  comments              crm.timeline.comment.add so far: {id, entity_type, entity_id, comment, author_id, ...}

#include <boost/json.hpp>
#include <string_view>

#include "emulator/events.hpp"
#include "emulator/oauth.hpp"
#include "emulator/portal.hpp"
#include "emulator/rest_api.hpp"

namespace dispatch::emulator {

class AdminApi {
public:
    AdminApi(Portal& portal, RestApi& rest, EventDispatcher& events);
    // `path` is what follows "/_emu/" ("clock", "robots/place"); `method` GET or POST.
    HttpReply Handle(std::string_view method, std::string_view path, const boost::json::value& body);

private:
    HttpReply Act(std::int64_t user, std::string_view method, const boost::json::object& params, bool automation);

    Portal& portal_;
    RestApi& rest_;
    EventDispatcher& events_;
};

}  // namespace dispatch::emulator
