#include "emulator/filter.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "core/json.hpp"
#include "core/time_format.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

enum class Op { kEq, kNe, kGt, kGe, kLt, kLe, kIn, kNotIn, kLike, kLikeRaw, kNotLike, kNotLikeRaw };

struct Filter::Node {
    bool is_group = false;
    bool any = false;  // logic OR
    std::vector<Node> children;
    // leaf
    FilterField field;
    Op op = Op::kEq;
    std::vector<bj::value> values;  // converted to the field's storage kind; empty + null_test = "is empty"
    bool null_test = false;
};

namespace {

struct Prefix {
    std::string_view text;
    Op op;
};
// Longest first so that "!=%" is not read as "!=" + "%name".
constexpr std::array<Prefix, 15> kPrefixes{{{"!=%", Op::kNotLikeRaw},
                                            {"!%=", Op::kNotLikeRaw},
                                            {">=", Op::kGe},
                                            {"<=", Op::kLe},
                                            {"=%", Op::kLikeRaw},
                                            {"%=", Op::kLikeRaw},
                                            {"!%", Op::kNotLike},
                                            {"!=", Op::kNe},
                                            {"!@", Op::kNotIn},
                                            {">", Op::kGt},
                                            {"<", Op::kLt},
                                            {"@", Op::kIn},
                                            {"%", Op::kLike},
                                            {"=", Op::kEq},
                                            {"!", Op::kNe}}};

std::pair<Op, std::string_view> SplitOp(std::string_view key) {
    for (const auto& p : kPrefixes) {
        if (key.size() > p.text.size() && key.substr(0, p.text.size()) == p.text) {
            return {p.op, key.substr(p.text.size())};
        }
    }
    return {Op::kEq, key};
}

bool IsEmptyFilterValue(const bj::value& v) {
    return v.is_null() || (v.is_string() && v.get_string().empty()) || (v.is_bool() && !v.get_bool());
}

// Converts one request value to the storage kind; nullopt when it cannot match anything.
std::optional<bj::value> Convert(const bj::value& v, ValueKind kind) {
    switch (kind) {
        case ValueKind::kInt: {
            if (auto i = json::ToInt(v)) {
                return bj::value(*i);
            }
            return std::nullopt;
        }
        case ValueKind::kDouble: {
            if (auto d = ToDouble(v)) {
                return bj::value(*d);
            }
            return std::nullopt;
        }
        case ValueKind::kTime: {
            if (v.is_string()) {
                std::string s(v.get_string());
                if (s.size() == 10) {
                    s += "T00:00:00Z";  // a bare date: midnight UTC (CONTRACT §14.22; documented in README)
                }
                if (auto t = ParseIso8601(s)) {
                    return bj::value(*t);
                }
            }
            return std::nullopt;
        }
        case ValueKind::kBool: {
            // crm-item-list.md: boolean UFs filter with 1/0; "Y"/"N" match nothing, as on a portal.
            if (v.is_bool()) {
                return bj::value(v.get_bool());
            }
            if (auto i = json::ToInt(v); i && (*i == 0 || *i == 1)) {
                return bj::value(*i == 1);
            }
            return std::nullopt;
        }
        case ValueKind::kString: {
            if (auto s = json::ToString(v)) {
                return bj::value(*s);
            }
            if (v.is_bool()) {
                return bj::value(v.get_bool() ? "Y" : "N");
            }
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::string Lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// SQL LIKE with % and _ wildcards, case-insensitive (MySQL's default collation).
bool LikeMatch(std::string_view text, std::string_view pattern) {
    std::size_t t = 0;
    std::size_t p = 0;
    std::size_t star_p = std::string_view::npos;
    std::size_t star_t = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '_' || std::tolower(static_cast<unsigned char>(pattern[p])) ==
                                                            std::tolower(static_cast<unsigned char>(text[t])))) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '%') {
            star_p = p++;
            star_t = t;
        } else if (star_p != std::string_view::npos) {
            p = star_p + 1;
            t = ++star_t;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '%') {
        ++p;
    }
    return p == pattern.size();
}

int Compare(const bj::value& a, const bj::value& b) {
    if (a.is_null() || b.is_null()) {
        return a.is_null() == b.is_null() ? 0 : (a.is_null() ? -1 : 1);
    }
    if (a.is_int64() && b.is_int64()) {
        const auto x = a.get_int64();
        const auto y = b.get_int64();
        return x < y ? -1 : (y < x ? 1 : 0);
    }
    if (a.is_string() && b.is_string()) {
        const auto& x = a.get_string();
        const auto& y = b.get_string();
        return x < y ? -1 : (y < x ? 1 : 0);
    }
    if (a.is_bool() && b.is_bool()) {
        return static_cast<int>(a.get_bool()) - static_cast<int>(b.get_bool());
    }
    const auto x = ToDouble(a);
    const auto y = ToDouble(b);
    if (x && y) {
        return *x < *y ? -1 : (*y < *x ? 1 : 0);
    }
    // Mixed kinds compare by their text, which keeps the sort total.
    const auto sx = json::Dump(a);
    const auto sy = json::Dump(b);
    return sx < sy ? -1 : (sy < sx ? 1 : 0);
}

bool IsEmptyRowValue(const bj::value* v) {
    return v == nullptr || v->is_null() || (v->is_string() && v->get_string().empty()) ||
           (v->is_array() && v->get_array().empty());
}

bool LeafMatchesScalar(const Filter::Node& n, const bj::value& row_value) {
    switch (n.op) {
        case Op::kEq:
        case Op::kIn:
            return std::any_of(
                n.values.begin(), n.values.end(), [&](const bj::value& v) { return Compare(row_value, v) == 0; });
        case Op::kNe:
        case Op::kNotIn:
            return std::none_of(
                n.values.begin(), n.values.end(), [&](const bj::value& v) { return Compare(row_value, v) == 0; });
        case Op::kGt:
            return !n.values.empty() && Compare(row_value, n.values[0]) > 0;
        case Op::kGe:
            return !n.values.empty() && Compare(row_value, n.values[0]) >= 0;
        case Op::kLt:
            return !n.values.empty() && Compare(row_value, n.values[0]) < 0;
        case Op::kLe:
            return !n.values.empty() && Compare(row_value, n.values[0]) <= 0;
        case Op::kLike:
        case Op::kNotLike:
        case Op::kLikeRaw:
        case Op::kNotLikeRaw: {
            const auto text =
                json::ToString(row_value).value_or(row_value.is_bool() ? (row_value.get_bool() ? "Y" : "N") : "");
            const bool raw = n.op == Op::kLikeRaw || n.op == Op::kNotLikeRaw;
            const bool hit = std::any_of(n.values.begin(), n.values.end(), [&](const bj::value& v) {
                const auto pat = json::ToString(v).value_or("");
                return raw ? LikeMatch(text, pat) : Lower(text).find(Lower(pat)) != std::string::npos;
            });
            return (n.op == Op::kLike || n.op == Op::kLikeRaw) ? hit : !hit;
        }
    }
    return false;
}

bool IsNegative(Op op) { return op == Op::kNe || op == Op::kNotIn || op == Op::kNotLike || op == Op::kNotLikeRaw; }

bool NodeMatches(const Filter::Node& n, const bj::object& row) {
    if (n.is_group) {
        if (n.children.empty()) {
            return true;
        }
        if (n.any) {
            return std::any_of(
                n.children.begin(), n.children.end(), [&](const Filter::Node& c) { return NodeMatches(c, row); });
        }
        return std::all_of(
            n.children.begin(), n.children.end(), [&](const Filter::Node& c) { return NodeMatches(c, row); });
    }
    const bj::value* v = RowValue(row, n.field);
    if (n.null_test) {
        const bool empty = IsEmptyRowValue(v);
        return IsNegative(n.op) ? !empty : empty;
    }
    if (IsEmptyRowValue(v)) {
        // SQL semantics: NULL never equals and never "not equals" a value.
        return false;
    }
    if (v->is_array()) {
        // A multiple field matches when any of its values does (negations: when none does).
        Filter::Node positive = n;
        if (IsNegative(n.op)) {
            positive.op = n.op == Op::kNe        ? Op::kEq
                          : n.op == Op::kNotIn   ? Op::kIn
                          : n.op == Op::kNotLike ? Op::kLike
                                                 : Op::kLikeRaw;
        }
        const auto& arr = v->get_array();
        const bool any =
            std::any_of(arr.begin(), arr.end(), [&](const bj::value& e) { return LeafMatchesScalar(positive, e); });
        return IsNegative(n.op) ? !any : any;
    }
    return LeafMatchesScalar(n, *v);
}

std::optional<ApiError> ParseGroup(const bj::object& obj, const FieldLookup& lookup, Filter::Node& group, int depth) {
    if (depth > 16) {
        return Err(400, "INVALID_ARG_VALUE", "Filter is nested too deeply");
    }
    group.is_group = true;
    for (const auto& kv : obj) {
        const std::string_view key(kv.key().data(), kv.key().size());
        if (key == "logic" || key == "LOGIC") {
            const auto logic = json::ToString(kv.value()).value_or("");
            group.any = logic == "OR" || logic == "or";
            continue;
        }
        const auto [op, name] = SplitOp(key);
        const auto field = lookup(name);
        if (!field) {
            if (kv.value().is_object()) {
                Filter::Node child;
                if (auto err = ParseGroup(kv.value().get_object(), lookup, child, depth + 1)) {
                    return err;
                }
                group.children.push_back(std::move(child));
                continue;
            }
            return Err(400, "INVALID_ARG_VALUE", "Field '" + std::string(name) + "' is not allowed in filter");
        }
        Filter::Node leaf;
        leaf.field = *field;
        leaf.op = op;
        std::vector<const bj::value*> raw;
        if (kv.value().is_array()) {
            for (const auto& e : kv.value().get_array()) {
                raw.push_back(&e);
            }
            if (leaf.op == Op::kEq) {
                leaf.op = Op::kIn;  // how-to-get-elements-by-stage-filter.md: an array value is IN
            } else if (leaf.op == Op::kNe) {
                leaf.op = Op::kNotIn;
            }
        } else if (kv.value().is_object()) {
            for (const auto& e : kv.value().get_object()) {
                raw.push_back(&e.value());
            }
        } else {
            raw.push_back(&kv.value());
        }
        if (raw.size() == 1 && IsEmptyFilterValue(*raw[0]) && field->kind != ValueKind::kBool) {
            leaf.null_test = true;
        } else {
            for (const auto* r : raw) {
                if (auto c = Convert(*r, field->kind)) {
                    leaf.values.push_back(std::move(*c));
                } else if (op == Op::kGt || op == Op::kGe || op == Op::kLt || op == Op::kLe) {
                    return Err(400, "INVALID_ARG_VALUE", "Invalid value for filter field '" + std::string(name) + "'");
                }
            }
        }
        group.children.push_back(std::move(leaf));
    }
    return std::nullopt;
}

}  // namespace

