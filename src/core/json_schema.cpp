#include "core/json_schema.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <regex>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "core/errc.hpp"
#include "core/json.hpp"

namespace dispatch::json {

namespace {

namespace bj = boost::json;

// Type bits for the "type" keyword. kInteger is a subset of kNumber: a number matches "integer" when its value is
// integral (1.0 counts, as the spec says), so the two are checked separately.
enum TypeBit : unsigned {
    kNull = 1U << 0U,
    kBoolean = 1U << 1U,
    kObject = 1U << 2U,
    kArray = 1U << 3U,
    kNumber = 1U << 4U,
    kString = 1U << 5U,
    kInteger = 1U << 6U,
};

enum class Format { kNone, kDate, kTime, kDateTime };

struct Node;

struct Pattern {
    std::string source;
    std::regex regex;
};

// One compiled schema object. Children are pointers into CompiledSchema::nodes (a deque, so they never move).
struct Node {
    std::optional<bool> boolean_schema;  // `true` / `false` used as a schema
    unsigned types = 0;                  // 0: any
    std::vector<std::pair<std::string, const Node*>> properties;
    std::vector<std::string> required;
    std::optional<bool> additional_bool;
    const Node* additional = nullptr;
    std::vector<std::pair<Pattern, const Node*>> pattern_properties;
    const Node* property_names = nullptr;
    std::optional<std::size_t> min_properties;
    std::optional<std::size_t> max_properties;
    std::vector<std::pair<std::string, std::vector<std::string>>> dependent_required;
    std::vector<const Node*> prefix_items;
    const Node* items = nullptr;
    std::optional<std::size_t> min_items;
    std::optional<std::size_t> max_items;
    bool unique_items = false;
    std::optional<bj::array> enum_values;
    std::optional<bj::value> const_value;
    std::optional<double> minimum;
    std::optional<double> maximum;
    std::optional<double> exclusive_minimum;
    std::optional<double> exclusive_maximum;
    std::optional<double> multiple_of;
    std::optional<std::size_t> min_length;
    std::optional<std::size_t> max_length;
    std::optional<Pattern> pattern;
    Format format = Format::kNone;
    std::vector<const Node*> all_of;
    std::vector<const Node*> any_of;
    std::vector<const Node*> one_of;
    const Node* not_ = nullptr;
    const Node* if_ = nullptr;
    const Node* then_ = nullptr;
    const Node* else_ = nullptr;
    const Node* ref = nullptr;
    std::string ref_text;  // for messages and for resolution after the whole tree is compiled
};

}  // namespace

struct CompiledSchema {
    std::deque<Node> nodes;
    const Node* root = nullptr;
};

namespace {

// Keywords that would change the verdict if they were honoured. Ignoring them silently would accept documents
// the schema author meant to reject, so Load refuses them.
constexpr std::string_view kUnsupportedKeywords[] = {
    "contains",
    "minContains",
    "maxContains",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentSchemas",
    "dependencies",
    "$dynamicRef",
    "$recursiveRef",
    "additionalItems",
};

// "~" and "/" are escaped in JSON Pointer tokens (RFC 6901).
std::string PointerToken(std::string_view key) {
    std::string out;
    for (const char c : key) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

class Compiler {
public:
    explicit Compiler(CompiledSchema& out) : out_(out) {}

    Result<void> Run(const bj::value& root) {
        out_.root = Compile(root, "#");
        if (!error_.empty()) {
            return Fail(CoreErrc::kInvalid, error_);
        }
        // $refs are resolved only now, because a $defs entry may be referenced before (or from inside) itself.
        for (auto& [node, where] : pending_refs_) {
            const auto it = by_pointer_.find(node->ref_text);
            if (it == by_pointer_.end()) {
                return Fail(
                    CoreErrc::kInvalid,
                    fmt::format("{}/$ref: '{}' does not point to a schema in this document", where, node->ref_text));
            }
            node->ref = it->second;
        }
        return {};
    }

private:
    void Bad(const std::string& where, std::string_view what) {
        if (error_.empty()) {
            error_ = where + ": " + std::string(what);
        }
    }

    Node* Compile(const bj::value& v, const std::string& where) {
        Node& node = out_.nodes.emplace_back();
        by_pointer_[where] = &node;
        if (v.is_bool()) {
            node.boolean_schema = v.get_bool();
            return &node;
        }
        if (!v.is_object()) {
            Bad(where, "a schema must be an object or a boolean");
            return &node;
        }
        const bj::object& o = v.get_object();
        for (const auto& kw : kUnsupportedKeywords) {
            if (o.contains(bj::string_view(kw.data(), kw.size()))) {
                Bad(where, fmt::format("keyword '{}' is not supported by this validator", kw));
            }
        }
        // $defs first, so that pointers into them exist however the rest is ordered.
        for (const char* defs_key : {"$defs", "definitions"}) {
            if (const auto* defs = o.if_contains(defs_key)) {
                if (!defs->is_object()) {
                    Bad(where, fmt::format("'{}' must be an object", defs_key));
                    continue;
                }
                for (const auto& [name, sub] : defs->get_object()) {
                    Compile(sub, where + "/" + defs_key + "/" + PointerToken(std::string_view(name)));
                }
            }
        }
        CompileType(o, node, where);
        CompileObjectKeywords(o, node, where);
        CompileArrayKeywords(o, node, where);
        CompileScalarKeywords(o, node, where);
        CompileApplicators(o, node, where);
        return &node;
    }

    void CompileType(const bj::object& o, Node& node, const std::string& where) {
        const auto* t = o.if_contains("type");
        if (t == nullptr) {
            return;
        }
        auto bit = [&](const bj::value& name) -> unsigned {
            if (!name.is_string()) {
                Bad(where + "/type", "type names must be strings");
                return 0;
            }
            const std::string_view s = name.get_string();
            static constexpr std::pair<std::string_view, unsigned> kNames[] = {
                {"null", kNull},
                {"boolean", kBoolean},
                {"object", kObject},
                {"array", kArray},
                {"number", kNumber},
                {"string", kString},
                {"integer", kInteger},
            };
            for (const auto& [known, value] : kNames) {
                if (s == known) {
                    return value;
                }
            }
            Bad(where + "/type", fmt::format("unknown type '{}'", s));
            return 0;
        };
        if (t->is_array()) {
            for (const auto& name : t->get_array()) {
                node.types |= bit(name);
            }
        } else {
            node.types = bit(*t);
        }
    }

    const Node* Sub(const bj::object& o, std::string_view key, const std::string& where) {
        const auto* v = o.if_contains(bj::string_view(key.data(), key.size()));
        if (v == nullptr) {
            return nullptr;
        }
        return Compile(*v, where + "/" + std::string(key));
    }

    std::vector<const Node*> SubList(const bj::object& o, std::string_view key, const std::string& where) {
        std::vector<const Node*> out;
        const auto* v = o.if_contains(bj::string_view(key.data(), key.size()));
        if (v == nullptr) {
            return out;
        }
        if (!v->is_array() || v->get_array().empty()) {
            Bad(where + "/" + std::string(key), "must be a non-empty array of schemas");
            return out;
        }
        std::size_t i = 0;
        for (const auto& sub : v->get_array()) {
            out.push_back(Compile(sub, fmt::format("{}/{}/{}", where, key, i++)));
        }
        return out;
    }

    std::optional<std::size_t> Count(const bj::object& o, std::string_view key, const std::string& where) {
        const auto* v = o.if_contains(bj::string_view(key.data(), key.size()));
        if (v == nullptr) {
            return std::nullopt;
        }
        const auto n = ToInt(*v);
        if (!n || *n < 0 || v->is_string()) {
            Bad(where + "/" + std::string(key), "must be a non-negative integer");
            return std::nullopt;
        }
        return static_cast<std::size_t>(*n);
    }

    std::optional<double> Number(const bj::object& o, std::string_view key, const std::string& where) {
        const auto* v = o.if_contains(bj::string_view(key.data(), key.size()));
        if (v == nullptr) {
            return std::nullopt;
        }
        if (!v->is_number()) {
            Bad(where + "/" + std::string(key), "must be a number");
            return std::nullopt;
        }
        return v->to_number<double>();
    }

    std::optional<Pattern> Regex(std::string_view source, const std::string& where) {
        try {
            return Pattern{std::string(source), std::regex(source.begin(), source.end(), std::regex::ECMAScript)};
        } catch (const std::regex_error& e) {
            Bad(where, fmt::format("invalid regular expression '{}': {}", source, e.what()));
            return std::nullopt;
        }
    }

    std::vector<std::string> Strings(const bj::value& v, const std::string& where) {
        std::vector<std::string> out;
        if (!v.is_array()) {
            Bad(where, "must be an array of strings");
            return out;
        }
        for (const auto& s : v.get_array()) {
            if (!s.is_string()) {
                Bad(where, "must be an array of strings");
                return out;
            }
            out.emplace_back(s.get_string());
        }
        return out;
    }

    void CompileObjectKeywords(const bj::object& o, Node& node, const std::string& where) {
        if (const auto* props = o.if_contains("properties")) {
            if (!props->is_object()) {
                Bad(where + "/properties", "must be an object");
            } else {
                for (const auto& [name, sub] : props->get_object()) {
                    const std::string key(name);
                    node.properties.emplace_back(key, Compile(sub, where + "/properties/" + PointerToken(key)));
                }
            }
        }
        if (const auto* req = o.if_contains("required")) {
            node.required = Strings(*req, where + "/required");
        }
        if (const auto* add = o.if_contains("additionalProperties")) {
            if (add->is_bool()) {
                node.additional_bool = add->get_bool();
            } else {
                node.additional = Compile(*add, where + "/additionalProperties");
            }
        }
        if (const auto* pp = o.if_contains("patternProperties")) {
            if (!pp->is_object()) {
                Bad(where + "/patternProperties", "must be an object");
            } else {
                for (const auto& [source, sub] : pp->get_object()) {
                    const std::string at = where + "/patternProperties/" + PointerToken(std::string_view(source));
                    auto re = Regex(std::string_view(source), at);
                    const Node* child = Compile(sub, at);
                    if (re) {
                        node.pattern_properties.emplace_back(std::move(*re), child);
                    }
                }
            }
        }
        node.property_names = Sub(o, "propertyNames", where);
        node.min_properties = Count(o, "minProperties", where);
        node.max_properties = Count(o, "maxProperties", where);
        if (const auto* dr = o.if_contains("dependentRequired")) {
            if (!dr->is_object()) {
                Bad(where + "/dependentRequired", "must be an object");
            } else {
                for (const auto& [name, list] : dr->get_object()) {
                    node.dependent_required.emplace_back(std::string(name),
                                                         Strings(list, where + "/dependentRequired"));
                }
            }
        }
    }

    void CompileArrayKeywords(const bj::object& o, Node& node, const std::string& where) {
        if (const auto* items = o.if_contains("items"); items != nullptr && items->is_array()) {
            Bad(where + "/items", "the array form of 'items' is not supported; use 'prefixItems'");
        } else {
            node.items = Sub(o, "items", where);
        }
        node.prefix_items = SubList(o, "prefixItems", where);
        node.min_items = Count(o, "minItems", where);
        node.max_items = Count(o, "maxItems", where);
        if (const auto* u = o.if_contains("uniqueItems")) {
            if (!u->is_bool()) {
                Bad(where + "/uniqueItems", "must be a boolean");
            } else {
                node.unique_items = u->get_bool();
            }
        }
    }

    void CompileScalarKeywords(const bj::object& o, Node& node, const std::string& where) {
        if (const auto* e = o.if_contains("enum")) {
            if (!e->is_array()) {
                Bad(where + "/enum", "must be an array");
            } else {
                node.enum_values = e->get_array();
            }
        }
        if (const auto* c = o.if_contains("const")) {
            node.const_value = *c;
        }
        node.minimum = Number(o, "minimum", where);
        node.maximum = Number(o, "maximum", where);
        node.exclusive_minimum = Number(o, "exclusiveMinimum", where);
        node.exclusive_maximum = Number(o, "exclusiveMaximum", where);
        node.multiple_of = Number(o, "multipleOf", where);
        if (node.multiple_of && *node.multiple_of <= 0) {
            Bad(where + "/multipleOf", "must be greater than 0");
        }
        node.min_length = Count(o, "minLength", where);
        node.max_length = Count(o, "maxLength", where);
        if (const auto* p = o.if_contains("pattern")) {
            if (!p->is_string()) {
                Bad(where + "/pattern", "must be a string");
            } else {
                node.pattern = Regex(std::string_view(p->get_string()), where + "/pattern");
            }
        }
        if (const auto* f = o.if_contains("format"); f != nullptr && f->is_string()) {
            // Other formats (email, uri, ...) are annotations in 2020-12 unless a vocabulary asserts them.
            const std::string_view s = f->get_string();
            if (s == "date") {
                node.format = Format::kDate;
            } else if (s == "time") {
                node.format = Format::kTime;
            } else if (s == "date-time") {
                node.format = Format::kDateTime;
            }
        }
    }

    void CompileApplicators(const bj::object& o, Node& node, const std::string& where) {
        node.all_of = SubList(o, "allOf", where);
        node.any_of = SubList(o, "anyOf", where);
        node.one_of = SubList(o, "oneOf", where);
        node.not_ = Sub(o, "not", where);
        node.if_ = Sub(o, "if", where);
        node.then_ = Sub(o, "then", where);
        node.else_ = Sub(o, "else", where);
        if (const auto* r = o.if_contains("$ref")) {
            if (!r->is_string()) {
                Bad(where + "/$ref", "must be a string");
                return;
            }
            const std::string_view text = r->get_string();
            // Only references into this same document: remote schemas and anchors would need a resolver.
            if (text != "#" && !text.starts_with("#/")) {
                Bad(where + "/$ref",
                    fmt::format("only local references ('#/$defs/...') are supported, got '{}'", text));
                return;
            }
            node.ref_text = std::string(text);
            pending_refs_.emplace_back(&node, where);
        }
    }

    CompiledSchema& out_;
    std::string error_;
    std::unordered_map<std::string, Node*> by_pointer_;
    std::vector<std::pair<Node*, std::string>> pending_refs_;
};

// Numbers compare by value across int64/uint64/double (1 == 1.0, as JSON Schema requires); objects ignore key order.
bool JsonEqual(const bj::value& a, const bj::value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_double() || b.is_double()) {
            return a.to_number<double>() == b.to_number<double>();
        }
        if (a.is_int64() && b.is_int64()) {
            return a.get_int64() == b.get_int64();
        }
        if (a.is_uint64() && b.is_uint64()) {
            return a.get_uint64() == b.get_uint64();
        }
        const auto ia = a.is_int64() ? a.get_int64() : -1;
        const auto ib = b.is_int64() ? b.get_int64() : -1;
        if (ia < 0 || ib < 0) {
            return false;  // one is a negative int64 and the other a uint64
        }
        return a.to_number<std::uint64_t>() == b.to_number<std::uint64_t>();
    }
    if (a.kind() != b.kind()) {
        return false;
    }
    if (a.is_array()) {
        const auto& x = a.get_array();
        const auto& y = b.get_array();
        if (x.size() != y.size()) {
            return false;
        }
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (!JsonEqual(x[i], y[i])) {
                return false;
            }
        }
        return true;
    }
    if (a.is_object()) {
        const auto& x = a.get_object();
        const auto& y = b.get_object();
        if (x.size() != y.size()) {
            return false;
        }
        for (const auto& [k, v] : x) {
            const auto* other = y.if_contains(k);
            if (other == nullptr || !JsonEqual(v, *other)) {
                return false;
            }
        }
        return true;
    }
    return a == b;
}

