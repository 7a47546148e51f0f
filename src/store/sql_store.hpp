#pragma once
// Internal to store/: the one Store implementation. A backend (sqlite_store.cpp, pg_store.cpp) supplies its
// connections as an SqlBackend: the sql::Database the repositories run on, and the executor whose writer
// connection gathers inbox appends into group commits. Every repository body is written once, here and in
// flow_store.cpp, over the shared SQL of queries.hpp.

#include <algorithm>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "store/executor.hpp"
#include "store/migrations.hpp"
#include "store/pool.hpp"
#include "store/sql_session.hpp"
#include "store/store.hpp"

namespace dispatch::store {

class SqlBackend : public sql::Database {
public:
    virtual StoreExecutor& Executor() = 0;
    virtual std::string_view Name() const = 0;  // "sqlite" or "postgres"
};

// What both backends hold: the writer connection (the executor's thread owns it once it runs), a pool of
// connections for everything else, and the executor.
template <class Connection>
class PooledBackend : public SqlBackend {
public:
    StoreExecutor& Executor() override { return *executor_; }

    // Writes run with the writer connection: (writer, writes) → one result per write (StoreExecutor::WriteGroupFn).
    using WriteGroup =
        std::function<std::vector<Result<void>>(Connection&, const std::vector<StoreExecutor::GroupedWrite*>&)>;

    // Opens the writer (open(true)) and migrates the database over it, opens `pooled` more (open(false)), then
    // starts the executor, whose group commits run append_batch(writer, events) and, when given,
    // run_writes(writer, writes).
    template <class Open, class Migrate, class AppendBatch>
    Result<void> Start(
        const Open& open, const Migrate& migrate, int pooled, AppendBatch append_batch, WriteGroup run_writes = {}) {
        auto writer = open(true);
        if (!writer) {
            return writer.error();
        }
        writer_ = std::move(*writer);
        if (auto migrated = migrate(*writer_); !migrated) {
            return migrated.error();
        }
        for (int i = 0; i < std::max(1, pooled); ++i) {
            auto connection = open(false);
            if (!connection) {
                return connection.error();
            }
            pool_.Add(std::move(*connection));
        }
        Connection* w = writer_.get();
        StoreExecutor::WriteGroupFn writes;
        if (run_writes) {
            writes = [w, run_writes](const std::vector<StoreExecutor::GroupedWrite*>& group) {
                return run_writes(*w, group);
            };
        }
        executor_ = std::make_unique<StoreExecutor>(
            [w, append_batch](std::vector<InboxEvent>& events) { return append_batch(*w, events); }, std::move(writes));
        return {};
    }

protected:
    // Declared in destruction order: the executor (whose thread uses the writer) goes first.
    std::unique_ptr<Connection> writer_;
    Pool<Connection> pool_;
    std::unique_ptr<StoreExecutor> executor_;
};

std::unique_ptr<Store> MakeSqlStore(std::unique_ptr<SqlBackend> backend);

// schema_migrations, kept alike by both backends (each creates it and takes its own kind of lock around these).
// What schema_migrations says is still to apply of `known` (PendingMigrations).
[[nodiscard]] Result<std::vector<const Migration*>> ReadPendingMigrations(sql::Session& session,
                                                                          const std::vector<Migration>& known);
// Runs the migration's statements through `exec` (which takes several at once) and records it, inside the
// caller's transaction. kMigration names the migration when its SQL fails.
[[nodiscard]] Result<void> ApplyMigration(const std::function<Result<void>(const std::string&)>& exec,
                                          sql::Session& session,
                                          const Migration& migration,
                                          TimeMs now);

}  // namespace dispatch::store
