#include "store/flow_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/json.hpp"
#include "store/errc.hpp"
#include "store/queries.hpp"

namespace dispatch::store {

std::string TicketKey::Subject() const { return fmt::format("{}/{}/{}", member_id, entity_type_id, item_id); }

namespace {

using sql::QueryResult;
using sql::ResultRow;
using sql::Session;

// ---- validation: what the schema cannot check (or, in PostgreSQL, does not) ------------------------------------

Error Invalid(std::string detail) { return dispatch::Fail(Errc::kInvalidArgument, std::move(detail)); }

bool IsJsonObject(std::string_view text) {
    auto value = json::Parse(text);
    return value && value->is_object();
}

Result<void> ValidateKey(const TicketKey& key) {
    if (key.member_id.empty() || key.entity_type_id <= 0 || key.item_id <= 0) {
        return Invalid(fmt::format("ticket key '{}' needs a member_id and positive ids", key.Subject()));
    }
    return {};
}

Result<void> ValidateArm(const TimerArm& arm) {
    if (arm.member_id.empty() || arm.kind.empty() || arm.subject.empty()) {
        return Invalid("timer needs a member_id, a kind and a subject");
    }
    if (!IsJsonObject(arm.payload)) {
        return Invalid(fmt::format("timer {} {} has a payload that is not a JSON object", arm.kind, arm.subject));
    }
    return {};
}

Result<void> ValidateActions(const std::vector<OutboxAction>& actions) {
    for (const auto& a : actions) {
        if (a.member_id.empty() || a.idempotency_key.empty() || a.method.empty()) {
            return Invalid("outbox action needs a member_id, an idempotency_key and a method");
        }
        if (!IsJsonObject(a.params)) {
            return Invalid(fmt::format("outbox action {} has params that are not a JSON object", a.idempotency_key));
        }
    }
    return {};
}

Result<void> ValidateCommit(const TicketCommit& c) {
    if (auto key = ValidateKey(c.snapshot.key); !key) {
        return key;
    }
    const std::string subject = c.snapshot.key.Subject();
    if (c.expected_version < 0) {
        return Invalid(fmt::format("ticket {}: expected_version {} is negative", subject, c.expected_version));
    }
    if (!IsJsonObject(c.snapshot.fields)) {
        return Invalid(fmt::format("ticket {}: fields are not a JSON object", subject));
    }
    for (const auto& row : c.append) {
        if (row.kind.empty() || !IsJsonObject(row.data)) {
            return Invalid(fmt::format("ticket {}: a ledger row needs a kind and a JSON object", subject));
        }
    }
    if (c.arm && c.disarm) {
        return Invalid(fmt::format("ticket {}: arm and disarm in one commit", subject));
    }
    if (c.arm) {
        if (auto arm = ValidateArm(*c.arm); !arm) {
            return arm;
        }
    }
    return ValidateActions(c.actions);
}

// ---- row decoding ---------------------------------------------------------------------------------------------

TicketSnapshot ReadSnapshot(const ResultRow& r) {
    TicketSnapshot s;
    s.key.member_id = r.Text(0);
    s.key.entity_type_id = r.Int64(1);
    s.key.item_id = r.Int64(2);
    s.stage_id = r.Text(3);
    s.category_id = r.Int64(4);
    s.assigned_by_id = r.Int64(5);
    s.fields = r.Text(6);
    s.last_history_id = r.Int64(7);
    s.item_updated_at = r.Int64(8);
    s.fetched_at = r.Int64(9);
    s.closed = r.Int64(10) != 0;
    s.version = r.Int64(11);
    return s;
}

// seq, at, kind, data, recorded_at from column `first` on.
LedgerRow ReadLedgerRow(const ResultRow& r, int first) {
    LedgerRow l;
    l.seq = r.Int64(first);
    l.at = r.Int64(first + 1);
    l.kind = r.Text(first + 2);
    l.data = r.Text(first + 3);
    l.recorded_at = r.Int64(first + 4);
    return l;
}

DueTimer ReadTimer(const ResultRow& r) {
    DueTimer d;
    d.id = r.Int64(0);
    d.timer.member_id = r.Text(1);
    d.timer.kind = r.Text(2);
    d.timer.subject = r.Text(3);
    d.timer.due_at = r.Int64(4);
    d.timer.version = r.Int64(5);
    d.timer.payload = r.Text(6);
    d.attempt = r.Int64(7);
    d.tries = d.attempt - r.Int64(8);
    return d;
}

ClaimedAction ReadAction(const ResultRow& r) {
    ClaimedAction c;
    c.id = r.Int64(0);
    c.action.member_id = r.Text(1);
    c.action.idempotency_key = r.Text(2);
    c.action.method = r.Text(3);
    c.action.params = r.Text(4);
    c.action.subject = r.Text(5);
    c.action.next_try_at = r.Int64(6);
    c.action.created_at = r.Int64(7);
    c.attempt = r.Int64(8);
    c.tries = r.Int64(9);
    return c;
}

using sql::Done;
using sql::MapRows;

Result<void> RequireHeld(const Result<QueryResult>& result, std::string_view what, const Fence& fence) {
    return sql::RequireHeld(result, what, fence.id, fence.attempt);
}

// The single value of a SELECT MIN(...): nullopt when there was nothing to take the minimum of.
Result<std::optional<TimeMs>> MinTime(const Result<QueryResult>& rows) {
    if (!rows) {
        return rows.error();
    }
    if (rows->rows.empty() || rows->rows.front().IsNull(0)) {
        return std::optional<TimeMs>();
    }
    return std::optional<TimeMs>(rows->rows.front().Int64(0));
}

// ---- statements used by more than one repository ---------------------------------------------------------------

Result<void> ArmTimer(Session& s, const TimerArm& t) {
    return Done(s.Run(sql::kArmTimer, t.member_id, t.kind, t.subject, t.due_at, t.version, t.payload));
}

// Returns how many were new (stored keys are skipped).
Result<int> InsertActions(Session& s, const std::vector<OutboxAction>& actions) {
    int inserted = 0;
    for (const auto& a : actions) {
        auto result = s.Run(sql::kInsertOutbox,
                            a.member_id,
                            a.idempotency_key,
                            a.method,
                            a.params,
                            a.subject,
                            a.next_try_at,
                            a.created_at);
        if (!result) {
            return result.error();
        }
        inserted += static_cast<int>(result->affected);
    }
    return inserted;
}

// ---- tickets --------------------------------------------------------------------------------------------------

class Tickets final : public TicketRepo {
public:
    explicit Tickets(sql::Database& db) : db_(db) {}

