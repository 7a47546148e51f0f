#pragma once
// Internal to store/: the little both backends must offer so that a repository body is written once (the flows
// repositories in flow_store.cpp). A Session runs one statement at a time on one connection inside a transaction
// the Database opened; results come back materialised, read with the same Text/Int64/IsNull calls as the
// decoders in queries.hpp.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace dispatch::store::sql {

// A bound parameter. Strings are views: they must outlive the Query call (Session::Run guarantees it).
using Value = std::variant<std::nullptr_t, std::int64_t, std::string_view>;

inline Value ToValue(std::int64_t v) { return v; }
inline Value ToValue(int v) { return static_cast<std::int64_t>(v); }
inline Value ToValue(bool v) { return static_cast<std::int64_t>(v ? 1 : 0); }
inline Value ToValue(std::string_view v) { return v; }
inline Value ToValue(const std::string& v) { return std::string_view(v); }
inline Value ToValue(const char* v) { return std::string_view(v); }
inline Value ToValue(std::nullptr_t) { return nullptr; }
template <class T>
Value ToValue(const std::optional<T>& v) {
    return v ? ToValue(*v) : Value(nullptr);
}

// One column value as the backend returned it: SQLite keeps integers as integers, PostgreSQL sends text.
using Cell = std::variant<std::monostate, std::int64_t, std::string>;

class ResultRow {
public:
    explicit ResultRow(std::vector<Cell> cells) : cells_(std::move(cells)) {}
    bool IsNull(int column) const;
    std::string Text(int column) const;
    std::int64_t Int64(int column) const;  // NULL reads as 0

private:
    std::vector<Cell> cells_;
};

struct QueryResult {
    std::vector<ResultRow> rows;
    std::int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE; not meaningful for a SELECT
};

// Every row of a statement's result decoded by `read` (const ResultRow& → T), or the statement's error.
template <class F>
auto MapRows(const Result<QueryResult>& result, F read)
    -> Result<std::vector<decltype(read(std::declval<const ResultRow&>()))>> {
    if (!result) {
        return result.error();
    }
    std::vector<decltype(read(std::declval<const ResultRow&>()))> out;
    out.reserve(result->rows.size());
    for (const auto& row : result->rows) {
        out.push_back(read(row));
    }
    return out;
}

// As MapRows with a decoder that can refuse a row (const ResultRow& → Result<T>): the first refusal is the result.
template <class T, class F>
Result<std::vector<T>> MapRowsChecked(const Result<QueryResult>& result, F read) {
    if (!result) {
        return result.error();
    }
    std::vector<T> out;
    out.reserve(result->rows.size());
    for (const auto& row : result->rows) {
        auto decoded = read(row);
        if (!decoded) {
            return decoded.error();
        }
        out.push_back(std::move(*decoded));
    }
    return out;
}

// The statement's error, if it failed.
Result<void> Done(const Result<QueryResult>& result);

// For statements that take one id or NULL for "all": runs each(nullopt) when `ids` is empty, else each(id) per id,
// until one fails.
Result<void> ForIdsOrAll(const std::vector<std::int64_t>& ids,
                         const std::function<Result<void>(std::optional<std::int64_t>)>& each);
// As Done, and kLeaseLost when a fenced UPDATE/DELETE changed no row: the claim `what id` at `attempt` was taken
// over or finished meanwhile.
Result<void> RequireHeld(const Result<QueryResult>& result,
                         std::string_view what,
                         std::int64_t id,
                         std::int64_t attempt);

class Session {
public:
    virtual ~Session() = default;
    // One statement written with ?N parameters (queries.hpp); the PostgreSQL session rewrites them to $N.
    [[nodiscard]] virtual Result<QueryResult> Query(const std::string& sql, std::span<const Value> params) = 0;

    template <class... Args>
    [[nodiscard]] Result<QueryResult> Run(const std::string& sql, const Args&... args) {
        const Value values[] = {ToValue(args)..., nullptr};  // the trailing null keeps the array non-empty
        return Query(sql, std::span<const Value>(values, sizeof...(Args)));
    }
};

class Database;

// Retention's unit of work: runs `statement` (a DELETE taking ?1 cutoff and ?2 row limit, queries.hpp PurgeDone*) in
// one write transaction and returns the rows it deleted. kInvalidArgument for a limit below 1.
[[nodiscard]] Result<std::int64_t> PurgeChunk(Database& db, const std::string& statement, TimeMs cutoff, int max_rows);

class Database {
public:
    using Work = std::function<Result<void>(Session&)>;
    virtual ~Database() = default;
    // Runs `work` on a reading connection inside a read-only transaction: every statement sees one snapshot.
    [[nodiscard]] virtual Result<void> Read(const Work& work) = 0;
    // Runs `work` in one write transaction: COMMIT when it succeeds, ROLLBACK (nothing left behind) when it fails.
    // SQLite runs it on the store executor's thread, so it serialises with the inbox's group commit.
    [[nodiscard]] virtual Result<void> Write(const Work& work) = 0;
    // Appended to a claim's row-picking subquery: "" for SQLite (one writer), "FOR UPDATE OF <alias> SKIP LOCKED"
    // for PostgreSQL (instances claiming at once pass over each other's rows). Takes the subquery's alias.
    virtual std::string ClaimLock(std::string_view alias) const = 0;

    // Read/Write returning a value.
    template <class T, class F>
    Result<T> ReadValue(F&& fn) {
        return Into<T>(&Database::Read, std::forward<F>(fn));
    }
    template <class T, class F>
    Result<T> WriteValue(F&& fn) {
        return Into<T>(&Database::Write, std::forward<F>(fn));
    }

private:
    template <class T, class F>
    Result<T> Into(Result<void> (Database::*run)(const Work&), F&& fn) {
        std::optional<T> out;
        auto done = (this->*run)([&](Session& s) -> Result<void> {
            auto value = fn(s);
            if (!value) {
                return value.error();
            }
            out.emplace(std::move(*value));
            return {};
        });
        if (!done) {
            return done.error();
        }
        return std::move(*out);
    }
};

}  // namespace dispatch::store::sql
