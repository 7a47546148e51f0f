#pragma once
// An online copy of a live SQLite store (`dispatchctl backup`): a consistent, self-contained single file taken
// with SQLite's backup API while dispatchd keeps writing. Copying the .db file by hand can miss commits still in
// the -wal file, or catch a checkpoint half way.

#include <cstdint>
#include <functional>
#include <string>

#include "core/error.hpp"

namespace dispatch::store {

struct BackupOptions {
    int pages_per_step = 256;  // pages copied per sqlite3_backup_step: how long one step holds its locks
    bool force = false;        // replace an existing `to`
    // Each connection's busy_timeout: SQLite's own wait for a lock inside one attempt.
    int busy_timeout_ms = 1000;
    // Attempts in a row that may find a lock held (SQLITE_BUSY/LOCKED) before the backup gives up with kBusy.
    int max_busy_retries = 30;
    // Times the copy may start over because someone changed a source in rollback-journal mode between steps (a
    // WAL source is read from one snapshot and never starts over); more fail with kBusy.
    int max_restarts = 8;
    // Called after each step that left pages to copy (copied so far, pages in all). Tests write to the source here.
    std::function<void(std::int64_t copied, std::int64_t total)> on_step;
};

struct BackupStats {
    std::int64_t pages = 0;  // pages in the copy
    std::int64_t bytes = 0;  // size of the copy's file
    int steps = 0;           // successful sqlite3_backup_step calls
    int busy_retries = 0;    // attempts that found a lock held and were repeated
    int restarts = 0;        // times the copy started over (rollback-journal sources only)
};

// Copies the SQLite database `from` to the file `to`. The source is only read (a read-only connection; a WAL
// source is read from one snapshot, which never blocks its writer). The copy is written to `to + ".partial"`,
// switched to journal_mode=DELETE with its WAL folded in, checked with PRAGMA integrity_check, fsynced and only
// then renamed to `to` (the directory is fsynced too): `to` is either the old file or the whole copy, and no
// -wal/-journal file sits beside it. Stale -wal/-shm/-journal files of `to` are removed, since SQLite would
// replay them into the copy. On failure nothing new is left behind: no .partial, and `to` untouched.
// Errors (store::Errc): kNotFound `from` does not exist; kConflict `to` exists and !options.force;
// kInvalidArgument `to` is `from` itself, or a bad option; kBusy a lock stayed held or the source kept changing;
// kCorrupt the source (or the copy) failed the integrity check; kIo files could not be read, written or renamed.
[[nodiscard]] Result<BackupStats> BackupSqlite(const std::string& from,
                                               const std::string& to,
                                               const BackupOptions& options);

}  // namespace dispatch::store
