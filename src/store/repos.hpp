#pragma once
// The store's public face: plain row types and the repository interfaces that both backends (SQLite, PostgreSQL)
// implement. Callers depend on these only; which backend runs is a start-up decision (store/store.hpp).
//
// Every row carries member_id, the Bitrix24 portal, so one service can serve many portals (DESIGN.md §6).
// Every instant is dispatch::TimeMs (UTC milliseconds).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace dispatch::store {

// ---- portals ------------------------------------------------------------------------------------------------------

enum class AuthMode { kOAuth, kWebhook };  // DESIGN.md §7: local server application, or incoming webhook
enum class PortalStatus { kActive, kSuspended, kUninstalled };

std::string_view ToString(AuthMode mode);
std::optional<AuthMode> ParseAuthMode(std::string_view text);
std::string_view ToString(PortalStatus status);
std::optional<PortalStatus> ParsePortalStatus(std::string_view text);

struct Portal {
    std::string member_id;          // Bitrix24 member_id: stable for the portal's life
    std::string domain;             // acme.bitrix24.ru; unique among portals, may change on rename
    std::string client_endpoint;    // https://acme.bitrix24.ru/rest/
    std::string server_endpoint;    // https://oauth.bitrix.info/rest/
    std::string application_token;  // compared against every event's auth[application_token]; never logged
    AuthMode auth_mode = AuthMode::kOAuth;
    PortalStatus status = PortalStatus::kActive;
    TimeMs installed_at = 0;
    TimeMs updated_at = 0;

    bool operator==(const Portal&) const = default;
};

class PortalRepo {
public:
    virtual ~PortalRepo() = default;
    // Inserts or replaces the portal keyed by member_id (installed_at is kept from the first insert).
    // kConstraint when another portal already holds the domain.
    [[nodiscard]] virtual Result<void> Upsert(const Portal& portal) = 0;
    // kNotFound when absent.
    [[nodiscard]] virtual Result<Portal> FindByMemberId(std::string_view member_id) = 0;
    [[nodiscard]] virtual Result<Portal> FindByDomain(std::string_view domain) = 0;
    // Every portal, ordered by domain.
    [[nodiscard]] virtual Result<std::vector<Portal>> List() = 0;
};

// ---- OAuth tokens -------------------------------------------------------------------------------------------------

struct Token {
    std::string member_id;
    std::string access_token;   // secret: never logged
    std::string refresh_token;  // secret: never logged; Bitrix24 rotates it on every refresh
    TimeMs expires_at = 0;
    std::string scope;
    TimeMs updated_at = 0;
    std::int64_t version = 0;  // 1 for the first stored token; +1 on every successful swap

    bool operator==(const Token&) const = default;
};

class TokenRepo {
public:
    virtual ~TokenRepo() = default;
    // kNotFound when the portal has no token yet.
    [[nodiscard]] virtual Result<Token> Get(std::string_view member_id) = 0;
    // Stores `next` (its version field is ignored) if the stored version still equals expected_version; an
    // expected_version of 0 means "no token stored yet" (first install). Returns the stored token with its new
    // version. kConflict when someone else swapped first: re-read and decide again. kConstraint when the portal
    // does not exist (tokens belong to a portal).
    // The OAuth refresher calls this with the rotated refresh token *before* using the new access token, so a
    // crash between the two cannot lose the only valid refresh token.
    [[nodiscard]] virtual Result<Token> CompareAndSwap(const Token& next, std::int64_t expected_version) = 0;
};

// ---- inbox --------------------------------------------------------------------------------------------------------

enum class InboxKind { kEvent, kRobot, kInstall, kHook };
std::string_view ToString(InboxKind kind);
std::optional<InboxKind> ParseInboxKind(std::string_view text);

struct InboxEvent {
    std::string member_id;
    TimeMs received_at = 0;
    InboxKind kind = InboxKind::kEvent;
    std::string event_name;           // ONCRMDYNAMICITEMADD, a robot code, ...
    std::int64_t entity_type_id = 0;  // 0 with item_id 0: not about one item (install); ordered per portal then
    std::int64_t item_id = 0;
    std::string payload = "{}";  // JSON text, stored as is; must be valid JSON
    std::string dedup_key;       // unique across the inbox; a second append with the same key is a duplicate
};

enum class AppendOutcome { kStored, kDuplicate };
using AppendCallback = std::function<void(Result<AppendOutcome>)>;

struct ClaimedEvent {
    std::int64_t id = 0;
    InboxEvent event;
    std::int64_t attempt = 0;  // 1 on the first claim; also the fencing token for Complete/Fail
    TimeMs claimed_until = 0;
};