    Result<TicketState> Load(const TicketKey& key) override {
        return db_.ReadValue<TicketState>([&](Session& s) -> Result<TicketState> {
            auto snapshot = s.Run(sql::kLoadSnapshot, key.member_id, key.entity_type_id, key.item_id);
            if (!snapshot) {
                return snapshot.error();
            }
            auto ledger = MapRows(s.Run(sql::kLoadLedger, key.member_id, key.entity_type_id, key.item_id),
                                  [](const ResultRow& r) { return ReadLedgerRow(r, 0); });
            if (!ledger) {
                return ledger.error();
            }
            TicketState state;
            if (!snapshot->rows.empty()) {
                state.snapshot = ReadSnapshot(snapshot->rows.front());
            }
            state.ledger = std::move(*ledger);
            return state;
        });
    }

    Result<std::int64_t> Commit(const TicketCommit& c, TimeMs now) override {
        if (auto valid = ValidateCommit(c); !valid) {
            return valid.error();
        }
        // The snapshot first: a conflict is the usual failure and costs nothing else, and in PostgreSQL its row
        // lock serialises every commit of this ticket before they touch timers and the outbox.
        return db_.WriteValue<std::int64_t>([&](Session& s) -> Result<std::int64_t> {
            auto version = SwapSnapshot(s, c);
            if (!version) {
                return version.error();
            }
            if (c.inbox) {
                auto held =
                    RequireHeld(s.Run(sql::kCompleteInbox, c.inbox->id, c.inbox->attempt, now), "inbox row", *c.inbox);
                if (!held) {
                    return held.error();
                }
            }
            if (c.timer) {
                // Removing the fired row first lets an `arm` of the same (kind, subject) insert a fresh row
                // (a new id, so no fencing token of the old one can ever match it).
                auto held = RequireHeld(s.Run(sql::kCompleteTimer, c.timer->id, c.timer->attempt), "timer", *c.timer);
                if (!held) {
                    return held.error();
                }
            }
            if (auto appended = AppendLedger(s, c.snapshot.key, c.append, now); !appended) {
                return appended.error();
            }
            if (c.disarm) {
                if (auto removed = Done(s.Run(sql::kDisarmTimer, kTicketTimerKind, c.snapshot.key.Subject()));
                    !removed) {
                    return removed.error();
                }
            }
            if (c.arm) {
                if (auto armed = ArmTimer(s, *c.arm); !armed) {
                    return armed.error();
                }
            }
            if (auto queued = InsertActions(s, c.actions); !queued) {
                return queued.error();
            }
            return *version;
        });
    }

