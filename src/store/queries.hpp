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
inline const std::string kFindPortalByMember = fmt::format("SELECT {} FROM portals WHERE member_id = ?1", kPortalColumns);
inline const std::string kFindPortalByDomain = fmt::format("SELECT {} FROM portals WHERE domain = ?1", kPortalColumns);
inline const std::string kListPortals = fmt::format("SELECT {} FROM portals ORDER BY domain", kPortalColumns);

inline constexpr std::string_view kTokenColumns =
    "member_id, access_token, refresh_token, expires_at, scope, updated_at, version";
inline const std::string kGetToken = fmt::format("SELECT {} FROM tokens WHERE member_id = ?1", kTokenColumns);
// First token of a portal: inserted only if none exists (a concurrent installer makes this a conflict).
inline const std::string kInsertToken = fmt::format(
    "INSERT INTO tokens ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1) ON CONFLICT (member_id) DO NOTHING RETURNING {}",
    kTokenColumns, kTokenColumns);
inline const std::string kSwapToken = fmt::format(
    "UPDATE tokens SET access_token = ?2, refresh_token = ?3, expires_at = ?4, scope = ?5, updated_at = ?6, "
    "version = version + 1 WHERE member_id = ?1 AND version = ?7 RETURNING {}",
    kTokenColumns);

// A duplicate dedup_key inserts nothing and returns no row.
inline constexpr std::string_view kInsertInbox =
    "INSERT INTO inbox (member_id, received_at, kind, event_name, entity_type_id, item_id, payload, dedup_key, "
    "available_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?2) ON CONFLICT (dedup_key) DO NOTHING RETURNING id";

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
        lock, kInboxClaimColumns);
}
// The attempt number fences a stale worker out: a reclaim bumped it.
inline constexpr std::string_view kCompleteInbox =
    "UPDATE inbox SET state = 'done', claimed_until = NULL, done_at = ?3 "
    "WHERE id = ?1 AND state = 'claimed' AND attempts = ?2";
inline constexpr std::string_view kFailInbox =
    "UPDATE inbox SET state = ?3, available_at = ?4, claimed_until = NULL, last_error = ?5 "
    "WHERE id = ?1 AND state = 'claimed' AND attempts = ?2";
inline constexpr std::string_view kInboxDepth =
    "SELECT state, COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed', 'dead') GROUP BY state";

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
