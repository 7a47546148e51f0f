#include "store/sql_store.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "store/errc.hpp"
#include "store/flow_store.hpp"
#include "store/queries.hpp"

namespace dispatch::store {
namespace {

using sql::ResultRow;
using sql::Session;

class SqlPortals final : public PortalRepo {
public:
    explicit SqlPortals(sql::Database& db) : db_(db) {}

    Result<void> Upsert(const Portal& p) override {
        return db_.Write([&](Session& s) {
            return sql::Done(s.Run(sql::kUpsertPortal,
                                   p.member_id,
                                   p.domain,
                                   p.client_endpoint,
                                   p.server_endpoint,
                                   p.application_token,
                                   ToString(p.auth_mode),
                                   ToString(p.status),
                                   p.installed_at,
                                   p.updated_at));
        });
    }

    Result<Portal> FindByMemberId(std::string_view member_id) override {
        return FindOne(sql::kFindPortalByMember, member_id);
    }
    Result<Portal> FindByDomain(std::string_view domain) override { return FindOne(sql::kFindPortalByDomain, domain); }

    Result<std::vector<Portal>> List() override {
        return db_.ReadValue<std::vector<Portal>>([&](Session& s) {
            return sql::MapRowsChecked<Portal>(s.Run(sql::kListPortals), sql::ReadPortal<ResultRow>);
        });
    }

private:
    Result<Portal> FindOne(const std::string& query, std::string_view key) {
        return db_.ReadValue<Portal>([&](Session& s) -> Result<Portal> {
            auto rows = s.Run(query, key);
            if (!rows) {
                return rows.error();
            }
            if (rows->rows.empty()) {
                return dispatch::Fail(Errc::kNotFound, fmt::format("no portal '{}'", key));
            }
            return sql::ReadPortal(rows->rows.front());
        });
    }

    sql::Database& db_;
};

class SqlTokens final : public TokenRepo {
public:
    explicit SqlTokens(sql::Database& db) : db_(db) {}

    Result<Token> Get(std::string_view member_id) override {
        return db_.ReadValue<Token>([&](Session& s) -> Result<Token> {
            auto rows = s.Run(sql::kGetToken, member_id);
            if (!rows) {
                return rows.error();
            }
            if (rows->rows.empty()) {
                return dispatch::Fail(Errc::kNotFound, fmt::format("no token for portal '{}'", member_id));
            }
            return sql::ReadToken(rows->rows.front());
        });
    }

    Result<Token> CompareAndSwap(const Token& next, std::int64_t expected_version) override {
        return db_.WriteValue<Token>([&](Session& s) -> Result<Token> {
            auto rows = expected_version == 0 ? s.Run(sql::kInsertToken,
                                                      next.member_id,
                                                      next.access_token,
                                                      next.refresh_token,
                                                      next.expires_at,
                                                      next.scope,
                                                      next.updated_at)
                                              : s.Run(sql::kSwapToken,
                                                      next.member_id,
                                                      next.access_token,
                                                      next.refresh_token,
                                                      next.expires_at,
                                                      next.scope,
                                                      next.updated_at,
                                                      expected_version);
            if (!rows) {
                return rows.error();
            }
            if (rows->rows.empty()) {
                return dispatch::Fail(
                    Errc::kConflict,
                    fmt::format("token of portal '{}' is no longer version {}", next.member_id, expected_version));
            }
            return sql::ReadToken(rows->rows.front());
        });
    }

private:
    sql::Database& db_;
};

class SqlInbox final : public InboxRepo {
public:
    explicit SqlInbox(SqlBackend& backend)
        : b_(backend),
          claim_sql_(sql::ClaimInbox(backend.ClaimLock("i"))),
          purge_sql_(sql::PurgeDoneInbox(backend.ClaimLock("i"))) {}

    void Append(InboxEvent event, AppendCallback done) override {
        if (auto valid = sql::ValidateEvent(event); !valid) {
            done(valid.error());
            return;
        }
        b_.Executor().Append(std::move(event), std::move(done));
    }

    Result<std::vector<ClaimedEvent>> Claim(int max, TimeMs now, TimeMs lease) override {
        return b_.WriteValue<std::vector<ClaimedEvent>>([&](Session& s) -> Result<std::vector<ClaimedEvent>> {
            auto out =
                sql::MapRowsChecked<ClaimedEvent>(s.Run(claim_sql_, now, lease, max), sql::ReadClaimed<ResultRow>);
            if (out) {
                // RETURNING promises no order.
                std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
            }
            return out;
        });
    }

    Result<void> Complete(std::int64_t id, std::int64_t attempt, TimeMs now) override {
        return b_.Write([&](Session& s) {
            return sql::RequireHeld(s.Run(sql::kCompleteInbox, id, attempt, now), "inbox row", id, attempt);
        });
    }