    Result<std::vector<TicketSnapshot>> List(std::string_view member_id, bool include_closed) override {
        return db_.ReadValue<std::vector<TicketSnapshot>>(
            [&](Session& s) { return MapRows(s.Run(sql::kListSnapshots, member_id, include_closed), ReadSnapshot); });
    }

    using Ledger = std::pair<TicketKey, std::vector<LedgerRow>>;
    Result<std::vector<Ledger>> Ledgers(std::string_view member_id) override {
        return db_.ReadValue<std::vector<Ledger>>([&](Session& s) -> Result<std::vector<Ledger>> {
            auto rows = s.Run(sql::kPortalLedgers, member_id);
            if (!rows) {
                return rows.error();
            }
            std::vector<Ledger> out;
            for (const auto& r : rows->rows) {
                TicketKey key{std::string(member_id), r.Int64(0), r.Int64(1)};
                if (out.empty() || !(out.back().first == key)) {
                    out.emplace_back(std::move(key), std::vector<LedgerRow>{});
                }
                out.back().second.push_back(ReadLedgerRow(r, 2));
            }
            return out;
        });
    }

private:
    static Result<std::int64_t> SwapSnapshot(Session& s, const TicketCommit& c) {
        const TicketSnapshot& n = c.snapshot;
        const TicketKey& k = n.key;
        const bool first = c.expected_version == 0;
        const std::array<sql::Value, 12> values{sql::ToValue(k.member_id),
                                                sql::ToValue(k.entity_type_id),
                                                sql::ToValue(k.item_id),
                                                sql::ToValue(n.stage_id),
                                                sql::ToValue(n.category_id),
                                                sql::ToValue(n.assigned_by_id),
                                                sql::ToValue(n.fields),
                                                sql::ToValue(n.last_history_id),
                                                sql::ToValue(n.item_updated_at),
                                                sql::ToValue(n.fetched_at),
                                                sql::ToValue(n.closed),
                                                sql::ToValue(c.expected_version)};
        auto rows = s.Query(first ? sql::kInsertSnapshot : sql::kSwapSnapshot,
                            std::span<const sql::Value>(values.data(), first ? 11 : 12));
        if (!rows) {
            return rows.error();
        }
        if (rows->rows.empty()) {
            return dispatch::Fail(Errc::kConflict,
                                  fmt::format("ticket {} is no longer version {}", k.Subject(), c.expected_version));
        }
        return rows->rows.front().Int64(0);
    }

    // seq continues after the stored rows; the snapshot swap before it already serialised this ticket's commits.
    static Result<void> AppendLedger(Session& s, const TicketKey& k, const std::vector<LedgerRow>& rows, TimeMs now) {
        if (rows.empty()) {
            return {};
        }
        auto length = s.Run(sql::kLedgerLength, k.member_id, k.entity_type_id, k.item_id);
        if (!length) {
            return length.error();
        }
        std::int64_t seq = length->rows.empty() ? 0 : length->rows.front().Int64(0);
        for (const auto& row : rows) {
            auto added = s.Run(
                sql::kAppendLedger, k.member_id, k.entity_type_id, k.item_id, ++seq, row.at, row.kind, row.data, now);
            if (!added) {
                return added.error();
            }
        }
        return {};
    }

    sql::Database& db_;
};

// ---- timers ---------------------------------------------------------------------------------------------------

class Timers final : public TimerRepo {
public:
    explicit Timers(sql::Database& db) : db_(db), claim_sql_(sql::ClaimTimers(db.ClaimLock("t"))) {}

    Result<void> Arm(const TimerArm& timer) override {
        if (auto valid = ValidateArm(timer); !valid) {
            return valid;
        }
        return db_.Write([&](Session& s) { return ArmTimer(s, timer); });
    }

