#pragma once
// A thin RAII wrapper over libpq (bookworm's libpqxx is too old): connections, prepared statements cached per
// connection, text-format parameters and results, SQLSTATE mapped to store::Errc. A Connection is used by one
// thread at a time.

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"

namespace dispatch::store::pg {

// ?1 → $1: the shared SQL (store/queries.hpp) is written with SQLite's numbered parameters.
std::string FromSqliteParams(std::string_view sql);

// A query's rows. Values are read in text format.
class Rows {
public:
    explicit Rows(PGresult* result) : result_(result, &PQclear) {}
    int Size() const { return PQntuples(result_.get()); }
    int Columns() const { return PQnfields(result_.get()); }
    std::int64_t Affected() const;  // rows changed by INSERT/UPDATE/DELETE

    // One row, read like SQLite's Statement (so the decoders in queries.hpp serve both backends).
    class Row {
    public:
        Row(const Rows& rows, int index) : rows_(rows), index_(index) {}
        bool IsNull(int column) const { return PQgetisnull(rows_.result_.get(), index_, column) != 0; }
        std::string Text(int column) const;
        std::int64_t Int64(int column) const;

    private:
        const Rows& rows_;
        int index_;
    };
    Row At(int index) const { return Row(*this, index); }

private:
    std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

using Param = std::optional<std::string>;

inline Param ToParam(std::int64_t v) { return std::to_string(v); }
inline Param ToParam(int v) { return std::to_string(v); }
inline Param ToParam(std::string_view v) { return std::string(v); }
inline Param ToParam(const std::string& v) { return v; }
inline Param ToParam(const char* v) { return std::string(v); }
inline Param ToParam(std::nullptr_t) { return std::nullopt; }

class Connection {
public:
    // Connects; with a non-empty `schema`, sets it as the search_path (the schema must exist).
    // kUnavailable when the server cannot be reached or refuses us.
    static Result<std::unique_ptr<Connection>> Open(const std::string& dsn, const std::string& schema);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Simple-protocol query: several statements allowed, no parameters (migrations, BEGIN/COMMIT, SET).
    [[nodiscard]] Result<void> Exec(const std::string& sql);
    // Extended-protocol query of one statement with ?N (SQLite style, rewritten by FromSqliteParams) or $N
    // parameters, prepared once per connection and cached.
    [[nodiscard]] Result<Rows> Query(const std::string& sql, const std::vector<Param>& params);
    template <class... Args>
    [[nodiscard]] Result<Rows> Run(const std::string& sql, const Args&... args) {
        return Query(sql, std::vector<Param>{ToParam(args)...});
    }

    // Reconnects a broken connection (server restart, network cut); prepared statements are forgotten.
    [[nodiscard]] Result<void> EnsureConnected();
    bool InTransaction() const;

private:
    Connection(PGconn* conn, std::string schema) : conn_(conn), schema_(std::move(schema)) {}
    Result<void> Setup();

    PGconn* conn_;
    std::string schema_;
    std::unordered_map<std::string, std::string> prepared_;  // SQL text → statement name
};

// A schema name we are willing to interpolate into SQL: [a-z_][a-z0-9_]*, at most 63 characters.
bool IsSafeIdentifier(std::string_view name);

}  // namespace dispatch::store::pg
