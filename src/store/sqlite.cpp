#include "store/sqlite.hpp"

#include <fmt/format.h>
#include <pthread.h>

#include <condition_variable>
#include <mutex>

#include "core/log.hpp"
#include "store/errc.hpp"

namespace dispatch::store::sqlite {
namespace {

constexpr log::Logger kLog{"store"};

Errc MapCode(int rc) {
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return Errc::kBusy;
        case SQLITE_CONSTRAINT:
            return Errc::kConstraint;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return Errc::kCorrupt;
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_NOLFS:
            return Errc::kIo;
        default:
            return Errc::kSql;
    }
}

}  // namespace

Error FromSqlite(int rc, sqlite3* db, std::string_view what) {
    const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    return Fail(MapCode(rc), fmt::format("{}: {} (sqlite {})", what, message, rc));
}

// ---- Statement ----------------------------------------------------------------------------------------------------

Statement::Statement(sqlite3_stmt* stmt, bool* in_use, bool owned) : stmt_(stmt), in_use_(in_use), owned_(owned) {
    if (in_use_ != nullptr) {
        *in_use_ = true;
    }
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(other.stmt_),
      in_use_(other.in_use_),
      owned_(other.owned_),
      bind_error_(std::move(other.bind_error_)),
      bind_failed_(other.bind_failed_) {
    other.stmt_ = nullptr;
    other.in_use_ = nullptr;
}

Statement::~Statement() {
    if (stmt_ == nullptr) {
        return;
    }
    if (owned_) {
        sqlite3_finalize(stmt_);
        return;
    }
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    if (in_use_ != nullptr) {
        *in_use_ = false;
    }
}

Statement& Statement::BindAt(int index, std::int64_t value) {
    if (const int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK && !bind_failed_) {
        bind_failed_ = true;
        bind_error_ = FromSqlite(rc, sqlite3_db_handle(stmt_), fmt::format("bind ?{}", index));
    }
    return *this;
}

Statement& Statement::BindAt(int index, std::string_view value) {
    if (const int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
        rc != SQLITE_OK && !bind_failed_) {
        bind_failed_ = true;
        bind_error_ = FromSqlite(rc, sqlite3_db_handle(stmt_), fmt::format("bind ?{}", index));
    }
    return *this;
}

Statement& Statement::BindAt(int index, std::nullptr_t) {
    if (const int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK && !bind_failed_) {
        bind_failed_ = true;
        bind_error_ = FromSqlite(rc, sqlite3_db_handle(stmt_), fmt::format("bind ?{}", index));
    }
    return *this;
}

Result<bool> Statement::Step() {
    if (bind_failed_) {
        return bind_error_;
    }
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return FromSqlite(rc, sqlite3_db_handle(stmt_), "step");
}

Result<void> Statement::Run() {
    for (;;) {
        auto row = Step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return {};
        }
    }
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

bool Statement::IsInteger(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_INTEGER; }

bool Statement::ReadOnly() const { return sqlite3_stmt_readonly(stmt_) != 0; }

bool Statement::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Statement::Int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    const int size = sqlite3_column_bytes(stmt_, column);
    return text == nullptr ? std::string() : std::string(text, static_cast<std::size_t>(size));
}

std::optional<std::int64_t> Statement::OptionalInt64(int column) const {
    if (IsNull(column)) {
        return std::nullopt;
    }
    return Int64(column);
}

// ---- Connection ---------------------------------------------------------------------------------------------------

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, const OpenOptions& options) {
    sqlite3* db = nullptr;
    // NOMUTEX: a connection is confined to one thread at a time (the writer thread, or a reader taken from the
    // pool), so SQLite's own per-connection mutex would only cost.
    const int flags =
        (options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        Error error = FromSqlite(rc, db, fmt::format("open {}", path));
        sqlite3_close_v2(db);
        return error;
    }
    std::unique_ptr<Connection> connection(new Connection(db));
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    if (!options.read_only) {
        auto mode = connection->QueryText("PRAGMA journal_mode=WAL");
        if (!mode) {
            return mode.error();
        }
        if (*mode != "wal") {
            return Fail(Errc::kIo, fmt::format("open {}: journal_mode is '{}', WAL is required", path, *mode));
        }
    }
    if (auto pragmas = connection->Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"); !pragmas) {
        return pragmas.error();
    }
    return connection;
}

struct WalCheckpointer::State {
    mutable std::mutex mu;
    std::condition_variable cv;
    bool wanted = false;
    bool stopping = false;
    std::int64_t runs = 0;
};

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(Connection& writer,
                                                                const std::string& path,
                                                                int wake_pages,
                                                                int finish_pages) {
    auto own = Connection::Open(path, {});
    if (!own) {
        return own.error();
    }
    return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(writer, std::move(*own), wake_pages, finish_pages));
}

void WalCheckpointer::Attach() {
    // Replaces SQLite's automatic checkpoint (itself a WAL hook) on the writer.
    sqlite3_wal_hook(writer_.Handle(), &WalCheckpointer::OnCommit, this);
}