    Result<std::optional<TimeMs>> NextDue() override {
        return db_.ReadValue<std::optional<TimeMs>>([&](Session& s) { return MinTime(s.Run(sql::kNextDueTimer)); });
    }

    Result<std::vector<DueTimer>> Claim(int max, TimeMs now, TimeMs lease) override {
        if (max <= 0) {
            return std::vector<DueTimer>{};
        }
        return db_.WriteValue<std::vector<DueTimer>>([&](Session& s) -> Result<std::vector<DueTimer>> {
            auto out = MapRows(s.Run(claim_sql_, now, lease, max), ReadTimer);
            if (out) {
                // RETURNING promises no order.
                std::sort(out->begin(), out->end(), [](const DueTimer& a, const DueTimer& b) {
                    return std::tie(a.timer.due_at, a.id) < std::tie(b.timer.due_at, b.id);
                });
            }
            return out;
        });
    }

    Result<void> Complete(const Fence& fence) override {
        return db_.Write([&](Session& s) {
            return RequireHeld(s.Run(sql::kCompleteTimer, fence.id, fence.attempt), "timer", fence);
        });
    }

    Result<void> Fail(const Fence& fence, std::string_view error, TimeMs retry_at, std::int64_t max_attempts) override {
        return db_.Write([&](Session& s) {
            return RequireHeld(
                s.Run(sql::kFailTimer, fence.id, fence.attempt, retry_at, max_attempts, error), "timer", fence);
        });
    }

    Result<std::vector<DueTimer>> List(std::string_view member_id) override {
        return db_.ReadValue<std::vector<DueTimer>>(
            [&](Session& s) { return MapRows(s.Run(sql::kListTimers, member_id), ReadTimer); });
    }

private:
    sql::Database& db_;
    std::string claim_sql_;
};

// ---- outbox ---------------------------------------------------------------------------------------------------

class Outbox final : public OutboxRepo {
public:
    explicit Outbox(sql::Database& db)
        : db_(db),
          claim_sql_(sql::ClaimOutbox(db.ClaimLock("f"), db.ClaimLock("o"))),
          purge_sql_(sql::PurgeDoneOutbox(db.ClaimLock("o"))) {}

    Result<int> Enqueue(const std::vector<OutboxAction>& actions) override {
        if (auto valid = ValidateActions(actions); !valid) {
            return valid.error();
        }
        if (actions.empty()) {
            return 0;
        }
        return db_.WriteValue<int>([&](Session& s) { return InsertActions(s, actions); });
    }

    Result<std::vector<ClaimedAction>> Claim(int max, TimeMs now, TimeMs lease) override {
        if (max <= 0) {
            return std::vector<ClaimedAction>{};
        }
        return db_.WriteValue<std::vector<ClaimedAction>>([&](Session& s) -> Result<std::vector<ClaimedAction>> {
            auto out = MapRows(s.Run(claim_sql_, now, lease, max), ReadAction);
            if (out) {
                std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
            }
            return out;
        });
    }

    Result<void> Complete(const Fence& fence, TimeMs now) override {
        return db_.Write([&](Session& s) {
            return RequireHeld(s.Run(sql::kCompleteOutbox, fence.id, fence.attempt, now), "outbox action", fence);
        });
    }

    Result<void> Fail(const Fence& fence, std::string_view error, std::optional<TimeMs> retry_at, TimeMs now) override {
        return db_.Write([&](Session& s) {
            return RequireHeld(
                s.Run(sql::kFailOutbox, fence.id, fence.attempt, retry_at, error, now), "outbox action", fence);
        });
    }

    Result<std::optional<TimeMs>> NextReady() override {
        return db_.ReadValue<std::optional<TimeMs>>([&](Session& s) { return MinTime(s.Run(sql::kNextReadyOutbox)); });
    }

    Result<OutboxDepth> Depth() override {
        return db_.ReadValue<OutboxDepth>([&](Session& s) { return ReadDepth(s.Run(sql::kOutboxDepth)); });
    }

    Result<OutboxDepth> DepthOf(std::string_view member_id, std::string_view key_prefix) override {
        return db_.ReadValue<OutboxDepth>(
            [&](Session& s) { return ReadDepth(s.Run(sql::kOutboxDepthOf, member_id, key_prefix)); });
    }

