#pragma once
// The repositories of the flows (src/flows): ticket snapshots and ledgers, durable timers, the outbox of actions
// for Bitrix24, and small per-portal settings (the provisioned layout, reconciliation watermarks). Plain rows: the
// store knows nothing of the SLA engine; ledger entries and payloads are JSON text the flows encode.
//
// The one rule that makes "nothing lost, nothing doubled" hold: everything a unit of work decides is written by ONE
// TicketRepo::Commit, in one transaction: the new snapshot (compare-and-swap on its version), the ledger entries,
// the re-armed timer, the queued actions, and the completion of the inbox row or timer lease that caused the work.
// A crash before the commit redoes the work from the same inputs; after it, nothing is redone.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace dispatch::store {

// ---- tickets --------------------------------------------------------------------------------------------------

struct TicketKey {
    std::string member_id;
    std::int64_t entity_type_id = 0;
    std::int64_t item_id = 0;

    // "member/entityTypeId/itemId": the timers' subject and the log key of a ticket.
    std::string Subject() const;
    bool operator==(const TicketKey&) const = default;
};

// The last state of the Bitrix24 item as we fetched it, and what we last wrote to it.
struct TicketSnapshot {
    TicketKey key;
    std::string stage_id;  // Bitrix24 STATUS_ID ("DT1038_12:NEW")
    std::int64_t category_id = 0;
    std::int64_t assigned_by_id = 0;
    std::string fields = "{}";         // JSON object: the fields the flows diff and our last write-back
    std::int64_t last_history_id = 0;  // the highest crm.stagehistory id already in the ledger
    TimeMs item_updated_at = 0;        // Bitrix24 updatedTime
    TimeMs fetched_at = 0;
    bool closed = false;       // done, rejected or deleted: reconciliation skips it
    std::int64_t version = 0;  // 0: never stored; +1 on every commit

    bool operator==(const TicketSnapshot&) const = default;
};

struct LedgerRow {
    std::int64_t seq = 0;     // 1, 2, ... per ticket, assigned by Commit
    TimeMs at = 0;            // when it happened (Bitrix24 time)
    std::string kind;         // sla::EventKind name
    std::string data = "{}";  // JSON object
    TimeMs recorded_at = 0;

    bool operator==(const LedgerRow&) const = default;
};

struct TicketState {
    std::optional<TicketSnapshot> snapshot;  // nullopt: never seen
    std::vector<LedgerRow> ledger;           // seq order
};

// A timer to (re-)arm: one row per (kind, subject); arming again replaces due_at and payload and makes it pending.
struct TimerArm {
    std::string member_id;
    std::string kind;     // "sla" (the next SLA threshold of a ticket), "reconcile" (per portal), ...
    std::string subject;  // TicketKey::Subject() or the member_id
    TimeMs due_at = 0;
    std::int64_t version = 0;    // the ledger length when armed
    std::string payload = "{}";  // JSON object
};

struct Fence {
    std::int64_t id = 0;
    std::int64_t attempt = 0;
};

struct OutboxAction {
    std::string member_id;
    std::string idempotency_key;  // unique across the outbox: queuing the same key twice is a no-op
    std::string method;           // Bitrix24 REST method
    std::string params = "{}";    // JSON object
    std::string subject;          // the ticket (TicketKey::Subject()), for per-ticket order and operators
    TimeMs next_try_at = 0;
    TimeMs created_at = 0;
};

// The kind of a ticket's own timer: TicketCommit::disarm removes the timer of this kind, so whoever arms it must
// use the same name.
inline constexpr std::string_view kTicketTimerKind = "sla";

struct TicketCommit {
    TicketSnapshot snapshot;            // its version is ignored; stored with expected_version + 1
    std::int64_t expected_version = 0;  // the version read; 0 when none was stored. Mismatch: kConflict
    std::vector<LedgerRow> append;      // seq and recorded_at are assigned: seq continues after the stored rows
    std::optional<TimerArm> arm;        // the ticket's "sla" timer after this commit
    bool disarm = false;                // no timer any more: the ticket's "sla" timer row is removed (not with arm)
    std::vector<OutboxAction> actions;  // duplicates of stored keys are skipped silently
    std::optional<Fence> inbox;         // completes this inbox row (kLeaseLost when the lease is gone)
    std::optional<Fence> timer;         // completes this fired timer lease unless `arm` replaced the row
                                        // (kLeaseLost when the lease is gone)
};