WalCheckpointer::WalCheckpointer(Connection& writer, std::unique_ptr<Connection> own, int wake_pages, int finish_pages)
    : writer_(writer),
      own_(std::move(own)),
      wake_pages_(wake_pages),
      finish_pages_(finish_pages),
      state_(std::make_unique<State>()),
      thread_([this] {
          ::pthread_setname_np(::pthread_self(), "wal-checkpoint");
          Run();
      }) {}

WalCheckpointer::~WalCheckpointer() {
    sqlite3_wal_hook(writer_.Handle(), nullptr, nullptr);
    sqlite3_wal_autocheckpoint(writer_.Handle(), 1000);
    {
        std::lock_guard lock(state_->mu);
        state_->stopping = true;
    }
    state_->cv.notify_one();
    thread_.join();
}

std::int64_t WalCheckpointer::Checkpoints() const {
    std::lock_guard lock(state_->mu);
    return state_->runs;
}

// Runs on the writer's thread right after each commit, with the WAL's size in pages.
int WalCheckpointer::OnCommit(void* self, sqlite3* db, const char* name, int pages) {
    auto* c = static_cast<WalCheckpointer*>(self);
    if (pages >= c->finish_pages_) {
        // Errors (SQLITE_BUSY while the background one runs) are fine: the next commit tries again.
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        return SQLITE_OK;
    }
    if (pages >= c->wake_pages_) {
        {
            std::lock_guard lock(c->state_->mu);
            c->state_->wanted = true;
        }
        c->state_->cv.notify_one();
    }
    return SQLITE_OK;
}

void WalCheckpointer::Run() {
    for (;;) {
        {
            std::unique_lock lock(state_->mu);
            state_->cv.wait(lock, [this] { return state_->stopping || state_->wanted; });
            if (state_->stopping) {
                return;
            }
            state_->wanted = false;
        }
        int log_pages = 0;
        int copied = 0;
        const int rc =
            sqlite3_wal_checkpoint_v2(own_->Handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &copied);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
            DISPATCH_LOG_WARN(
                kLog, "wal checkpoint failed", "rc={} detail={}", rc, log::Quote(sqlite3_errmsg(own_->Handle())));
        }
        std::lock_guard lock(state_->mu);
        ++state_->runs;
    }
}

Connection::~Connection() {
    for (auto& [sql, cached] : cache_) {
        sqlite3_finalize(cached.stmt);
    }
    // close_v2: a leaked statement would otherwise make close fail and leak the handle.
    if (const int rc = sqlite3_close_v2(db_); rc != SQLITE_OK) {
        DISPATCH_LOG_WARN(kLog, "sqlite close failed", "rc={}", rc);
    }
}

Result<void> Connection::Exec(std::string_view sql) {
    const std::string text(sql);
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        return Fail(MapCode(rc), fmt::format("exec: {} (sqlite {})", detail, rc));
    }
    return {};
}

Result<Statement> Connection::Prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end() && !*it->second.in_use) {
        return Statement(it->second.stmt, it->second.in_use.get(), false);
    }
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_,
                                      sql.c_str(),
                                      static_cast<int>(sql.size()),
                                      it == cache_.end() ? SQLITE_PREPARE_PERSISTENT : 0,
                                      &stmt,
                                      nullptr);
    if (rc != SQLITE_OK) {
        return FromSqlite(rc, db_, "prepare");
    }
    if (it != cache_.end()) {
        return Statement(stmt, nullptr, true);  // the cached one is borrowed: nested use gets a private copy
    }
    auto& cached = cache_[sql];
    cached.stmt = stmt;
    return Statement(stmt, cached.in_use.get(), false);
}

Result<std::string> Connection::QueryText(const std::string& sql) {
    auto stmt = Prepare(sql);
    if (!stmt) {
        return stmt.error();
    }
    auto row = stmt->Step();
    if (!row) {
        return row.error();
    }
    return *row ? stmt->Text(0) : std::string();
}

std::int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

bool Connection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

// ---- Transaction --------------------------------------------------------------------------------------------------

Result<Transaction> Transaction::Begin(Connection& connection) {
    if (auto begun = connection.Exec("BEGIN IMMEDIATE"); !begun) {
        return begun.error();
    }
    return Transaction(connection);
}

Transaction::~Transaction() { Rollback(); }

Result<void> Transaction::Commit() {
    if (connection_ == nullptr) {
        return Fail(Errc::kSql, "commit of a finished transaction");
    }
    auto committed = connection_->Exec("COMMIT");
    if (!committed) {
        Rollback();  // a failed COMMIT (busy, I/O) leaves the transaction open; end it so the connection is usable
        return committed.error();
    }
    connection_ = nullptr;
    return {};
}

void Transaction::Rollback() {
    if (connection_ == nullptr) {
        return;
    }
    if (connection_->InTransaction()) {
        (void)connection_->Exec("ROLLBACK");
    }
    connection_ = nullptr;
}

}  // namespace dispatch::store::sqlite
