#pragma once
// SQLite backend internals that tests and tools may use directly. Most callers want OpenSqliteStore (store.hpp).

#include <functional>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/migrations.hpp"
#include "store/sqlite.hpp"

namespace dispatch::store {

// Creates schema_migrations if needed and applies every migration the database lacks, each in its own
// BEGIN IMMEDIATE transaction (so two processes starting at once apply each migration exactly once).
// kMigration when the database is newer than `known`, a recorded name differs, or a migration's SQL fails.
[[nodiscard]] Result<void> MigrateSqlite(sqlite::Connection& connection,
                                         const std::vector<Migration>& known,
                                         const Clock& clock);

// Runs `writes` in one BEGIN IMMEDIATE transaction (one fsync for all of them), each inside its own savepoint: a
// write that fails is rolled back alone and the others commit. One result per write, final once COMMIT returned;
// if SQLite itself abandons the transaction (I/O error) or COMMIT fails, every write fails. The store's executor
// runs its write groups with this.
[[nodiscard]] std::vector<Result<void>> RunSqliteWriteGroup(sqlite::Connection& writer,
                                                            const std::vector<std::function<Result<void>()>*>& writes);

}  // namespace dispatch::store