bool IsIntegral(const bj::value& v) {
    if (v.is_int64() || v.is_uint64()) {
        return true;
    }
    if (v.is_double()) {
        const double d = v.get_double();
        return std::isfinite(d) && std::trunc(d) == d;
    }
    return false;
}

std::string KindName(const bj::value& v) {
    switch (v.kind()) {
        case bj::kind::null:
            return "null";
        case bj::kind::bool_:
            return "boolean";
        case bj::kind::object:
            return "object";
        case bj::kind::array:
            return "array";
        case bj::kind::string:
            return "string";
        case bj::kind::int64:
        case bj::kind::uint64:
            return "integer";
        case bj::kind::double_:
            return IsIntegral(v) ? "integer" : "number";
    }
    return "unknown";
}

std::string TypeNames(unsigned types) {
    std::vector<std::string> names;
    for (const auto& [bit, name] : std::initializer_list<std::pair<unsigned, const char*>>{{kObject, "object"},
                                                                                           {kArray, "array"},
                                                                                           {kString, "string"},
                                                                                           {kInteger, "integer"},
                                                                                           {kNumber, "number"},
                                                                                           {kBoolean, "boolean"},
                                                                                           {kNull, "null"}}) {
        if ((types & bit) != 0U) {
            names.emplace_back(name);
        }
    }
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) {
            out += i + 1 == names.size() ? " or " : ", ";
        }
        out += names[i];
    }
    return out;
}

