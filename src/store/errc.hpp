#pragma once
// Codes for store failures (STYLE.md §3.5). Stable: they reach logs and metrics. Append only, never reuse a value.

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace dispatch::store {

enum class Errc {
    kBusy = 1,             // SQLITE_BUSY/LOCKED after busy_timeout; PG serialization failure or deadlock: retry later
    kConstraint = 2,       // a UNIQUE/CHECK/FOREIGN KEY/NOT NULL constraint refused the row
    kCorrupt = 3,          // SQLITE_CORRUPT/NOTADB: the file is not a sound database; a human must act
    kIo = 4,               // disk full, I/O error, cannot open the file
    kMigration = 5,        // schema too new for this build, a migration failed, or history does not match the code
    kNotFound = 6,         // the row asked for does not exist
    kClosed = 7,           // the store is shut down (or shutting down) and accepts no more work
    kConflict = 8,         // optimistic check failed: the version moved (token compare-and-swap)
    kLeaseLost = 9,        // complete/fail on a claim that expired and was taken by someone else (or finished)
    kSql = 10,             // any other database error (syntax, misuse): a bug more often than not
    kUnavailable = 11,     // PostgreSQL unreachable or the connection broke
    kInvalidArgument = 12  // the caller passed a value the store cannot represent (empty key, bad JSON)
};

const boost::system::error_category& Category() noexcept;
inline boost::system::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), Category()}; }

}  // namespace dispatch::store

template <>
struct boost::system::is_error_code_enum<dispatch::store::Errc> : std::true_type {};
