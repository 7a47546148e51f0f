#pragma once
// Decisions of the engine → the Bitrix24 calls that carry them out, as outbox rows. Each row's idempotency key is
// the ticket, the decision's own key (ticket, metric, cycle, threshold) and the step, so carrying out the same
// decision again (a crash before the commit, a replayed event) queues nothing new. Pure.

#include <string>
#include <vector>

#include "core/clock.hpp"
#include "flows/diff.hpp"
#include "sla/fold.hpp"
#include "sla/policy.hpp"
#include "store/flow_repos.hpp"

namespace dispatch::flows {

struct ActionContext {
    const store::TicketKey* key = nullptr;
    const provision::ProcessIds* ids = nullptr;
    const sla::Policy* policy = nullptr;
    const Remembered* item = nullptr;  // what we know of the item now
    TimeMs now = 0;
    const sla::Calendar* calendar = nullptr;  // dates in messages are local to it (UTC when nullptr)
};

std::vector<store::OutboxAction> ActionsFor(const sla::Decision& decision,
                                            const sla::FoldResult& fold,
                                            const ActionContext& context);

// One outbox row, ready now: every action the flows queue is built here.
store::OutboxAction MakeAction(std::string member_id,
                               std::string subject,
                               std::string idempotency_key,
                               std::string_view method,
                               const bj::object& params,
                               TimeMs now);

// crm.item.update with `fields` (only changed ones), keyed by the snapshot version it follows.
store::OutboxAction WriteBackAction(const bj::object& fields, std::int64_t version, const ActionContext& context);

// The user a route or an "assign" action picks among a role's users: spread by item id, so a role's members share
// the load deterministically (a replay picks the same person).
std::int64_t PickUser(const std::vector<std::int64_t>& users, std::int64_t item_id);

}  // namespace dispatch::flows
