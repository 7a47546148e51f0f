#include "store/backup.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "store/errc.hpp"
#include "store/sqlite.hpp"

namespace dispatch::store {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSideSuffixes[] = {"-wal", "-shm", "-journal"};

struct CloseDb {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

struct FinalizeStatement {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

struct FinishBackup {
    void operator()(sqlite3_backup* backup) const { sqlite3_backup_finish(backup); }
};

bool IsLockHeld(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

bool IsBusy(const Error& error) { return error.code == make_error_code(Errc::kBusy); }

Error IoError(std::string_view what, const std::string& path, int err) {
    return Fail(Errc::kIo, fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

// The first column of the first row ("" when none), on a handle the sqlite::Connection wrapper cannot own: the
// copy must not be switched to WAL, which Connection::Open does to every writable connection.
Result<std::string> QueryText(sqlite3* db, const char* sql) {
    sqlite3_stmt* raw = nullptr;
    if (const int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr); rc != SQLITE_OK) {
        return sqlite::FromSqlite(rc, db, sql);
    }
    const std::unique_ptr<sqlite3_stmt, FinalizeStatement> stmt(raw);
    const int rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) {
        return std::string();
    }
    if (rc != SQLITE_ROW) {
        return sqlite::FromSqlite(rc, db, sql);
    }
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, 0));
    return std::string(text != nullptr ? text : "");
}

// Repeats `attempt` while it fails only because a lock is held; SQLite's busy_timeout does the waiting inside each
// attempt, so nothing sleeps here. Errors say `what` failed.
template <class F>
auto Retrying(const BackupOptions& options, BackupStats& stats, const std::string& what, F&& attempt)
    -> decltype(attempt()) {
    for (int busy = 0;; ++busy) {
        auto result = attempt();
        if (result) {
            return result;
        }
        if (!IsBusy(result.error())) {
            return Error{result.error().code, fmt::format("{}: {}", what, result.error().detail)};
        }
        if (busy >= options.max_busy_retries) {
            return Fail(Errc::kBusy,
                        fmt::format("{}: still locked after {} attempts ({})", what, busy + 1, result.error().detail));
        }
        ++stats.busy_retries;
    }
}

Result<void> RemoveWithSideFiles(const std::string& path, bool main_file) {
    std::error_code ec;
    if (main_file && !fs::remove(path, ec) && ec) {
        return Fail(Errc::kIo, fmt::format("remove {}: {}", path, ec.message()));
    }
    for (const char* suffix : kSideSuffixes) {
        if (!fs::remove(path + suffix, ec) && ec) {
            return Fail(Errc::kIo, fmt::format("remove {}{}: {}", path, suffix, ec.message()));
        }
    }
    return {};
}

Result<void> Fsync(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) {
        return IoError("open for fsync", path, errno);
    }
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
        return IoError("fsync", path, err);
    }
    return {};
}

// Without force, RENAME_NOREPLACE makes the refusal atomic: a `to` created since the first check is not replaced.
Result<void> Publish(const std::string& partial, const std::string& to, bool force) {
    int rc = force ? ::rename(partial.c_str(), to.c_str())
                   : ::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && !force && (errno == EINVAL || errno == ENOSYS)) {
        // A file system without RENAME_NOREPLACE: the check made before copying has to do.
        rc = ::rename(partial.c_str(), to.c_str());
    }
    if (rc != 0 && errno == EEXIST) {
        return Fail(Errc::kConflict, fmt::format("{} appeared during the backup; not replaced", to));
    }
    if (rc != 0) {
        return IoError("rename to", to, errno);
    }
    const fs::path dir = fs::path(to).parent_path();
    return Fsync(dir.empty() ? std::string(".") : dir.string(), O_RDONLY | O_DIRECTORY);
}