class TicketRepo {
public:
    virtual ~TicketRepo() = default;
    [[nodiscard]] virtual Result<TicketState> Load(const TicketKey& key) = 0;
    // All of it or nothing; see TicketCommit. Returns the new snapshot version. kConflict (version moved),
    // kLeaseLost (a fence no longer holds), kInvalidArgument (empty keys, JSON that is not an object).
    [[nodiscard]] virtual Result<std::int64_t> Commit(const TicketCommit& commit, TimeMs now) = 0;
    // Tickets of a portal (any entity type), open ones only unless include_closed; item_id order.
    [[nodiscard]] virtual Result<std::vector<TicketSnapshot>> List(std::string_view member_id, bool include_closed) = 0;
    // Every ledger of a portal, for statistics: (key, rows) in item order.
    [[nodiscard]] virtual Result<std::vector<std::pair<TicketKey, std::vector<LedgerRow>>>> Ledgers(
        std::string_view member_id) = 0;
};

// ---- timers ---------------------------------------------------------------------------------------------------

struct DueTimer {
    std::int64_t id = 0;
    TimerArm timer;
    // Fencing token: grows with every claim of the row and is NOT reset by re-arming (a worker whose lease was
    // taken, or whose timer was re-armed, must never match a later claim). Not a failure count: see `tries`.
    std::int64_t attempt = 0;
    std::int64_t tries = 0;  // claims since the timer was last armed (1 on the first): for backoff
};

class TimerRepo {
public:
    virtual ~TimerRepo() = default;
    [[nodiscard]] virtual Result<void> Arm(const TimerArm& timer) = 0;
    // The earliest due_at among pending timers (and leased ones whose lease expired): the scheduler sleeps until
    // then. nullopt when there is none.
    [[nodiscard]] virtual Result<std::optional<TimeMs>> NextDue() = 0;
    // Leases up to `max` timers with due_at <= now (and expired leases), earliest first.
    [[nodiscard]] virtual Result<std::vector<DueTimer>> Claim(int max, TimeMs now, TimeMs lease) = 0;
    // Done: the row is removed (unless re-armed since, which the fence detects: kLeaseLost).
    [[nodiscard]] virtual Result<void> Complete(const Fence& fence) = 0;
    // Back to pending at retry_at; dead once the timer has been tried max_attempts times since it was last armed.
    // kLeaseLost as for Complete.
    [[nodiscard]] virtual Result<void> Fail(const Fence& fence,
                                            std::string_view error,
                                            TimeMs retry_at,
                                            std::int64_t max_attempts) = 0;
    // Every timer of a portal, whatever its state, in due_at order.
    [[nodiscard]] virtual Result<std::vector<DueTimer>> List(std::string_view member_id) = 0;
};

// ---- outbox ---------------------------------------------------------------------------------------------------

struct ClaimedAction {
    std::int64_t id = 0;
    OutboxAction action;
    std::int64_t attempt = 0;  // the fencing token: it never repeats
    std::int64_t tries = 0;    // since the action was last revived (the attempt itself, if never): what the retry
                               // policy counts
};

// An outbox action that failed for good (state 'dead'), as operators see it.
struct DeadAction {
    ClaimedAction claimed;
    std::string last_error;
    TimeMs dead_at = 0;
    // A later call of the same method for the same ticket went out (or is going out): replaying this one could undo
    // it (an old assignment over a newer one), so Revive leaves it dead. Later ones still queued wait behind it.
    bool superseded = false;
};

struct OutboxDepth {
    std::int64_t pending = 0;
    std::int64_t leased = 0;
    std::int64_t done = 0;
    std::int64_t dead = 0;
};