struct RetryPolicy {
    std::int64_t max_attempts = 8;         // the claim that fails the max_attempts-th time dead-letters the row
    TimeMs first_backoff = 1 * kSecondMs;  // after the first failure; doubles each attempt
    TimeMs max_backoff = 15 * kMinuteMs;
};
// Delay before the next attempt after `attempt` failed: first_backoff * 2^(attempt-1), capped. Deterministic.
TimeMs Backoff(const RetryPolicy& policy, std::int64_t attempt);

struct FailOutcome {
    bool dead = false;    // dead-lettered: no more attempts
    TimeMs retry_at = 0;  // when not dead: not claimable before this instant
};

struct InboxDepth {
    std::int64_t pending = 0;  // waiting (including those backing off)
    std::int64_t claimed = 0;  // leased to a worker
    std::int64_t dead = 0;     // dead letters: a human must look
};

// An inbox row that used up its attempts (state 'dead'), as operators see it.
struct DeadLetter {
    std::int64_t id = 0;
    InboxEvent event;
    std::int64_t tries = 0;  // since it was last revived
    std::string last_error;
    TimeMs dead_at = 0;
};

struct GroupCommitStats {
    std::uint64_t transactions = 0;  // append transactions run (one per gathered batch)
    std::uint64_t appends = 0;       // append requests answered (stored + duplicate + failed)
    std::uint64_t duplicates = 0;
    std::uint64_t largest_batch = 0;
};

class InboxRepo {
public:
    virtual ~InboxRepo() = default;

    // Queues the event; `done` runs once the transaction holding it has COMMITted (so kStored means durable: see
    // the backend for the fsync policy), or with the error that prevented that. Duplicates (same dedup_key) are
    // kDuplicate, not an error. Appends from many threads are gathered into one transaction (group commit): each
    // batch is committed as soon as the previous commit returns, with no fixed wait. `done` runs on the store's
    // writer thread: keep it short (post elsewhere for anything slow) and do not call the store synchronously
    // from it. After Close, `done` gets kClosed.
    virtual void Append(InboxEvent event, AppendCallback done) = 0;
    // Append and wait for the completion.
    [[nodiscard]] Result<AppendOutcome> AppendAndWait(InboxEvent event);

    // Leases up to `max` rows until now + lease, oldest first. Per ticket (member_id, entity_type_id, item_id) only
    // the oldest unfinished row is ever eligible, so rows of one ticket are processed in arrival order and never two
    // at once; a row backing off after a failure holds back the later rows of its ticket. Rows whose lease expired
    // are claimed again (attempt + 1). Returned in id order.
    [[nodiscard]] virtual Result<std::vector<ClaimedEvent>> Claim(int max, TimeMs now, TimeMs lease) = 0;
    // Marks the claimed row done. kLeaseLost when the row is no longer held by this claim (attempt mismatch).
    [[nodiscard]] virtual Result<void> Complete(std::int64_t id, std::int64_t attempt, TimeMs now) = 0;
    // Records the failure: back to pending after Backoff(policy, tries), or dead when tries >= max_attempts, where
    // tries counts the attempts since the row was last revived (the attempt number itself, if never).
    // kLeaseLost as for Complete. `error` is stored for operators; it must hold no secret.
    [[nodiscard]] virtual Result<FailOutcome> Fail(
        std::int64_t id, std::int64_t attempt, std::string_view error, TimeMs now, const RetryPolicy& policy) = 0;
    [[nodiscard]] virtual Result<InboxDepth> Depth() = 0;
    // The portal's dead rows, oldest first, at most `limit`.
    [[nodiscard]] virtual Result<std::vector<DeadLetter>> ListDead(std::string_view member_id, int limit) = 0;
    // Gives dead rows of the portal (`ids`; empty: all of them) another full round of attempts, from `now` on, and
    // returns how many it revived; ids that are not dead rows of this portal are left alone. A revived row keeps its
    // place in its ticket's order: later rows of the ticket wait for it again. The attempt number goes on counting
    // (a claim from before the revive can never match a new one); the retry policy counts the tries since.
    [[nodiscard]] virtual Result<std::int64_t> Revive(std::string_view member_id,
                                                      const std::vector<std::int64_t>& ids,
                                                      TimeMs now) = 0;
    // Retention: deletes at most `max_rows` rows in state 'done' whose done_at is before `cutoff`, in one
    // transaction, and returns how many it deleted (the caller repeats until fewer come back). Dead rows stay, and so
    // do pending and claimed ones. Forgetting a done row forgets its dedup_key, which is safe once Bitrix24 can no
    // longer deliver that event again (it re-delivers within minutes, never days).
    [[nodiscard]] virtual Result<std::int64_t> PurgeDone(TimeMs cutoff, int max_rows) = 0;
    virtual GroupCommitStats Stats() const = 0;
};

}  // namespace dispatch::store
