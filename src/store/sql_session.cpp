#include "store/sql_session.hpp"

#include <fmt/format.h>

#include <charconv>

#include "store/errc.hpp"

namespace dispatch::store::sql {

bool ResultRow::IsNull(int column) const {
    return std::holds_alternative<std::monostate>(cells_.at(static_cast<std::size_t>(column)));
}

std::string ResultRow::Text(int column) const {
    const Cell& cell = cells_.at(static_cast<std::size_t>(column));
    if (const auto* text = std::get_if<std::string>(&cell)) {
        return *text;
    }
    if (const auto* number = std::get_if<std::int64_t>(&cell)) {
        return std::to_string(*number);
    }
    return {};
}

std::int64_t ResultRow::Int64(int column) const {
    const Cell& cell = cells_.at(static_cast<std::size_t>(column));
    if (const auto* number = std::get_if<std::int64_t>(&cell)) {
        return *number;
    }
    std::int64_t value = 0;
    if (const auto* text = std::get_if<std::string>(&cell)) {
        std::from_chars(text->data(), text->data() + text->size(), value);
    }
    return value;
}

Result<void> Done(const Result<QueryResult>& result) {
    if (!result) {
        return result.error();
    }
    return {};
}

Result<void> ForIdsOrAll(const std::vector<std::int64_t>& ids,
                         const std::function<Result<void>(std::optional<std::int64_t>)>& each) {
    if (ids.empty()) {
        return each(std::nullopt);
    }
    for (const std::int64_t id : ids) {
        if (auto done = each(id); !done) {
            return done;
        }
    }
    return {};
}

Result<void> RequireHeld(const Result<QueryResult>& result,
                         std::string_view what,
                         std::int64_t id,
                         std::int64_t attempt) {
    if (!result) {
        return result.error();
    }
    if (result->affected == 0) {
        return Fail(Errc::kLeaseLost, fmt::format("{} {} attempt {} is not held", what, id, attempt));
    }
    return {};
}

Result<std::int64_t> PurgeChunk(Database& db, const std::string& statement, TimeMs cutoff, int max_rows) {
    if (max_rows <= 0) {
        return dispatch::Fail(Errc::kInvalidArgument, fmt::format("purge chunk of {} rows", max_rows));
    }
    return db.WriteValue<std::int64_t>([&](Session& s) -> Result<std::int64_t> {
        auto deleted = s.Run(statement, cutoff, max_rows);
        if (!deleted) {
            return deleted.error();
        }
        return static_cast<std::int64_t>(deleted->affected);
    });
}

}  // namespace dispatch::store::sql