    Result<FailOutcome> Fail(
        std::int64_t id, std::int64_t attempt, std::string_view error, TimeMs now, const RetryPolicy& policy) override {
        FailOutcome outcome;
        auto recorded = b_.Write([&](Session& s) -> Result<void> {
            auto tries = s.Run(sql::kInboxTries, id, attempt);
            if (!tries) {
                return tries.error();
            }
            if (tries->rows.empty()) {
                return dispatch::Fail(Errc::kLeaseLost,
                                      fmt::format("inbox row {} attempt {} is not held", id, attempt));
            }
            const std::int64_t since_revive = tries->rows.front().Int64(0);
            outcome.dead = since_revive >= policy.max_attempts;
            outcome.retry_at = outcome.dead ? 0 : now + Backoff(policy, since_revive);
            return sql::RequireHeld(s.Run(sql::kFailInbox,
                                          id,
                                          attempt,
                                          outcome.dead ? "dead" : "pending",
                                          outcome.dead ? now : outcome.retry_at,
                                          error),
                                    "inbox row",
                                    id,
                                    attempt);
        });
        if (!recorded) {
            return recorded.error();
        }
        return outcome;
    }

    Result<std::int64_t> PurgeDone(TimeMs cutoff, int max_rows) override {
        return sql::PurgeChunk(b_, purge_sql_, cutoff, max_rows);
    }

    Result<std::vector<DeadLetter>> ListDead(std::string_view member_id, int limit) override {
        return b_.ReadValue<std::vector<DeadLetter>>([&](Session& s) {
            return sql::MapRowsChecked<DeadLetter>(
                s.Run(sql::kInboxDead, std::string(member_id), limit), [](const ResultRow& row) -> Result<DeadLetter> {
                    auto claimed = sql::ReadClaimed<ResultRow>(row);
                    if (!claimed) {
                        return claimed.error();
                    }
                    return DeadLetter{
                        claimed->id, std::move(claimed->event), row.Int64(11), row.Text(12), row.Int64(13)};
                });
        });
    }

    Result<std::int64_t> Revive(std::string_view member_id, const std::vector<std::int64_t>& ids, TimeMs now) override {
        return b_.WriteValue<std::int64_t>([&](Session& s) -> Result<std::int64_t> {
            std::int64_t revived = 0;
            auto ran = sql::ForIdsOrAll(ids, [&](std::optional<std::int64_t> id) -> Result<void> {
                auto done = s.Run(sql::kReviveInbox, std::string(member_id), now, id);
                if (!done) {
                    return done.error();
                }
                revived += done->affected;
                return {};
            });
            if (!ran) {
                return ran.error();
            }
            return revived;
        });
    }

    Result<InboxDepth> Depth() override {
        return b_.ReadValue<InboxDepth>([&](Session& s) -> Result<InboxDepth> {
            auto rows = s.Run(sql::kInboxDepth);
            if (!rows) {
                return rows.error();
            }
            InboxDepth depth;
            for (const auto& r : rows->rows) {
                const std::string state = r.Text(0);
                (state == "pending" ? depth.pending : state == "claimed" ? depth.claimed : depth.dead) = r.Int64(1);
            }
            return depth;
        });
    }

    GroupCommitStats Stats() const override { return b_.Executor().Stats(); }

private:
    SqlBackend& b_;
    std::string claim_sql_;
    std::string purge_sql_;
};

class SqlStore final : public Store {
public:
    explicit SqlStore(std::unique_ptr<SqlBackend> backend)
        : backend_(std::move(backend)),
          portals_(*backend_),
          tokens_(*backend_),
          inbox_(*backend_),
          flows_(MakeFlowRepos(*backend_)) {}
    ~SqlStore() override { Close(); }

    PortalRepo& Portals() override { return portals_; }
    TokenRepo& Tokens() override { return tokens_; }
    InboxRepo& Inbox() override { return inbox_; }
    TicketRepo& Tickets() override { return *flows_.tickets; }
    TimerRepo& Timers() override { return *flows_.timers; }
    OutboxRepo& Outbox() override { return *flows_.outbox; }
    SettingsRepo& Settings() override { return *flows_.settings; }
    std::string_view Backend() const override { return backend_->Name(); }
    void Close() override { backend_->Executor().Close(); }

private:
    std::unique_ptr<SqlBackend> backend_;
    SqlPortals portals_;
    SqlTokens tokens_;
    SqlInbox inbox_;
    FlowRepos flows_;
};

}  // namespace

std::unique_ptr<Store> MakeSqlStore(std::unique_ptr<SqlBackend> backend) {
    return std::make_unique<SqlStore>(std::move(backend));
}

Result<std::vector<const Migration*>> ReadPendingMigrations(sql::Session& session,
                                                            const std::vector<Migration>& known) {
    auto applied = sql::MapRows(session.Run("SELECT version, name FROM schema_migrations ORDER BY version"),
                                [](const ResultRow& r) {
                                    return AppliedMigration{r.Int64(0), r.Text(1)};
                                });
    if (!applied) {
        return applied.error();
    }
    return PendingMigrations(known, *applied);
}

Result<void> ApplyMigration(const std::function<Result<void>(const std::string&)>& exec,
                            sql::Session& session,
                            const Migration& migration,
                            TimeMs now) {
    if (auto ran = exec(migration.sql); !ran) {
        return dispatch::Fail(
            Errc::kMigration,
            fmt::format("migration {:04}_{} failed: {}", migration.version, migration.name, ran.error().detail));
    }
    return sql::Done(session.Run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                                 migration.version,
                                 migration.name,
                                 now));
}

}  // namespace dispatch::store
