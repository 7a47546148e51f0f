#include "store/sqlite_store.hpp"

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

using sqlite::Connection;
using sqlite::Statement;
using sqlite::Transaction;

// Read connections, one borrower at a time each. WAL gives every reader a consistent snapshot of the last
// committed state without blocking the writer.
class ReaderPool {
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
            ReaderPool* pool;
            std::unique_ptr<Connection>* connection;
            ~GiveBack() {
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

// What the repositories share: the writer connection (touched only on the executor's thread), the readers, and the
// executor itself.
struct Shared {
    std::unique_ptr<Connection> writer;
    ReaderPool readers;
    std::unique_ptr<StoreExecutor> executor;
};

class SqlitePortals final : public PortalRepo {
public:
    explicit SqlitePortals(Shared& shared) : s_(shared) {}

    Result<void> Upsert(const Portal& p) override {
        return s_.executor->Call<void>([&]() -> Result<void> {
            auto st = s_.writer->Prepare(sql::kUpsertPortal);
            if (!st) {
                return st.error();
            }
            st->Bind(p.member_id,
                     p.domain,
                     p.client_endpoint,
                     p.server_endpoint,
                     p.application_token,
                     ToString(p.auth_mode),
                     ToString(p.status),
                     p.installed_at,
                     p.updated_at);
            return st->Run();
        });
    }

    Result<Portal> FindByMemberId(std::string_view member_id) override {
        return FindOne(sql::kFindPortalByMember, member_id);
    }
    Result<Portal> FindByDomain(std::string_view domain) override { return FindOne(sql::kFindPortalByDomain, domain); }

    Result<std::vector<Portal>> List() override {
        return s_.readers.With([&](Connection& c) -> Result<std::vector<Portal>> {
            auto st = c.Prepare(sql::kListPortals);
            if (!st) {
                return st.error();
            }
            std::vector<Portal> out;
            for (;;) {
                auto row = st->Step();
                if (!row) {
                    return row.error();
                }
                if (!*row) {
                    return out;
                }
                auto portal = sql::ReadPortal(*st);
                if (!portal) {
                    return portal.error();
                }
                out.push_back(std::move(*portal));
            }
        });
    }

private:
    Result<Portal> FindOne(const std::string& query, std::string_view key) {
        return s_.readers.With([&](Connection& c) -> Result<Portal> {
            auto st = c.Prepare(query);
            if (!st) {
                return st.error();
            }
            st->Bind(key);
            auto row = st->Step();
            if (!row) {
                return row.error();
            }
            if (!*row) {
                return dispatch::Fail(Errc::kNotFound, fmt::format("no portal '{}'", key));
            }
            return sql::ReadPortal(*st);
        });
    }

    Shared& s_;
};

class SqliteTokens final : public TokenRepo {
public:
    explicit SqliteTokens(Shared& shared) : s_(shared) {}

    Result<Token> Get(std::string_view member_id) override {
        return s_.readers.With([&](Connection& c) -> Result<Token> {
            auto st = c.Prepare(sql::kGetToken);
            if (!st) {
                return st.error();
            }
            st->Bind(member_id);
            auto row = st->Step();
            if (!row) {
                return row.error();
            }
            if (!*row) {
                return dispatch::Fail(Errc::kNotFound, fmt::format("no token for portal '{}'", member_id));
            }
            return sql::ReadToken(*st);
        });
    }

    Result<Token> CompareAndSwap(const Token& next, std::int64_t expected_version) override {
        return s_.executor->Call<Token>([&]() -> Result<Token> {
            const bool first = expected_version == 0;
            auto st = s_.writer->Prepare(first ? sql::kInsertToken : sql::kSwapToken);
            if (!st) {
                return st.error();
            }
            st->Bind(
                next.member_id, next.access_token, next.refresh_token, next.expires_at, next.scope, next.updated_at);
            if (!first) {
                st->BindAt(7, expected_version);
            }
            auto row = st->Step();
            if (!row) {
                return row.error();
            }
            if (!*row) {
                return dispatch::Fail(
                    Errc::kConflict,
                    fmt::format("token of portal '{}' is no longer version {}", next.member_id, expected_version));
            }
            Token stored = sql::ReadToken(*st);
            if (auto done = st->Run(); !done) {  // finish the statement so autocommit commits now
                return done.error();
            }
            return stored;
        });
    }

private:
    Shared& s_;
};

class SqliteInbox final : public InboxRepo {
public:
    explicit SqliteInbox(Shared& shared) : s_(shared), claim_sql_(sql::ClaimInbox("")) {}

    void Append(InboxEvent event, AppendCallback done) override {
        if (auto valid = sql::ValidateEvent(event); !valid) {
            done(valid.error());
            return;
        }
        s_.executor->Append(std::move(event), std::move(done));
    }

    Result<std::vector<ClaimedEvent>> Claim(int max, TimeMs now, TimeMs lease) override {
        return s_.executor->Call<std::vector<ClaimedEvent>>([&]() -> Result<std::vector<ClaimedEvent>> {
            auto st = s_.writer->Prepare(claim_sql_);
            if (!st) {
                return st.error();
            }
            st->Bind(now, lease, max);
            std::vector<ClaimedEvent> out;
            for (;;) {
                auto row = st->Step();
                if (!row) {
                    return row.error();
                }
                if (!*row) {
                    break;
                }
                auto claimed = sql::ReadClaimed(*st);
                if (!claimed) {
                    return claimed.error();
                }
                out.push_back(std::move(*claimed));
            }
            // RETURNING promises no order.
            std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
            return out;
        });
    }

    Result<void> Complete(std::int64_t id, std::int64_t attempt, TimeMs now) override {
        return s_.executor->Call<void>([&]() -> Result<void> {
            auto st = s_.writer->Prepare(std::string(sql::kCompleteInbox));
            if (!st) {
                return st.error();
            }
            st->Bind(id, attempt, now);
            if (auto ran = st->Run(); !ran) {
                return ran.error();
            }
            if (s_.writer->Changes() == 0) {
                return dispatch::Fail(Errc::kLeaseLost,
                                      fmt::format("inbox row {} attempt {} is not held", id, attempt));
            }
            return {};
        });
    }

    Result<FailOutcome> Fail(
        std::int64_t id, std::int64_t attempt, std::string_view error, TimeMs now, const RetryPolicy& policy) override {
        return s_.executor->Call<FailOutcome>([&]() -> Result<FailOutcome> {
            FailOutcome outcome;
            outcome.dead = attempt >= policy.max_attempts;
            outcome.retry_at = outcome.dead ? 0 : now + Backoff(policy, attempt);
            auto st = s_.writer->Prepare(std::string(sql::kFailInbox));
            if (!st) {
                return st.error();
            }
            st->Bind(id, attempt, outcome.dead ? "dead" : "pending", outcome.dead ? now : outcome.retry_at, error);
            if (auto ran = st->Run(); !ran) {
                return ran.error();
            }
            if (s_.writer->Changes() == 0) {
                return dispatch::Fail(Errc::kLeaseLost,
                                      fmt::format("inbox row {} attempt {} is not held", id, attempt));
            }
            return outcome;
        });
    }

    Result<InboxDepth> Depth() override {
        return s_.readers.With([&](Connection& c) -> Result<InboxDepth> {
            auto st = c.Prepare(std::string(sql::kInboxDepth));
            if (!st) {
                return st.error();
            }
            InboxDepth depth;
            for (;;) {
                auto row = st->Step();
                if (!row) {
                    return row.error();
                }
                if (!*row) {
                    return depth;
                }
                const std::string state = st->Text(0);
                const std::int64_t count = st->Int64(1);
                if (state == "pending") {
                    depth.pending = count;
                } else if (state == "claimed") {
                    depth.claimed = count;
                } else {
                    depth.dead = count;
                }
            }
        });
    }

    GroupCommitStats Stats() const override { return s_.executor->Stats(); }

private:
    Shared& s_;
    std::string claim_sql_;
};

// The flows repositories (flow_store.cpp) over SQLite: reads on a pooled reader in one snapshot, writes on the
// writer thread in BEGIN IMMEDIATE, so a ticket commit serialises with the inbox's group commit.
class SqliteSession final : public sql::Session {
public:
    explicit SqliteSession(Connection& connection) : c_(connection) {}

    Result<sql::QueryResult> Query(const std::string& text, std::span<const sql::Value> params) override {
        auto st = c_.Prepare(text);
        if (!st) {
            return st.error();
        }
        int index = 0;
        for (const auto& value : params) {
            ++index;
            std::visit([&](const auto& v) { st->BindAt(index, v); }, value);
        }
        sql::QueryResult out;
        for (;;) {
            auto row = st->Step();
            if (!row) {
                return row.error();
            }
            if (!*row) {
                break;
            }
            std::vector<sql::Cell> cells(static_cast<std::size_t>(st->ColumnCount()));
            for (int i = 0; i < st->ColumnCount(); ++i) {
                if (st->IsInteger(i)) {
                    cells[static_cast<std::size_t>(i)] = st->Int64(i);
                } else if (!st->IsNull(i)) {
                    cells[static_cast<std::size_t>(i)] = st->Text(i);
                }
            }
            out.rows.emplace_back(std::move(cells));
        }
        out.affected = st->ReadOnly() ? 0 : c_.Changes();
        return out;
    }

private:
    Connection& c_;
};

class SqliteDatabase final : public sql::Database {
public:
    explicit SqliteDatabase(Shared& shared) : s_(shared) {}

    Result<void> Read(const Work& work) override {
        return s_.readers.With([&](Connection& c) -> Result<void> {
            if (auto begun = c.Exec("BEGIN"); !begun) {
                return begun;
            }
            SqliteSession session(c);
            auto done = work(session);
            auto ended = c.Exec(done ? "COMMIT" : "ROLLBACK");
            return done && !ended ? ended : done;
        });
    }

    Result<void> Write(const Work& work) override {
        return s_.executor->Call<void>([&]() -> Result<void> {
            auto tx = Transaction::Begin(*s_.writer);
            if (!tx) {
                return tx.error();
            }
            SqliteSession session(*s_.writer);
            if (auto done = work(session); !done) {
                return done;  // the transaction rolls back as it goes out of scope
            }
            return tx->Commit();
        });
    }

    std::string ClaimLock(std::string_view /*alias*/) const override { return {}; }

private:
    Shared& s_;
};

// One transaction for the whole gathered batch: one fsync (synchronous=FULL) acknowledges every event in it.
std::vector<Result<AppendOutcome>> AppendBatch(Connection& writer, std::vector<InboxEvent>& events) {
    std::vector<Result<AppendOutcome>> results;
    results.reserve(events.size());
    auto tx = Transaction::Begin(writer);
    if (!tx) {
        results.assign(events.size(), tx.error());
        return results;
    }
    const std::string insert(sql::kInsertInbox);
    for (const auto& e : events) {
        auto st = writer.Prepare(insert);
        if (!st) {
            results.emplace_back(st.error());
            continue;
        }
        st->Bind(e.member_id,
                 e.received_at,
                 ToString(e.kind),
                 e.event_name,
                 e.entity_type_id,
                 e.item_id,
                 e.payload,
                 e.dedup_key);
        auto row = st->Step();
        if (!row) {
            // A constraint failure undoes only its own statement; an I/O error can make SQLite roll the whole
            // transaction back, and then nothing of this batch is stored.
            if (!writer.InTransaction()) {
                results.assign(events.size(), row.error());
                return results;
            }
            results.emplace_back(row.error());
            continue;
        }
        results.emplace_back(*row ? AppendOutcome::kStored : AppendOutcome::kDuplicate);
    }
    if (auto committed = tx->Commit(); !committed) {
        for (auto& r : results) {
            if (r) {
                r = committed.error();
            }
        }
    }
    return results;
}

class SqliteStore final : public Store {
public:
    explicit SqliteStore(std::unique_ptr<Shared> shared)
        : shared_(std::move(shared)),
          portals_(*shared_),
          tokens_(*shared_),
          inbox_(*shared_),
          db_(*shared_),
          flows_(MakeFlowRepos(db_)) {}
    ~SqliteStore() override { Close(); }

    PortalRepo& Portals() override { return portals_; }
    TokenRepo& Tokens() override { return tokens_; }
    InboxRepo& Inbox() override { return inbox_; }
    TicketRepo& Tickets() override { return *flows_.tickets; }
    TimerRepo& Timers() override { return *flows_.timers; }
    OutboxRepo& Outbox() override { return *flows_.outbox; }
    SettingsRepo& Settings() override { return *flows_.settings; }
    std::string_view Backend() const override { return "sqlite"; }
    void Close() override { shared_->executor->Close(); }

private:
    std::unique_ptr<Shared> shared_;
    SqlitePortals portals_;
    SqliteTokens tokens_;
    SqliteInbox inbox_;
    SqliteDatabase db_;
    FlowRepos flows_;
};

}  // namespace

Result<void> MigrateSqlite(Connection& connection, const std::vector<Migration>& known, const Clock& clock) {
    if (auto created = connection.Exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at INTEGER NOT NULL) STRICT");
        !created) {
        return created.error();
    }
    for (;;) {
        // Read and apply under the write lock: another process starting at the same time waits here, then sees
        // what we applied.
        auto tx = Transaction::Begin(connection);
        if (!tx) {
            return tx.error();
        }
        std::vector<AppliedMigration> applied;
        auto st = connection.Prepare("SELECT version, name FROM schema_migrations ORDER BY version");
        if (!st) {
            return st.error();
        }
        for (;;) {
            auto row = st->Step();
            if (!row) {
                return row.error();
            }
            if (!*row) {
                break;
            }
            applied.push_back({st->Int64(0), st->Text(1)});
        }
        auto pending = PendingMigrations(known, applied);
        if (!pending) {
            return pending.error();
        }
        if (pending->empty()) {
            return tx->Commit();
        }
        const Migration& m = *pending->front();
        if (auto ran = connection.Exec(m.sql); !ran) {
            return dispatch::Fail(Errc::kMigration,
                                  fmt::format("migration {:04}_{} failed: {}", m.version, m.name, ran.error().detail));
        }
        auto record =
            connection.Prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)");
        if (!record) {
            return record.error();
        }
        if (auto ran = record->Bind(m.version, m.name, clock.Now()).Run(); !ran) {
            return ran.error();
        }
        if (auto committed = tx->Commit(); !committed) {
            return committed.error();
        }
        DISPATCH_LOG_INFO(kLog, "migration applied", "backend=sqlite version={} name={}", m.version, m.name);
    }
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options, const Clock& clock) {
    auto migrations = SelectMigrations(SchemaBackend::kSqlite, options.migrations_dir);
    if (!migrations) {
        return migrations.error();
    }
    auto shared = std::make_unique<Shared>();
    auto writer = Connection::Open(options.path, {.read_only = false, .busy_timeout_ms = options.busy_timeout_ms});
    if (!writer) {
        return writer.error();
    }
    shared->writer = std::move(*writer);
    if (auto migrated = MigrateSqlite(*shared->writer, *migrations, clock); !migrated) {
        return migrated.error();
    }
    for (int i = 0; i < std::max(1, options.read_connections); ++i) {
        auto reader = Connection::Open(options.path, {.read_only = true, .busy_timeout_ms = options.busy_timeout_ms});
        if (!reader) {
            return reader.error();
        }
        shared->readers.Add(std::move(*reader));
    }
    Connection* writer_connection = shared->writer.get();
    shared->executor = std::make_unique<StoreExecutor>(
        [writer_connection](std::vector<InboxEvent>& events) { return AppendBatch(*writer_connection, events); });
    DISPATCH_LOG_INFO(
        kLog, "store opened", "backend=sqlite path={} schema_version={}", log::Quote(options.path), migrations->size());
    return std::unique_ptr<Store>(new SqliteStore(std::move(shared)));
}

}  // namespace dispatch::store