bool TypeMatches(unsigned types, const bj::value& v) {
    if (types == 0) {
        return true;
    }
    switch (v.kind()) {
        case bj::kind::null:
            return (types & kNull) != 0U;
        case bj::kind::bool_:
            return (types & kBoolean) != 0U;
        case bj::kind::object:
            return (types & kObject) != 0U;
        case bj::kind::array:
            return (types & kArray) != 0U;
        case bj::kind::string:
            return (types & kString) != 0U;
        default:
            return (types & kNumber) != 0U || ((types & kInteger) != 0U && IsIntegral(v));
    }
}

// Strings print bare (the reader sees "must be one of: 1C, Hardware"), everything else as JSON.
std::string Show(const bj::value& v) {
    if (v.is_string()) {
        return std::string(v.get_string());
    }
    return Dump(v);
}

std::string ShowNumber(double d) { return fmt::format("{}", d); }

std::size_t CodePoints(std::string_view s) {
    std::size_t n = 0;
    for (const char c : s) {
        // Every UTF-8 code point has exactly one byte that is not a continuation byte (10xxxxxx).
        if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) {
            ++n;
        }
    }
    return n;
}

bool Digits(std::string_view s, std::size_t pos, std::size_t count, int& out) {
    if (pos + count > s.size()) {
        return false;
    }
    out = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

// RFC 3339 full-date: YYYY-MM-DD with a real day of that month (leap years included).
bool IsDate(std::string_view s) {
    int y = 0;
    int m = 0;
    int d = 0;
    if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !Digits(s, 0, 4, y) || !Digits(s, 5, 2, m) ||
        !Digits(s, 8, 2, d)) {
        return false;
    }
    if (m < 1 || m > 12 || d < 1) {
        return false;
    }
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    const int max_day = m == 2 && leap ? 29 : kDays[m - 1];
    return d <= max_day;
}