class OutboxRepo {
public:
    virtual ~OutboxRepo() = default;
    // Inserts actions outside a ticket commit (reconciliation, KPI export); duplicates skipped. Returns how many
    // were new.
    [[nodiscard]] virtual Result<int> Enqueue(const std::vector<OutboxAction>& actions) = 0;
    // Leases up to `max` ready actions (next_try_at <= now, or expired leases) of ONE portal, in id order; within a
    // subject only the oldest unfinished action is eligible, so one ticket's actions leave in the order queued.
    // The portal is the one of the oldest eligible action. Actions with an empty subject are not ordered.
    [[nodiscard]] virtual Result<std::vector<ClaimedAction>> Claim(int max, TimeMs now, TimeMs lease) = 0;
    [[nodiscard]] virtual Result<void> Complete(const Fence& fence, TimeMs now) = 0;
    // retry_at nullopt: dead (never retried), as of `now`. kLeaseLost as for the inbox.
    [[nodiscard]] virtual Result<void> Fail(const Fence& fence,
                                            std::string_view error,
                                            std::optional<TimeMs> retry_at,
                                            TimeMs now) = 0;
    // The earliest next_try_at of a pending action, or lease end of a leased one (a crashed sender's actions come
    // back then), among those first in line in their subject (the others wait for a Complete or Fail, not for a
    // time); nullopt when none.
    [[nodiscard]] virtual Result<std::optional<TimeMs>> NextReady() = 0;
    [[nodiscard]] virtual Result<OutboxDepth> Depth() = 0;
    // The same for one portal's actions whose idempotency key starts with `key_prefix` (one job's writes, such as
    // the KPI items: "<member>/kpi/").
    [[nodiscard]] virtual Result<OutboxDepth> DepthOf(std::string_view member_id, std::string_view key_prefix) = 0;
    // Every action of a portal in id order (tests, operators).
    [[nodiscard]] virtual Result<std::vector<ClaimedAction>> List(std::string_view member_id) = 0;
    // The same for one subject (a ticket: TicketKey::Subject()), whatever the state; read through an index of its
    // own, so the cost follows the ticket's history, not the portal's.
    [[nodiscard]] virtual Result<std::vector<ClaimedAction>> ListSubject(std::string_view member_id,
                                                                         std::string_view subject) = 0;
    // The portal's dead actions, oldest first, at most `limit`.
    [[nodiscard]] virtual Result<std::vector<DeadAction>> ListDead(std::string_view member_id, int limit) = 0;
    // Gives dead actions of the portal (`ids`; empty: all of them) another full round of attempts, from `now` on,
    // except superseded ones (DeadAction), and returns how many it revived. A revived action goes out before the
    // later ones of its ticket that are still queued. Fencing and tries as for InboxRepo::Revive.
    [[nodiscard]] virtual Result<std::int64_t> Revive(std::string_view member_id,
                                                      const std::vector<std::int64_t>& ids,
                                                      TimeMs now) = 0;
    // Retention: deletes at most `max_rows` actions in state 'done' whose done_at is before `cutoff`, in one
    // transaction, and returns how many it deleted; the caller repeats until fewer come back, so the writer is never
    // held for more than one chunk. Dead actions stay (operators read them), and so do pending and leased ones.
    [[nodiscard]] virtual Result<std::int64_t> PurgeDone(TimeMs cutoff, int max_rows) = 0;
};

// ---- per-portal settings --------------------------------------------------------------------------------------

// Small JSON documents per portal: "layout" (the ids provisioning found or created), "reconcile" (watermarks).
class SettingsRepo {
public:
    virtual ~SettingsRepo() = default;
    // kNotFound when absent.
    [[nodiscard]] virtual Result<std::string> Get(std::string_view member_id, std::string_view key) = 0;
    [[nodiscard]] virtual Result<void> Put(std::string_view member_id,
                                           std::string_view key,
                                           std::string_view json,
                                           TimeMs now) = 0;
};

}  // namespace dispatch::store
