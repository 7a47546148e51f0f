#include "store/pg_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "core/log.hpp"
#include "store/errc.hpp"
#include "store/executor.hpp"
#include "store/flow_store.hpp"
#include "store/queries.hpp"
#include "store/store.hpp"

namespace dispatch::store {
namespace {

constexpr log::Logger kLog{"store"};

using pg::Connection;

class PgPool {
public:
    void Add(std::unique_ptr<Connection> connection) { idle_.push_back(std::move(connection)); }

    template <class F>
    auto With(F&& fn) {
        std::unique_ptr<Connection> connection;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return !idle_.empty(); });
            connection = std::move(idle_.back());
            idle_.pop_back();
        }
        struct GiveBack {
            PgPool* pool;
            std::unique_ptr<Connection>* connection;
            ~GiveBack() {
                if ((*connection)->InTransaction()) {
                    (void)(*connection)->Exec("ROLLBACK");  // never hand on a connection mid-transaction
                }
                std::lock_guard lock(pool->mu_);
                pool->idle_.push_back(std::move(*connection));
                pool->cv_.notify_one();
            }
        } give_back{this, &connection};
        return fn(*connection);
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Connection>> idle_;
};

// The shared SQL, rewritten once to $N parameters.
struct Queries {
    std::string upsert_portal = pg::FromSqliteParams(sql::kUpsertPortal);
    std::string find_portal_by_member = pg::FromSqliteParams(sql::kFindPortalByMember);
    std::string find_portal_by_domain = pg::FromSqliteParams(sql::kFindPortalByDomain);
    std::string list_portals = pg::FromSqliteParams(sql::kListPortals);
    std::string get_token = pg::FromSqliteParams(sql::kGetToken);
    std::string insert_token = pg::FromSqliteParams(sql::kInsertToken);
    std::string swap_token = pg::FromSqliteParams(sql::kSwapToken);
    std::string insert_inbox = pg::FromSqliteParams(sql::kInsertInbox);
    // SKIP LOCKED: instances claiming at once pass over each other's candidate rows instead of queueing on them.
    std::string claim_inbox = pg::FromSqliteParams(sql::ClaimInbox("FOR UPDATE OF i SKIP LOCKED"));
    std::string complete_inbox = pg::FromSqliteParams(sql::kCompleteInbox);
    std::string fail_inbox = pg::FromSqliteParams(sql::kFailInbox);
    std::string inbox_depth = pg::FromSqliteParams(sql::kInboxDepth);
};

struct Shared {
    Queries q;
    PgPool pool;
    std::unique_ptr<Connection> writer;  // group commit of appends, on the executor's thread
    std::unique_ptr<StoreExecutor> executor;
};

class PgPortals final : public PortalRepo {
public:
    explicit PgPortals(Shared& shared) : s_(shared) {}

    Result<void> Upsert(const Portal& p) override {
        return s_.pool.With([&](Connection& c) -> Result<void> {
            auto rows = c.Run(s_.q.upsert_portal,
                              p.member_id,
                              p.domain,
                              p.client_endpoint,
                              p.server_endpoint,
                              p.application_token,
                              ToString(p.auth_mode),
                              ToString(p.status),
                              p.installed_at,
                              p.updated_at);
            if (!rows) {
                return rows.error();
            }
            return {};
        });
    }
    Result<Portal> FindByMemberId(std::string_view member_id) override {
        return FindOne(s_.q.find_portal_by_member, member_id);
    }
    Result<Portal> FindByDomain(std::string_view domain) override {
        return FindOne(s_.q.find_portal_by_domain, domain);
    }

    Result<std::vector<Portal>> List() override {
        return s_.pool.With([&](Connection& c) -> Result<std::vector<Portal>> {
            auto rows = c.Run(s_.q.list_portals);
            if (!rows) {
                return rows.error();
            }
            std::vector<Portal> out;
            for (int i = 0; i < rows->Size(); ++i) {
                auto portal = sql::ReadPortal(rows->At(i));
                if (!portal) {
                    return portal.error();
                }
                out.push_back(std::move(*portal));
            }
            return out;
        });
    }

private:
    Result<Portal> FindOne(const std::string& query, std::string_view key) {
        return s_.pool.With([&](Connection& c) -> Result<Portal> {
            auto rows = c.Run(query, key);
            if (!rows) {
                return rows.error();
            }
            if (rows->Size() == 0) {
                return dispatch::Fail(Errc::kNotFound, fmt::format("no portal '{}'", key));
            }
            return sql::ReadPortal(rows->At(0));
        });
    }

