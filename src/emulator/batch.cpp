// batch (CONTRACT §2.6): up to 50 sub-calls "method?query", executed in order, `$result[key][field]…` references
// to earlier results, `halt`. HTTP 200 even when sub-calls fail; empty inner maps serialise as `[]` like PHP.
#include <chrono>
#include <regex>

#include "core/form.hpp"
#include "core/json.hpp"
#include "emulator/methods.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

constexpr std::size_t kMaxCalls = 50;

// PHP's json_encode of an associative array: [] when empty, a list when the keys are exactly 0..n-1.
bj::value PhpMap(bj::object o) {
    std::size_t i = 0;
    for (const auto& kv : o) {
        if (kv.key() != std::to_string(i++)) {
            return o;
        }
    }
    bj::array a;
    for (auto& kv : o) {
        a.push_back(std::move(kv.value()));
    }
    return a;
}

// `$result[me][UF_DEPARTMENT][0]` → the value at that path of an earlier sub-call's result, as text.
std::string Resolve(const bj::object& results, const std::string& key, const std::string& path) {
    const auto* v = results.if_contains(key);
    static const std::regex kSeg(R"(\[([^\]]*)\])");
    for (auto it = std::sregex_iterator(path.begin(), path.end(), kSeg); v != nullptr && it != std::sregex_iterator();
         ++it) {
        const auto seg = (*it)[1].str();
        if (v->is_object()) {
            v = v->get_object().if_contains(seg);
        } else if (v->is_array()) {
            const auto idx = json::ParseInt(seg);
            v = (idx && *idx >= 0 && static_cast<std::size_t>(*idx) < v->get_array().size())
                    ? &v->get_array()[static_cast<std::size_t>(*idx)]
                    : nullptr;
        } else {
            v = nullptr;
        }
    }
    if (v == nullptr || v->is_null()) {
        return "";
    }
    if (v->is_bool()) {
        return v->get_bool() ? "1" : "";
    }
    return json::ToString(*v).value_or(json::Dump(*v));
}

std::string Substitute(const std::string& cmd, const bj::object& results) {
    static const std::regex kRef(R"(\$result\[([^\]]+)\]((?:\[[^\]]*\])*))");
    std::string out;
    std::size_t last = 0;
    for (auto it = std::sregex_iterator(cmd.begin(), cmd.end(), kRef); it != std::sregex_iterator(); ++it) {
        const auto& m = *it;
        out.append(cmd, last, static_cast<std::size_t>(m.position(0)) - last);
        out += form::EscapeComponent(Resolve(results, m[1].str(), m[2].str()));
        last = static_cast<std::size_t>(m.position(0) + m.length(0));
    }
    out.append(cmd, last, std::string::npos);
    return out;
}

MethodReply Batch(CallContext& ctx, const bj::object& p) {
    const auto* cmd = Param(p, "cmd");
    if (cmd == nullptr || !(cmd->is_object() || cmd->is_array())) {
        return Err(400, "ERROR_ARGUMENT", "cmd is required");
    }
    std::vector<std::pair<std::string, std::string>> calls;
    if (cmd->is_object()) {
        for (const auto& kv : cmd->get_object()) {
            calls.emplace_back(std::string(kv.key()), json::ToString(kv.value()).value_or(""));
        }
    } else {
        std::size_t i = 0;
        for (const auto& v : cmd->get_array()) {
            calls.emplace_back(std::to_string(i++), json::ToString(v).value_or(""));
        }
    }
    if (calls.size() > kMaxCalls) {
        // CONTRACT §14.18: we reject the whole batch as the error table says (README).
        return Err(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded");
    }
    const bool halt = YesParam(Param(p, "halt"));
    bj::object result;
    bj::object errors;
    bj::object totals;
    bj::object nexts;
    bj::object times;
    for (const auto& [key, raw] : calls) {
        const auto text = Substitute(raw, result);
        const auto q = text.find('?');
        const auto method = text.substr(0, q);
        const TimeMs start = ctx.portal.Now();
        const auto t0 = std::chrono::steady_clock::now();
        std::optional<MethodReply> reply;
        if (method == "batch") {
            reply.emplace(Err(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage"));
        } else {
            auto params =
                form::Parse(q == std::string::npos ? std::string_view{} : std::string_view(text).substr(q + 1));
            if (!params) {
                reply.emplace(Err(400, "INVALID_REQUEST", "Malformed sub-call query"));
            } else {
                CallContext sub{ctx.portal, ctx.api, ctx.caller, true};
                reply.emplace(ctx.api.Dispatch(sub, method, *params));
            }
        }
        if (reply->Ok()) {
            auto& ok = reply->Value();
            result[key] = std::move(ok.result);
            if (ok.total) {
                totals[key] = *ok.total;
            }
            if (ok.next) {
                nexts[key] = *ok.next;
            }
            times[key] =
                ctx.api.TimeBlock(start, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        } else {
            errors[key] = bj::object{{"error", reply->Error().code}, {"error_description", reply->Error().description}};
            if (halt) {
                break;
            }
        }
    }
    return bj::value(bj::object{{"result", PhpMap(std::move(result))},
                                {"result_error", PhpMap(std::move(errors))},
                                {"result_total", PhpMap(std::move(totals))},
                                {"result_next", PhpMap(std::move(nexts))},
                                {"result_time", PhpMap(std::move(times))}});
}

}  // namespace

void RegisterBatchMethod(MethodMap& m) { m["batch"] = {"basic", false, Batch}; }

}  // namespace dispatch::emulator
