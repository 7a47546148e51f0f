#include "store/pg.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

#include "store/errc.hpp"

namespace dispatch::store::pg {
namespace {

// SQLSTATE classes: https://www.postgresql.org/docs/15/errcodes-appendix.html
Errc MapSqlState(std::string_view state) {
    if (state.size() != 5) {
        return Errc::kSql;
    }
    const std::string_view cls = state.substr(0, 2);
    if (cls == "23") {
        return Errc::kConstraint;  // integrity_constraint_violation: unique, foreign key, check, not null
    }
    if (state == "40001" || state == "40P01" || state == "55P03") {
        return Errc::kBusy;  // serialization_failure, deadlock_detected, lock_not_available
    }
    if (cls == "08" || state == "57P01" || state == "57P02" || state == "57P03") {
        return Errc::kUnavailable;  // connection exceptions, admin/crash shutdown, cannot connect now
    }
    if (cls == "53" || cls == "58") {
        return Errc::kIo;  // insufficient resources (disk full, ...), system errors
    }
    if (state == "XX001" || state == "XX002") {
        return Errc::kCorrupt;  // data_corrupted, index_corrupted
    }
    return Errc::kSql;
}

std::string Trim(const char* message) {
    std::string text = message != nullptr ? message : "";
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.pop_back();
    }
    return text;
}

Error FromResult(PGconn* conn, const PGresult* result, std::string_view what) {
    if (PQstatus(conn) == CONNECTION_BAD) {
        return Fail(Errc::kUnavailable, fmt::format("{}: {}", what, Trim(PQerrorMessage(conn))));
    }
    if (result == nullptr) {
        return Fail(Errc::kUnavailable, fmt::format("{}: {}", what, Trim(PQerrorMessage(conn))));
    }
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    return Fail(
        MapSqlState(state != nullptr ? state : ""),
        fmt::format("{}: {} (sqlstate {})", what, Trim(PQresultErrorMessage(result)), state != nullptr ? state : "?"));
}

bool Ok(const PGresult* result) {
    const auto status = PQresultStatus(result);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY;
}

}  // namespace

std::string FromSqliteParams(std::string_view sql) {
    std::string out;
    out.reserve(sql.size());
    for (std::size_t i = 0; i < sql.size(); ++i) {
        // Our SQL holds no '?' inside string literals, so every ?N is a parameter.
        if (sql[i] == '?' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
            out.push_back('$');
        } else {
            out.push_back(sql[i]);
        }
    }
    return out;
}

bool IsSafeIdentifier(std::string_view name) {
    if (name.empty() || name.size() > 63 || std::isdigit(static_cast<unsigned char>(name[0]))) {
        return false;
    }
    for (const char c : name) {
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
            return false;
        }
    }
    return true;
}

std::int64_t Rows::Affected() const {
    const char* text = PQcmdTuples(result_.get());
    std::int64_t n = 0;
    if (text != nullptr) {
        std::from_chars(text, text + std::char_traits<char>::length(text), n);
    }
    return n;
}

std::string Rows::Row::Text(int column) const {
    const PGresult* r = rows_.result_.get();
    return std::string(PQgetvalue(r, index_, column), static_cast<std::size_t>(PQgetlength(r, index_, column)));
}

std::int64_t Rows::Row::Int64(int column) const {
    const PGresult* r = rows_.result_.get();
    const char* text = PQgetvalue(r, index_, column);
    std::int64_t value = 0;
    std::from_chars(text, text + PQgetlength(r, index_, column), value);  // NULL reads as "" → 0
    return value;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& dsn, const std::string& schema) {
    if (!schema.empty() && !IsSafeIdentifier(schema)) {
        return Fail(Errc::kInvalidArgument, fmt::format("schema name '{}' is not a plain identifier", schema));
    }
    PGconn* conn = PQconnectdb(dsn.c_str());
    if (conn == nullptr) {
        return Fail(Errc::kUnavailable, "postgres: out of memory creating a connection");
    }
    std::unique_ptr<Connection> connection(new Connection(conn, schema));
    if (PQstatus(conn) != CONNECTION_OK) {
        // PQerrorMessage names host and user, never the password.
        return Fail(Errc::kUnavailable, fmt::format("postgres connect: {}", Trim(PQerrorMessage(conn))));
    }
    if (auto setup = connection->Setup(); !setup) {
        return setup.error();
    }
    return connection;
}

Result<void> Connection::Setup() {
    // synchronous_commit=on: COMMIT returns only once the WAL is flushed, which is what makes an acknowledged
    // inbox append durable; set explicitly in case the server default was relaxed. client_min_messages keeps
    // NOTICEs ("relation already exists, skipping") out of stderr.
    std::string sql = "SET synchronous_commit = on; SET client_min_messages = warning;";
    if (!schema_.empty()) {
        sql += fmt::format(" SET search_path TO \"{}\";", schema_);
    }
    return Exec(sql);
}

Connection::~Connection() { PQfinish(conn_); }

Result<void> Connection::EnsureConnected() {
    if (PQstatus(conn_) == CONNECTION_OK) {
        return {};
    }
    PQreset(conn_);
    prepared_.clear();
    if (PQstatus(conn_) != CONNECTION_OK) {
        return Fail(Errc::kUnavailable, fmt::format("postgres reconnect: {}", Trim(PQerrorMessage(conn_))));
    }
    return Setup();
}

bool Connection::InTransaction() const {
    const auto status = PQtransactionStatus(conn_);
    return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

Result<void> Connection::Exec(const std::string& sql) {
    PGresult* raw = PQexec(conn_, sql.c_str());
    Rows holder(raw);
    if (raw == nullptr || !Ok(raw)) {
        return FromResult(conn_, raw, "exec");
    }
    return {};
}

Result<Rows> Connection::Query(const std::string& sql, const std::vector<Param>& params) {
    if (auto connected = EnsureConnected(); !connected) {
        return connected.error();
    }
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
        const std::string name = fmt::format("dispatch_{}", prepared_.size() + 1);
        // Rewritten once per connection, on the miss: the cache is keyed by the text the caller passes.
        const std::string text = FromSqliteParams(sql);
        PGresult* raw = PQprepare(conn_, name.c_str(), text.c_str(), static_cast<int>(params.size()), nullptr);
        Rows holder(raw);
        if (raw == nullptr || !Ok(raw)) {
            return FromResult(conn_, raw, "prepare");
        }
        it = prepared_.emplace(sql, name).first;
    }
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p ? p->c_str() : nullptr);
    }
    PGresult* raw =
        PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0);
    Rows rows(raw);
    if (raw == nullptr || !Ok(raw)) {
        return FromResult(conn_, raw, "query");
    }
    return rows;
}

}  // namespace dispatch::store::pg