// Copies `from` into the new file `partial` and leaves it a checked, single-file, rollback-journal database.
Result<BackupStats> CopyInto(const std::string& from, const std::string& partial, const BackupOptions& options) {
    BackupStats stats;
    // Opening reads the schema (for its pragmas), which needs the same lock as any read.
    auto source = Retrying(options, stats, "open " + from, [&] {
        return sqlite::Connection::Open(
            from, sqlite::OpenOptions{.read_only = true, .busy_timeout_ms = options.busy_timeout_ms});
    });
    if (!source) {
        return source.error();
    }
    sqlite::Connection& src = **source;
    auto mode = Retrying(
        options, stats, "read the journal mode of " + from, [&] { return src.QueryText("PRAGMA journal_mode"); });
    if (!mode) {
        return mode.error();
    }
    // sqlite3_backup_step starts the copy over whenever another connection committed since the last step, so
    // under dispatchd's steady writes a WAL database could be restarted forever. Reading every step from one
    // snapshot avoids that, and in WAL mode a reader never blocks the writer: the WAL only cannot restart from its
    // beginning until the copy ends. A rollback-journal source (never dispatchd's: it keeps its file in WAL) is
    // read with a lock per step as the API intends, because there a held read lock would block a writer.
    const bool pinned = *mode == "wal";
    if (pinned) {
        if (auto begun = src.Exec("BEGIN"); !begun) {
            return begun.error();
        }
        auto read = Retrying(options, stats, "open a read snapshot of " + from, [&] {
            return src.QueryText("SELECT count(*) FROM sqlite_schema");
        });
        if (!read) {
            return read.error();
        }
    }

    sqlite3* raw = nullptr;
    const int opened = sqlite3_open_v2(
        partial.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    DbHandle dest(raw);
    if (opened != SQLITE_OK) {
        return sqlite::FromSqlite(opened, raw, "create " + partial);
    }
    sqlite3_extended_result_codes(dest.get(), 1);
    sqlite3_busy_timeout(dest.get(), options.busy_timeout_ms);
    // The copy counts only once it is fsynced and renamed below, so its own commits need not sync; a crash leaves
    // a .partial that the next run removes.
    if (auto off = QueryText(dest.get(), "PRAGMA synchronous=OFF"); !off) {
        return off.error();
    }

    std::unique_ptr<sqlite3_backup, FinishBackup> backup(sqlite3_backup_init(dest.get(), "main", src.Handle(), "main"));
    if (!backup) {
        return sqlite::FromSqlite(sqlite3_errcode(dest.get()), dest.get(), "backup init " + partial);
    }
    std::int64_t copied = 0;
    for (int busy = 0;;) {
        const int rc = sqlite3_backup_step(backup.get(), options.pages_per_step);
        if (rc == SQLITE_DONE) {
            ++stats.steps;
            break;
        }
        if (IsLockHeld(rc)) {
            if (busy >= options.max_busy_retries) {
                return Fail(
                    Errc::kBusy,
                    fmt::format("backup of {}: still locked after {} attempts (sqlite {})", from, busy + 1, rc));
            }
            ++busy;
            ++stats.busy_retries;
            continue;
        }
        if (rc != SQLITE_OK) {
            // SQLite leaves a failed step's message on the destination connection, whichever side failed.
            return sqlite::FromSqlite(rc, dest.get(), "backup step from " + from);
        }
        busy = 0;
        ++stats.steps;
        const std::int64_t total = sqlite3_backup_pagecount(backup.get());
        const std::int64_t now_copied = total - sqlite3_backup_remaining(backup.get());
        // Each step copies pages_per_step more unless the copy started over from page 1.
        if (now_copied <= copied && ++stats.restarts > options.max_restarts) {
            return Fail(Errc::kBusy,
                        fmt::format("backup of {}: the source changed under the copy {} times; try again when it "
                                    "is quieter",
                                    from,
                                    stats.restarts));
        }
        copied = now_copied;
        if (options.on_step) {
            options.on_step(copied, total);
        }
    }
    stats.pages = sqlite3_backup_pagecount(backup.get());
    if (const int rc = sqlite3_backup_finish(backup.release()); rc != SQLITE_OK) {
        return sqlite::FromSqlite(rc, dest.get(), "backup finish " + partial);
    }
    source->reset();  // ends the snapshot: the source's WAL may restart again

    // The copy carries the source's header, which marks it as a WAL database: switching it back folds in and
    // deletes any -wal, so the copy is one file an operator can move away alone.
    auto journal = QueryText(dest.get(), "PRAGMA journal_mode=DELETE");
    if (!journal) {
        return journal.error();
    }
    if (*journal != "delete") {
        return Fail(Errc::kIo, fmt::format("{}: journal_mode stayed '{}', not 'delete'", partial, *journal));
    }
    auto check = QueryText(dest.get(), "PRAGMA integrity_check");
    if (!check) {
        return check.error();
    }
    if (*check != "ok") {
        return Fail(Errc::kCorrupt, fmt::format("copy of {} failed integrity_check: {}", from, *check));
    }
    if (const int rc = sqlite3_close(dest.get()); rc != SQLITE_OK) {
        return sqlite::FromSqlite(rc, dest.get(), "close " + partial);
    }
    (void)dest.release();
    for (const char* suffix : kSideSuffixes) {
        if (fs::exists(partial + suffix)) {
            return Fail(Errc::kIo, fmt::format("{}{} is still there after closing the copy", partial, suffix));
        }
    }
    std::error_code ec;
    stats.bytes = static_cast<std::int64_t>(fs::file_size(partial, ec));
    if (ec) {
        return Fail(Errc::kIo, fmt::format("size of {}: {}", partial, ec.message()));
    }
    if (auto synced = Fsync(partial, O_RDONLY); !synced) {
        return synced.error();
    }
    return stats;
}

}  // namespace

Result<BackupStats> BackupSqlite(const std::string& from, const std::string& to, const BackupOptions& options) {
    if (options.pages_per_step <= 0 || options.max_busy_retries < 0 || options.max_restarts < 0 ||
        options.busy_timeout_ms < 0) {
        return Fail(Errc::kInvalidArgument, "backup: pages_per_step must be positive, the bounds not negative");
    }
    if (from.empty() || to.empty()) {
        return Fail(Errc::kInvalidArgument, "backup: both the source and the target path are needed");
    }
    std::error_code ec;
    if (!fs::is_regular_file(from, ec)) {
        return Fail(Errc::kNotFound, fmt::format("database {} does not exist (or is not a file)", from));
    }
    if (fs::exists(to, ec)) {
        if (fs::equivalent(from, to, ec)) {
            return Fail(Errc::kInvalidArgument, fmt::format("{} is the database itself", to));
        }
        if (fs::is_directory(to, ec)) {
            return Fail(Errc::kInvalidArgument, fmt::format("{} is a directory; name the copy's file", to));
        }
        if (!options.force) {
            return Fail(Errc::kConflict, fmt::format("{} already exists", to));
        }
    }

    const std::string partial = to + ".partial";
    // Left over from an interrupted run: never a finished copy, which only exists under `to`.
    if (auto removed = RemoveWithSideFiles(partial, true); !removed) {
        return removed.error();
    }
    auto stats = CopyInto(from, partial, options);
    if (stats) {
        // SQLite would replay a stale -wal or -journal of an earlier file named `to` into the new copy.
        if (auto removed = RemoveWithSideFiles(to, false); !removed) {
            stats = removed.error();
        } else if (auto published = Publish(partial, to, options.force); !published) {
            stats = published.error();
        }
    }
    if (!stats) {
        (void)RemoveWithSideFiles(partial, true);
    }
    return stats;
}

}  // namespace dispatch::store