    Result<std::vector<ClaimedAction>> List(std::string_view member_id) override {
        return db_.ReadValue<std::vector<ClaimedAction>>(
            [&](Session& s) { return MapRows(s.Run(sql::kListOutbox, member_id), ReadAction); });
    }

    Result<std::vector<ClaimedAction>> ListSubject(std::string_view member_id, std::string_view subject) override {
        return db_.ReadValue<std::vector<ClaimedAction>>(
            [&](Session& s) { return MapRows(s.Run(sql::kListOutboxSubject, member_id, subject), ReadAction); });
    }

    Result<std::vector<DeadAction>> ListDead(std::string_view member_id, int limit) override {
        return db_.ReadValue<std::vector<DeadAction>>([&](Session& s) {
            return MapRows(s.Run(sql::kOutboxDead, member_id, limit), [](const ResultRow& r) {
                return DeadAction{ReadAction(r), r.Text(10), r.Int64(12), r.Int64(11) != 0};
            });
        });
    }

    // The revivable ones are picked before any changes: reviving one must not make an older one look superseded.
    Result<std::int64_t> Revive(std::string_view member_id, const std::vector<std::int64_t>& ids, TimeMs now) override {
        return db_.WriteValue<std::int64_t>([&](Session& s) -> Result<std::int64_t> {
            std::vector<std::int64_t> revivable;
            auto ran = sql::ForIdsOrAll(ids, [&](std::optional<std::int64_t> id) -> Result<void> {
                auto rows = s.Run(sql::kOutboxRevivable, member_id, id);
                if (!rows) {
                    return rows.error();
                }
                for (const auto& r : rows->rows) {
                    revivable.push_back(r.Int64(0));
                }
                return {};
            });
            if (!ran) {
                return ran.error();
            }
            std::int64_t revived = 0;
            for (const std::int64_t id : revivable) {
                auto done = s.Run(sql::kReviveOutbox, id, now);
                if (!done) {
                    return done.error();
                }
                revived += done->affected;
            }
            return revived;
        });
    }

    Result<std::int64_t> PurgeDone(TimeMs cutoff, int max_rows) override {
        return sql::PurgeChunk(db_, purge_sql_, cutoff, max_rows);
    }

private:
    // (state, count) rows → the four counts.
    static Result<OutboxDepth> ReadDepth(Result<sql::QueryResult> rows) {
        if (!rows) {
            return rows.error();
        }
        OutboxDepth depth;
        for (const auto& r : rows->rows) {
            const std::string state = r.Text(0);
            std::int64_t* slot = state == "pending"  ? &depth.pending
                                 : state == "leased" ? &depth.leased
                                 : state == "done"   ? &depth.done
                                                     : &depth.dead;
            *slot = r.Int64(1);
        }
        return depth;
    }

    sql::Database& db_;
    std::string claim_sql_;
    std::string purge_sql_;
};

// ---- settings -------------------------------------------------------------------------------------------------

class Settings final : public SettingsRepo {
public:
    explicit Settings(sql::Database& db) : db_(db) {}

    Result<std::string> Get(std::string_view member_id, std::string_view key) override {
        return db_.ReadValue<std::string>([&](Session& s) -> Result<std::string> {
            auto rows = s.Run(sql::kGetSetting, member_id, key);
            if (!rows) {
                return rows.error();
            }
            if (rows->rows.empty()) {
                return dispatch::Fail(Errc::kNotFound, fmt::format("no setting '{}' for portal '{}'", key, member_id));
            }
            return rows->rows.front().Text(0);
        });
    }

    Result<void> Put(std::string_view member_id, std::string_view key, std::string_view document, TimeMs now) override {
        if (member_id.empty() || key.empty()) {
            return Invalid("a setting needs a member_id and a key");
        }
        if (!json::Parse(document)) {
            return Invalid(fmt::format("setting '{}' of portal '{}' is not JSON", key, member_id));
        }
        return db_.Write([&](Session& s) { return Done(s.Run(sql::kPutSetting, member_id, key, document, now)); });
    }

private:
    sql::Database& db_;
};

}  // namespace

FlowRepos MakeFlowRepos(sql::Database& db) {
    FlowRepos repos;
    repos.tickets = std::make_unique<Tickets>(db);
    repos.timers = std::make_unique<Timers>(db);
    repos.outbox = std::make_unique<Outbox>(db);
    repos.settings = std::make_unique<Settings>(db);
    return repos;
}

}  // namespace dispatch::store
