#include "b24/batch.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "b24/errc.hpp"
#include "core/json.hpp"

namespace dispatch::b24 {
namespace {

bool IsUnreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

bool IsValidKey(std::string_view key) {
    return !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
}

bool IsValidMethod(std::string_view method) {
    return !method.empty() && method.size() <= 128 && method != "batch" &&
           std::all_of(method.begin(), method.end(), [](char c) {
               const auto u = static_cast<unsigned char>(c);
               return (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '_' ||
                      c == '.';
           });
}

void AppendPair(std::string& out, const std::string& key, std::string_view encoded_value) {
    if (!out.empty()) {
        out += '&';
    }
    out += key;
    out += '=';
    out += encoded_value;
}

// `key` is already encoded (segments percent-encoded, brackets literal).
void EncodeValue(std::string& out, const std::string& key, const bj::value& v) {
    switch (v.kind()) {
        case bj::kind::null:
            return;  // http_build_query drops nulls
        case bj::kind::bool_:
            AppendPair(out, key, v.get_bool() ? "1" : "0");
            return;
        case bj::kind::int64:
            AppendPair(out, key, fmt::format("{}", v.get_int64()));
            return;
        case bj::kind::uint64:
            AppendPair(out, key, fmt::format("{}", v.get_uint64()));
            return;
        case bj::kind::double_:
            AppendPair(out, key, PercentEncode(fmt::format("{}", v.get_double())));
            return;
        case bj::kind::string: {
            const std::string_view s = v.get_string();
            AppendPair(out, key, IsRef(s) ? std::string(s) : PercentEncode(s));
            return;
        }
        case bj::kind::array: {
            const auto& arr = v.get_array();
            for (std::size_t i = 0; i < arr.size(); ++i) {
                EncodeValue(out, fmt::format("{}[{}]", key, i), arr[i]);
            }
            return;
        }
        case bj::kind::object:
            for (const auto& kv : v.get_object()) {
                EncodeValue(out, key + "[" + PercentEncode(kv.key()) + "]", kv.value());
            }
            return;
    }
}

void CollectRefs(const bj::value& v, std::set<std::string>& out) {
    if (v.is_string()) {
        const std::string_view s = v.get_string();
        for (std::size_t pos = s.find("$result["); pos != std::string_view::npos; pos = s.find("$result[", pos + 1)) {
            const std::size_t start = pos + 8;
            const std::size_t end = s.find(']', start);
            if (end != std::string_view::npos) {
                out.emplace(s.substr(start, end - start));
            }
        }
    } else if (v.is_array()) {
        for (const auto& e : v.get_array()) {
            CollectRefs(e, out);
        }
    } else if (v.is_object()) {
        for (const auto& kv : v.get_object()) {
            CollectRefs(kv.value(), out);
        }
    }
}

// Visits (key, value) of a PHP map that JSON may render as an object or as a list (keys "0".."n-1").
template <class Fn>
void ForEachEntry(const bj::value* map, Fn&& fn) {
    if (map == nullptr) {
        return;
    }
    if (map->is_object()) {
        for (const auto& kv : map->get_object()) {
            fn(std::string(kv.key()), kv.value());
        }
    } else if (map->is_array()) {
        const auto& arr = map->get_array();
        for (std::size_t i = 0; i < arr.size(); ++i) {
            fn(std::to_string(i), arr[i]);
        }
    }
}

bool IsMapOrAbsent(const bj::value* map) {
    return map == nullptr || map->is_object() || map->is_array() || map->is_null();
}

}  // namespace

std::string PercentEncode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (IsUnreserved(c)) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0x0F];
        }
    }
    return out;
}

std::string EncodeQuery(const bj::object& params) {
    std::string out;
    for (const auto& kv : params) {
        EncodeValue(out, PercentEncode(kv.key()), kv.value());
    }
    return out;
}

std::string Ref(std::string_view key, std::initializer_list<std::string_view> path) {
    std::string out = "$result[";
    out += key;
    out += ']';
    for (const auto segment : path) {
        out += '[';
        out += segment;
        out += ']';
    }
    return out;
}

bool IsRef(std::string_view value) {
    constexpr std::string_view kPrefix = "$result[";
    if (value.substr(0, kPrefix.size()) != kPrefix) {
        return false;
    }
    // One or more [segment] groups, segments free of brackets, '&', '=', '#' and spaces, and nothing after.
    std::size_t pos = kPrefix.size() - 1;
    int groups = 0;
    while (pos < value.size()) {
        if (value[pos] != '[') {
            return false;
        }
        const std::size_t end = value.find(']', pos + 1);
        if (end == std::string_view::npos || end == pos + 1) {
            return false;
        }
        const std::string_view segment = value.substr(pos + 1, end - pos - 1);
        if (segment.find_first_of("[&=# %+") != std::string_view::npos) {
            return false;
        }
        ++groups;
        pos = end + 1;
    }
    return groups >= 1;
}

Result<void> BatchBuilder::Add(std::string key, std::string method, bj::object params) {
    return Add(BatchCall{std::move(key), std::move(method), std::move(params)});
}