const bj::value* RowValue(const bj::object& row, std::string_view key, std::size_t position) {
    if (position < row.size()) {
        const auto& kv = row.begin()[position];
        if (kv.key() == key) {
            return &kv.value();
        }
    }
    return row.if_contains(key);
}

const bj::value* RowValue(const bj::object& row, const FilterField& field) {
    return RowValue(row, field.key, field.position);
}

std::optional<double> ToDouble(const bj::value& v) {
    if (v.is_double()) {
        return v.get_double();
    }
    if (v.is_int64()) {
        return static_cast<double>(v.get_int64());
    }
    if (v.is_uint64()) {
        return static_cast<double>(v.get_uint64());
    }
    if (v.is_string()) {
        const std::string s(v.get_string());
        if (s.empty()) {
            return std::nullopt;
        }
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (end != s.c_str() + s.size()) {
            return std::nullopt;
        }
        return d;
    }
    return std::nullopt;
}

std::variant<Filter, ApiError> Filter::Parse(const bj::value& filter, const FieldLookup& lookup) {
    auto root = std::make_shared<Node>();
    root->is_group = true;
    if (filter.is_object()) {
        if (auto err = ParseGroup(filter.get_object(), lookup, *root, 0)) {
            return *err;
        }
    } else if (!(filter.is_null() || (filter.is_array() && filter.get_array().empty()) ||
                 (filter.is_string() && filter.get_string().empty()))) {
        return Err(400, "INVALID_ARG_VALUE", "Filter must be an object");
    }
    Filter f;
    f.root_ = std::move(root);
    return f;
}