// RFC 3339 full-time: HH:MM:SS[.frac](Z|±HH:MM). Second 60 is allowed for leap seconds.
bool IsTime(std::string_view s) {
    int h = 0;
    int mi = 0;
    int sec = 0;
    if (s.size() < 9 || s[2] != ':' || s[5] != ':' || !Digits(s, 0, 2, h) || !Digits(s, 3, 2, mi) ||
        !Digits(s, 6, 2, sec) || h > 23 || mi > 59 || sec > 60) {
        return false;
    }
    std::size_t pos = 8;
    if (pos < s.size() && s[pos] == '.') {
        const std::size_t start = ++pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            ++pos;
        }
        if (pos == start) {
            return false;
        }
    }
    const std::string_view zone = s.substr(pos);
    if (zone == "Z" || zone == "z") {
        return true;
    }
    int oh = 0;
    int om = 0;
    return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' && Digits(zone, 1, 2, oh) &&
           Digits(zone, 4, 2, om) && oh <= 23 && om <= 59;
}

bool IsDateTime(std::string_view s) {
    return s.size() > 11 && (s[10] == 'T' || s[10] == 't') && IsDate(s.substr(0, 10)) && IsTime(s.substr(11));
}

// "$.a" for "$.a", "$.a.b", "$.a[3]"; not for "$.a.b.c".
bool IsSelfOrMember(std::string_view problem_path, std::string_view path) {
    if (!problem_path.starts_with(path)) {
        return false;
    }
    std::string_view rest = problem_path.substr(path.size());
    if (rest.empty()) {
        return true;
    }
    if (rest[0] != '.' && rest[0] != '[') {
        return false;  // "$.ab" is not a member of "$.a"
    }
    rest.remove_prefix(1);
    return rest.find_first_of(".[") == std::string_view::npos;
}

