#include "flows/api.hpp"

#include <fmt/format.h>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/time_format.hpp"
#include "flows/kpi_export.hpp"
#include "sla/explain.hpp"
#include "store/errc.hpp"

namespace dispatch::flows {
namespace {

constexpr log::Logger kLog{"api"};

bj::value Iso(std::optional<TimeMs> t) {
    if (!t) {
        return nullptr;
    }
    return bj::value(FormatIso8601(*t));
}

bj::object ClockJson(const sla::MetricClock& c) {
    const sla::Explanation why = sla::Explain(c);
    return bj::object{{"metric", sla::Name(c.metric)},
                      {"cycle", c.cycle},
                      {"state", sla::Name(c.state)},
                      {"start", Iso(c.start)},
                      {"stop", Iso(c.stop)},
                      {"deadline", Iso(c.deadline)},
                      {"target_minutes", c.target_ms / kMinuteMs},
                      {"elapsed_business_minutes", c.elapsed_business_ms / kMinuteMs},
                      {"elapsed_calendar_minutes", c.elapsed_calendar_ms / kMinuteMs},
                      {"paused_minutes", c.paused_ms / kMinuteMs},
                      {"calendar", c.calendar != nullptr ? bj::value(c.calendar->Id()) : bj::value(nullptr)},
                      {"explanation", why.text}};
}

http::Response Problem(int status, std::string_view reason) {
    return http::Response::Json(status, json::Dump(bj::object{{"error", reason}}));
}

http::Response FromError(const Error& e) {
    if (e.code == make_error_code(store::Errc::kNotFound) || e.code == make_error_code(CoreErrc::kNotFound)) {
        return Problem(404, e.detail);
    }
    DISPATCH_LOG_WARN(kLog, "request failed", "error=\"{}\"", e.detail);
    return Problem(500, "internal error");
}

}  // namespace

Result<bj::object> TicketSla(Runtime& runtime, const store::TicketKey& key, TimeMs now) {
    auto state = runtime.Store().Tickets().Load(key);
    if (!state) {
        return state.error();
    }
    if (state->ledger.empty()) {
        return Fail(store::Errc::kNotFound, fmt::format("no ticket {}", key.item_id));
    }
    auto fold = runtime.GetEngine().FoldRows(key.item_id, state->ledger, now);
    if (!fold) {
        return fold.error();
    }
    bj::object out{{"member_id", key.member_id},
                   {"entity_type_id", key.entity_type_id},
                   {"item_id", key.item_id},
                   {"now", FormatIso8601(now)}};
    out["ticket"] = bj::object{{"stage", sla::Name(fold->stage)},
                               {"line", fold->line},
                               {"assignee", fold->assignee},
                               {"priority", sla::Name(fold->priority)},
                               {"template", fold->template_name},
                               {"escalation_level", fold->escalation_level},
                               {"returns", fold->returns.size()},
                               {"counts_in_sla", fold->counts_in_sla},
                               {"cancelled", fold->cancelled},
                               {"auto_closed", fold->auto_closed},
                               {"auto_accepted", fold->auto_accepted},
                               {"deleted", fold->deleted}};
    bj::array clocks;
    clocks.push_back(ClockJson(fold->reaction));
    for (const auto& c : fold->cycles) {
        clocks.push_back(ClockJson(c));
    }
    clocks.push_back(ClockJson(fold->resolution_total));
    if (fold->line2_ola) {
        clocks.push_back(ClockJson(*fold->line2_ola));
    }
    out["clocks"] = std::move(clocks);
    if (fold->next_timer) {
        out["next_timer"] = bj::object{{"at", FormatIso8601(fold->next_timer->at)},
                                       {"kind", sla::Name(fold->next_timer->kind)},
                                       {"metric", sla::Name(fold->next_timer->metric)},
                                       {"cycle", fold->next_timer->cycle},
                                       {"threshold", fold->next_timer->threshold}};
    } else {
        out["next_timer"] = nullptr;
    }
    bj::array ledger;
    for (const auto& row : state->ledger) {
        ledger.push_back(bj::object{{"seq", row.seq},
                                    {"at", FormatIso8601(row.at)},
                                    {"kind", row.kind},
                                    {"data", ParseOr(row.data)},
                                    {"recorded_at", FormatIso8601(row.recorded_at)}});
    }
    out["ledger"] = std::move(ledger);
    bj::array actions;
    // Done actions leave the outbox after flows.retention_days (the ledger keeps what they did).
    if (auto all = runtime.Store().Outbox().ListSubject(key.member_id, key.Subject())) {
        for (const auto& a : *all) {
            actions.push_back(bj::object{{"key", a.action.idempotency_key},
                                         {"method", a.action.method},
                                         {"params", ParseOr(a.action.params)},
                                         {"queued_at", FormatIso8601(a.action.created_at)},
                                         {"attempts", a.attempt}});
        }
    }
    out["actions"] = std::move(actions);
    return out;
}

Result<std::vector<sla::FoldResult>> FoldAll(Runtime& runtime, std::string_view member_id, TimeMs now) {
    auto ledgers = runtime.Store().Tickets().Ledgers(member_id);
    if (!ledgers) {
        return ledgers.error();
    }
    std::vector<sla::FoldResult> out;
    out.reserve(ledgers->size());
    for (const auto& [key, rows] : *ledgers) {
        if (rows.empty()) {
            continue;
        }
        auto fold = runtime.GetEngine().FoldRows(key.item_id, rows, now);
        if (!fold) {
            DISPATCH_LOG_WARN(kLog, "ticket not folded", "ticket={} error=\"{}\"", key.Subject(), fold.error().detail);
            continue;
        }
        out.push_back(std::move(*fold));
    }
    return out;
}

namespace {

constexpr std::int64_t kMaxDeadListed = 1000;

// ?limit= of a dead-letter listing: 100 when absent; nullopt when it is not 1..kMaxDeadListed.
std::optional<int> DeadLimit(const http::Request& request) {
    const auto text = request.QueryParam("limit");
    if (!text) {
        return 100;
    }
    const auto parsed = json::ParseInt(*text);
    if (!parsed || *parsed < 1 || *parsed > kMaxDeadListed) {
        return std::nullopt;
    }
    return static_cast<int>(*parsed);
}

// ?ids=1,2,3 of a revive: empty when absent (every dead row); nullopt when malformed or present but empty.
std::optional<std::vector<std::int64_t>> ReviveIds(const http::Request& request) {
    std::vector<std::int64_t> ids;
    const auto text = request.QueryParam("ids");
    if (!text) {
        return ids;
    }
    for (std::string_view rest = *text; !rest.empty();) {
        const std::size_t comma = rest.find(',');
        const auto id = json::ParseInt(rest.substr(0, comma));
        if (!id || *id <= 0) {
            return std::nullopt;
        }
        ids.push_back(*id);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (ids.empty()) {
        return std::nullopt;
    }
    return ids;
}

// GET .../dead and POST .../revive of one queue: list(member, limit) → its dead rows, each shown as row(dead);
// revive(member, ids) → how many came back.
template <class List, class Row, class Revive>
void AddDeadLetterRoutes(
    http::Router& router,
    const std::string& queue,
    const std::function<http::Handler(std::function<void(const http::Request&, const std::string&, http::Respond)>)>&
        for_portal,
    Runtime& runtime,
    List list,
    Row row,
    Revive revive) {
    router.AddBlocking(
        "GET",
        "/_admin/" + queue + "/dead",
        for_portal([list, row](const http::Request& request, const std::string& member, http::Respond respond) {
            const auto limit = DeadLimit(request);
            if (!limit) {
                respond(Problem(400, fmt::format("limit must be 1 to {}", kMaxDeadListed)));
                return;
            }
            auto dead = list(member, *limit);
            if (!dead) {
                respond(FromError(dead.error()));
                return;
            }
            bj::array rows;
            for (const auto& d : *dead) {
                rows.push_back(row(d));
            }
            respond(http::Response::Json(200, json::Dump(bj::object{{"dead", std::move(rows)}})));
        }));
    router.AddBlocking(
        "POST",
        "/_admin/" + queue + "/revive",
        for_portal([&runtime, revive](const http::Request& request, const std::string& member, http::Respond respond) {
            const auto ids = ReviveIds(request);
            if (!ids) {
                respond(Problem(400, "ids must be positive integers separated by commas (leave it out for all)"));
                return;
            }
            Result<std::int64_t> revived = revive(member, *ids);
            if (!revived) {
                respond(FromError(revived.error()));
                return;
            }
            if (*revived > 0) {
                runtime.Wake();
            }
            respond(http::Response::Json(200, json::Dump(bj::object{{"revived", *revived}})));
        }));
}

bj::object CountsJson(const store::OutboxDepth& depth) {
    return bj::object{{"pending", depth.pending}, {"leased", depth.leased}, {"done", depth.done}, {"dead", depth.dead}};
}

}  // namespace

void AddRoutes(http::Router& router, Runtime& runtime, const Clock& clock, ApiOptions options) {
    // Every route checks the token first; the admin ones that act on one portal also need ?member_id=.
    auto guarded = [token = options.api_token](auto handle) -> http::Handler {
        return [token, handle](http::Request&& request, http::Respond respond) {
            if (!request.BearerMatches(token)) {
                respond(Problem(401, "missing or wrong bearer token"));
                return;
            }
            handle(std::move(request), std::move(respond));
        };
    };
    auto for_portal = [guarded](auto handle) -> http::Handler {
        return guarded([handle](http::Request&& request, http::Respond respond) {
            const auto member = request.QueryParam("member_id");
            if (!member || member->empty()) {
                respond(Problem(400, "member_id is required"));
                return;
            }
            handle(request, *member, std::move(respond));
        });
    };

    router.AddBlocking("GET",
                       "/api/v1/portals/{member_id}/tickets/{id}/sla",
                       guarded([&runtime, &clock](http::Request&& request, http::Respond respond) {
                           const std::string member = request.Param("member_id");
                           auto item_id = json::ParseInt(request.Param("id"));
                           if (!item_id || *item_id <= 0) {
                               respond(Problem(400, "id must be a positive integer"));
                               return;
                           }
                           auto layout = runtime.LayoutOf(member);
                           const provision::ProcessIds* ids = layout ? runtime.Tickets(**layout) : nullptr;
                           if (ids == nullptr) {
                               respond(Problem(404, "unknown or unprovisioned portal"));
                               return;
                           }
                           store::TicketKey key;
                           key.member_id = member;
                           key.entity_type_id = ids->entity_type_id;
                           key.item_id = *item_id;
                           auto view = TicketSla(runtime, key, clock.Now());
                           if (!view) {
                               respond(FromError(view.error()));
                               return;
                           }
                           respond(http::Response::Json(200, json::Dump(*view)));
                       }));

    router.AddBlocking(
        "GET", "/_admin/flows", guarded([&runtime, &clock](http::Request&&, http::Respond respond) {
            auto inbox = runtime.Store().Inbox().Depth();
            auto outbox = runtime.Store().Outbox().Depth();
            auto next_timer = runtime.Store().Timers().NextDue();
            auto next_action = runtime.Store().Outbox().NextReady();
            if (!inbox || !outbox || !next_timer || !next_action) {
                respond(Problem(500, "store unavailable"));
                return;
            }
            const TimeMs now = clock.Now();
            bj::object out{
                {"now", FormatIso8601(now)},
                {"inbox", bj::object{{"pending", inbox->pending}, {"claimed", inbox->claimed}, {"dead", inbox->dead}}},
                {"outbox", CountsJson(*outbox)},
                {"next_timer", *next_timer ? Iso(**next_timer) : bj::value(nullptr)},
                {"next_action", *next_action ? Iso(**next_action) : bj::value(nullptr)}};
            // Quiet: nothing left to do before the next timer (the demo and tests wait for this).
            const bool action_due = *next_action && **next_action <= now;
            const bool timer_due = *next_timer && **next_timer <= now;
            // Pending inbox rows are either about to be claimed (the intake woke the worker: it is busy) or backing
            // off until a later instant that only a clock move brings: neither keeps the service from being idle.
            out["idle"] = !runtime.Busy() && inbox->claimed == 0 && outbox->leased == 0 && !action_due && !timer_due;
            respond(http::Response::Json(200, json::Dump(out)));
        }));

    router.AddBlocking("POST",
                       "/_admin/flows/reconcile",
                       for_portal([&runtime](const http::Request&, const std::string& member, http::Respond respond) {
                           auto swept = runtime.Reconcile(member);
                           if (!swept) {
                               respond(FromError(swept.error()));
                               return;
                           }
                           respond(http::Response::Json(200, json::Dump(bj::object{{"queued", swept->processed}})));
                       }));

    router.AddBlocking(
        "POST",
        "/_admin/kpi/export",
        for_portal([&runtime](const http::Request& request, const std::string& member, http::Respond respond) {
            TimeMs from = runtime.Now() - 31 * kDayMs;
            TimeMs to = runtime.Now() + kDayMs;
            for (auto [name, target] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
                if (auto text = request.QueryParam(name)) {
                    auto t = ParseExportBound(runtime, *text, target == &to);
                    if (!t) {
                        respond(Problem(
                            400, std::string(name) + ": expected an ISO 8601 instant or YYYY, YYYY-MM, YYYY-MM-DD"));
                        return;
                    }
                    *target = *t;
                }
            }
            if (to <= from) {
                respond(Problem(400, "to must come after from"));
                return;
            }
            auto exported = ExportKpis(runtime, member, from, to);
            if (!exported) {
                respond(FromError(exported.error()));
                return;
            }
            respond(http::Response::Json(200,
                                         json::Dump(bj::object{{"items", exported->items},
                                                               {"created", exported->created},
                                                               {"updated", exported->updated},
                                                               {"unchanged", exported->unchanged},
                                                               {"outbox_prefix", KpiOutboxPrefix(member)},
                                                               {"dead_before", exported->dead_before}})));
        }));

    // Dead letters: inbox rows and outbox actions that used up their attempts (the portal was down, a bug), with
    // the last error, so an operator can see what failed and why; revive gives them another round once the cause
    // is fixed.
    AddDeadLetterRoutes(
        router,
        "inbox",
        for_portal,
        runtime,
        [&runtime](const std::string& member, int limit) { return runtime.Store().Inbox().ListDead(member, limit); },
        [](const store::DeadLetter& d) {
            return bj::object{{"id", d.id},
                              {"kind", store::ToString(d.event.kind)},
                              {"event", d.event.event_name},
                              {"entity_type_id", d.event.entity_type_id},
                              {"item_id", d.event.item_id},
                              {"received_at", FormatIso8601(d.event.received_at)},
                              {"dead_at", FormatIso8601(d.dead_at)},
                              {"tries", d.tries},
                              {"last_error", d.last_error}};
        },
        [&runtime](const std::string& member, const std::vector<std::int64_t>& ids) {
            return runtime.Store().Inbox().Revive(member, ids, runtime.Now());
        });
    AddDeadLetterRoutes(
        router,
        "outbox",
        for_portal,
        runtime,
        [&runtime](const std::string& member, int limit) { return runtime.Store().Outbox().ListDead(member, limit); },
        [](const store::DeadAction& d) {
            const store::OutboxAction& a = d.claimed.action;
            auto params = json::Parse(a.params);
            return bj::object{{"id", d.claimed.id},
                              {"key", a.idempotency_key},
                              {"method", a.method},
                              {"params", params ? *params : bj::value(a.params)},
                              {"subject", a.subject},
                              {"created_at", FormatIso8601(a.created_at)},
                              {"dead_at", FormatIso8601(d.dead_at)},
                              {"tries", d.claimed.tries},
                              {"last_error", d.last_error},
                              {"superseded", d.superseded}};
        },
        [&runtime](const std::string& member, const std::vector<std::int64_t>& ids) {
            return runtime.Store().Outbox().Revive(member, ids, runtime.Now());
        });

    // How far one job's writes got: the outbox actions of a portal whose idempotency key starts with `prefix`
    // (dispatchctl stats export waits on the KPI items' prefix, whatever else the outbox holds).
    router.AddBlocking(
        "GET",
        "/_admin/outbox",
        for_portal([&runtime](const http::Request& request, const std::string& member, http::Respond respond) {
            const std::string prefix = request.QueryParam("prefix").value_or("");
            auto depth = runtime.Store().Outbox().DepthOf(member, prefix);
            if (!depth) {
                respond(FromError(depth.error()));
                return;
            }
            respond(http::Response::Json(200, json::Dump(CountsJson(*depth))));
        }));

    if (options.manual_clock != nullptr) {
        ManualClock* manual = options.manual_clock;
        router.Add(
            "POST", "/_admin/clock", guarded([&runtime, manual](http::Request&& request, http::Respond respond) {
                auto body = json::Parse(request.body);
                if (!body || !body->is_object()) {
                    respond(Problem(400, "body must be a JSON object with now or advance_ms"));
                    return;
                }
                if (auto now = json::StringAt(*body, "now")) {
                    auto t = ParseIso8601(*now);
                    if (!t) {
                        respond(Problem(400, "now is not an ISO 8601 instant"));
                        return;
                    }
                    if (*t < manual->Now()) {
                        respond(Problem(400, "the clock never goes back"));
                        return;
                    }
                    manual->Set(*t);
                } else if (auto by = json::IntAt(*body, "advance_ms"); by && *by >= 0) {
                    manual->Advance(*by);
                } else {
                    respond(Problem(400, "give now (ISO 8601) or advance_ms (>= 0)"));
                    return;
                }
                runtime.Wake();
                respond(http::Response::Json(200, json::Dump(bj::object{{"now", FormatIso8601(manual->Now())}})));
            }));
    }
}

}  // namespace dispatch::flows