    Shared& s_;
};

class PgTokens final : public TokenRepo {
public:
    explicit PgTokens(Shared& shared) : s_(shared) {}

    Result<Token> Get(std::string_view member_id) override {
        return s_.pool.With([&](Connection& c) -> Result<Token> {
            auto rows = c.Run(s_.q.get_token, member_id);
            if (!rows) {
                return rows.error();
            }
            if (rows->Size() == 0) {
                return dispatch::Fail(Errc::kNotFound, fmt::format("no token for portal '{}'", member_id));
            }
            return sql::ReadToken(rows->At(0));
        });
    }

    Result<Token> CompareAndSwap(const Token& next, std::int64_t expected_version) override {
        return s_.pool.With([&](Connection& c) -> Result<Token> {
            auto rows = expected_version == 0 ? c.Run(s_.q.insert_token,
                                                      next.member_id,
                                                      next.access_token,
                                                      next.refresh_token,
                                                      next.expires_at,
                                                      next.scope,
                                                      next.updated_at)
                                              : c.Run(s_.q.swap_token,
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
            if (rows->Size() == 0) {
                return dispatch::Fail(
                    Errc::kConflict,
                    fmt::format("token of portal '{}' is no longer version {}", next.member_id, expected_version));
            }
            return sql::ReadToken(rows->At(0));
        });
    }

private:
    Shared& s_;
};

class PgInbox final : public InboxRepo {
public:
    explicit PgInbox(Shared& shared) : s_(shared) {}

    void Append(InboxEvent event, AppendCallback done) override {
        if (auto valid = sql::ValidateEvent(event); !valid) {
            done(valid.error());
            return;
        }
        s_.executor->Append(std::move(event), std::move(done));
    }

    Result<std::vector<ClaimedEvent>> Claim(int max, TimeMs now, TimeMs lease) override {
        return s_.pool.With([&](Connection& c) -> Result<std::vector<ClaimedEvent>> {
            auto rows = c.Run(s_.q.claim_inbox, now, lease, max);
            if (!rows) {
                return rows.error();
            }
            std::vector<ClaimedEvent> out;
            for (int i = 0; i < rows->Size(); ++i) {
                auto claimed = sql::ReadClaimed(rows->At(i));
                if (!claimed) {
                    return claimed.error();
                }
                out.push_back(std::move(*claimed));
            }
            std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
            return out;
        });
    }

    Result<void> Complete(std::int64_t id, std::int64_t attempt, TimeMs now) override {
        return s_.pool.With([&](Connection& c) -> Result<void> {
            auto rows = c.Run(s_.q.complete_inbox, id, attempt, now);
            if (!rows) {
                return rows.error();
            }
            if (rows->Affected() == 0) {
                return dispatch::Fail(Errc::kLeaseLost,
                                      fmt::format("inbox row {} attempt {} is not held", id, attempt));
            }
            return {};
        });
    }

    Result<FailOutcome> Fail(
        std::int64_t id, std::int64_t attempt, std::string_view error, TimeMs now, const RetryPolicy& policy) override {
        return s_.pool.With([&](Connection& c) -> Result<FailOutcome> {
            FailOutcome outcome;
            outcome.dead = attempt >= policy.max_attempts;
            outcome.retry_at = outcome.dead ? 0 : now + Backoff(policy, attempt);
            auto rows = c.Run(s_.q.fail_inbox,
                              id,
                              attempt,
                              outcome.dead ? "dead" : "pending",
                              outcome.dead ? now : outcome.retry_at,
                              error);
            if (!rows) {
                return rows.error();
            }
            if (rows->Affected() == 0) {
                return dispatch::Fail(Errc::kLeaseLost,
                                      fmt::format("inbox row {} attempt {} is not held", id, attempt));
            }
            return outcome;
        });
    }

    Result<InboxDepth> Depth() override {
        return s_.pool.With([&](Connection& c) -> Result<InboxDepth> {
            auto rows = c.Run(s_.q.inbox_depth);
            if (!rows) {
                return rows.error();
            }
            InboxDepth depth;
            for (int i = 0; i < rows->Size(); ++i) {
                const auto row = rows->At(i);
                const std::string state = row.Text(0);
                const std::int64_t count = row.Int64(1);
                if (state == "pending") {
                    depth.pending = count;
                } else if (state == "claimed") {
                    depth.claimed = count;
                } else {
                    depth.dead = count;
                }
            }
            return depth;
        });
    }

