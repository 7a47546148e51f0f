#pragma once
// One unit of work for one ticket, as a pure function: the stored state (snapshot + ledger), what Bitrix24 showed
// (when an event or a reconciliation fetched the item) and `now` → the single TicketCommit that records what
// happened, carries out the decisions that fell due (ledger records + outbox actions, at their true instants even
// when late), writes back the SLA fields that changed, and re-arms the ticket's timer. The worker and the timer
// scheduler both call it; nothing here does I/O, so replaying the same inputs gives the same commit (the
// idempotency keys make a replay that already landed a no-op).

#include <boost/json.hpp>
#include <optional>
#include <vector>

#include "b24/methods.hpp"
#include "core/error.hpp"
#include "flows/actions.hpp"
#include "flows/diff.hpp"
#include "provision/layout.hpp"
#include "sla/fold.hpp"
#include "sla/policy.hpp"
#include "store/flow_repos.hpp"

namespace dispatch::flows {

inline constexpr std::string_view kSlaTimer = store::kTicketTimerKind;

struct Fetched {
    std::optional<bj::object> item;             // nullopt: Bitrix24 no longer has the item
    std::vector<b24::StageHistoryRow> history;  // rows after the snapshot's last_history_id
};

struct Planned {
    store::TicketCommit commit;
    std::size_t new_events = 0;  // ledger rows from what Bitrix24 showed
    std::size_t decisions = 0;   // decisions carried out
    bool ignored = false;        // nothing known of the ticket and nothing to learn (e.g. a deleted unknown item)
};

class Engine {
public:
    Engine(const sla::Policy& policy, const sla::CalendarSet& calendars) : policy_(policy), calendars_(calendars) {}

    // `fetched` nullptr: a timer fired, fold the stored ledger at `now`.
    [[nodiscard]] Result<Planned> Plan(const store::TicketKey& key,
                                       const store::TicketState& state,
                                       const Fetched* fetched,
                                       const provision::ProcessIds& ids,
                                       TimeMs now) const;

    // The ticket's clocks at `now` from its stored rows (the API and statistics).
    [[nodiscard]] Result<sla::FoldResult> FoldRows(std::int64_t item_id,
                                                   const std::vector<store::LedgerRow>& rows,
                                                   TimeMs now) const;

    const sla::Policy& Policy() const { return policy_; }
    const sla::CalendarSet& Calendars() const { return calendars_; }

private:
    const sla::Policy& policy_;
    const sla::CalendarSet& calendars_;
};

// Was a warning sent for a clock that is still running?
bool WarnedOpenClock(const sla::Ledger& ledger, const sla::FoldResult& fold);

}  // namespace dispatch::flows
