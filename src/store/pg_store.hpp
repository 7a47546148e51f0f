#pragma once
// PostgreSQL backend internals that tests and tools may use directly. Most callers want OpenPostgresStore
// (store.hpp).

#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/migrations.hpp"
#include "store/pg.hpp"

namespace dispatch::store {

// As MigrateSqlite: applies what the database lacks, each migration in its own transaction (PostgreSQL DDL is
// transactional, so a failed migration leaves nothing behind). A session advisory lock keyed by the schema makes
// instances that start together take turns.
[[nodiscard]] Result<void> MigratePostgres(pg::Connection& connection,
                                           const std::vector<Migration>& known,
                                           const Clock& clock);

}  // namespace dispatch::store