constexpr int kMaxDepth = 200;  // a $ref cycle that never descends into the instance must still terminate

class Validator {
public:
    explicit Validator(std::vector<SchemaProblem>& out) : out_(out) {}

    void Validate(const Node& node, const bj::value& v, const std::string& path, int depth) {
        if (depth > kMaxDepth) {
            Add(path, "schema nesting too deep (a $ref cycle?)");
            return;
        }
        if (node.boolean_schema) {
            if (!*node.boolean_schema) {
                Add(path, "no value is allowed here");
            }
            return;
        }
        if (node.ref != nullptr) {
            Validate(*node.ref, v, path, depth + 1);
        }
        if (!TypeMatches(node.types, v)) {
            // A value of the wrong type makes every other keyword's complaint noise; report the type alone.
            Add(path, fmt::format("expected {}, got {}", TypeNames(node.types), KindName(v)));
            return;
        }
        if (node.enum_values) {
            bool found = false;
            for (const auto& e : *node.enum_values) {
                found = found || JsonEqual(e, v);
            }
            if (!found) {
                std::string list;
                for (const auto& e : *node.enum_values) {
                    list += list.empty() ? Show(e) : ", " + Show(e);
                }
                Add(path, "must be one of: " + list);
            }
        }
        if (node.const_value && !JsonEqual(*node.const_value, v)) {
            Add(path, "must be " + Show(*node.const_value));
        }
        if (v.is_number()) {
            CheckNumber(node, v, path);
        } else if (v.is_string()) {
            CheckString(node, v.get_string(), path);
        } else if (v.is_object()) {
            CheckObject(node, v.get_object(), path, depth);
        } else if (v.is_array()) {
            CheckArray(node, v.get_array(), path, depth);
        }
        for (const Node* sub : node.all_of) {
            Validate(*sub, v, path, depth + 1);
        }
        if (!node.any_of.empty()) {
            CheckAlternatives(node.any_of, v, path, depth, "anyOf");
        }
        if (!node.one_of.empty()) {
            CheckAlternatives(node.one_of, v, path, depth, "oneOf");
        }
        if (node.not_ != nullptr && Trial(*node.not_, v, path, depth).empty()) {
            Add(path, "must not match the schema under 'not'");
        }
        if (node.if_ != nullptr) {
            const bool cond = Trial(*node.if_, v, path, depth).empty();
            if (cond && node.then_ != nullptr) {
                Validate(*node.then_, v, path, depth + 1);
            } else if (!cond && node.else_ != nullptr) {
                Validate(*node.else_, v, path, depth + 1);
            }
        }
    }

private:
    void Add(const std::string& path, std::string reason) { out_.push_back({path, std::move(reason)}); }

