#pragma once
// A thin RAII wrapper over the SQLite C API: connections opened the way the store needs them (WAL, busy_timeout,
// foreign keys, synchronous=FULL), a prepared-statement cache, typed binding and reading, and BEGIN IMMEDIATE
// transactions that roll back unless committed. A Connection is used by one thread at a time.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "core/error.hpp"

namespace dispatch::store::sqlite {

// Maps a SQLite result code to store::Errc; `what` says which operation failed (no values, no secrets).
Error FromSqlite(int rc, sqlite3* db, std::string_view what);

struct OpenOptions {
    bool read_only = false;  // reader connections: no writes, no schema changes, no journal-mode switch
    int busy_timeout_ms = 5000;
};

class Connection;

// A prepared statement borrowed from the connection's cache. Destroying it resets it and clears its bindings, so
// the next borrower starts clean. Parameters are numbered from 1 (?1, ?2, ...).
class Statement {
public:
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    ~Statement();

    Statement& BindAt(int index, std::int64_t value);
    Statement& BindAt(int index, int value) { return BindAt(index, static_cast<std::int64_t>(value)); }
    Statement& BindAt(int index, std::string_view value);
    Statement& BindAt(int index, const std::string& value) { return BindAt(index, std::string_view(value)); }
    Statement& BindAt(int index, const char* value) { return BindAt(index, std::string_view(value)); }
    Statement& BindAt(int index, std::nullptr_t);
    template <class T>
    Statement& BindAt(int index, const std::optional<T>& value) {
        return value ? BindAt(index, *value) : BindAt(index, nullptr);
    }
    // Bind(a, b, c) binds ?1, ?2, ?3.
    template <class... Args>
    Statement& Bind(const Args&... args) {
        int index = 0;
        (BindAt(++index, args), ...);
        return *this;
    }

    // Advances: true when a row is ready to read, false when done.
    [[nodiscard]] Result<bool> Step();
    // Steps to the end, ignoring rows.
    [[nodiscard]] Result<void> Run();

    int ColumnCount() const;
    bool IsInteger(int column) const;
    bool ReadOnly() const;  // changes nothing (a SELECT): Connection::Changes() does not describe it
    bool IsNull(int column) const;
    std::int64_t Int64(int column) const;
    std::string Text(int column) const;
    std::optional<std::int64_t> OptionalInt64(int column) const;

private:
    friend class Connection;
    Statement(sqlite3_stmt* stmt, bool* in_use, bool owned);

    sqlite3_stmt* stmt_;
    bool* in_use_;  // the cache's flag; nullptr for a statement prepared outside the cache
    bool owned_;    // finalize on destruction (nested use of a cached SQL text)
    Error bind_error_;
    bool bind_failed_ = false;
};

class Connection {
public:
    // Opens (creating if needed, unless read-only) and configures the connection:
    //  - journal_mode=WAL: readers never block the writer nor the writer them;
    //  - synchronous=FULL: in WAL mode, every COMMIT fsyncs the WAL before it returns. NORMAL would fsync only at
    //    checkpoints, and a power loss could then lose transactions we already acknowledged to Bitrix24 (which does
    //    not resend events). Group commit pays for the fsync: one per batch, not per event;
    //  - foreign_keys=ON, busy_timeout, extended result codes.
    static Result<std::unique_ptr<Connection>> Open(const std::string& path, const OpenOptions& options);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Runs one or more statements that return nothing of interest (DDL, PRAGMA, BEGIN/COMMIT).
    [[nodiscard]] Result<void> Exec(std::string_view sql);
    // A prepared statement from the cache (prepared on first use). Nested use of the same text gets a private copy.
    [[nodiscard]] Result<Statement> Prepare(const std::string& sql);
    // The first column of the first row as text (PRAGMA journal_mode, ...); empty when no row.
    [[nodiscard]] Result<std::string> QueryText(const std::string& sql);

    std::int64_t Changes() const;
    bool InTransaction() const;  // false once SQLite rolled a failed transaction back on its own (I/O errors)
    sqlite3* Handle() const { return db_; }

private:
    explicit Connection(sqlite3* db) : db_(db) {}

    struct Cached {
        sqlite3_stmt* stmt = nullptr;
        std::unique_ptr<bool> in_use = std::make_unique<bool>(false);
    };
    sqlite3* db_;
    std::unordered_map<std::string, Cached> cache_;
};

// Copies the WAL back into the database on its own thread and connection, so that a COMMIT never does it. SQLite's
// automatic checkpoint runs inside the commit that crosses 1000 WAL pages: about 4 MB written and the database
// file fsynced while every event of that group waits for its acknowledgement, the tail of the ack latency. Here the
// writer's WAL hook only wakes this thread, which runs PASSIVE checkpoints beside the writer. Under sustained
// writes a passive checkpoint never catches the last frames, and the WAL can restart from its beginning only once
// every frame is in the database: past `finish_pages` the writer's hook runs one passive checkpoint itself, which
// has little left to copy by then and lets the next transaction restart the WAL. Connections are confined to one
// thread: Attach() (which installs the hook) and the destructor (which restores SQLite's automatic checkpoint) run
// on the writer's thread, or when nothing else uses the writer; the writer connection must outlive it.
class WalCheckpointer {
public:
    static Result<std::unique_ptr<WalCheckpointer>> Start(Connection& writer,
                                                          const std::string& path,
                                                          int wake_pages = 1000,
                                                          int finish_pages = 8000);
    ~WalCheckpointer();
    WalCheckpointer(const WalCheckpointer&) = delete;
    void Attach();
    WalCheckpointer& operator=(const WalCheckpointer&) = delete;

    std::int64_t Checkpoints() const;  // background checkpoints run so far

private:
    WalCheckpointer(Connection& writer, std::unique_ptr<Connection> own, int wake_pages, int finish_pages);
    static int OnCommit(void* self, sqlite3* db, const char* name, int pages);
    void Run();

    struct State;
    Connection& writer_;
    std::unique_ptr<Connection> own_;
    int wake_pages_;
    int finish_pages_;
    std::unique_ptr<State> state_;
    std::thread thread_;
};

// BEGIN IMMEDIATE (takes the write lock up front, so a read-modify-write cannot fail half way with SQLITE_BUSY on
// the upgrade) ... COMMIT; rolls back on destruction unless committed.
class Transaction {
public:
    [[nodiscard]] static Result<Transaction> Begin(Connection& connection);
    Transaction(Transaction&& other) noexcept : connection_(other.connection_) { other.connection_ = nullptr; }
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();

    [[nodiscard]] Result<void> Commit();
    void Rollback();

private:
    explicit Transaction(Connection& connection) : connection_(&connection) {}
    Connection* connection_;
};

}  // namespace dispatch::store::sqlite