bool Filter::Matches(const bj::object& row) const { return !root_ || NodeMatches(*root_, row); }

namespace {

bool IsBoundLeaf(const Filter::Node& n, std::string_view key) {
    return !n.is_group && !n.null_test && n.field.key == key && n.values.size() == 1 && n.values[0].is_int64();
}

}  // namespace

bool Filter::OnlyBoundsOf(std::string_view key) const {
    if (!root_) {
        return true;
    }
    if (root_->any) {
        return root_->children.empty();  // BoundsOf reads AND groups only
    }
    return std::all_of(root_->children.begin(), root_->children.end(), [&](const Node& n) {
        const bool bound_op = n.op == Op::kEq || n.op == Op::kIn || n.op == Op::kGt || n.op == Op::kGe ||
                              n.op == Op::kLt || n.op == Op::kLe;
        // >MAX / <MIN give no bound (BoundsOf skips them), so they must still be evaluated.
        return IsBoundLeaf(n, key) && bound_op &&
               !(n.op == Op::kGt && n.values[0].get_int64() == std::numeric_limits<std::int64_t>::max()) &&
               !(n.op == Op::kLt && n.values[0].get_int64() == std::numeric_limits<std::int64_t>::min());
    });
}

IntBounds Filter::BoundsOf(std::string_view key) const {
    IntBounds b;
    if (!root_ || root_->any) {
        return b;
    }
    auto lower = [&](std::int64_t v) { b.lo = b.lo ? std::max(*b.lo, v) : v; };
    auto upper = [&](std::int64_t v) { b.hi = b.hi ? std::min(*b.hi, v) : v; };
    for (const auto& n : root_->children) {
        if (!IsBoundLeaf(n, key)) {
            continue;
        }
        const auto v = n.values[0].get_int64();
        switch (n.op) {
            case Op::kEq:
            case Op::kIn:
                lower(v);
                upper(v);
                break;
            case Op::kGt:
                if (v < std::numeric_limits<std::int64_t>::max()) {
                    lower(v + 1);
                }
                break;
            case Op::kGe:
                lower(v);
                break;
            case Op::kLt:
                if (v > std::numeric_limits<std::int64_t>::min()) {
                    upper(v - 1);
                }
                break;
            case Op::kLe:
                upper(v);
                break;
            default:
                break;
        }
    }
    return b;
}

