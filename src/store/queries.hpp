#pragma once
// SQL shared by both backends (internal to store/). Written once with ?N parameters; the PostgreSQL side rewrites
// them to $N (PgParams). Only the claim differs: PostgreSQL adds FOR UPDATE SKIP LOCKED so several instances can
// claim side by side. Kept portable on purpose: no UPDATE ... LIMIT (STYLE.md §2.4), RETURNING and ON CONFLICT
// exist in both.

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "store/errc.hpp"
#include "store/repos.hpp"

namespace dispatch::store::sql {

inline constexpr std::string_view kPortalColumns =
    "member_id, domain, client_endpoint, server_endpoint, application_token, auth_mode, status, installed_at, "
    "updated_at";

// installed_at is kept from the first install; everything else follows the latest upsert.
inline const std::string kUpsertPortal = fmt::format(
    "INSERT INTO portals ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT (member_id) DO UPDATE SET domain = excluded.domain, client_endpoint = excluded.client_endpoint, "
    "server_endpoint = excluded.server_endpoint, application_token = excluded.application_token, "
    "auth_mode = excluded.auth_mode, status = excluded.status, updated_at = excluded.updated_at",
    kPortalColumns);
inline const std::string kFindPortalByMember =
    fmt::format("SELECT {} FROM portals WHERE member_id = ?1", kPortalColumns);
inline const std::string kFindPortalByDomain = fmt::format("SELECT {} FROM portals WHERE domain = ?1", kPortalColumns);
inline const std::string kListPortals = fmt::format("SELECT {} FROM portals ORDER BY domain", kPortalColumns);

inline constexpr std::string_view kTokenColumns =
    "member_id, access_token, refresh_token, expires_at, scope, updated_at, version";
inline const std::string kGetToken = fmt::format("SELECT {} FROM tokens WHERE member_id = ?1", kTokenColumns);
// First token of a portal: inserted only if none exists (a concurrent installer makes this a conflict).
inline const std::string kInsertToken = fmt::format(
    "INSERT INTO tokens ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1) ON CONFLICT (member_id) DO NOTHING RETURNING {}",
    kTokenColumns,
    kTokenColumns);
inline const std::string kSwapToken = fmt::format(
    "UPDATE tokens SET access_token = ?2, refresh_token = ?3, expires_at = ?4, scope = ?5, updated_at = ?6, "
    "version = version + 1 WHERE member_id = ?1 AND version = ?7 RETURNING {}",
    kTokenColumns);

// A duplicate dedup_key inserts nothing: the affected row count (1 or 0) tells which. No RETURNING: SQLite fills
// an ephemeral table for it on every execution, on the acknowledgement's hot path.
inline const std::string kInsertInbox =
    "INSERT INTO inbox (member_id, received_at, kind, event_name, entity_type_id, item_id, payload, dedup_key, "
    "available_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?2) ON CONFLICT (dedup_key) DO NOTHING";

// Calls bind(...) with kInsertInbox's parameters for `e`, in order.
template <class Bind>
auto WithInboxParams(const InboxEvent& e, Bind bind) {
    return bind(e.member_id,
                e.received_at,
                ToString(e.kind),
                e.event_name,
                e.entity_type_id,
                e.item_id,
                e.payload,
                e.dedup_key);
}

inline constexpr std::string_view kInboxClaimColumns =
    "id, member_id, received_at, kind, event_name, entity_type_id, item_id, payload, dedup_key, attempts, "
    "claimed_until";
// ?1 now, ?2 lease, ?3 max. A row is eligible when it is ready (pending and past its backoff, or claimed with an
// expired lease) and no older row of the same ticket is unfinished: that one rule gives both arrival order per
// ticket and at most one claimed row per ticket. `lock` is empty for SQLite (one writer) and
// "FOR UPDATE OF i SKIP LOCKED" for PostgreSQL.
inline std::string ClaimInbox(std::string_view lock) {
    return fmt::format(
        "UPDATE inbox SET state = 'claimed', claimed_until = CAST(?1 AS BIGINT) + CAST(?2 AS BIGINT), "
        "attempts = attempts + 1 "
        "WHERE id IN (SELECT i.id FROM inbox i "
        "WHERE ((i.state = 'pending' AND i.available_at <= ?1) OR (i.state = 'claimed' AND i.claimed_until <= ?1)) "
        "AND NOT EXISTS (SELECT 1 FROM inbox p WHERE p.member_id = i.member_id "
        "AND p.entity_type_id = i.entity_type_id AND p.item_id = i.item_id AND p.id < i.id "
        "AND p.state IN ('pending', 'claimed')) "
        "ORDER BY i.id LIMIT ?3 {}) RETURNING {}",
        lock,
        kInboxClaimColumns);
}
// The attempt number fences a stale worker out: a reclaim bumped it.
inline const std::string kCompleteInbox =
    "UPDATE inbox SET state = 'done', claimed_until = NULL, done_at = ?3 "
    "WHERE id = ?1 AND state = 'claimed' AND attempts = ?2";
inline const std::string kFailInbox =
    "UPDATE inbox SET state = ?3, available_at = ?4, claimed_until = NULL, last_error = ?5 "
    "WHERE id = ?1 AND state = 'claimed' AND attempts = ?2";
// The tries since the row was last revived, for the retry policy; no row unless the claim (attempt ?2) holds it.
inline const std::string kInboxTries =
    "SELECT attempts - attempts_base FROM inbox WHERE id = ?1 AND state = 'claimed' AND attempts = ?2";
inline const std::string kInboxDead = fmt::format(
    "SELECT {}, attempts - attempts_base, COALESCE(last_error, ''), available_at FROM inbox "
    "WHERE member_id = ?1 AND state = 'dead' ORDER BY id LIMIT ?2",
    kInboxClaimColumns);
// ?3: one row's id, or NULL for every dead row of the portal.
inline const std::string kReviveInbox =
    "UPDATE inbox SET state = 'pending', attempts_base = attempts, available_at = ?2, claimed_until = NULL "
    "WHERE member_id = ?1 AND state = 'dead' AND (CAST(?3 AS BIGINT) IS NULL OR id = ?3)";
inline const std::string kInboxDepth =
    "SELECT state, COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed', 'dead') GROUP BY state";

// ---- flows (flow_store.cpp) ----------------------------------------------------------------------------------

inline constexpr std::string_view kTicketWhere = "member_id = ?1 AND entity_type_id = ?2 AND item_id = ?3";
inline constexpr std::string_view kSnapshotColumns =
    "member_id, entity_type_id, item_id, stage_id, category_id, assigned_by_id, fields, last_history_id, "
    "item_updated_at, fetched_at, closed, version";
inline const std::string kLoadSnapshot =
    fmt::format("SELECT {} FROM ticket_snapshots WHERE {}", kSnapshotColumns, kTicketWhere);
// ?2 = 1: closed ones too.
inline const std::string kListSnapshots = fmt::format(
    "SELECT {} FROM ticket_snapshots WHERE member_id = ?1 AND (closed = 0 OR ?2 = 1) ORDER BY item_id, "
    "entity_type_id",
    kSnapshotColumns);
// The compare-and-swap: the first store inserts version 1 unless someone else did (no row back: kConflict); later
// ones update only from the version read.
inline const std::string kInsertSnapshot = fmt::format(
    "INSERT INTO ticket_snapshots ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1) "
    "ON CONFLICT (member_id, entity_type_id, item_id) DO NOTHING RETURNING version",
    kSnapshotColumns);
inline const std::string kSwapSnapshot = fmt::format(
    "UPDATE ticket_snapshots SET stage_id = ?4, category_id = ?5, assigned_by_id = ?6, fields = ?7, "
    "last_history_id = ?8, item_updated_at = ?9, fetched_at = ?10, closed = ?11, version = version + 1 "
    "WHERE {} AND version = ?12 RETURNING version",
    kTicketWhere);

inline const std::string kLoadLedger =
    fmt::format("SELECT seq, at, kind, data, recorded_at FROM ledger WHERE {} ORDER BY seq", kTicketWhere);
inline const std::string kLedgerLength = fmt::format("SELECT COALESCE(MAX(seq), 0) FROM ledger WHERE {}", kTicketWhere);
inline const std::string kAppendLedger =
    "INSERT INTO ledger (member_id, entity_type_id, item_id, seq, at, kind, data, recorded_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
inline const std::string kPortalLedgers =
    "SELECT entity_type_id, item_id, seq, at, kind, data, recorded_at FROM ledger WHERE member_id = ?1 "
    "ORDER BY item_id, entity_type_id, seq";

inline constexpr std::string_view kTimerColumns =
    "id, member_id, kind, subject, due_at, version, payload, attempts, armed_attempts";
// Re-arming keeps `attempts` (the fencing token only grows) and restarts the failure count from it.
inline const std::string kArmTimer =
    "INSERT INTO timers (member_id, kind, subject, due_at, version, payload, ready_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4) ON CONFLICT (kind, subject) DO UPDATE SET member_id = excluded.member_id, "
    "due_at = excluded.due_at, version = excluded.version, payload = excluded.payload, ready_at = excluded.ready_at, "
    "state = 'pending', armed_attempts = timers.attempts, last_error = NULL";
inline const std::string kDisarmTimer = "DELETE FROM timers WHERE kind = ?1 AND subject = ?2";
// ready_at is the due time, the retry time or the lease end: whichever makes the row claimable next (timers'
// lease_until column, from 0002, is no longer written).
inline const std::string kNextDueTimer = "SELECT MIN(ready_at) FROM timers WHERE state IN ('pending', 'leased')";
// ?1 now, ?2 lease, ?3 max.
inline std::string ClaimTimers(std::string_view lock) {
    return fmt::format(
        "UPDATE timers SET state = 'leased', attempts = attempts + 1, "
        "ready_at = CAST(?1 AS BIGINT) + CAST(?2 AS BIGINT) "
        "WHERE id IN (SELECT t.id FROM timers t WHERE t.state IN ('pending', 'leased') AND t.ready_at <= ?1 "
        "ORDER BY t.ready_at, t.id LIMIT ?3 {}) RETURNING {}",
        lock,
        kTimerColumns);
}
inline const std::string kCompleteTimer = "DELETE FROM timers WHERE id = ?1 AND state = 'leased' AND attempts = ?2";
// ?3 retry_at, ?4 max_attempts, ?5 error.
inline const std::string kFailTimer =
    "UPDATE timers SET state = CASE WHEN attempts - armed_attempts >= ?4 THEN 'dead' ELSE 'pending' END, "
    "ready_at = ?3, last_error = ?5 WHERE id = ?1 AND state = 'leased' AND attempts = ?2";
inline const std::string kListTimers =
    fmt::format("SELECT {} FROM timers WHERE member_id = ?1 ORDER BY due_at, id", kTimerColumns);

inline constexpr std::string_view kOutboxColumns =
    "id, member_id, idempotency_key, method, params, subject, next_try_at, created_at, attempts, "
    "attempts - attempts_base";
// A stored key inserts nothing (0 rows changed).
inline const std::string kInsertOutbox =
    "INSERT INTO outbox (member_id, idempotency_key, method, params, subject, next_try_at, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (idempotency_key) DO NOTHING";
// An action first in line in its subject: no older unfinished action of the same subject (the per-ticket order;
// dead ones hold nothing back). `x` is the alias of the outbox row.
inline std::string OutboxHead(std::string_view x) {
    return fmt::format(
        "({0}.subject = '' OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.member_id = {0}.member_id "
        "AND p.subject = {0}.subject AND p.id < {0}.id AND p.state IN ('pending', 'leased')))",
        x);
}
// ?1 now, ?2 lease, ?3 max. Ready: pending and due, or leased with an expired lease; and first in its subject. One
// portal per claim, the one of the oldest eligible action, because a claim becomes one batch call to that portal.
inline std::string ClaimOutbox(std::string_view lock_first, std::string_view lock_rows) {
    const auto eligible = [](std::string_view x) {
        return fmt::format(
            "(({0}.state = 'pending' AND {0}.next_try_at <= ?1) OR ({0}.state = 'leased' AND {0}.lease_until <= ?1)) "
            "AND {1}",
            x,
            OutboxHead(x));
    };
    return fmt::format(
        "UPDATE outbox SET state = 'leased', attempts = attempts + 1, "
        "lease_until = CAST(?1 AS BIGINT) + CAST(?2 AS BIGINT) "
        "WHERE id IN (SELECT o.id FROM outbox o WHERE {} AND o.member_id = "
        "(SELECT f.member_id FROM outbox f WHERE {} ORDER BY f.id LIMIT 1 {}) "
        "ORDER BY o.id LIMIT ?3 {}) RETURNING {}",
        eligible("o"),
        eligible("f"),
        lock_first,
        lock_rows,
        kOutboxColumns);
}
// When a claim can next return something: an action waiting behind an older one of its subject cannot leave before
// that one finishes, so only the first in line count (or the sender would wake at once and find nothing).
inline const std::string kNextReadyOutbox = fmt::format(
    "SELECT MIN(CASE WHEN o.state = 'pending' THEN o.next_try_at ELSE o.lease_until END) FROM outbox o "
    "WHERE o.state IN ('pending', 'leased') AND {}",
    OutboxHead("o"));
inline const std::string kCompleteOutbox =
    "UPDATE outbox SET state = 'done', done_at = ?3, lease_until = NULL "
    "WHERE id = ?1 AND state = 'leased' AND attempts = ?2";
// ?3 retry_at, NULL: dead, and then ?5 (now) is when it died, kept in done_at (the purge takes done rows only).
inline const std::string kFailOutbox =
    "UPDATE outbox SET state = CASE WHEN CAST(?3 AS BIGINT) IS NULL THEN 'dead' ELSE 'pending' END, "
    "next_try_at = COALESCE(CAST(?3 AS BIGINT), next_try_at), lease_until = NULL, last_error = ?4, "
    "done_at = CASE WHEN CAST(?3 AS BIGINT) IS NULL THEN CAST(?5 AS BIGINT) ELSE NULL END "
    "WHERE id = ?1 AND state = 'leased' AND attempts = ?2";
// A later call of the same method for the same ticket went out (or is going out): replaying `x` now could undo it,
// as an old crm.item.update would an assignment made since. Calls of other methods (a notification, a comment)
// overwrite nothing of it, and later ones still pending are no reason either: a revived `x` leaves before them.
inline std::string OutboxSuperseded(std::string_view x) {
    return fmt::format(
        "({0}.subject <> '' AND EXISTS (SELECT 1 FROM outbox n WHERE n.member_id = {0}.member_id "
        "AND n.subject = {0}.subject AND n.method = {0}.method AND n.id > {0}.id AND n.state IN ('done', 'leased')))",
        x);
}
inline const std::string kOutboxDead = fmt::format(
    "SELECT {}, COALESCE(o.last_error, ''), CASE WHEN {} THEN 1 ELSE 0 END, COALESCE(o.done_at, 0) FROM outbox o "
    "WHERE o.member_id = ?1 AND o.state = 'dead' ORDER BY o.id LIMIT ?2",
    kOutboxColumns,
    OutboxSuperseded("o"));
// ?2 one action's id, or NULL for every dead action of the portal; the ones Revive may bring back.
inline const std::string kOutboxRevivable = fmt::format(
    "SELECT o.id FROM outbox o WHERE o.member_id = ?1 AND o.state = 'dead' "
    "AND (CAST(?2 AS BIGINT) IS NULL OR o.id = ?2) AND NOT {} ORDER BY o.id",
    OutboxSuperseded("o"));
inline const std::string kReviveOutbox =
    "UPDATE outbox SET state = 'pending', attempts_base = attempts, next_try_at = ?2, lease_until = NULL, "
    "done_at = NULL "
    "WHERE id = ?1 AND state = 'dead'";
inline const std::string kOutboxDepth = "SELECT state, COUNT(*) FROM outbox GROUP BY state";
inline const std::string kOutboxDepthOf =
    "SELECT state, COUNT(*) FROM outbox WHERE member_id = ?1 AND "
    "substr(idempotency_key, 1, length(CAST(?2 AS TEXT))) = CAST(?2 AS TEXT) GROUP BY state";
inline const std::string kListOutbox =
    fmt::format("SELECT {} FROM outbox WHERE member_id = ?1 ORDER BY id", kOutboxColumns);
// Every state, as kListOutbox: outbox_subject (0005, on subject and id) answers it without reading the portal's other
// actions.
inline const std::string kListOutboxSubject =
    fmt::format("SELECT {} FROM outbox WHERE member_id = ?1 AND subject = ?2 ORDER BY id", kOutboxColumns);

// Retention: ?1 cutoff, ?2 rows per chunk. A done row has available_at (next_try_at) <= the instant it was claimed
// <= done_at, so the redundant bound on the ready index's column lets (state, available_at) stop the scan at the
// cutoff instead of reading every done row; if that ever failed to hold, a row would be kept longer, never deleted
// early. The newest row is never deleted: SQLite's rowid (no AUTOINCREMENT on these tables) would otherwise hand
// its id out again, and ids name things beyond the row (an outbox key carries the inbox id of a robot call).
// `lock` as for the claims: PostgreSQL instances purging at once skip each other's rows instead of deadlocking.
// `ready_at`: the column the table's ready index orders done rows by; `alias`: the subquery's, for `lock`.
inline std::string PurgeDone(std::string_view table,
                             std::string_view ready_at,
                             std::string_view alias,
                             std::string_view lock) {
    return fmt::format(
        "DELETE FROM {0} WHERE id IN (SELECT {2}.id FROM {0} {2} WHERE {2}.state = 'done' AND {2}.{1} < ?1 "
        "AND {2}.done_at < ?1 AND {2}.id < (SELECT MAX(m.id) FROM {0} m) LIMIT ?2 {3})",
        table,
        ready_at,
        alias,
        lock);
}
inline std::string PurgeDoneInbox(std::string_view lock) { return PurgeDone("inbox", "available_at", "i", lock); }
inline std::string PurgeDoneOutbox(std::string_view lock) { return PurgeDone("outbox", "next_try_at", "o", lock); }

inline const std::string kGetSetting = "SELECT json FROM portal_settings WHERE member_id = ?1 AND key = ?2";
inline const std::string kPutSetting =
    "INSERT INTO portal_settings (member_id, key, json, updated_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (member_id, key) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at";

// Decoders shared by both backends over any row type with Text(col), Int64(col) and IsNull(col).
template <class Row>
Result<Portal> ReadPortal(const Row& row) {
    Portal p;
    p.member_id = row.Text(0);
    p.domain = row.Text(1);
    p.client_endpoint = row.Text(2);
    p.server_endpoint = row.Text(3);
    p.application_token = row.Text(4);
    const auto mode = ParseAuthMode(row.Text(5));
    const auto status = ParsePortalStatus(row.Text(6));
    if (!mode || !status) {
        return Fail(Errc::kCorrupt, fmt::format("portal {} has an unknown auth_mode or status", p.member_id));
    }
    p.auth_mode = *mode;
    p.status = *status;
    p.installed_at = row.Int64(7);
    p.updated_at = row.Int64(8);
    return p;
}

template <class Row>
Token ReadToken(const Row& row) {
    return Token{row.Text(0), row.Text(1), row.Text(2), row.Int64(3), row.Text(4), row.Int64(5), row.Int64(6)};
}

template <class Row>
Result<ClaimedEvent> ReadClaimed(const Row& row) {
    ClaimedEvent c;
    c.id = row.Int64(0);
    c.event.member_id = row.Text(1);
    c.event.received_at = row.Int64(2);
    const auto kind = ParseInboxKind(row.Text(3));
    if (!kind) {
        return Fail(Errc::kCorrupt, fmt::format("inbox row {} has an unknown kind", c.id));
    }
    c.event.kind = *kind;
    c.event.event_name = row.Text(4);
    c.event.entity_type_id = row.Int64(5);
    c.event.item_id = row.Int64(6);
    c.event.payload = row.Text(7);
    c.event.dedup_key = row.Text(8);
    c.attempt = row.Int64(9);
    c.claimed_until = row.Int64(10);
    return c;
}

// Checks what the schema cannot (or, in PostgreSQL, does not): keys present, payload valid JSON.
Result<void> ValidateEvent(const InboxEvent& event);

}  // namespace dispatch::store::sql
