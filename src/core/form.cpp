#include "core/form.hpp"

#include <fmt/format.h>

#include <vector>

#include "core/errc.hpp"

namespace dispatch::form {
namespace bj = boost::json;
namespace {

constexpr int kMaxDepth = 16;
constexpr std::size_t kMaxPairs = 10000;

// "data[FIELDS][ID]" → {"data","FIELDS","ID"}; "a[]" → {"a",""}.
bool SplitKey(std::string_view key, std::vector<std::string>& parts) {
    parts.clear();
    const auto open = key.find('[');
    if (open == std::string_view::npos) {
        parts.emplace_back(key);
        return key.find(']') == std::string_view::npos;
    }
    if (open == 0) {
        return false;
    }
    parts.emplace_back(key.substr(0, open));
    std::size_t pos = open;
    while (pos < key.size()) {
        if (key[pos] != '[') {
            return false;
        }
        const auto close = key.find(']', pos);
        if (close == std::string_view::npos) {
            return false;
        }
        parts.emplace_back(key.substr(pos + 1, close - pos - 1));
        pos = close + 1;
    }
    return parts.size() <= kMaxDepth;
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decoding with '+' as a space. Hand-written because Boost.URL's params_view rejects the raw '[' and ']'
// that Bitrix24 puts in keys (RFC 3986 does not allow them unescaped in a query).
bool Unescape(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%') {
            const int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
            const int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return false;
            }
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += c;
        }
    }
    return true;
}

// True when the keys are exactly "0".."n-1" in any order (they may arrive shuffled).
bool IsIndexKeys(const bj::object& o) {
    std::vector<bool> seen(o.size(), false);
    for (const auto& kv : o) {
        const std::string_view k = kv.key();
        if (k.empty() || k.size() > 6 || (k.size() > 1 && k[0] == '0')) {
            return false;
        }
        std::size_t idx = 0;
        for (char c : k) {
            if (c < '0' || c > '9') {
                return false;
            }
            idx = idx * 10 + static_cast<std::size_t>(c - '0');
        }
        if (idx >= seen.size() || seen[idx]) {
            return false;
        }
        seen[idx] = true;
    }
    return !o.empty();
}

// Objects keyed 0..n-1 become arrays, recursively, after all pairs are in (keys may arrive out of order).
void Arrayify(bj::value& v) {
    if (v.is_object()) {
        auto& o = v.get_object();
        for (auto& kv : o) {
            Arrayify(kv.value());
        }
        if (IsIndexKeys(o)) {
            bj::array a(o.size());
            for (auto& kv : o) {
                a[static_cast<std::size_t>(std::stoul(std::string(kv.key())))] = std::move(kv.value());
            }
            v = std::move(a);
        }
    } else if (v.is_array()) {
        for (auto& e : v.get_array()) {
            Arrayify(e);
        }
    }
}

void EncodeInto(const bj::value& v, const std::string& prefix, std::string& out) {
    auto append = [&](const std::string& key, std::string_view value) {
        if (!out.empty()) {
            out += '&';
        }
        out += EscapeComponent(key);
        out += '=';
        out += EscapeComponent(value);
    };
    switch (v.kind()) {
        case bj::kind::object:
            for (const auto& kv : v.get_object()) {
                const std::string k(kv.key());
                EncodeInto(kv.value(), prefix.empty() ? k : prefix + "[" + k + "]", out);
            }
            break;
        case bj::kind::array: {
            std::size_t i = 0;
            for (const auto& e : v.get_array()) {
                EncodeInto(e, prefix + "[" + std::to_string(i++) + "]", out);
            }
            break;
        }
        case bj::kind::string:
            append(prefix, std::string_view(v.get_string()));
            break;
        case bj::kind::bool_:
            append(prefix, v.get_bool() ? "1" : "");
            break;
        case bj::kind::null:
            break;
        default:
            append(prefix, bj::serialize(v));
            break;
    }
}

}  // namespace

Result<bj::object> Parse(std::string_view body) {
    bj::value root = bj::object{};
    std::vector<std::string> parts;
    std::size_t pairs = 0;
    std::string key;
    std::string value;
    std::size_t pos = 0;
    while (pos <= body.size()) {
        auto amp = body.find('&', pos);
        if (amp == std::string_view::npos) {
            amp = body.size();
        }
        const std::string_view pair = body.substr(pos, amp - pos);
        pos = amp + 1;
        if (pair.empty()) {
            continue;
        }
        if (++pairs > kMaxPairs) {
            return Fail(CoreErrc::kParse, "too many form fields");
        }
        const auto eq = pair.find('=');
        if (!Unescape(pair.substr(0, eq), key) ||
            !Unescape(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), value)) {
            return Fail(CoreErrc::kParse, "bad percent-escape in form body");
        }
        if (key.empty()) {
            continue;
        }
        if (!SplitKey(key, parts)) {
            return Fail(CoreErrc::kParse, fmt::format("malformed form key '{}'", key.substr(0, 80)));
        }
        bj::value* node = &root;
        for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
            if (!node->is_object()) {
                *node = bj::object{};  // a scalar followed by a nested key: the nested form wins
            }
            auto& obj = node->get_object();
            std::string part = parts[i];
            if (part.empty()) {
                part = std::to_string(obj.size());
            }
            node = &obj[part];
        }
        if (!node->is_object()) {
            *node = bj::object{};
        }
        auto& obj = node->get_object();
        std::string last = parts.back();
        if (last.empty()) {
            last = std::to_string(obj.size());
        }
        obj[last] = bj::string(value);
    }
    Arrayify(root);
    if (!root.is_object()) {
        return Fail(CoreErrc::kParse, "form body is a bare list");
    }
    return std::move(root.get_object());
}

std::string Encode(const bj::value& v) {
    std::string out;
    EncodeInto(v, "", out);
    return out;
}

std::string EscapeComponent(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

}  // namespace dispatch::form