std::variant<std::vector<OrderKey>, ApiError> ParseOrder(const bj::value& order,
                                                         const FieldLookup& lookup,
                                                         const std::string& fallback_id_key) {
    std::vector<OrderKey> keys;
    if (order.is_object()) {
        for (const auto& kv : order.get_object()) {
            const std::string_view name(kv.key().data(), kv.key().size());
            const auto field = lookup(name);
            if (!field) {
                return Err(400, "INVALID_ARG_VALUE", "Field '" + std::string(name) + "' is not allowed in order");
            }
            const auto dir = Lower(json::ToString(kv.value()).value_or(""));
            if (dir != "asc" && dir != "desc") {
                return Err(400, "INVALID_ARG_VALUE", "Invalid order direction for field '" + std::string(name) + "'");
            }
            keys.push_back({*field, dir == "desc"});
        }
    } else if (!(order.is_null() || (order.is_array() && order.get_array().empty()) ||
                 (order.is_string() && order.get_string().empty()))) {
        return Err(400, "INVALID_ARG_VALUE", "Order must be an object");
    }
    if (!fallback_id_key.empty()) {
        keys.push_back({FilterField{fallback_id_key, ValueKind::kInt, false}, false});
    }
    return keys;
}

void SortRows(std::vector<const bj::object*>& rows, const std::vector<OrderKey>& order) {
    static const bj::value kNull;
    if (rows.size() < 2 || order.empty()) {
        return;
    }
    // Each row's sort values are looked up once (n·k lookups instead of one pair per comparison).
    const std::size_t k = order.size();
    std::vector<const bj::value*> keys(rows.size() * k);
    for (std::size_t r = 0; r < rows.size(); ++r) {
        for (std::size_t j = 0; j < k; ++j) {
            const bj::value* v = RowValue(*rows[r], order[j].field);
            keys[r * k + j] = v ? v : &kNull;
        }
    }
    std::vector<std::size_t> idx(rows.size());
    for (std::size_t i = 0; i < idx.size(); ++i) {
        idx[i] = i;
    }
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
        for (std::size_t j = 0; j < k; ++j) {
            const int c = Compare(*keys[a * k + j], *keys[b * k + j]);
            if (c != 0) {
                return order[j].descending ? c > 0 : c < 0;
            }
        }
        return false;
    });
    std::vector<const bj::object*> sorted(rows.size());
    for (std::size_t i = 0; i < idx.size(); ++i) {
        sorted[i] = rows[idx[i]];
    }
    rows = std::move(sorted);
}

