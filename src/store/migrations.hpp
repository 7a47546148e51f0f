#pragma once
// Numbered schema migrations: schemas/<backend>/NNNN_name.sql, applied in order, each in its own transaction,
// recorded in schema_migrations (version, name, applied_at). The files are embedded at build time (CMake generates
// embedded_migrations.cpp), so binaries work from any working directory; a directory can override them.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace dispatch::store {

struct Migration {
    std::int64_t version = 0;  // NNNN from the file name; contiguous from 1
    std::string name;          // the rest of the file name without ".sql"
    std::string sql;
};

enum class SchemaBackend { kSqlite, kPostgres };

// The migrations compiled into this build, in version order.
const std::vector<Migration>& EmbeddedMigrations(SchemaBackend backend);

// Reads every NNNN_name.sql in `dir` (other files are ignored). kMigration when versions repeat or leave a gap,
// kIo when the directory cannot be read.
[[nodiscard]] Result<std::vector<Migration>> LoadMigrations(const std::string& dir);

// Embedded when `dir` is empty, else LoadMigrations(dir).
[[nodiscard]] Result<std::vector<Migration>> SelectMigrations(SchemaBackend backend, const std::string& dir);

// Checks a sorted list: versions 1..N without gaps or repeats.
[[nodiscard]] Result<void> ValidateMigrations(const std::vector<Migration>& migrations);

// What the database already has, as read from schema_migrations, against what the code knows: the versions still to
// apply, or kMigration when the database is newer than the code or a recorded name differs from the code's.
struct AppliedMigration {
    std::int64_t version = 0;
    std::string name;
};
[[nodiscard]] Result<std::vector<const Migration*>> PendingMigrations(const std::vector<Migration>& known,
                                                                      const std::vector<AppliedMigration>& applied);

}  // namespace dispatch::store
