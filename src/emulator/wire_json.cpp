#include "emulator/wire_json.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

bool NeedsEscape8(const char* p) {
    constexpr std::uint64_t kOnes = ~std::uint64_t{0} / 255;
    constexpr std::uint64_t kHigh = kOnes * 0x80;
    std::uint64_t x;
    std::memcpy(&x, p, sizeof x);
    auto has_zero = [](std::uint64_t v) { return ((v - kOnes) & ~v & kHigh) != 0; };
    const bool control = ((x - kOnes * 0x20) & ~x & kHigh) != 0;  // some byte < 0x20
    return control || has_zero(x ^ (kOnes * '"')) || has_zero(x ^ (kOnes * '\\'));
}

void AppendString(std::string& out, bj::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    const char* run = s.data();
    const char* end = s.data() + s.size();
    for (const char* p = run; p != end; ++p) {
        // Eight bytes at a time while none needs escaping (a control character, '"' or '\\'): list pages are
        // mostly plain text and this loop is a tenth of a crm.item.list call otherwise.
        while (end - p >= 8 && !NeedsEscape8(p)) {
            p += 8;
        }
        if (p == end) {
            break;
        }
        const auto c = static_cast<unsigned char>(*p);
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        out.append(run, p);
        run = p + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                out += "\\u00";
                out.push_back(kHex[c >> 4]);
                out.push_back(kHex[c & 0xf]);
        }
    }
    out.append(run, end);
    out.push_back('"');
}

template <class Int>
void AppendInt(std::string& out, Int i) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, i);
    out.append(buf, r.ptr);
}

void Append(std::string& out, const bj::value& v);

void AppendArray(std::string& out, const bj::array& a) {
    out.push_back('[');
    bool first = true;
    for (const auto& e : a) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        Append(out, e);
    }
    out.push_back(']');
}

void AppendObject(std::string& out, const bj::object& o) {
    out.push_back('{');
    bool first = true;
    for (const auto& kv : o) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        AppendString(out, kv.key());
        out.push_back(':');
        Append(out, kv.value());
    }
    out.push_back('}');
}

void Append(std::string& out, const bj::value& v) {
    switch (v.kind()) {
        case bj::kind::null:
            out += "null";
            return;
        case bj::kind::bool_:
            out += v.get_bool() ? "true" : "false";
            return;
        case bj::kind::int64:
            AppendInt(out, v.get_int64());
            return;
        case bj::kind::uint64:
            AppendInt(out, v.get_uint64());
            return;
        case bj::kind::double_:
            out += PlainDouble(v.get_double());
            return;
        case bj::kind::string:
            AppendString(out, v.get_string());
            return;
        case bj::kind::array:
            AppendArray(out, v.get_array());
            return;
        case bj::kind::object:
            AppendObject(out, v.get_object());
            return;
    }
}

}  // namespace

std::string PlainDouble(double d) {
    if (!std::isfinite(d)) {
        return "0";
    }
    // fmt's shortest round-trip form is plain decimal for magnitudes in [1e-4, 1e16); outside it, fall back to a
    // fixed format (PHP prints 1.0E-5 there, but the emulator's doubles are durations and amounts, never that
    // small or large, and a reader of the wire wants plain numbers).
    std::string s = fmt::format("{}", d);
    if (s.find_first_of("eE") != std::string::npos) {
        s = fmt::format("{:.15f}", d);
        while (s.size() > 1 && s.back() == '0') {
            s.pop_back();
        }
    }
    if (s.find('.') == std::string::npos) {
        s += ".0";
    } else if (s.back() == '.') {
        s += '0';
    }
    return s;
}

std::string WireJson(const bj::value& v) {
    std::string out;
    out.reserve(256);
    Append(out, v);
    return out;
}

std::string WireJson(const bj::object& o) {
    std::string out;
    out.reserve(1024);
    AppendObject(out, o);
    return out;
}

std::string WireJson(const bj::array& a) {
    std::string out;
    out.reserve(1024);
    AppendArray(out, a);
    return out;
}

}  // namespace dispatch::emulator