    std::vector<SchemaProblem> Trial(const Node& node, const bj::value& v, const std::string& path, int depth) {
        std::vector<SchemaProblem> problems;
        Validator(problems).Validate(node, v, path, depth + 1);
        return problems;
    }

    void CheckNumber(const Node& node, const bj::value& v, const std::string& path) {
        const double d = v.to_number<double>();
        if (node.minimum && d < *node.minimum) {
            Add(path, fmt::format("must be >= {}, is {}", ShowNumber(*node.minimum), Dump(v)));
        }
        if (node.maximum && d > *node.maximum) {
            Add(path, fmt::format("must be <= {}, is {}", ShowNumber(*node.maximum), Dump(v)));
        }
        if (node.exclusive_minimum && d <= *node.exclusive_minimum) {
            Add(path, fmt::format("must be > {}, is {}", ShowNumber(*node.exclusive_minimum), Dump(v)));
        }
        if (node.exclusive_maximum && d >= *node.exclusive_maximum) {
            Add(path, fmt::format("must be < {}, is {}", ShowNumber(*node.exclusive_maximum), Dump(v)));
        }
        if (node.multiple_of) {
            const double q = d / *node.multiple_of;
            if (!std::isfinite(q) || std::abs(q - std::round(q)) > 1e-9) {
                Add(path, fmt::format("must be a multiple of {}", ShowNumber(*node.multiple_of)));
            }
        }
    }