    GroupCommitStats Stats() const override { return s_.executor->Stats(); }

private:
    Shared& s_;
};

// The flows repositories (flow_store.cpp) over PostgreSQL: every unit of work on a pooled connection in its own
// transaction; reads in REPEATABLE READ so a ticket and its ledger come from one snapshot.
class PgSession final : public sql::Session {
public:
    explicit PgSession(Connection& connection) : c_(connection) {}

    Result<sql::QueryResult> Query(const std::string& text, std::span<const sql::Value> params) override {
        std::vector<pg::Param> values;
        values.reserve(params.size());
        for (const auto& value : params) {
            values.push_back(std::visit([](const auto& v) { return pg::ToParam(v); }, value));
        }
        auto rows = c_.Query(pg::FromSqliteParams(text), values);
        if (!rows) {
            return rows.error();
        }
        sql::QueryResult out;
        out.affected = rows->Affected();
        out.rows.reserve(static_cast<std::size_t>(rows->Size()));
        for (int r = 0; r < rows->Size(); ++r) {
            const auto row = rows->At(r);
            std::vector<sql::Cell> cells(static_cast<std::size_t>(rows->Columns()));
            for (int i = 0; i < rows->Columns(); ++i) {
                if (!row.IsNull(i)) {
                    cells[static_cast<std::size_t>(i)] = row.Text(i);
                }
            }
            out.rows.emplace_back(std::move(cells));
        }
        return out;
    }

private:
    Connection& c_;
};

class PgDatabase final : public sql::Database {
public:
    explicit PgDatabase(Shared& shared) : s_(shared) {}

    Result<void> Read(const Work& work) override {
        return InTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", work);
    }
    Result<void> Write(const Work& work) override { return InTransaction("BEGIN", work); }
    std::string ClaimLock(std::string_view alias) const override {
        return fmt::format("FOR UPDATE OF {} SKIP LOCKED", alias);
    }

private:
    Result<void> InTransaction(const std::string& begin, const Work& work) {
        return s_.pool.With([&](Connection& c) -> Result<void> {
            if (auto connected = c.EnsureConnected(); !connected) {
                return connected;
            }
            if (auto begun = c.Exec(begin); !begun) {
                return begun;
            }
            PgSession session(c);
            if (auto done = work(session); !done) {
                (void)c.Exec("ROLLBACK");
                return done;
            }
            return c.Exec("COMMIT");
        });
    }

    Shared& s_;
};

// One transaction for the gathered batch. In PostgreSQL any failed statement aborts the whole transaction, so when
// one row fails (it should not: ValidateEvent ran), the batch is retried row by row to confine the failure.
std::vector<Result<AppendOutcome>> AppendBatch(Connection& writer, const Queries& q, std::vector<InboxEvent>& events) {
    std::vector<Result<AppendOutcome>> results;
    results.reserve(events.size());
    if (auto connected = writer.EnsureConnected(); !connected) {
        results.assign(events.size(), connected.error());
        return results;
    }
    if (auto begun = writer.Exec("BEGIN"); !begun) {
        results.assign(events.size(), begun.error());
        return results;
    }
    for (const auto& e : events) {
        auto rows = writer.Run(q.insert_inbox,
                               e.member_id,
                               e.received_at,
                               ToString(e.kind),
                               e.event_name,
                               e.entity_type_id,
                               e.item_id,
                               e.payload,
                               e.dedup_key);
        if (!rows) {
            if (writer.InTransaction()) {
                (void)writer.Exec("ROLLBACK");
            }
            if (events.size() == 1) {
                return {rows.error()};
            }
            results.clear();
            for (auto& one : events) {
                std::vector<InboxEvent> single{one};
                results.push_back(AppendBatch(writer, q, single).front());
            }
            return results;
        }
        results.emplace_back(rows->Size() == 1 ? AppendOutcome::kStored : AppendOutcome::kDuplicate);
    }
    if (auto committed = writer.Exec("COMMIT"); !committed) {
        // If the connection broke during COMMIT the outcome is unknown; reporting failure is the safe side (a
        // retry with the same dedup_key is a duplicate, never a second row).
        results.assign(events.size(), committed.error());
    }
    return results;
}

class PgStore final : public Store {
public:
    explicit PgStore(std::unique_ptr<Shared> shared)
        : shared_(std::move(shared)),
          portals_(*shared_),
          tokens_(*shared_),
          inbox_(*shared_),
          db_(*shared_),
          flows_(MakeFlowRepos(db_)) {}
    ~PgStore() override { Close(); }

