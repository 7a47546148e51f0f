#pragma once
// The list-method query language shared by crm.item.list, crm.type.list, crm.automatedsolution.list,
// crm.stagehistory.list, crm.status.list, userfieldconfig.list and user.get (CONTRACT §8.4):
//   filter  {"field": v, ">=field": v, "@field": [..], "%field": "sub", "0": {"logic": "OR", ...}}
//   order   {"field": "ASC"|"DESC"}
//   start   page offset, pages of 50; -1 = fast mode (no total, no next)
// Rows are JSON objects in storage form: times are TimeMs numbers, booleans are bools.

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "emulator/api_error.hpp"

namespace dispatch::emulator {

enum class ValueKind { kInt, kDouble, kString, kTime, kBool };

struct FilterField {
    static constexpr std::size_t kNoPosition = static_cast<std::size_t>(-1);

    FilterField() = default;
    FilterField(std::string key_, ValueKind kind_, bool multiple_, std::size_t position_ = kNoPosition)
        : key(std::move(key_)), kind(kind_), multiple(multiple_), position(position_) {}

    std::string key;  // storage key in the row
    ValueKind kind = ValueKind::kString;
    bool multiple = false;
    // Where rows laid out by a schema keep this key (item values, ItemSchema::Layout): tried before the hash
    // lookup, which stays the fallback when the row has another layout.
    std::size_t position = kNoPosition;
};

// The row's value for `field`: by position when the row has it there, else by key; nullptr when absent.
const boost::json::value* RowValue(const boost::json::object& row, const FilterField& field);
// `key` in `row`, looked for first at `position` (where the row's schema puts it: rows are built in field order,
// so this is a hit but for rows written before a field existed), then by name.
const boost::json::value* RowValue(const boost::json::object& row, std::string_view key, std::size_t position);

// Maps a request field name to a row key; nullopt = "not allowed in filter/order" (INVALID_ARG_VALUE).
using FieldLookup = std::function<std::optional<FilterField>(std::string_view name)>;

// Inclusive bounds on an integer key that every matching row must satisfy (either side may be open).
struct IntBounds {
    std::optional<std::int64_t> lo;
    std::optional<std::int64_t> hi;
    bool Empty() const { return lo && hi && *lo > *hi; }
};

class Filter {
public:
    // An empty/absent filter (null, "", [], {}) matches everything.
    static std::variant<Filter, ApiError> Parse(const boost::json::value& filter, const FieldLookup& lookup);
    bool Matches(const boost::json::object& row) const;

    // What the top-level AND conditions `=key`, `>key`, `>=key`, `<key`, `<=key` (one integer value each) imply
    // for `key`. Lets list methods whose rows are kept in key order visit only that range; the rows visited must
    // still pass Matches (nested groups and other fields are not looked at here).
    IntBounds BoundsOf(std::string_view key) const;
    // True when BoundsOf(key) says everything this filter says: a row inside the bounds matches.
    bool OnlyBoundsOf(std::string_view key) const;

    struct Node;

private:
    std::shared_ptr<const Node> root_;
};

struct OrderKey {
    FilterField field;
    bool descending = false;
};

// Validates names and directions; `fallback_id_key` (if non-empty) is appended as the last tie-breaker ASC.
std::variant<std::vector<OrderKey>, ApiError> ParseOrder(const boost::json::value& order,
                                                         const FieldLookup& lookup,
                                                         const std::string& fallback_id_key);
void SortRows(std::vector<const boost::json::object*>& rows, const std::vector<OrderKey>& order);

// A list call's `filter` and `order` parsed together, the filter's error first (what every *.list answers).
struct ListQuery {
    Filter filter;
    std::vector<OrderKey> order;

    // The rows that match the filter, sorted by the order.
    std::vector<const boost::json::object*> Select(const std::vector<boost::json::object>& rows) const;
};
// nullptr filter or order = absent (match everything; sort by `fallback_id_key` only).
std::variant<ListQuery, ApiError> ParseListQuery(const boost::json::value* filter,
                                                 const boost::json::value* order,
                                                 const FieldLookup& lookup,
                                                 const std::string& fallback_id_key);

// start: absent → 0; "-1"/-1 → fast mode. Non-numeric values count as 0 (as PHP's intval would).
std::int64_t ParseStart(const boost::json::value* start);

constexpr std::int64_t kPageSize = 50;

// Cuts one page out of `count` matching rows (rendering only that page) and fills total/next the documented way:
// fast mode gives total 0 and no next. `wrapper_key` null: the page is the result itself (user.get).
// The page is built in `sp` (what `render` should allocate from too, or every row is copied once more).
MethodOk Paginate(std::size_t count,
                  std::int64_t start,
                  const char* wrapper_key,
                  const std::function<boost::json::value(std::size_t)>& render,
                  const boost::json::storage_ptr& sp = {});

// Shared conversions for request values.
std::optional<double> ToDouble(const boost::json::value& v);
// The elements of a list parameter: a JSON array, or an object keyed by index (how PHP arrays arrive through form
// encoding: `typeIds[0]=…`). nullopt for a scalar, which each caller treats its own documented way.
std::optional<std::vector<const boost::json::value*>> ListElements(const boost::json::value& v);

}  // namespace dispatch::emulator