    void CheckString(const Node& node, std::string_view s, const std::string& path) {
        if (node.min_length || node.max_length) {
            const std::size_t n = CodePoints(s);
            if (node.min_length && n < *node.min_length) {
                Add(path, fmt::format("must be at least {} characters long, is {}", *node.min_length, n));
            }
            if (node.max_length && n > *node.max_length) {
                Add(path, fmt::format("must be at most {} characters long, is {}", *node.max_length, n));
            }
        }
        if (node.pattern && !std::regex_search(s.begin(), s.end(), node.pattern->regex)) {
            Add(path, fmt::format("does not match pattern '{}'", node.pattern->source));
        }
        switch (node.format) {
            case Format::kNone:
                break;
            case Format::kDate:
                if (!IsDate(s)) {
                    Add(path, fmt::format("'{}' is not a date (YYYY-MM-DD)", s));
                }
                break;
            case Format::kTime:
                if (!IsTime(s)) {
                    Add(path, fmt::format("'{}' is not a time (HH:MM:SS with Z or an offset)", s));
                }
                break;
            case Format::kDateTime:
                if (!IsDateTime(s)) {
                    Add(path, fmt::format("'{}' is not a date-time (RFC 3339)", s));
                }
                break;
        }
    }

    void CheckObject(const Node& node, const bj::object& o, const std::string& path, int depth) {
        for (const auto& name : node.required) {
            if (!o.contains(name)) {
                Add(path, fmt::format("required property '{}' is missing", name));
            }
        }
        for (const auto& [name, deps] : node.dependent_required) {
            if (!o.contains(name)) {
                continue;
            }
            for (const auto& dep : deps) {
                if (!o.contains(dep)) {
                    Add(path, fmt::format("property '{}' requires property '{}'", name, dep));
                }
            }
        }
        if (node.min_properties && o.size() < *node.min_properties) {
            Add(path, fmt::format("must have at least {} properties, has {}", *node.min_properties, o.size()));
        }
        if (node.max_properties && o.size() > *node.max_properties) {
            Add(path, fmt::format("must have at most {} properties, has {}", *node.max_properties, o.size()));
        }
        for (const auto& [key, value] : o) {
            const std::string_view name(key);
            const std::string child = PathKey(path, name);
            if (node.property_names != nullptr) {
                // Problems with a key are reported at the object, naming the key.
                for (auto& p : Trial(*node.property_names, bj::value(key), path, depth)) {
                    Add(path, fmt::format("property name '{}': {}", name, p.reason));
                }
            }
            bool matched = false;
            for (const auto& [prop, sub] : node.properties) {
                if (prop == name) {
                    matched = true;
                    Validate(*sub, value, child, depth + 1);
                }
            }
            for (const auto& [pattern, sub] : node.pattern_properties) {
                if (std::regex_search(name.begin(), name.end(), pattern.regex)) {
                    matched = true;
                    Validate(*sub, value, child, depth + 1);
                }
            }
            if (matched) {
                continue;
            }
            if (node.additional_bool == false) {
                Add(path, fmt::format("unknown property '{}'", name));
            } else if (node.additional != nullptr) {
                Validate(*node.additional, value, child, depth + 1);
            }
        }
    }

