#pragma once
// Opening a store: the SQLite file (embedded default) or a PostgreSQL database (multi-instance), each behind the
// same repositories (store/repos.hpp, store/flow_repos.hpp). Migrations run at open; a database newer than this build
// is refused.

#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/flow_repos.hpp"
#include "store/repos.hpp"

namespace dispatch::store {

class Store {
public:
    virtual ~Store() = default;
    virtual PortalRepo& Portals() = 0;
    virtual TokenRepo& Tokens() = 0;
    virtual InboxRepo& Inbox() = 0;
    virtual TicketRepo& Tickets() = 0;
    virtual TimerRepo& Timers() = 0;
    virtual OutboxRepo& Outbox() = 0;
    virtual SettingsRepo& Settings() = 0;
    virtual std::string_view Backend() const = 0;  // "sqlite" or "postgres"
    // Finishes queued writes (every pending Append gets its completion), then stops the writer thread. Later calls
    // fail with kClosed. Idempotent; the destructor calls it.
    virtual void Close() = 0;
};

struct SqliteOptions {
    std::string path;  // the database file; WAL needs a real file (its -wal and -shm files sit beside it)
    // Empty: the migrations embedded at build time from schemas/sqlite/. Otherwise a directory of NNNN_name.sql.
    std::string migrations_dir;
    int busy_timeout_ms = 5000;
    int read_connections = 2;  // readers use their own connections; WAL lets them run beside the writer
};

struct PostgresOptions {
    std::string dsn;  // libpq connection string; holds a password at times: never logged
    // Non-empty: every connection uses this schema (created if missing) as its search_path. Tests use one schema
    // per test; production leaves it empty (the DSN's default, usually "public").
    std::string schema;
    std::string migrations_dir;  // as for SQLite, over schemas/postgres/
    int pool_size = 4;
};

// Both take the clock for bookkeeping stamps (schema_migrations.applied_at); repositories take `now` explicitly.
[[nodiscard]] Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options, const Clock& clock);
[[nodiscard]] Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options, const Clock& clock);

}  // namespace dispatch::store