Result<void> BatchBuilder::Add(BatchCall call) {
    if (calls_.size() >= kMaxBatchCalls) {
        return Fail(Errc::kBatchTooLong, fmt::format("batch already holds {} calls", calls_.size()));
    }
    if (!IsValidKey(call.key)) {
        return Fail(Errc::kInvalidArgument, fmt::format("bad batch key '{}'", call.key));
    }
    if (!IsValidMethod(call.method)) {
        return Fail(Errc::kInvalidArgument, fmt::format("bad batch method '{}'", call.method));
    }
    for (const auto& existing : calls_) {
        if (existing.key == call.key) {
            return Fail(Errc::kInvalidArgument, fmt::format("duplicate batch key '{}'", call.key));
        }
    }
    calls_.push_back(std::move(call));
    return {};
}

bj::object BatchBuilder::Params() const {
    bj::object cmd;
    for (const auto& call : calls_) {
        const std::string query = EncodeQuery(call.params);
        cmd[call.key] = query.empty() ? call.method : call.method + "?" + query;
    }
    bj::object params;
    params["halt"] = halt_ ? 1 : 0;
    params["cmd"] = std::move(cmd);
    return params;
}

std::set<std::string> RefsIn(const bj::value& params) {
    std::set<std::string> out;
    CollectRefs(params, out);
    return out;
}

Result<std::vector<BatchBuilder>> SplitIntoBatches(std::vector<BatchCall> calls, bool halt, std::size_t per_batch) {
    per_batch = std::clamp<std::size_t>(per_batch, 1, kMaxBatchCalls);
    std::vector<BatchBuilder> batches;
    std::unordered_map<std::string, std::size_t> batch_of_key;
    for (auto& call : calls) {
        if (batches.empty() || batches.back().Size() >= per_batch) {
            batches.emplace_back(halt);
        }
        for (const auto& ref : RefsIn(bj::value(call.params))) {
            const auto it = batch_of_key.find(ref);
            if (it == batch_of_key.end() || it->second != batches.size() - 1) {
                return Fail(Errc::kInvalidArgument,
                            fmt::format("call '{}' refers to '{}' outside its batch", call.key, ref));
            }
        }
        if (!batch_of_key.emplace(call.key, batches.size() - 1).second) {
            return Fail(Errc::kInvalidArgument, fmt::format("duplicate batch key '{}'", call.key));
        }
        if (auto added = batches.back().Add(std::move(call)); !added) {
            return added.error();
        }
    }
    return batches;
}

Result<bj::value> BatchResult::Get(const std::string& key) const {
    const auto it = by_key.find(key);
    if (it == by_key.end()) {
        return Fail(Errc::kInvalidArgument, fmt::format("no batch call '{}'", key));
    }
    if (it->second.error) {
        return *it->second.error;
    }
    return it->second.result.value_or(bj::value{});
}

std::size_t BatchResult::ErrorCount() const {
    return static_cast<std::size_t>(
        std::count_if(by_key.begin(), by_key.end(), [](const auto& kv) { return !kv.second.Ok(); }));
}

Result<BatchResult> ParseBatchResult(const BatchBuilder& batch, const bj::value& result) {
    if (!result.is_object()) {
        return Fail(Errc::kBadResponse, "batch result is not an object");
    }
    const bj::value* results = json::Find(result, "result");
    const bj::value* errors = json::Find(result, "result_error");
    const bj::value* totals = json::Find(result, "result_total");
    const bj::value* nexts = json::Find(result, "result_next");
    if (!IsMapOrAbsent(results) || !IsMapOrAbsent(errors) || !IsMapOrAbsent(totals) || !IsMapOrAbsent(nexts)) {
        return Fail(Errc::kBadResponse, "batch result maps are neither objects nor arrays");
    }

    BatchResult out;
    ForEachEntry(results, [&](std::string key, const bj::value& v) { out.by_key[std::move(key)].result = v; });
    ForEachEntry(errors, [&](std::string key, const bj::value& v) {
        std::string code;
        std::string description;
        if (v.is_object()) {
            if (const bj::value* e = json::Find(v, "error")) {
                code = json::ToString(*e).value_or("");
            }
            description = json::StringAt(v, "error_description").value_or("");
        } else if (auto s = json::ToString(v)) {
            description = *s;
        }
        // batch.md: the batch itself answers 200; sub-call statuses are not reported, so classify by the codes.
        const Errc errc = FromApiError(200, code, description);
        auto& sub = out.by_key[key];
        sub.error =
            Error{make_error_code(errc), fmt::format("sub-call {} error={} description={}", key, code, description)};
        sub.result.reset();
    });
    ForEachEntry(totals,
                 [&](std::string key, const bj::value& v) { out.by_key[std::move(key)].total = json::ToInt(v); });
    ForEachEntry(nexts, [&](std::string key, const bj::value& v) { out.by_key[std::move(key)].next = json::ToInt(v); });

    const bool any_error =
        std::any_of(out.by_key.begin(), out.by_key.end(), [](const auto& kv) { return kv.second.error.has_value(); });
    for (const auto& call : batch.Calls()) {
        auto& sub = out.by_key[call.key];
        if (sub.result || sub.error) {
            continue;
        }
        if (batch.Halt() && any_error) {
            sub.error = Error{make_error_code(Errc::kApiError),
                              fmt::format("sub-call {} not executed: batch halted", call.key)};
        } else {
            sub.result = bj::value{};  // PHP omits null results from the map
        }
    }
    return out;
}

}  // namespace dispatch::b24