std::vector<const bj::object*> ListQuery::Select(const std::vector<bj::object>& rows) const {
    std::vector<const bj::object*> hits;
    for (const auto& r : rows) {
        if (filter.Matches(r)) {
            hits.push_back(&r);
        }
    }
    SortRows(hits, order);
    return hits;
}

std::variant<ListQuery, ApiError> ParseListQuery(const bj::value* filter,
                                                 const bj::value* order,
                                                 const FieldLookup& lookup,
                                                 const std::string& fallback_id_key) {
    static const bj::value kNull;
    auto f = Filter::Parse(filter ? *filter : kNull, lookup);
    if (auto* e = std::get_if<ApiError>(&f)) {
        return std::move(*e);
    }
    auto o = ParseOrder(order ? *order : kNull, lookup, fallback_id_key);
    if (auto* e = std::get_if<ApiError>(&o)) {
        return std::move(*e);
    }
    return ListQuery{std::move(std::get<Filter>(f)), std::move(std::get<std::vector<OrderKey>>(o))};
}

std::optional<std::vector<const bj::value*>> ListElements(const bj::value& v) {
    std::vector<const bj::value*> out;
    if (v.is_array()) {
        for (const auto& e : v.get_array()) {
            out.push_back(&e);
        }
    } else if (v.is_object()) {
        for (const auto& e : v.get_object()) {
            out.push_back(&e.value());
        }
    } else {
        return std::nullopt;
    }
    return out;
}

std::int64_t ParseStart(const bj::value* start) {
    if (start == nullptr) {
        return 0;
    }
    const auto v = json::ToInt(*start);
    if (!v) {
        return 0;
    }
    return *v < 0 ? -1 : *v;
}

MethodOk Paginate(std::size_t count,
                  std::int64_t start,
                  const char* wrapper_key,
                  const std::function<bj::value(std::size_t)>& render,
                  const bj::storage_ptr& sp) {
    const auto n = static_cast<std::int64_t>(count);
    bj::array page(sp);
    const std::int64_t from = start < 0 ? 0 : std::min(start, n);
    const std::int64_t to = std::min(from + kPageSize, n);
    page.reserve(static_cast<std::size_t>(to > from ? to - from : 0));
    for (std::int64_t i = from; i < to; ++i) {
        page.push_back(render(static_cast<std::size_t>(i)));
    }
    // Built by construction, never by assignment: Boost.JSON's move assignment keeps the target's storage, so
    // assigning an arena-built page to a default-constructed value would copy it (so would bj::object{{key,
    // page}}, through its initializer list).
    bj::value result(std::move(page));
    if (wrapper_key != nullptr) {
        bj::object wrapped(sp);
        wrapped[wrapper_key] = std::move(result);
        result = bj::value(std::move(wrapped));
    }
    if (start < 0) {
        // huge-data.md: fast mode computes no total
        return MethodOk{std::move(result), 0, std::nullopt};
    }
    return MethodOk{std::move(result), n, to < n ? std::optional<std::int64_t>(to) : std::nullopt};
}

}  // namespace dispatch::emulator
