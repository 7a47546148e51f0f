#include "store/sqlite_store.hpp"

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

using sqlite::Connection;
using sqlite::Transaction;

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

// The repositories (sql_store.cpp, flow_store.cpp) over SQLite: reads on a pooled read connection, each in one
// snapshot (WAL lets readers run beside the writer); writes on the executor's thread, which owns the writer
// connection, so they serialise with the inbox's group commit, and are group-committed themselves
// (RunSqliteWriteGroup): writes queued together share one transaction and one fsync.
class SqliteBackend final : public PooledBackend<Connection> {
public:
    ~SqliteBackend() override {
        // The executor's thread commits on the writer: it stops before the checkpointer unhooks from the writer.
        executor_.reset();
        checkpointer_.reset();
    }

    // Checkpoints leave the commit path (sqlite::WalCheckpointer); the hook goes in on the writer's own thread.
    Result<void> StartCheckpointer(const std::string& path) {
        auto started = sqlite::WalCheckpointer::Start(*writer_, path);
        if (!started) {
            return started.error();
        }
        checkpointer_ = std::move(*started);
        return executor_->Call<void>([this]() -> Result<void> {
            checkpointer_->Attach();
            return {};
        });
    }

    Result<void> Read(const Work& work) override {
        return pool_.With([&](Connection& c) -> Result<void> {
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
        return executor_->CallGrouped([&]() {
            SqliteSession session(*writer_);
            return work(session);
        });
    }

    std::string ClaimLock(std::string_view /*alias*/) const override { return {}; }
    std::string_view Name() const override { return "sqlite"; }

private:
    std::unique_ptr<sqlite::WalCheckpointer> checkpointer_;
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
    for (const auto& e : events) {
        auto st = writer.Prepare(sql::kInsertInbox);
        if (!st) {
            results.emplace_back(st.error());
            continue;
        }
        sql::WithInboxParams(e, [&](const auto&... params) { st->Bind(params...); });
        auto row = st->Run();
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
        results.emplace_back(writer.Changes() > 0 ? AppendOutcome::kStored : AppendOutcome::kDuplicate);
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

}  // namespace

std::vector<Result<void>> RunSqliteWriteGroup(Connection& writer,
                                              const std::vector<std::function<Result<void>()>*>& writes) {
    std::vector<Result<void>> results;
    results.reserve(writes.size());
    auto tx = Transaction::Begin(writer);
    if (!tx) {
        results.assign(writes.size(), tx.error());
        return results;
    }
    for (auto* write : writes) {
        if (auto saved = writer.Exec("SAVEPOINT write"); !saved) {
            results.assign(writes.size(), saved.error());
            return results;
        }
        Result<void> done = (*write)();
        if (!writer.InTransaction()) {
            // SQLite rolled the whole transaction back on its own (I/O error, disk full): the writes before this
            // one are gone too.
            results.assign(writes.size(), done ? Fail(Errc::kIo, "sqlite abandoned the write transaction") : done);
            return results;
        }
        if (!done) {
            (void)writer.Exec("ROLLBACK TO write");  // this write leaves nothing; the others stay
        }
        if (auto released = writer.Exec("RELEASE write"); !released) {
            results.assign(writes.size(), released.error());
            return results;
        }
        results.push_back(std::move(done));
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
        SqliteSession session(connection);
        auto pending = ReadPendingMigrations(session, known);
        if (!pending) {
            return pending.error();
        }
        if (pending->empty()) {
            return tx->Commit();
        }
        const Migration& m = *pending->front();
        const auto exec = [&](const std::string& text) { return connection.Exec(text); };
        if (auto ran = ApplyMigration(exec, session, m, clock.Now()); !ran) {
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
    auto backend = std::make_unique<SqliteBackend>();
    const auto open = [&](bool writer) {
        return Connection::Open(options.path, {.read_only = !writer, .busy_timeout_ms = options.busy_timeout_ms});
    };
    const auto migrate = [&](Connection& writer) { return MigrateSqlite(writer, *migrations, clock); };
    if (auto started = backend->Start(open, migrate, options.read_connections, AppendBatch, RunSqliteWriteGroup);
        !started) {
        return started.error();
    }
    if (auto checkpoints = backend->StartCheckpointer(options.path); !checkpoints) {
        return checkpoints.error();
    }
    DISPATCH_LOG_INFO(
        kLog, "store opened", "backend=sqlite path={} schema_version={}", log::Quote(options.path), migrations->size());
    return MakeSqlStore(std::move(backend));
}

}  // namespace dispatch::store