    void CheckArray(const Node& node, const bj::array& a, const std::string& path, int depth) {
        if (node.min_items && a.size() < *node.min_items) {
            Add(path, fmt::format("must have at least {} items, has {}", *node.min_items, a.size()));
        }
        if (node.max_items && a.size() > *node.max_items) {
            Add(path, fmt::format("must have at most {} items, has {}", *node.max_items, a.size()));
        }
        for (std::size_t i = 0; i < a.size(); ++i) {
            const Node* sub = i < node.prefix_items.size() ? node.prefix_items[i] : node.items;
            if (sub != nullptr) {
                Validate(*sub, a[i], PathIndex(path, i), depth + 1);
            }
        }
        if (node.unique_items) {
            for (std::size_t i = 0; i < a.size(); ++i) {
                for (std::size_t j = i + 1; j < a.size(); ++j) {
                    if (JsonEqual(a[i], a[j])) {
                        Add(PathIndex(path, j), fmt::format("duplicates item [{}]", i));
                        break;
                    }
                }
            }
        }
    }

    // anyOf/oneOf: when nothing matches, the alternatives' problems are usually noise except for the branch the
    // author meant. That is taken to be the branch with the fewest problems at this value or its direct members
    // (a wrong "type", a wrong "kind" const, a missing required key show up there), then the fewest overall. A
    // branch of the wrong type for the value is the least likely intent of all.
    void CheckAlternatives(const std::vector<const Node*>& branches,
                           const bj::value& v,
                           const std::string& path,
                           int depth,
                           std::string_view keyword) {
        std::vector<std::size_t> matching;
        std::vector<std::vector<SchemaProblem>> results;
        for (std::size_t i = 0; i < branches.size(); ++i) {
            results.push_back(Trial(*branches[i], v, path, depth));
            if (results.back().empty()) {
                matching.push_back(i);
            }
        }
        if (keyword == "oneOf" && matching.size() > 1) {
            Add(path,
                fmt::format(
                    "matches more than one alternative of oneOf (branches {} and {})", matching[0], matching[1]));
            return;
        }
        if (!matching.empty()) {
            return;
        }
        std::size_t best = 0;
        auto score = [&](std::size_t i) {
            std::size_t wrong_type = 0;
            std::size_t here = 0;
            for (const auto& p : results[i]) {
                wrong_type += p.path == path && p.reason.starts_with("expected ") ? 1 : 0;
                here += IsSelfOrMember(p.path, path) ? 1 : 0;
            }
            return std::tuple{wrong_type, here, results[i].size()};
        };
        for (std::size_t i = 1; i < results.size(); ++i) {
            if (score(i) < score(best)) {
                best = i;
            }
        }
        Add(path,
            fmt::format(
                "matches none of the {} alternatives of {}; closest is branch {}:", branches.size(), keyword, best));
        for (auto& p : results[best]) {
            out_.push_back(std::move(p));
        }
    }

    std::vector<SchemaProblem>& out_;
};

}  // namespace

Result<Schema> Schema::Load(const boost::json::value& schema) {
    auto compiled = std::make_shared<CompiledSchema>();
    if (auto ok = Compiler(*compiled).Run(schema); !ok) {
        return ok.error();
    }
    Schema out(schema);
    out.compiled_ = std::move(compiled);
    return out;
}

Result<Schema> Schema::LoadFile(const std::string& path) {
    auto doc = ParseFile(path);
    if (!doc) {
        return doc.error();
    }
    auto schema = Load(*doc);
    if (!schema) {
        return Error{schema.error().code, path + ": " + schema.error().detail};
    }
    return schema;
}

std::vector<SchemaProblem> Schema::Validate(const boost::json::value& instance) const {
    std::vector<SchemaProblem> problems;
    DISPATCH_CHECK(compiled_ != nullptr, "a Schema is only made by Load");
    Validator(problems).Validate(*compiled_->root, instance, "$", 0);
    return problems;
}

Result<void> Schema::Check(const boost::json::value& instance) const {
    const auto problems = Validate(instance);
    if (problems.empty()) {
        return {};
    }
    std::string detail;
    for (const auto& p : problems) {
        if (!detail.empty()) {
            detail += "; ";
        }
        detail += p.path + ": " + p.reason;
    }
    return Fail(CoreErrc::kInvalid, detail);
}

}  // namespace dispatch::json