    PortalRepo& Portals() override { return portals_; }
    TokenRepo& Tokens() override { return tokens_; }
    InboxRepo& Inbox() override { return inbox_; }
    TicketRepo& Tickets() override { return *flows_.tickets; }
    TimerRepo& Timers() override { return *flows_.timers; }
    OutboxRepo& Outbox() override { return *flows_.outbox; }
    SettingsRepo& Settings() override { return *flows_.settings; }
    std::string_view Backend() const override { return "postgres"; }
    void Close() override { shared_->executor->Close(); }

private:
    std::unique_ptr<Shared> shared_;
    PgPortals portals_;
    PgTokens tokens_;
    PgInbox inbox_;
    PgDatabase db_;
    FlowRepos flows_;
};

}  // namespace

Result<void> MigratePostgres(Connection& connection, const std::vector<Migration>& known, const Clock& clock) {
    if (auto locked = connection.Exec("SELECT pg_advisory_lock(hashtext(current_schema()))"); !locked) {
        return locked.error();
    }
    struct Unlock {
        Connection& c;
        ~Unlock() { (void)c.Exec("SELECT pg_advisory_unlock(hashtext(current_schema()))"); }
    } unlock{connection};

    if (auto created = connection.Exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at BIGINT NOT NULL)");
        !created) {
        return created.error();
    }
    auto rows = connection.Run("SELECT version, name FROM schema_migrations ORDER BY version");
    if (!rows) {
        return rows.error();
    }
    std::vector<AppliedMigration> applied;
    for (int i = 0; i < rows->Size(); ++i) {
        applied.push_back({rows->At(i).Int64(0), rows->At(i).Text(1)});
    }
    auto pending = PendingMigrations(known, applied);
    if (!pending) {
        return pending.error();
    }
    for (const Migration* m : *pending) {
        auto apply = [&]() -> Result<void> {
            if (auto begun = connection.Exec("BEGIN"); !begun) {
                return begun.error();
            }
            if (auto ran = connection.Exec(m->sql); !ran) {
                return dispatch::Fail(
                    Errc::kMigration,
                    fmt::format("migration {:04}_{} failed: {}", m->version, m->name, ran.error().detail));
            }
            if (auto recorded = connection.Run("INSERT INTO schema_migrations (version, name, applied_at) "
                                               "VALUES ($1, $2, $3)",
                                               m->version,
                                               m->name,
                                               clock.Now());
                !recorded) {
                return recorded.error();
            }
            return connection.Exec("COMMIT");
        };
        if (auto applied_one = apply(); !applied_one) {
            if (connection.InTransaction()) {
                (void)connection.Exec("ROLLBACK");
            }
            return applied_one.error();
        }
        DISPATCH_LOG_INFO(kLog, "migration applied", "backend=postgres version={} name={}", m->version, m->name);
    }
    return {};
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options, const Clock& clock) {
    auto migrations = SelectMigrations(SchemaBackend::kPostgres, options.migrations_dir);
    if (!migrations) {
        return migrations.error();
    }
    if (!options.schema.empty()) {
        if (!pg::IsSafeIdentifier(options.schema)) {
            return Fail(Errc::kInvalidArgument,
                        fmt::format("schema name '{}' is not a plain identifier", options.schema));
        }
        auto admin = Connection::Open(options.dsn, "");
        if (!admin) {
            return admin.error();
        }
        if (auto created = (*admin)->Exec(fmt::format("CREATE SCHEMA IF NOT EXISTS \"{}\"", options.schema));
            !created) {
            return created.error();
        }
    }
    auto shared = std::make_unique<Shared>();
    auto writer = Connection::Open(options.dsn, options.schema);
    if (!writer) {
        return writer.error();
    }
    shared->writer = std::move(*writer);
    if (auto migrated = MigratePostgres(*shared->writer, *migrations, clock); !migrated) {
        return migrated.error();
    }
    for (int i = 0; i < std::max(1, options.pool_size); ++i) {
        auto connection = Connection::Open(options.dsn, options.schema);
        if (!connection) {
            return connection.error();
        }
        shared->pool.Add(std::move(*connection));
    }
    Connection* writer_connection = shared->writer.get();
    const Queries* queries = &shared->q;
    shared->executor = std::make_unique<StoreExecutor>([writer_connection, queries](std::vector<InboxEvent>& events) {
        return AppendBatch(*writer_connection, *queries, events);
    });
    DISPATCH_LOG_INFO(kLog,
                      "store opened",
                      "backend=postgres schema={} schema_version={}",
                      options.schema.empty() ? "default" : options.schema,
                      migrations->size());
    return std::unique_ptr<Store>(new PgStore(std::move(shared)));
}

}  // namespace dispatch::store
