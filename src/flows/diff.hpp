#pragma once
// From "what Bitrix24 shows now" to "what happened": the previous snapshot of a ticket, the item as fetched and the
// stage-history rows we had not seen become SLA ledger events with their true Bitrix24 instants (stage history
// carries each move's time even when events were dropped; attribute changes take the item's updatedTime, the best
// instant Bitrix24 gives). Also the codec between sla::Event and the store's ledger rows. Pure.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "b24/methods.hpp"
#include "core/error.hpp"
#include "flows/item_view.hpp"
#include "sla/ledger.hpp"
#include "store/flow_repos.hpp"

namespace dispatch::flows {

// Our own sequence numbers start here, above any stage-history id, so they never collide with one.
inline constexpr std::int64_t kOwnSeqBase = std::int64_t{1} << 40;

// What the flows remember of an item between fetches (TicketSnapshot::fields). The category is a column of the
// snapshot itself. Snapshots written before may carry more keys; they are ignored.
struct Remembered {
    sla::StageRole role = sla::StageRole::kNew;
    int line = 1;
    std::int64_t assignee = 0;
    sla::Priority priority = sla::Priority::kNormal;
    std::string template_name;
    std::int64_t requester = 0;  // createdBy
    std::string funnel;          // spec code of the item's funnel
    // What we last queued for those fields. Write-back compares against this, not against the fetched item: an
    // event that arrives before our queued write has left would otherwise make us queue the same values again.
    // (A person editing an SLA field by hand is corrected the next time its value changes.)
    bj::object written;
};
bj::object ToJson(const Remembered& remembered);
// The stored JSON text, or an empty object when it does not parse (a snapshot is advice, never a blocker).
bj::value ParseOr(std::string_view text);
Remembered RememberedFromJson(const bj::value& json);
Remembered Remember(const ItemView& item);

struct DiffInput {
    const store::TicketSnapshot* previous = nullptr;  // nullptr: first sight of the ticket
    // previous->fields as the caller already parsed it; nullptr: Diff parses it.
    const Remembered* before = nullptr;
    const ItemView* item = nullptr;                 // nullptr: the item is gone (deleted)
    std::span<const b24::StageHistoryRow> history;  // rows after previous->last_history_id, by id; not owned
    const provision::ProcessIds* ids = nullptr;
    TimeMs now = 0;                           // the instant a deletion is recorded at
    std::int64_t next_own_seq = kOwnSeqBase;  // first free own sequence number
};

struct DiffOutput {
    std::vector<sla::Event> events;
    std::int64_t last_history_id = 0;
};

DiffOutput Diff(const DiffInput& input);

// sla::Event <-> store::LedgerRow (kind = sla::Name(kind), data = the meaningful fields).
store::LedgerRow ToRow(const sla::Event& event);
[[nodiscard]] Result<sla::Event> FromRow(const store::LedgerRow& row);
// Rebuilds the ledger of a ticket from its stored rows.
[[nodiscard]] Result<sla::Ledger> LedgerFromRows(std::int64_t ticket_id, const std::vector<store::LedgerRow>& rows);

}  // namespace dispatch::flows
