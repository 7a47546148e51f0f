#include "store/pg_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "core/log.hpp"
#include "store/errc.hpp"
#include "store/executor.hpp"
#include "store/queries.hpp"
#include "store/sql_store.hpp"

namespace dispatch::store {
namespace {

constexpr log::Logger kLog{"store"};

using pg::Connection;

class PgSession final : public sql::Session {
public:
    explicit PgSession(Connection& connection) : c_(connection) {}

    Result<sql::QueryResult> Query(const std::string& text, std::span<const sql::Value> params) override {
        std::vector<pg::Param> values;
        values.reserve(params.size());
        for (const auto& value : params) {
            values.push_back(std::visit([](const auto& v) { return pg::ToParam(v); }, value));
        }
        auto rows = c_.Query(text, values);
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

// The repositories (sql_store.cpp, flow_store.cpp) over PostgreSQL: every unit of work on a pooled connection in
// its own transaction; reads in REPEATABLE READ so that, say, a ticket and its ledger come from one snapshot.
// Inbox appends go through the executor's own connection (group commit).
class PgBackend final : public PooledBackend<Connection> {
public:
    Result<void> Read(const Work& work) override {
        return InTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", work);
    }
    Result<void> Write(const Work& work) override { return InTransaction("BEGIN", work); }
    // SKIP LOCKED: instances claiming at once pass over each other's candidate rows instead of queueing on them.
    std::string ClaimLock(std::string_view alias) const override {
        return fmt::format("FOR UPDATE OF {} SKIP LOCKED", alias);
    }
    std::string_view Name() const override { return "postgres"; }

private:
    Result<void> InTransaction(const std::string& begin, const Work& work) {
        return pool_.With([&](Connection& c) -> Result<void> {
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
};

// One transaction for the gathered batch. In PostgreSQL any failed statement aborts the whole transaction, so when
// one row fails (it should not: ValidateEvent ran), the batch is retried row by row to confine the failure.
std::vector<Result<AppendOutcome>> AppendBatch(Connection& writer, std::vector<InboxEvent>& events) {
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
        auto rows =
            sql::WithInboxParams(e, [&](const auto&... params) { return writer.Run(sql::kInsertInbox, params...); });
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
                results.push_back(AppendBatch(writer, single).front());
            }
            return results;
        }
        results.emplace_back(rows->Affected() == 1 ? AppendOutcome::kStored : AppendOutcome::kDuplicate);
    }
    if (auto committed = writer.Exec("COMMIT"); !committed) {
        // If the connection broke during COMMIT the outcome is unknown; reporting failure is the safe side (a
        // retry with the same dedup_key is a duplicate, never a second row).
        results.assign(events.size(), committed.error());
    }
    return results;
}

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
    PgSession session(connection);
    auto pending = ReadPendingMigrations(session, known);
    if (!pending) {
        return pending.error();
    }
    for (const Migration* m : *pending) {
        auto apply = [&]() -> Result<void> {
            if (auto begun = connection.Exec("BEGIN"); !begun) {
                return begun.error();
            }
            const auto exec = [&](const std::string& text) { return connection.Exec(text); };
            if (auto ran = ApplyMigration(exec, session, *m, clock.Now()); !ran) {
                return ran;
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
    auto backend = std::make_unique<PgBackend>();
    const auto open = [&](bool /*writer*/) { return Connection::Open(options.dsn, options.schema); };
    const auto migrate = [&](Connection& writer) { return MigratePostgres(writer, *migrations, clock); };
    if (auto started = backend->Start(open, migrate, options.pool_size, AppendBatch); !started) {
        return started.error();
    }
    DISPATCH_LOG_INFO(kLog,
                      "store opened",
                      "backend=postgres schema={} schema_version={}",
                      options.schema.empty() ? "default" : options.schema,
                      migrations->size());
    return MakeSqlStore(std::move(backend));
}

}  // namespace dispatch::store
