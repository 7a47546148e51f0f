#include "core/json.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/errc.hpp"

namespace dispatch::json {

Result<bj::value> Parse(std::string_view text) {
    boost::system::error_code ec;
    bj::parse_options opts;
    opts.max_depth = 64;
    bj::value v = bj::parse(bj::string_view(text.data(), text.size()), ec, {}, opts);
    if (ec) {
        return Fail(CoreErrc::kParse, "invalid json: " + ec.message());
    }
    return v;
}

Result<std::string> ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return Fail(CoreErrc::kIo, "cannot open " + path);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
        return Fail(CoreErrc::kIo, "cannot read " + path);
    }
    return ss.str();
}

Result<bj::value> ParseFile(const std::string& path) {
    auto text = ReadFile(path);
    if (!text) {
        return text.error();
    }
    auto v = Parse(*text);
    if (!v) {
        return Error{v.error().code, path + ": " + v.error().detail};
    }
    return v;
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
    while (!text.empty() && text.front() == ' ') {
        text.remove_prefix(1);
    }
    while (!text.empty() && text.back() == ' ') {
        text.remove_suffix(1);
    }
    if (text.empty()) {
        return std::nullopt;
    }
    std::int64_t out = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc{} || ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return out;
}

std::optional<std::int64_t> ToInt(const bj::value& v) {
    switch (v.kind()) {
        case bj::kind::int64:
            return v.get_int64();
        case bj::kind::uint64:
            if (v.get_uint64() > static_cast<std::uint64_t>(INT64_MAX)) {
                return std::nullopt;
            }
            return static_cast<std::int64_t>(v.get_uint64());
        case bj::kind::double_: {
            const double d = v.get_double();
            if (std::trunc(d) != d || std::abs(d) > 9e15) {
                return std::nullopt;
            }
            return static_cast<std::int64_t>(d);
        }
        case bj::kind::string:
            return ParseInt(std::string_view(v.get_string()));
        default:
            return std::nullopt;
    }
}

std::optional<bool> ToBool(const bj::value& v) {
    if (v.is_bool()) {
        return v.get_bool();
    }
    if (auto i = ToInt(v)) {
        if (*i == 0 || *i == 1) {
            return *i == 1;
        }
        return std::nullopt;
    }
    if (v.is_string()) {
        const std::string_view s = v.get_string();
        if (s == "Y" || s == "y" || s == "true") return true;
        if (s == "N" || s == "n" || s == "false") return false;
    }
    return std::nullopt;
}

std::optional<std::string> ToString(const bj::value& v) {
    if (v.is_string()) {
        return std::string(v.get_string());
    }
    if (v.is_int64()) {
        return std::to_string(v.get_int64());
    }
    if (v.is_uint64()) {
        return std::to_string(v.get_uint64());
    }
    return std::nullopt;
}

const bj::value* Find(const bj::object& o, std::string_view key) {
    return o.if_contains(bj::string_view(key.data(), key.size()));
}

const bj::value* Find(const bj::value& v, std::string_view key) {
    return v.is_object() ? Find(v.get_object(), key) : nullptr;
}

std::optional<std::int64_t> IntAt(const bj::object& o, std::string_view key) {
    const bj::value* f = Find(o, key);
    return f ? ToInt(*f) : std::nullopt;
}

std::optional<std::int64_t> IntAt(const bj::value& v, std::string_view key) {
    const bj::value* f = Find(v, key);
    return f ? ToInt(*f) : std::nullopt;
}

std::optional<std::string> StringAt(const bj::object& o, std::string_view key) {
    const bj::value* f = Find(o, key);
    return f ? ToString(*f) : std::nullopt;
}

std::optional<std::string> StringAt(const bj::value& v, std::string_view key) {
    const bj::value* f = Find(v, key);
    return f ? ToString(*f) : std::nullopt;
}

std::string PathKey(const std::string& parent, std::string_view key) {
    std::string out = parent.empty() ? "$" : parent;
    out += '.';
    out += key;
    return out;
}

std::string PathIndex(const std::string& parent, std::size_t index) {
    return (parent.empty() ? std::string("$") : parent) + "[" + std::to_string(index) + "]";
}

std::string Dump(const bj::value& v) { return bj::serialize(v); }

}  // namespace dispatch::json
