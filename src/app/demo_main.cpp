// dispatch-demo: plays one month of the seed company's help-desk traffic against b24emu and dispatchd, as its
// people would (issue 8; scripts/demo.sh runs it).
//
//   dispatch-demo --emu URL --service URL --ca FILE --member MEMBER_ID [--month 2026-03] [--requests 500]
//                 [--seed 42] [--entity-type-id N] [--no-service] [--workplace FILE] [--workplace-schema FILE]
//                 [--sla FILE] [--admin-user 1] [--settle-timeout-s 60] [--service-token-env NAME]
//
// A discrete-event simulation: a priority queue of planned human actions (instant, request, step). Employees file
// requests (crm.item.add through /_emu/act as themselves), then the desk's people react to what the SERVICE did:
// an assignee set by routing takes the item, the dispatcher assigns a specialist, specialists pause for the
// requester and resolve, requesters accept, return or ignore the review; items escalated to line 2 go to the
// line-2 dispatcher. Before each instant both clocks (the emulator's, then dispatchd's, so that what the service's
// timers write carries the right time) are set to it; several steps at one instant share one clock move. The system
// settles (the portal's event queue flushed, dispatchd nudged and polled until idle) after the people act and after
// a clock move that makes a dispatchd timer due; an idle system needs no settling when only the clock moved. Between
// human steps the clocks jump no further than dispatchd's next timer, so warnings, escalations, reminders and
// auto-acceptance fire at their instants. After every settle the player lists the items changed since the last look,
// and re-plans those whose stage, funnel or assignee someone else (the service) changed.
//
// Same seed, same traffic: every request carries its own random stream, drawn at filing, so what one person does
// never shifts what another does. With --no-service the player runs against the emulator alone (no /_admin calls):
// requests stay with their requester, so the line-1 dispatcher routes (and rejects those without a template) by hand.
//
// stdout: one progress line per simulated day, then the summary table (from dispatchd's stats API when it answers,
// else from the items and the SLA fields the service wrote back) and the dashboard URL. Logs go to stderr.

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <numbers>
#include <optional>
#include <queue>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/errc.hpp"
#include "core/error.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/time_format.hpp"
#include "http/client.hpp"
#include "provision/spec.hpp"
#include "sla/calendar.hpp"
#include "sla/policy.hpp"
#include "sla/policy_load.hpp"
#include "stats/zone.hpp"

#ifndef DISPATCH_SOURCE_DIR
#define DISPATCH_SOURCE_DIR "."
#endif

namespace dispatch::demo {
namespace {

namespace bj = boost::json;
using provision::StageRole;

constexpr log::Logger kLog{"demo"};
constexpr TimeMs kNever = std::numeric_limits<TimeMs>::max();

// ---------------------------------------------------------------------------------------------------------------
// Options

struct Options {
    std::string emu;
    std::string service;
    std::string ca;
    std::string member;
    std::string month = "2026-03";
    int requests = 500;
    std::uint64_t seed = 42;
    std::optional<std::int64_t> entity_type_id;
    bool no_service = false;
    std::string workplace = DISPATCH_SOURCE_DIR "/workplace/helpdesk.json";
    std::string workplace_schema = DISPATCH_SOURCE_DIR "/schemas/workplace.schema.json";
    std::string sla = DISPATCH_SOURCE_DIR "/workplace/sla.json";
    std::int64_t admin_user = 1;
    int settle_timeout_s = 60;
    std::string service_token;  // secret (from --service-token-env): dispatchd's api_token, when it has one
};

int Usage(std::string_view why) {
    fmt::print(stderr,
               "dispatch-demo: {}\n"
               "usage: dispatch-demo --emu URL --service URL --ca FILE --member MEMBER_ID [--month YYYY-MM]\n"
               "       [--requests N] [--seed N] [--entity-type-id N] [--no-service] [--workplace FILE]\n"
               "       [--workplace-schema FILE] [--sla FILE] [--admin-user ID] [--settle-timeout-s N]\n"
               "       [--service-token-env NAME]\n",
               why);
    return 2;
}

std::string TrimSlash(std::string url) {
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    return url;
}

std::optional<Options> ParseArgs(int argc, char** argv, std::string& why) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view k = argv[i];
        if (k == "--no-service") {
            o.no_service = true;
            continue;
        }
        if (i + 1 >= argc) {
            why = fmt::format("{} needs a value", k);
            return std::nullopt;
        }
        const std::string v = argv[++i];
        const auto integer = [&](std::int64_t min) -> std::optional<std::int64_t> {
            auto n = json::ParseInt(v);
            if (!n || *n < min) {
                why = fmt::format("{} must be an integer >= {}", k, min);
                return std::nullopt;
            }
            return n;
        };
        if (k == "--emu") {
            o.emu = TrimSlash(v);
        } else if (k == "--service") {
            o.service = TrimSlash(v);
        } else if (k == "--ca") {
            o.ca = v;
        } else if (k == "--member") {
            o.member = v;
        } else if (k == "--month") {
            o.month = v;
        } else if (k == "--requests") {
            auto n = integer(1);
            if (!n) {
                return std::nullopt;
            }
            o.requests = static_cast<int>(*n);
        } else if (k == "--seed") {
            auto n = integer(0);
            if (!n) {
                return std::nullopt;
            }
            o.seed = static_cast<std::uint64_t>(*n);
        } else if (k == "--entity-type-id") {
            auto n = integer(1);
            if (!n) {
                return std::nullopt;
            }
            o.entity_type_id = *n;
        } else if (k == "--workplace") {
            o.workplace = v;
        } else if (k == "--workplace-schema") {
            o.workplace_schema = v;
        } else if (k == "--sla") {
            o.sla = v;
        } else if (k == "--admin-user") {
            auto n = integer(1);
            if (!n) {
                return std::nullopt;
            }
            o.admin_user = *n;
        } else if (k == "--settle-timeout-s") {
            auto n = integer(1);
            if (!n) {
                return std::nullopt;
            }
            o.settle_timeout_s = static_cast<int>(*n);
        } else if (k == "--service-token-env") {
            const char* token = std::getenv(v.c_str());
            if (token == nullptr) {
                why = fmt::format("environment variable {} (--service-token-env) is not set", v);
                return std::nullopt;
            }
            o.service_token = token;
        } else {
            why = fmt::format("unknown option {}", k);
            return std::nullopt;
        }
    }
    if (o.emu.empty() || o.ca.empty() || (!o.no_service && (o.service.empty() || o.member.empty()))) {
        why = "--emu and --ca are required, and --service and --member unless --no-service";
        return std::nullopt;
    }
    return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Deterministic randomness. SplitMix64 with our own distributions: std:: distributions are implementation-defined,
// and the same seed must give the same month on every standard library.

class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}

    std::uint64_t Next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
    double Uniform(double a, double b) { return a + (b - a) * Uniform(); }
    bool Chance(double p) { return Uniform() < p; }
    // An index drawn with probability proportional to its weight.
    std::size_t Pick(std::span<const double> weights) {
        double total = 0;
        for (double w : weights) {
            total += w;
        }
        double x = Uniform() * total;
        for (std::size_t i = 0; i < weights.size(); ++i) {
            if (x < weights[i]) {
                return i;
            }
            x -= weights[i];
        }
        return weights.size() - 1;
    }
    double Normal() {  // Box-Muller
        const double u1 = 1.0 - Uniform();
        const double u2 = Uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }

private:
    std::uint64_t state_;
};

std::uint64_t StreamSeed(std::uint64_t seed, std::uint64_t stream) {
    Rng mix(seed ^ (stream * 0xD1B54A32D192ED03ULL));
    return mix.Next();
}

// ---------------------------------------------------------------------------------------------------------------
// The wire: JSON over the http client, to the emulator's /_emu/ API and to dispatchd.

struct JsonReply {
    int status = 0;
    bj::value body;  // the parsed body; a string when the body is not JSON
};

class Wire {
public:
    Wire(const std::string& ca_file, std::string bearer) : client_(MakeOptions(ca_file)), bearer_(std::move(bearer)) {}

    Result<JsonReply> Call(std::string_view method, const std::string& url, const bj::value* body, bool auth = false) {
        ++calls_;
        http::Headers headers;
        if (auth && !bearer_.empty()) {
            headers.emplace_back("Authorization", "Bearer " + bearer_);
        }
        auto res = body != nullptr ? client_.Send(method, url, json::Dump(*body), headers, "application/json")
                                   : client_.Send(method, url, {}, headers);
        if (!res) {
            return Fail(CoreErrc::kIo, fmt::format("{} {}: {}", method, log::MaskUrlSecrets(url), res.error().detail));
        }
        JsonReply reply;
        reply.status = res->status;
        auto parsed = json::Parse(res->body);
        reply.body = parsed ? std::move(*parsed) : bj::value(bj::string(res->body));
        return reply;
    }
    std::int64_t Calls() const { return calls_; }

private:
    static http::ClientOptions MakeOptions(const std::string& ca_file) {
        http::ClientOptions o;
        o.ca_file = ca_file;
        o.request_timeout = std::chrono::milliseconds(60'000);
        o.user_agent = "dispatch-demo/0.1";
        return o;
    }

    http::Client client_;
    std::string bearer_;
    std::int64_t calls_ = 0;
};

std::string Brief(const bj::value& v) {
    std::string text = json::Dump(v);
    if (text.size() > 400) {
        text.resize(400);
        text += "...";
    }
    return text;
}

// The emulator's admin API (src/emulator/admin_api.hpp).
class Portal {
public:
    Portal(Wire& wire, std::string base) : wire_(wire), admin_(std::move(base) + "/_emu/") {}

    // Any REST method as `user`; the REST body ({"result", "total", "next"}) on status 200.
    Result<bj::object> Act(std::int64_t user, std::string_view method, bj::object params) {
        bj::value body = bj::object{{"user_id", user}, {"method", method}, {"params", std::move(params)}};
        auto reply = wire_.Call("POST", admin_ + "act", &body);
        if (!reply) {
            return reply.error();
        }
        const auto status = json::IntAt(reply->body, "status");
        const bj::value* rest = json::Find(reply->body, "body");
        if (reply->status != 200 || !status || rest == nullptr || !rest->is_object()) {
            return Fail(CoreErrc::kInvalid,
                        fmt::format("/_emu/act {}: HTTP {} {}", method, reply->status, Brief(reply->body)));
        }
        if (*status != 200) {
            return Fail(CoreErrc::kInvalid,
                        fmt::format("{} as user {}: status {} {}", method, user, *status, Brief(*rest)));
        }
        return rest->get_object();
    }
    Result<bj::value> ActResult(std::int64_t user, std::string_view method, bj::object params) {
        auto body = Act(user, method, std::move(params));
        if (!body) {
            return body.error();
        }
        const bj::value* result = body->if_contains("result");
        return result != nullptr ? *result : bj::value(nullptr);
    }
    // Every row of a paged list method: `key` names the array inside "result" (empty: "result" is the array).
    Result<std::vector<bj::object>> ListAll(std::int64_t user,
                                            std::string_view method,
                                            bj::object params,
                                            std::string_view key) {
        std::vector<bj::object> rows;
        std::int64_t start = 0;
        for (int page = 0; page < 10'000; ++page) {
            params["start"] = start;
            auto body = Act(user, method, params);
            if (!body) {
                return body.error();
            }
            const bj::value* result = body->if_contains("result");
            const bj::value* list = result == nullptr ? nullptr : (key.empty() ? result : json::Find(*result, key));
            if (list == nullptr || !list->is_array()) {
                return Fail(CoreErrc::kInvalid, fmt::format("{}: no {} array in {}", method, key, Brief(*body)));
            }
            for (const auto& row : list->get_array()) {
                if (row.is_object()) {
                    rows.push_back(row.get_object());
                }
            }
            const bj::value* next = body->if_contains("next");
            const auto n = next != nullptr ? json::ToInt(*next) : std::nullopt;
            if (!n || *n <= start) {
                return rows;
            }
            start = *n;
        }
        return Fail(CoreErrc::kInvalid, fmt::format("{}: too many pages", method));
    }

    Result<TimeMs> Clock(const bj::object& change) {
        bj::value body = change;
        auto reply = wire_.Call("POST", admin_ + "clock", &body);
        if (!reply) {
            return reply.error();
        }
        const auto now = json::IntAt(reply->body, "now_ms");
        if (reply->status != 200 || !now) {
            return Fail(
                CoreErrc::kInvalid,
                fmt::format(
                    "/_emu/clock: HTTP {} {} (is b24emu on --clock manual?)", reply->status, Brief(reply->body)));
        }
        return *now;
    }
    Result<std::int64_t> Flush() {
        bj::value body = bj::object{};
        auto reply = wire_.Call("POST", admin_ + "events/flush", &body);
        if (!reply) {
            return reply.error();
        }
        const auto attempted = json::IntAt(reply->body, "attempted");
        if (reply->status != 200 || !attempted) {
            return Fail(CoreErrc::kInvalid,
                        fmt::format("/_emu/events/flush: HTTP {} {}", reply->status, Brief(reply->body)));
        }
        return *attempted;
    }

private:
    Wire& wire_;
    std::string admin_;
};

struct FlowsState {
    bool idle = false;
    TimeMs now = 0;
    std::optional<TimeMs> next_timer;
    std::optional<TimeMs> next_action;
    std::int64_t outbox_done = 0;
    std::int64_t inbox_pending = 0;
    bj::value raw;
};

// dispatchd's operator routes (src/flows/api.hpp) and its stats API.
class Service {
public:
    Service(Wire& wire, std::string base) : wire_(wire), base_(std::move(base)) {}
    const std::string& Base() const { return base_; }

    Result<void> SetClock(TimeMs t) {
        bj::value body = bj::object{{"now", FormatIso8601(t)}};
        auto reply = wire_.Call("POST", base_ + "/_admin/clock", &body, true);
        if (!reply) {
            return reply.error();
        }
        if (reply->status != 200) {
            return Fail(CoreErrc::kInvalid,
                        fmt::format("POST /_admin/clock: HTTP {} {} (does dispatchd run on a manual clock?)",
                                    reply->status,
                                    Brief(reply->body)));
        }
        return {};
    }
    // Moves the clock by nothing, which wakes dispatchd's flows at once: events the portal just delivered are
    // taken now rather than at the worker's next idle look (the intake does not wake the worker itself).
    Result<void> Nudge() {
        bj::value body = bj::object{{"advance_ms", 0}};
        auto reply = wire_.Call("POST", base_ + "/_admin/clock", &body, true);
        if (!reply) {
            return reply.error();
        }
        return {};
    }
    Result<FlowsState> Flows() {
        auto reply = wire_.Call("GET", base_ + "/_admin/flows", nullptr, true);
        if (!reply) {
            return reply.error();
        }
        const bj::value* idle = json::Find(reply->body, "idle");
        if (reply->status != 200 || idle == nullptr || !idle->is_bool()) {
            return Fail(CoreErrc::kInvalid,
                        fmt::format("GET /_admin/flows: HTTP {} {}", reply->status, Brief(reply->body)));
        }
        FlowsState f;
        f.idle = idle->get_bool();
        f.raw = reply->body;
        const auto instant = [&](std::string_view key) -> std::optional<TimeMs> {
            auto text = json::StringAt(reply->body, key);
            if (!text) {
                return std::nullopt;
            }
            auto t = ParseIso8601(*text);
            return t ? std::optional<TimeMs>(*t) : std::nullopt;
        };
        f.now = instant("now").value_or(0);
        f.next_timer = instant("next_timer");
        f.next_action = instant("next_action");
        if (const bj::value* outbox = json::Find(reply->body, "outbox")) {
            f.outbox_done = json::IntAt(*outbox, "done").value_or(0);
        }
        if (const bj::value* inbox = json::Find(reply->body, "inbox")) {
            f.inbox_pending = json::IntAt(*inbox, "pending").value_or(0);
        }
        return f;
    }
    // The stats report. Anything but a 200 with totals is a failure to report (a wrong token, a 500): the summary
    // must come from the service when one runs.
    Result<bj::value> Stats(const std::string& member, const std::string& query) {
        auto reply =
            wire_.Call("GET", fmt::format("{}/api/v1/portals/{}/stats?{}", base_, member, query), nullptr, true);
        if (!reply) {
            return reply.error();
        }
        if (reply->status != 200 || json::Find(reply->body, "totals") == nullptr) {
            return Fail(CoreErrc::kInvalid, fmt::format("GET stats: HTTP {} {}", reply->status, Brief(reply->body)));
        }
        return std::move(reply->body);
    }

private:
    Wire& wire_;
    std::string base_;
};

// ---------------------------------------------------------------------------------------------------------------
// The portal's layout: what provisioning created, found by the spec's codes (never hard-coded ids).

struct StageRef {
    int funnel = 0;  // index into Layout::funnels
    std::string code;
    StageRole role = StageRole::kNew;
};

struct FunnelInfo {
    std::string code;
    int line = 1;  // line2 → 2; line1 and anything else → 1
    std::int64_t category_id = 0;
    std::map<StageRole, std::string> status_by_role;  // the first spec stage with that role
};

struct Layout {
    std::int64_t entity_type_id = 0;
    std::int64_t type_id = 0;
    std::vector<FunnelInfo> funnels;
    std::map<std::string, StageRef> by_status;           // STATUS_ID → stage
    std::map<std::string, std::int64_t> template_ids;    // xml_id → enumeration item id
    std::map<std::int64_t, std::string> template_by_id;  // and back
    std::map<std::string, std::int64_t> priority_ids;
    std::map<std::int64_t, std::string> priority_by_id;

    std::string Uf(std::string_view code) const { return fmt::format("UF_CRM_{}_{}", type_id, code); }
    int FunnelIndex(std::string_view code) const {
        for (std::size_t i = 0; i < funnels.size(); ++i) {
            if (funnels[i].code == code) {
                return static_cast<int>(i);
            }
        }
        return -1;
    }
};

std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

bool NameMatches(const provision::LocalizedText& names, std::string_view name) {
    for (const auto& [language, text] : names.by_language) {
        if (Lower(text) == Lower(name)) {
            return true;
        }
    }
    return false;
}

Result<std::map<std::string, std::int64_t>> EnumItems(const bj::object& field, const provision::FieldSpec& spec) {
    std::map<std::string, std::int64_t> ids;
    const bj::value* items = field.if_contains("enum");
    for (const auto& wanted : spec.items) {
        if (items != nullptr && items->is_array()) {
            for (const auto& item : items->get_array()) {
                const auto xml = json::StringAt(item, "xmlId");
                const auto value = json::StringAt(item, "value");
                const auto id = json::Find(item, "id") != nullptr ? json::ToInt(*json::Find(item, "id")) : std::nullopt;
                // The xml id is the stable key; the shown value is a fallback for items made by hand.
                if (id && ((xml && *xml == wanted.xml_id) || (value && *value == wanted.value))) {
                    ids[wanted.xml_id] = *id;
                    break;
                }
            }
        }
        if (ids.count(wanted.xml_id) == 0) {
            return Fail(CoreErrc::kNotFound, fmt::format("field {} has no item {}", spec.code, wanted.xml_id));
        }
    }
    return ids;
}

Result<Layout> Discover(Portal& portal, const provision::WorkplaceSpec& spec, const Options& options) {
    const provision::SmartProcessSpec* process = spec.ProcessFor(provision::ProcessPurpose::kRequests);
    if (process == nullptr) {
        return Fail(CoreErrc::kInvalid, "the workplace spec has no requests process");
    }
    auto types = portal.ListAll(options.admin_user, "crm.type.list", {}, "types");
    if (!types) {
        return types.error();
    }
    Layout layout;
    for (const auto& t : *types) {
        const auto entity = json::IntAt(t, "entityTypeId");
        const auto id = json::IntAt(t, "id");
        if (!entity || !id) {
            continue;
        }
        const bool wanted = options.entity_type_id ? *entity == *options.entity_type_id
                                                   : json::StringAt(t, "code").value_or("") == process->code;
        if (wanted) {
            layout.entity_type_id = *entity;
            layout.type_id = *id;
            break;
        }
    }
    if (layout.entity_type_id == 0 && !options.entity_type_id) {
        // A type made by hand before provisioning knew codes: recognised by its title.
        for (const auto& t : *types) {
            if (json::StringAt(t, "title").value_or("") == process->title) {
                layout.entity_type_id = json::IntAt(t, "entityTypeId").value_or(0);
                layout.type_id = json::IntAt(t, "id").value_or(0);
                break;
            }
        }
    }
    if (layout.entity_type_id == 0) {
        return Fail(CoreErrc::kNotFound,
                    fmt::format("no smart process with code {} (or title \"{}\") in the portal: run dispatchctl "
                                "provision apply first",
                                process->code,
                                process->title));
    }

    auto categories =
        portal.ActResult(options.admin_user, "crm.category.list", bj::object{{"entityTypeId", layout.entity_type_id}});
    if (!categories) {
        return categories.error();
    }
    const bj::value* cats = json::Find(*categories, "categories");
    for (const auto& funnel : process->funnels) {
        FunnelInfo info;
        info.code = funnel.code;
        info.line = funnel.code == "line2" ? 2 : 1;
        for (int pass = 0; pass < 3 && info.category_id == 0 && cats != nullptr && cats->is_array(); ++pass) {
            for (const auto& c : cats->get_array()) {
                const bool match = pass == 0   ? json::StringAt(c, "code").value_or("") == funnel.code
                                   : pass == 1 ? NameMatches(funnel.name, json::StringAt(c, "name").value_or(""))
                                               : funnel.is_default && json::StringAt(c, "isDefault") == "Y";
                if (match) {
                    info.category_id = json::IntAt(c, "id").value_or(0);
                    break;
                }
            }
        }
        if (info.category_id == 0) {
            if (funnel.code == "changes") {
                continue;  // the player files nothing there
            }
            return Fail(CoreErrc::kNotFound,
                        fmt::format("no funnel {} in smart process {}", funnel.code, layout.entity_type_id));
        }
        auto stages = portal.ActResult(
            options.admin_user,
            "crm.status.list",
            bj::object{{"filter",
                        bj::object{{"ENTITY_ID",
                                    fmt::format("DYNAMIC_{}_STAGE_{}", layout.entity_type_id, info.category_id)}}}});
        if (!stages) {
            return stages.error();
        }
        const int index = static_cast<int>(layout.funnels.size());
        for (const auto& stage : funnel.stages) {
            std::string status_id;
            if (stages->is_array()) {
                for (const auto& s : stages->get_array()) {
                    const std::string id = json::StringAt(s, "STATUS_ID").value_or("");
                    const auto colon = id.rfind(':');
                    if ((colon != std::string::npos && id.substr(colon + 1) == stage.code) ||
                        NameMatches(stage.name, json::StringAt(s, "NAME").value_or(""))) {
                        status_id = id;
                        break;
                    }
                }
            }
            if (status_id.empty()) {
                return Fail(CoreErrc::kNotFound, fmt::format("no stage {} in funnel {}", stage.code, funnel.code));
            }
            layout.by_status[status_id] = StageRef{index, stage.code, stage.role};
            info.status_by_role.emplace(stage.role, status_id);
        }
        layout.funnels.push_back(std::move(info));
    }
    if (layout.FunnelIndex("line1") < 0 || layout.FunnelIndex("line2") < 0) {
        return Fail(CoreErrc::kNotFound, "the spec's funnels line1 and line2 are both needed");
    }

    auto fields = portal.ListAll(
        options.admin_user,
        "userfieldconfig.list",
        bj::object{{"moduleId", "crm"}, {"filter", bj::object{{"entityId", fmt::format("CRM_{}", layout.type_id)}}}},
        "fields");
    if (!fields) {
        return fields.error();
    }
    for (const std::string_view code : {provision::field_codes::kTemplate, provision::field_codes::kPriority}) {
        const provision::FieldSpec* field_spec = process->FindField(code);
        const bj::object* found = nullptr;
        for (const auto& f : *fields) {
            if (json::StringAt(f, "fieldName").value_or("") == layout.Uf(code)) {
                found = &f;
            }
        }
        if (field_spec == nullptr || found == nullptr) {
            return Fail(CoreErrc::kNotFound,
                        fmt::format("no field {} in smart process {}", layout.Uf(code), layout.entity_type_id));
        }
        auto items = EnumItems(*found, *field_spec);
        if (!items) {
            return items.error();
        }
        auto& ids = code == provision::field_codes::kTemplate ? layout.template_ids : layout.priority_ids;
        auto& back = code == provision::field_codes::kTemplate ? layout.template_by_id : layout.priority_by_id;
        ids = std::move(*items);
        for (const auto& [xml, id] : ids) {
            back[id] = xml;
        }
    }
    return layout;
}

// ---------------------------------------------------------------------------------------------------------------
// Local time in the desk's zone (date/tz: g++ 12 has no C++20 zones).

constexpr std::string_view kWeekdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

// ---------------------------------------------------------------------------------------------------------------
// The company: who files, who works.

struct Staff {
    std::vector<std::int64_t> line1_dispatchers, line1_specialists, line2_dispatchers, line2_specialists,
        specialists_1c;
    std::set<std::int64_t> everyone;
    std::set<std::int64_t> line2_hours;  // people who keep the line-2 calendar

    bool IsDispatcher(std::int64_t user) const {
        return Contains(line1_dispatchers, user) || Contains(line2_dispatchers, user);
    }
    bool IsStaff(std::int64_t user) const { return everyone.count(user) > 0; }
    static bool Contains(const std::vector<std::int64_t>& v, std::int64_t user) {
        return std::find(v.begin(), v.end(), user) != v.end();
    }
};

Staff StaffOf(const sla::Policy& policy) {
    Staff s;
    s.line1_dispatchers = policy.Users(sla::Role::kLine1Dispatcher);
    s.line1_specialists = policy.Users(sla::Role::kLine1Specialists);
    s.line2_dispatchers = policy.Users(sla::Role::kLine2Dispatcher);
    s.line2_specialists = policy.Users(sla::Role::kLine2Specialists);
    s.specialists_1c = policy.Users(sla::Role::kSpecialist1c);
    for (int r = 0; r < sla::kRoleCount; ++r) {
        for (auto u : policy.Users(static_cast<sla::Role>(r))) {
            s.everyone.insert(u);
        }
    }
    for (const auto* group : {&s.line2_dispatchers, &s.line2_specialists, &s.specialists_1c}) {
        s.line2_hours.insert(group->begin(), group->end());
    }
    return s;
}

struct Requester {
    std::int64_t id = 0;
    double weight = 1;  // some people file far more than others
};

Result<std::vector<Requester>> Requesters(Portal& portal, const Staff& staff, const Options& options, Rng& rng) {
    auto users = portal.ListAll(options.admin_user, "user.get", bj::object{{"ACTIVE", true}}, "");
    if (!users) {
        return users.error();
    }
    std::vector<Requester> out;
    for (const auto& u : *users) {
        const auto id = json::IntAt(u, "ID");
        if (!id || *id == options.admin_user || staff.IsStaff(*id)) {
            continue;
        }
        out.push_back(Requester{*id, 0});
    }
    std::sort(out.begin(), out.end(), [](const Requester& a, const Requester& b) { return a.id < b.id; });
    for (auto& r : out) {
        r.weight = std::exp(0.8 * rng.Normal());
    }
    if (out.empty()) {
        return Fail(CoreErrc::kNotFound, "the portal has no employees outside the help desk to file requests");
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The traffic: what is filed, when, by whom; and how each requester and the desk will behave on it.

struct TemplateMix {
    std::string_view xml_id;  // "" = filed without a template
    double weight;
    std::vector<std::string_view> titles;
};

const std::vector<TemplateMix>& Mix() {
    static const std::vector<TemplateMix> kMix = {
        {"1C",
         20,
         {"1C: cannot post the invoice",
          "1C: the sales report shows wrong totals",
          "1C: licence error at start-up",
          "1C: bank statement import failed",
          "1C: need a new user for a newcomer",
          "1C: VAT ledger does not close",
          "1C: document numbering went wrong",
          "1C: slow when opening the warehouse journal"}},
        {"HARDWARE",
         25,
         {"Printer on the 3rd floor is jammed",
          "Laptop will not boot",
          "Monitor flickers",
          "Need a second monitor",
          "Keyboard keys stick",
          "Docking station not detected",
          "Scanner shows error E5",
          "Headset microphone does not work",
          "Projector in the meeting room is dead"}},
        {"ACCESS",
         15,
         {"Need access to the sales share",
          "VPN password reset",
          "Account locked after holidays",
          "Access to the CRM reports",
          "Account for a new employee",
          "Remove access for a leaver",
          "Need rights on the HR folder"}},
        {"SOFTWARE",
         20,
         {"Excel crashes when opening a file",
          "Please install a PDF editor",
          "Outlook does not sync",
          "No sound in video calls",
          "Antivirus blocks the supplier's tool",
          "Browser keeps asking for a certificate",
          "Update the design software"}},
        {"WEB",
         8,
         {"Website contact form does not send",
          "Update the price list on the website",
          "Typo on the landing page",
          "Certificate warning on the shop",
          "Website is slow in the evening"}},
        {"OTHER",
         4,
         {"Move my workplace to room 214", "Phone extension for a newcomer", "Question about the IT policy"}},
        {"", 8, {"Help!", "Something is broken", "It does not work again", "Urgent problem", "Please call me"}},
    };
    return kMix;
}

struct PriorityMix {
    sla::Priority priority;
    std::string_view xml_id;
    double weight;
    double late_reaction;    // share reacted to after the target (escalations follow)
    double late_resolution;  // share resolved after the target
};

constexpr PriorityMix kPriorities[] = {
    {sla::Priority::kUrgent, "URGENT", 8, 0.30, 0.20},
    {sla::Priority::kHigh, "HIGH", 20, 0.15, 0.12},
    {sla::Priority::kNormal, "NORMAL", 60, 0.08, 0.08},
    {sla::Priority::kLow, "LOW", 12, 0.05, 0.05},
};

enum class Review { kAccept, kReturn, kIgnore };

// How this request will go, drawn at filing from the request's own stream.
struct Script {
    bool late_reaction = false;
    bool late_resolution = false;
    bool waits = false;  // the specialist asks the requester something once
    Review review = Review::kAccept;
    Review second_review = Review::kAccept;  // after a return
    double reaction_share = 0;               // of the reaction target (> 1 when late)
    double resolution_share = 0;             // of the resolution target
};

struct Snapshot {
    int funnel = -1;
    StageRole role = StageRole::kNew;
    std::int64_t assignee = 0;
    friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

struct Request {
    int index = 0;
    std::int64_t requester = 0;
    std::string template_xml;   // "" without a template
    std::string template_name;  // the policy's spelling ("Hardware")
    std::size_t priority = 2;   // index into kPriorities
    std::string title;
    TimeMs filed_at = 0;
    Script script;
    Rng rng{0};

    std::int64_t item_id = 0;
    Snapshot known;
    std::uint64_t version = 0;  // bumps on every re-plan; queued steps of older versions are dropped
    bool closed = false;
    bool reacted = false;  // the desk's first move is done (the planned reaction instant is spent)
    bool escalated = false;
    bool waited = false;
    int returns = 0;
    TimeMs reaction_at = 0;           // when the desk first moves it (planned at filing)
    std::optional<TimeMs> remaining;  // business ms of work left in the current cycle
};

enum class StepKind { kFile, kTriage, kReject, kTake, kPause, kResume, kResolve, kAccept, kReturn };

std::string_view Name(StepKind k) {
    switch (k) {
        case StepKind::kFile:
            return "file";
        case StepKind::kTriage:
            return "triage";
        case StepKind::kReject:
            return "reject";
        case StepKind::kTake:
            return "take";
        case StepKind::kPause:
            return "pause";
        case StepKind::kResume:
            return "resume";
        case StepKind::kResolve:
            return "resolve";
        case StepKind::kAccept:
            return "accept";
        case StepKind::kReturn:
            return "return";
    }
    return "?";
}

struct Step {
    TimeMs at = 0;
    std::uint64_t seq = 0;
    int request = 0;
    std::uint64_t version = 0;
    StepKind kind = StepKind::kFile;
    std::int64_t actor = 0;
    TimeMs work = 0;  // kPause: the business ms of work done before asking
};

struct StepLater {
    bool operator()(const Step& a, const Step& b) const { return a.at != b.at ? a.at > b.at : a.seq > b.seq; }
};

struct DayCounters {
    int filed = 0, taken = 0, resolved = 0, accepted = 0, returned = 0, paused = 0;
    int rejected = 0;  // by the dispatcher, by hand (no template and no service to close it)
    int auto_closed = 0, escalated = 0, auto_accepted = 0, rerouted = 0;

    DayCounters& operator+=(const DayCounters& d) {
        for (auto [mine, theirs] : {std::pair{&filed, &d.filed},
                                    {&taken, &d.taken},
                                    {&resolved, &d.resolved},
                                    {&accepted, &d.accepted},
                                    {&returned, &d.returned},
                                    {&paused, &d.paused},
                                    {&rejected, &d.rejected},
                                    {&auto_closed, &d.auto_closed},
                                    {&escalated, &d.escalated},
                                    {&auto_accepted, &d.auto_accepted},
                                    {&rerouted, &d.rerouted}}) {
            *mine += *theirs;
        }
        return *this;
    }
};

// ---------------------------------------------------------------------------------------------------------------
// The player.

class Player {
public:
    Player(const Options& options,
           Portal& portal,
           Service* service,
           const Layout& layout,
           const sla::Policy& policy,
           const sla::CalendarSet& calendars,
           const sla::Calendar& line1,
           const sla::Calendar& line2,
           stats::Zone zone,
           Staff staff)
        : options_(options),
          portal_(portal),
          service_(service),
          layout_(layout),
          policy_(policy),
          calendars_(calendars),
          line1_(line1),
          line2_(line2),
          zone_(zone),
          staff_(std::move(staff)) {}

    // Plans the month's arrivals in [from, to).
    void PlanArrivals(TimeMs from, TimeMs to, const std::vector<Requester>& requesters);
    // Plays until `end`: every step planned before it, and the service's timers up to it.
    Result<void> Play(TimeMs start, TimeMs end);

    const std::vector<Request>& Requests() const { return requests_; }
    const DayCounters& Totals() const { return totals_; }
    // Requests filed and not closed yet.
    int OpenCount() const {
        return static_cast<int>(std::count_if(
            requests_.begin(), requests_.end(), [](const Request& r) { return r.item_id != 0 && !r.closed; }));
    }
    std::int64_t Steps() const { return steps_; }
    std::int64_t ClockStops() const { return clock_stops_; }
    std::int64_t Settles() const { return settles_; }
    double SettleSeconds() const { return std::chrono::duration<double>(settle_total_).count(); }
    double SettleMaxMs() const { return static_cast<double>(settle_max_.count()) / 1000.0; }

private:
    const sla::Calendar& HoursOf(std::int64_t user) const {
        return staff_.line2_hours.count(user) > 0 ? line2_ : line1_;
    }
    // `business` ms of open time on `cal` after `from`, then the next instant `actor` is at work; whole seconds.
    TimeMs After(const sla::Calendar& cal, TimeMs from, TimeMs business, std::int64_t actor) const {
        TimeMs t = cal.Deadline(from, std::max<TimeMs>(business, 0)).value_or(from + business);
        const sla::Calendar& hours = HoursOf(actor);
        if (!hours.IsOpen(t)) {
            t = hours.NextOpening(t).value_or(t);
        }
        return (t + kSecondMs - 1) / kSecondMs * kSecondMs;
    }
    TimeMs Minutes(double m) const { return static_cast<TimeMs>(m * static_cast<double>(kMinuteMs)); }
    TimeMs TargetSpan(const sla::Target& target, TimeMs from) const;
    const sla::TargetRule* TargetsOf(const Request& r) const {
        return policy_.SelectTargets(kPriorities[r.priority].priority, r.template_name);
    }

    void Push(Request& r, StepKind kind, std::int64_t actor, TimeMs at, TimeMs work = 0) {
        queue_.push(Step{std::max(at, now_), ++seq_, r.index, r.version, kind, actor, work});
    }
    void Replan(Request& r);
    std::int64_t PickSpecialist(Request& r, int line) const;

    Result<void> SetClocks(TimeMs t);
    Result<void> Settle();
    Result<void> Scan();
    Result<void> Run(const Step& step);
    Result<void> File(Request& r);
    Result<Snapshot> Read(Request& r);
    Result<void> Update(Request& r, std::int64_t actor, bj::object fields);
    Result<void> Comment(const Request& r, std::int64_t author, std::string_view text);
    std::optional<Snapshot> SnapshotOf(const bj::value& item) const;
    void Observe(Request& r, const Snapshot& seen);
    void PrintDay(TimeMs day_start);

    const Options& options_;
    Portal& portal_;
    Service* service_;  // nullptr with --no-service
    const Layout& layout_;
    const sla::Policy& policy_;
    const sla::CalendarSet& calendars_;
    const sla::Calendar& line1_;
    const sla::Calendar& line2_;
    stats::Zone zone_;
    TimeMs NextMidnight(TimeMs t) const { return zone_.StartOf(stats::NextDay(zone_.ToLocal(t).date)); }
    Staff staff_;

    std::vector<Request> requests_;
    std::map<std::int64_t, int> by_item_;
    std::priority_queue<Step, std::vector<Step>, StepLater> queue_;
    std::uint64_t seq_ = 0;
    TimeMs now_ = 0;
    TimeMs last_scan_ = 0;
    std::optional<FlowsState> flows_;
    DayCounters day_;
    DayCounters totals_;
    std::int64_t steps_ = 0;
    std::int64_t clock_stops_ = 0;
    std::int64_t settles_ = 0;
    std::chrono::steady_clock::duration settle_total_{};
    std::chrono::microseconds settle_max_{};
    std::chrono::steady_clock::time_point wall_start_ = std::chrono::steady_clock::now();
};

TimeMs Player::TargetSpan(const sla::Target& target, TimeMs from) const {
    switch (target.unit) {
        case sla::TargetUnit::kMinutes:
            return target.amount * kMinuteMs;
        case sla::TargetUnit::kHours:
            return target.amount * kHourMs;
        case sla::TargetUnit::kBusinessDays: {
            const sla::Calendar* cal = calendars_.Find(target.calendar);
            if (cal == nullptr) {
                cal = &line1_;
            }
            auto end = cal->AddBusinessDays(from, static_cast<int>(target.amount), target.end_of_day);
            return end ? cal->Elapsed(from, *end) : target.amount * 12 * kHourMs;
        }
    }
    return kHourMs;
}

void Player::PlanArrivals(TimeMs from, TimeMs to, const std::vector<Requester>& requesters) {
    Rng rng(StreamSeed(options_.seed, 0xA11));
    // Hour slots of the month, weighted: office hours of working days carry the traffic, with the morning and
    // after-lunch peaks; evenings and days off are quiet but not silent.
    static constexpr double kHourWeight[24] = {0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.08, 0.5, 1.3,  1.6,  1.5,
                                               1.1,  0.8,  1.3,  1.4,  1.2,  0.9,  0.5,  0.3,  0.1, 0.06, 0.03, 0.02};
    std::vector<TimeMs> slots;
    std::vector<double> weights;
    const TimeMs first = from / kHourMs * kHourMs;
    for (TimeMs slot = first; slot < to; slot += kHourMs) {
        const stats::LocalTime p = zone_.ToLocal(slot);
        const bool working_day = line1_.IsOpen(zone_.StartOf(p.date) + 12 * kHourMs);
        double w = working_day ? kHourWeight[p.hour] : (p.hour >= 10 && p.hour < 19 ? 0.04 : 0.004);
        if (working_day && p.weekday == 0) {
            w *= 1.15;  // Monday: the weekend's problems arrive
        } else if (working_day && p.weekday == 4) {
            w *= 0.85;
        }
        slots.push_back(slot);
        weights.push_back(w);
    }
    std::vector<double> requester_weights;
    for (const auto& r : requesters) {
        requester_weights.push_back(r.weight);
    }
    std::vector<double> template_weights;
    for (const auto& m : Mix()) {
        template_weights.push_back(m.weight);
    }
    std::vector<double> priority_weights;
    for (const auto& p : kPriorities) {
        priority_weights.push_back(p.weight);
    }

    std::vector<TimeMs> arrivals;
    for (int i = 0; i < options_.requests && !slots.empty(); ++i) {
        const TimeMs slot = slots[rng.Pick(weights)];
        const TimeMs at =
            slot + static_cast<TimeMs>(rng.Uniform() * static_cast<double>(kHourMs)) / kSecondMs * kSecondMs;
        arrivals.push_back(std::clamp(at, from, to - kSecondMs));
    }
    std::sort(arrivals.begin(), arrivals.end());

    requests_.resize(arrivals.size());
    for (std::size_t i = 0; i < arrivals.size(); ++i) {
        Request& r = requests_[i];
        r.index = static_cast<int>(i);
        r.rng = Rng(StreamSeed(options_.seed, i + 1));
        r.filed_at = arrivals[i];
        r.requester = requesters[r.rng.Pick(requester_weights)].id;
        const TemplateMix& mix = Mix()[r.rng.Pick(template_weights)];
        r.template_xml = std::string(mix.xml_id);
        for (const auto& name : policy_.templates) {
            if (Lower(name) == Lower(mix.xml_id)) {
                r.template_name = name;
            }
        }
        r.title = std::string(mix.titles[static_cast<std::size_t>(r.rng.Uniform() * mix.titles.size())]);
        r.priority = r.rng.Pick(priority_weights);
        const PriorityMix& prio = kPriorities[r.priority];
        Script& s = r.script;
        s.late_reaction = r.rng.Chance(prio.late_reaction);
        s.late_resolution = r.rng.Chance(prio.late_resolution);
        s.waits = r.rng.Chance(0.15);
        const double review = r.rng.Uniform();
        s.review = review < 0.08 ? Review::kReturn : (review < 0.33 ? Review::kIgnore : Review::kAccept);
        s.second_review = r.rng.Chance(0.2) ? Review::kIgnore : Review::kAccept;
        // On time: skewed early (most people react well before the target); late: urgent ones sit 30+ minutes.
        const double u = r.rng.Uniform();
        s.reaction_share = s.late_reaction ? r.rng.Uniform(prio.priority == sla::Priority::kUrgent ? 1.5 : 1.2, 2.6)
                                           : 0.05 + 0.8 * u * u;
        const double v = r.rng.Uniform();
        s.resolution_share = s.late_resolution ? r.rng.Uniform(1.1, 1.8) : 0.15 + 0.7 * std::pow(v, 1.3);
        queue_.push(Step{r.filed_at, ++seq_, r.index, 0, StepKind::kFile, r.requester, 0});
    }
}

std::int64_t Player::PickSpecialist(Request& r, int line) const {
    std::vector<std::int64_t> candidates;
    if (line == 2) {
        candidates =
            r.template_xml == "1C" && !staff_.specialists_1c.empty() ? staff_.specialists_1c : staff_.line2_specialists;
    } else {
        const sla::RouteTarget route = sla::Route(policy_, r.template_name);
        candidates = !route.fallback && !route.users.empty() ? route.users : staff_.line1_specialists;
    }
    if (candidates.empty()) {
        return line == 2 && !staff_.line2_dispatchers.empty() ? staff_.line2_dispatchers.front()
                                                              : staff_.line1_dispatchers.front();
    }
    // The least loaded one; ties broken by the request's own stream.
    std::map<std::int64_t, int> load;
    for (const auto& other : requests_) {
        if (other.item_id != 0 && !other.closed) {
            ++load[other.known.assignee];
        }
    }
    int best = std::numeric_limits<int>::max();
    std::vector<std::int64_t> least;
    for (auto c : candidates) {
        if (load[c] < best) {
            best = load[c];
            least.clear();
        }
        if (load[c] == best) {
            least.push_back(c);
        }
    }
    return least[static_cast<std::size_t>(r.rng.Uniform() * least.size())];
}

void Player::Replan(Request& r) {
    ++r.version;
    const Snapshot& s = r.known;
    if (s.funnel < 0) {
        return;  // a stage the spec does not know (moved by hand): nobody here touches it
    }
    if (s.role == StageRole::kDone || s.role == StageRole::kRejected) {
        r.closed = true;
        return;
    }
    const int line = layout_.funnels[static_cast<std::size_t>(s.funnel)].line;
    const std::int64_t dispatcher = line == 2 && !staff_.line2_dispatchers.empty() ? staff_.line2_dispatchers.front()
                                                                                   : staff_.line1_dispatchers.front();
    const std::int64_t a = s.assignee;
    const bool needs_triage = staff_.IsDispatcher(a) || !staff_.IsStaff(a);
    const sla::TargetRule* targets = TargetsOf(r);

    // The desk's first move comes at the planned reaction instant; later moves after their own short delays.
    const auto first_move = [&](std::int64_t actor) {
        if (!r.reacted && !r.escalated) {
            return std::max(r.reaction_at, After(HoursOf(actor), now_, Minutes(1), actor));
        }
        const double minutes = line == 2 ? r.rng.Uniform(5, 90) : r.rng.Uniform(3, 45);
        return After(HoursOf(actor), now_, Minutes(minutes), actor);
    };

    switch (s.role) {
        case StageRole::kNew:
            if (r.template_xml.empty() && line == 1) {
                // Without the service (or before it acts), the dispatcher closes what cannot be routed.
                Push(r, StepKind::kReject, dispatcher, After(line1_, now_, Minutes(r.rng.Uniform(3, 25)), dispatcher));
            } else if (needs_triage) {
                Push(r, StepKind::kTriage, dispatcher, first_move(dispatcher));
            } else {
                Push(r, StepKind::kTake, a, first_move(a));
            }
            return;
        case StageRole::kQueued:
            if (needs_triage) {
                Push(r, StepKind::kTriage, dispatcher, first_move(dispatcher));
            } else {
                const bool urgent = kPriorities[r.priority].priority == sla::Priority::kUrgent;
                Push(r,
                     StepKind::kTake,
                     a,
                     After(HoursOf(a), now_, Minutes(urgent ? r.rng.Uniform(1, 8) : r.rng.Uniform(2, 50)), a));
            }
            return;
        case StageRole::kInProgress:
        case StageRole::kWaiting:
            if (needs_triage) {
                Push(r, StepKind::kTriage, dispatcher, first_move(dispatcher));
                return;
            }
            break;
        case StageRole::kReview:
            break;
        case StageRole::kDone:
        case StageRole::kRejected:
            return;
    }

    if (s.role == StageRole::kWaiting) {
        // The requester answers within office hours; the assignee picks it up again soon after.
        const double u = r.rng.Uniform();
        const TimeMs answered = After(line1_, now_, Minutes(20 + 360 * u * u), r.requester);
        Push(r, StepKind::kResume, a, After(HoursOf(a), answered, Minutes(r.rng.Uniform(2, 30)), a));
        return;
    }
    if (s.role == StageRole::kReview) {
        const Review choice = r.returns == 0 ? r.script.review : r.script.second_review;
        const double u = r.rng.Uniform();
        if (choice == Review::kAccept) {
            Push(r, StepKind::kAccept, r.requester, After(line1_, now_, Minutes(5 + 480 * u * u), r.requester));
        } else if (choice == Review::kReturn && r.returns == 0) {
            Push(r, StepKind::kReturn, r.requester, After(line1_, now_, Minutes(15 + 240 * u), r.requester));
        }
        return;  // ignored: the service auto-accepts it after the review window
    }

    // In progress with its specialist: plan the work left in this cycle.
    if (!r.remaining) {
        if (r.returns > 0) {
            r.remaining = Minutes(r.rng.Uniform(20, 240));  // rework after a return
        } else if (r.escalated) {
            r.remaining = Minutes(r.rng.Uniform(60, 600));  // line 2 starts afresh
        } else if (targets != nullptr) {
            const sla::Calendar* cal = calendars_.Find(targets->resolution.calendar);
            cal = cal != nullptr ? cal : &line1_;
            const TimeMs span = TargetSpan(targets->resolution, r.filed_at);
            const TimeMs spent = cal->Elapsed(r.filed_at, now_);
            const TimeMs goal = static_cast<TimeMs>(r.script.resolution_share * static_cast<double>(span));
            r.remaining = std::max(goal - spent, Minutes(r.rng.Uniform(10, 40)));
        } else {
            r.remaining = Minutes(r.rng.Uniform(60, 480));
        }
    }
    if (r.script.waits && !r.waited && r.returns == 0) {
        const TimeMs work = static_cast<TimeMs>(static_cast<double>(*r.remaining) * r.rng.Uniform(0.2, 0.6));
        Push(r, StepKind::kPause, a, After(HoursOf(a), now_, work, a), work);
        return;
    }
    Push(r, StepKind::kResolve, a, After(HoursOf(a), now_, *r.remaining, a));
}

std::optional<Snapshot> Player::SnapshotOf(const bj::value& item) const {
    const auto stage = json::StringAt(item, "stageId");
    const bj::value* assignee = json::Find(item, "assignedById");
    if (!stage) {
        return std::nullopt;
    }
    Snapshot s;
    s.assignee = assignee != nullptr ? json::ToInt(*assignee).value_or(0) : 0;
    auto it = layout_.by_status.find(*stage);
    if (it != layout_.by_status.end()) {
        s.funnel = it->second.funnel;
        s.role = it->second.role;
    }
    return s;
}

void Player::Observe(Request& r, const Snapshot& seen) {
    const Snapshot before = r.known;
    r.known = seen;
    const auto line_of = [&](const Snapshot& s) {
        return s.funnel < 0 ? 0 : layout_.funnels[static_cast<std::size_t>(s.funnel)].line;
    };
    if (seen.role == StageRole::kRejected && before.role != StageRole::kRejected) {
        ++day_.auto_closed;
    } else if (seen.role == StageRole::kDone && before.role == StageRole::kReview) {
        ++day_.auto_accepted;
    }
    if (line_of(seen) == 2 && line_of(before) == 1) {
        ++day_.escalated;
        r.escalated = true;
        r.remaining.reset();
    } else if (seen.assignee != before.assignee) {
        ++day_.rerouted;
    }
    DISPATCH_LOG_DEBUG(kLog,
                       "service changed an item",
                       "item={} stage={} funnel={} assignee={}",
                       r.item_id,
                       provision::ToString(seen.role),
                       seen.funnel,
                       seen.assignee);
    Replan(r);
}

Result<void> Player::SetClocks(TimeMs t) {
    if (t <= now_) {
        return {};
    }
    // The emulator first: the service's timers fire as soon as its own clock moves, and what they write must carry
    // the new portal time.
    auto emu = portal_.Clock(bj::object{{"set_ms", t}});
    if (!emu) {
        return emu.error();
    }
    if (service_ != nullptr) {
        auto svc = service_->SetClock(t);
        if (!svc) {
            return svc.error();
        }
    }
    now_ = t;
    ++clock_stops_;
    return {};
}

Result<void> Player::Settle() {
    if (service_ == nullptr) {
        auto flushed = portal_.Flush();
        if (!flushed) {
            return flushed.error();
        }
        return {};
    }
    // Quiet means: nothing was waiting in the portal's event queue and dispatchd was idle, twice in a row. The
    // second round matters: a flush waits for a delivery the emulator's own worker had in flight, whose event only
    // then shows in dispatchd's inbox.
    const auto started = std::chrono::steady_clock::now();
    const auto deadline = started + std::chrono::seconds(options_.settle_timeout_s);
    auto pause = std::chrono::microseconds(500);
    bool quiet_once = false;
    std::int64_t done_before = -1;
    for (int rounds = 1;; ++rounds) {
        auto attempted = portal_.Flush();
        if (!attempted) {
            return attempted.error();
        }
        auto flows = service_->Flows();
        if (!flows) {
            return flows.error();
        }
        const bool quiet = *attempted == 0 && flows->idle;
        if (quiet && quiet_once && flows->outbox_done == done_before) {
            flows_ = std::move(*flows);
            const auto took = std::chrono::steady_clock::now() - started;
            settle_total_ += took;
            settle_max_ = std::max(settle_max_, std::chrono::duration_cast<std::chrono::microseconds>(took));
            ++settles_;
            DISPATCH_LOG_DEBUG(kLog,
                               "settled",
                               "at={} rounds={} ms={}",
                               FormatIso8601(now_),
                               rounds,
                               std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
            return {};
        }
        if (*attempted > 0 || flows->inbox_pending > 0) {
            if (auto nudged = service_->Nudge(); !nudged) {
                return nudged.error();
            }
        }
        quiet_once = quiet;
        done_before = flows->outbox_done;
        if (std::chrono::steady_clock::now() > deadline) {
            return Fail(CoreErrc::kInvalid,
                        fmt::format("dispatchd did not settle within {} s at {}: last /_admin/flows {}",
                                    options_.settle_timeout_s,
                                    FormatIso8601(now_),
                                    Brief(flows->raw)));
        }
        if (!quiet) {
            std::this_thread::sleep_for(pause);
            pause = std::min(pause * 2, std::chrono::microseconds(8000));
        }
    }
}

Result<void> Player::Scan() {
    auto rows = portal_.ListAll(options_.admin_user,
                                "crm.item.list",
                                bj::object{{"entityTypeId", layout_.entity_type_id},
                                           {"select", bj::array{"id", "stageId", "categoryId", "assignedById"}},
                                           {"filter", bj::object{{">=updatedTime", FormatIso8601(last_scan_)}}},
                                           {"order", bj::object{{"id", "ASC"}}}},
                                "items");
    if (!rows) {
        return rows.error();
    }
    last_scan_ = now_;
    for (const auto& row : *rows) {
        const auto id = json::IntAt(row, "id");
        auto it = id ? by_item_.find(*id) : by_item_.end();
        if (it == by_item_.end()) {
            continue;
        }
        Request& r = requests_[static_cast<std::size_t>(it->second)];
        auto seen = SnapshotOf(row);
        if (seen && !(*seen == r.known)) {
            Observe(r, *seen);
        }
    }
    return {};
}

Result<Snapshot> Player::Read(Request& r) {
    auto result = portal_.ActResult(
        options_.admin_user, "crm.item.get", bj::object{{"entityTypeId", layout_.entity_type_id}, {"id", r.item_id}});
    if (!result) {
        return result.error();
    }
    const bj::value* item = json::Find(*result, "item");
    auto s = item != nullptr ? SnapshotOf(*item) : std::nullopt;
    if (!s) {
        return Fail(CoreErrc::kInvalid, fmt::format("crm.item.get {}: no item in {}", r.item_id, Brief(*result)));
    }
    return *s;
}

Result<void> Player::Update(Request& r, std::int64_t actor, bj::object fields) {
    auto result = portal_.ActResult(actor,
                                    "crm.item.update",
                                    bj::object{{"entityTypeId", layout_.entity_type_id},
                                               {"id", r.item_id},
                                               {"fields", std::move(fields)},
                                               {"useOriginalUfNames", "Y"}});
    if (!result) {
        return result.error();
    }
    const bj::value* item = json::Find(*result, "item");
    if (auto s = item != nullptr ? SnapshotOf(*item) : std::nullopt) {
        r.known = *s;
    }
    return {};
}

Result<void> Player::Comment(const Request& r, std::int64_t author, std::string_view text) {
    auto result =
        portal_.ActResult(author,
                          "crm.timeline.comment.add",
                          bj::object{{"fields",
                                      bj::object{{"ENTITY_TYPE", fmt::format("dynamic_{}", layout_.entity_type_id)},
                                                 {"ENTITY_ID", r.item_id},
                                                 {"COMMENT", text},
                                                 {"AUTHOR_ID", author}}}});
    if (!result) {
        return result.error();
    }
    return {};
}

Result<void> Player::File(Request& r) {
    bj::object fields{{"title", r.title}};
    if (!r.template_xml.empty()) {
        fields[layout_.Uf(provision::field_codes::kTemplate)] = layout_.template_ids.at(r.template_xml);
    }
    fields[layout_.Uf(provision::field_codes::kPriority)] =
        layout_.priority_ids.at(std::string(kPriorities[r.priority].xml_id));
    auto result = portal_.ActResult(
        r.requester,
        "crm.item.add",
        bj::object{
            {"entityTypeId", layout_.entity_type_id}, {"fields", std::move(fields)}, {"useOriginalUfNames", "Y"}});
    if (!result) {
        return result.error();
    }
    const bj::value* item = json::Find(*result, "item");
    const auto id = item != nullptr ? json::IntAt(*item, "id") : std::nullopt;
    auto s = item != nullptr ? SnapshotOf(*item) : std::nullopt;
    if (!id || !s) {
        return Fail(CoreErrc::kInvalid, fmt::format("crm.item.add: no item in {}", Brief(*result)));
    }
    r.item_id = *id;
    r.known = *s;
    by_item_[*id] = r.index;
    ++day_.filed;
    // The instant the desk first moves it: a share of the reaction target, in the target's open time.
    if (const sla::TargetRule* targets = TargetsOf(r)) {
        const sla::Calendar* cal = calendars_.Find(targets->reaction.calendar);
        cal = cal != nullptr ? cal : &line1_;
        const TimeMs span = TargetSpan(targets->reaction, r.filed_at);
        r.reaction_at =
            cal->Deadline(r.filed_at, static_cast<TimeMs>(r.script.reaction_share * static_cast<double>(span)))
                .value_or(r.filed_at + span);
        r.reaction_at = (r.reaction_at + kSecondMs - 1) / kSecondMs * kSecondMs;  // people act on whole seconds
    } else {
        r.reaction_at = r.filed_at + kHourMs;
    }
    Replan(r);
    return {};
}

Result<void> Player::Run(const Step& step) {
    Request& r = requests_[static_cast<std::size_t>(step.request)];
    if (step.kind == StepKind::kFile) {
        return File(r);
    }
    if (step.version != r.version || r.closed) {
        return {};  // re-planned since
    }
    ++steps_;
    // People look at the item before they act: if it changed under them, they reconsider.
    auto seen = Read(r);
    if (!seen) {
        return seen.error();
    }
    if (!(*seen == r.known)) {
        Observe(r, *seen);
        return {};
    }
    if (r.known.funnel < 0) {
        return {};  // on a stage the spec does not know: left alone
    }
    const FunnelInfo& funnel = layout_.funnels[static_cast<std::size_t>(r.known.funnel)];
    const auto stage = [&](StageRole role) -> bj::object {
        auto it = funnel.status_by_role.find(role);
        return it == funnel.status_by_role.end()
                   ? bj::object{}
                   : bj::object{{"categoryId", funnel.category_id}, {"stageId", it->second}};
    };
    DISPATCH_LOG_DEBUG(
        kLog, "step", "at={} item={} step={} actor={}", FormatIso8601(now_), r.item_id, Name(step.kind), step.actor);
    Result<void> done;
    switch (step.kind) {
        case StepKind::kFile:
            break;
        case StepKind::kTriage: {
            bj::object fields = r.known.role == StageRole::kNew ? stage(StageRole::kQueued) : bj::object{};
            fields["assignedById"] = PickSpecialist(r, funnel.line);
            done = Update(r, step.actor, std::move(fields));
            if (!r.reacted) {
                ++day_.taken;
            }
            r.reacted = true;
            break;
        }
        case StepKind::kReject:
            done = Comment(r, step.actor, "Closed: no request template chosen. Please file it again with a template.");
            if (done) {
                done = Update(r, step.actor, stage(StageRole::kRejected));
            }
            ++day_.rejected;
            break;
        case StepKind::kTake:
            done = Update(r, step.actor, stage(StageRole::kInProgress));
            if (!r.reacted) {
                ++day_.taken;
            }
            r.reacted = true;
            break;
        case StepKind::kPause:
            done = Comment(r, step.actor, "Could you send a screenshot and the exact time it happened?");
            if (done) {
                done = Update(r, step.actor, stage(StageRole::kWaiting));
            }
            r.waited = true;
            if (r.remaining) {
                r.remaining = std::max<TimeMs>(*r.remaining - step.work, Minutes(10));
            }
            ++day_.paused;
            break;
        case StepKind::kResume:
            done = Comment(r, r.requester, "Here it is, see the attachment.");
            if (done) {
                done = Update(r, step.actor, stage(StageRole::kInProgress));
            }
            break;
        case StepKind::kResolve:
            done = Comment(r, step.actor, "Done, please check.");
            if (done) {
                done = Update(r, step.actor, stage(StageRole::kReview));
            }
            r.remaining.reset();
            ++day_.resolved;
            break;
        case StepKind::kAccept:
            done = Update(r, step.actor, stage(StageRole::kDone));
            ++day_.accepted;
            break;
        case StepKind::kReturn:
            done = Comment(r, step.actor, "Still not working, please have another look.");
            if (done) {
                done = Update(r, step.actor, stage(StageRole::kInProgress));
            }
            ++r.returns;
            r.remaining.reset();
            ++day_.returned;
            break;
    }
    if (!done) {
        return done.error();
    }
    Replan(r);
    return {};
}

void Player::PrintDay(TimeMs day_start) {
    const int open = OpenCount();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
    fmt::print(
        "day={} wd={} filed={} first_moves={} paused={} resolved={} accepted={} returned={} rejected={} "
        "auto_closed={} escalated={} auto_accepted={} rerouted={} open={} wall_s={:.1f}\n",
        stats::FormatDate(zone_.ToLocal(day_start).date),
        kWeekdays[zone_.ToLocal(day_start).weekday],
        day_.filed,
        day_.taken,
        day_.paused,
        day_.resolved,
        day_.accepted,
        day_.returned,
        day_.rejected,
        day_.auto_closed,
        day_.escalated,
        day_.auto_accepted,
        day_.rerouted,
        open,
        wall);
    std::fflush(stdout);
    totals_ += day_;
    day_ = DayCounters{};
}

Result<void> Player::Play(TimeMs start, TimeMs end) {
    now_ = start;
    last_scan_ = start;
    wall_start_ = std::chrono::steady_clock::now();
    if (auto settled = Settle(); !settled) {
        return settled.error();
    }
    TimeMs day_start = zone_.StartOf(zone_.ToLocal(start).date);
    TimeMs next_midnight = NextMidnight(start);
    for (;;) {
        // The next stop: the next planned human step, the service's next timer or retry, the next midnight (a
        // progress line), or the end; never further than any of them.
        TimeMs target = queue_.empty() ? kNever : std::max(queue_.top().at, now_);
        if (flows_) {
            for (const auto& wake : {flows_->next_timer, flows_->next_action}) {
                if (wake && *wake > now_) {
                    target = std::min(target, *wake);
                }
            }
        }
        target = std::min({target, next_midnight, end});
        if (target > now_) {
            // The system was idle at the last settle; moving the clock gives it work only when a timer or a retry
            // falls due by the new instant.
            bool wakes = false;
            if (flows_) {
                for (const auto& wake : {flows_->next_timer, flows_->next_action}) {
                    wakes = wakes || (wake && *wake <= target);
                }
            }
            if (auto set = SetClocks(target); !set) {
                return set.error();
            }
            if (wakes) {
                if (auto settled = Settle(); !settled) {
                    return settled.error();
                }
                if (auto scanned = Scan(); !scanned) {
                    return scanned.error();
                }
            }
        }
        if (now_ >= next_midnight) {
            PrintDay(day_start);
            day_start = next_midnight;
            next_midnight = NextMidnight(next_midnight);
        }
        if (now_ >= end) {
            if (now_ > day_start) {
                PrintDay(day_start);
            }
            return {};
        }
        // Everyone due now acts, then the system settles once.
        bool acted = false;
        while (!queue_.empty() && queue_.top().at <= now_) {
            const Step step = queue_.top();
            queue_.pop();
            if (auto ran = Run(step); !ran) {
                return Error{ran.error().code,
                             fmt::format("{} of item {} (request {}) at {}: {}",
                                         Name(step.kind),
                                         requests_[static_cast<std::size_t>(step.request)].item_id,
                                         step.request,
                                         FormatIso8601(now_),
                                         ran.error().detail)};
            }
            acted = true;
        }
        if (acted) {
            if (auto settled = Settle(); !settled) {
                return settled.error();
            }
            if (auto scanned = Scan(); !scanned) {
                return scanned.error();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The summary.

struct SummaryRow {
    std::string name;
    std::int64_t requests = 0;
    std::int64_t auto_closed = 0;
    std::optional<double> reaction_median;
    std::optional<double> resolution_median;
    std::optional<double> reaction_on_time;
    std::optional<double> resolution_on_time;
    std::int64_t returns = 0;
    std::int64_t auto_accepted = 0;
};

std::optional<double> Number(const bj::value* v) {
    if (v == nullptr || v->is_null()) {
        return std::nullopt;
    }
    if (v->is_double()) {
        return v->get_double();
    }
    if (auto i = json::ToInt(*v)) {
        return static_cast<double>(*i);
    }
    return std::nullopt;
}

SummaryRow RowFromKpis(std::string name, const bj::value& kpis) {
    SummaryRow row;
    row.name = std::move(name);
    const auto at = [&](std::initializer_list<std::string_view> path) {
        const bj::value* v = &kpis;
        for (auto key : path) {
            v = v != nullptr ? json::Find(*v, key) : nullptr;
        }
        return Number(v);
    };
    row.requests = static_cast<std::int64_t>(at({"created"}).value_or(0));
    row.auto_closed = static_cast<std::int64_t>(at({"auto_closed"}).value_or(0));
    row.reaction_median = at({"reaction", "business", "median"});
    row.resolution_median = at({"resolution", "business", "median"});
    row.reaction_on_time = at({"reaction", "on_time_percent"});
    row.resolution_on_time = at({"resolution", "on_time_percent"});
    row.returns = static_cast<std::int64_t>(at({"returns"}).value_or(0));
    row.auto_accepted = static_cast<std::int64_t>(at({"auto_accepted"}).value_or(0));
    return row;
}

std::string TemplateLabel(std::string_view name) { return name.empty() ? "(none)" : std::string(name); }

// Rows per template in the spec's order, then the total.
std::vector<SummaryRow> FromStats(const bj::value& report) {
    std::vector<SummaryRow> rows;
    std::map<std::string, SummaryRow> by_template;
    if (const bj::value* list = json::Find(report, "rows"); list != nullptr && list->is_array()) {
        for (const auto& r : list->get_array()) {
            const std::string name = json::StringAt(r, "template").value_or("");
            if (const bj::value* kpis = json::Find(r, "kpis")) {
                by_template[name] = RowFromKpis(TemplateLabel(name), *kpis);
            }
        }
    }
    for (const auto& m : Mix()) {
        for (auto& [name, row] : by_template) {
            if (Lower(name) == Lower(m.xml_id)) {
                rows.push_back(row);
            }
        }
    }
    for (auto& [name, row] : by_template) {
        if (std::none_of(
                rows.begin(), rows.end(), [&](const SummaryRow& r) { return r.name == TemplateLabel(name); })) {
            rows.push_back(row);
        }
    }
    if (const bj::value* totals = json::Find(report, "totals")) {
        rows.push_back(RowFromKpis("all", *totals));
    }
    return rows;
}

// Without the service (--no-service) nothing computes SLA figures: the summary counts the items per template, and
// the requests the dispatcher rejected for want of a template.
Result<std::vector<SummaryRow>> FromItems(Portal& portal, const Layout& layout, const Options& options) {
    auto items = portal.ListAll(options.admin_user,
                                "crm.item.list",
                                bj::object{{"entityTypeId", layout.entity_type_id},
                                           {"select", bj::array{"*"}},
                                           {"order", bj::object{{"id", "ASC"}}},
                                           {"useOriginalUfNames", "Y"}},
                                "items");
    if (!items) {
        return items.error();
    }
    const std::string all =
        "\x01"
        "all";  // sorts apart from any template code
    std::map<std::string, SummaryRow> by;
    for (const auto& item : *items) {
        std::string name;
        if (auto id = json::IntAt(item, layout.Uf(provision::field_codes::kTemplate))) {
            auto it = layout.template_by_id.find(*id);
            name = it != layout.template_by_id.end() ? it->second : "";
        }
        auto ref = layout.by_status.find(json::StringAt(item, "stageId").value_or(""));
        const bool rejected = ref != layout.by_status.end() && ref->second.role == StageRole::kRejected;
        for (const std::string& key : {name, all}) {
            SummaryRow& row = by[key];
            ++row.requests;
            row.auto_closed += rejected && name.empty() ? 1 : 0;
        }
    }
    std::vector<SummaryRow> rows;
    for (const auto& m : Mix()) {
        if (auto it = by.find(std::string(m.xml_id)); it != by.end()) {
            it->second.name = TemplateLabel(m.xml_id);
            rows.push_back(it->second);
        }
    }
    by[all].name = "all";
    rows.push_back(by[all]);
    return rows;
}

std::string Cell(const std::optional<double>& v, std::string_view unit = "") {
    return v ? fmt::format("{:.1f}{}", *v, unit) : std::string("-");
}

void PrintTable(const std::vector<SummaryRow>& rows) {
    fmt::print("\n{:<10} {:>8} {:>11} {:>13} {:>15} {:>13} {:>15} {:>8} {:>13}\n",
               "template",
               "requests",
               "auto-closed",
               "reaction med",
               "resolution med",
               "reaction ok",
               "resolution ok",
               "returns",
               "auto-accepted");
    fmt::print("{:<10} {:>8} {:>11} {:>13} {:>15} {:>13} {:>15} {:>8} {:>13}\n",
               "",
               "",
               "",
               "(bus. min)",
               "(bus. min)",
               "(% on time)",
               "(% on time)",
               "",
               "");
    for (const auto& r : rows) {
        if (r.name == "all") {
            fmt::print("{}\n", std::string(114, '-'));
        }
        fmt::print("{:<10} {:>8} {:>11} {:>13} {:>15} {:>13} {:>15} {:>8} {:>13}\n",
                   r.name,
                   r.requests,
                   r.auto_closed,
                   Cell(r.reaction_median),
                   Cell(r.resolution_median),
                   Cell(r.reaction_on_time, "%"),
                   Cell(r.resolution_on_time, "%"),
                   r.returns,
                   r.auto_accepted);
    }
}

// ---------------------------------------------------------------------------------------------------------------

int Main(int argc, char** argv) {
    const auto wall_start = std::chrono::steady_clock::now();
    std::string why;
    auto parsed = ParseArgs(argc, argv, why);
    if (!parsed) {
        return Usage(why);
    }
    const Options& options = *parsed;
    const auto fail = [](std::string_view what, const Error& e) {
        DISPATCH_LOG_ERROR(kLog, "demo failed", "stage={} error={}", what, log::Quote(e.detail));
        fmt::print(stderr, "dispatch-demo: {}: {}\n", what, e.detail);
        return 1;
    };

    const auto month = sla::ParseLocalDate(options.month + "-01");
    if (options.month.size() != 7 || !month) {
        return fail(
            "arguments",
            Error{make_error_code(CoreErrc::kInvalid), fmt::format("--month {}: expected YYYY-MM", options.month)});
    }
    auto spec = provision::LoadWorkplaceSpec(options.workplace, options.workplace_schema);
    if (!spec) {
        return fail("workplace spec", spec.error());
    }
    auto sla_doc = json::ParseFile(options.sla);
    if (!sla_doc) {
        return fail("sla policy", sla_doc.error());
    }
    auto sla_config = sla::ParseSlaConfig(*sla_doc);
    if (!sla_config) {
        return fail("sla policy", sla_config.error());
    }
    auto calendars = sla::CompileCalendars(sla_config->calendars, month->year - 1, month->year + 1);
    if (!calendars) {
        return fail("calendars", calendars.error());
    }
    const sla::Policy& policy = sla_config->policy;
    // The lines' hours: the calendars of the default normal-priority reaction target (line 1) and its line-2 OLA.
    const sla::TargetRule* normal = policy.SelectTargets(sla::Priority::kNormal, "");
    const sla::Calendar* line1 = normal != nullptr ? calendars->Find(normal->reaction.calendar) : nullptr;
    const sla::Calendar* line2 =
        normal != nullptr && normal->line2_ola ? calendars->Find(normal->line2_ola->calendar) : line1;
    if (line1 == nullptr || line2 == nullptr || policy.Users(sla::Role::kLine1Dispatcher).empty()) {
        return fail("sla policy",
                    Error{make_error_code(CoreErrc::kInvalid),
                          "needs a normal-priority target with calendars and a line-1 dispatcher"});
    }
    auto located = stats::Zone::Locate(line1->Zone());
    if (!located) {
        return fail("time zone", located.error());
    }
    const stats::Zone zone = *located;

    Wire wire(options.ca, options.service_token);
    Portal portal(wire, options.emu);
    std::optional<Service> service;
    if (!options.no_service) {
        service.emplace(wire, options.service);
    }

    auto layout = Discover(portal, *spec, options);
    if (!layout) {
        return fail("portal layout", layout.error());
    }
    DISPATCH_LOG_INFO(kLog,
                      "portal layout found",
                      "entity_type_id={} type_id={} funnels={} stages={}",
                      layout->entity_type_id,
                      layout->type_id,
                      layout->funnels.size(),
                      layout->by_status.size());
    Staff staff = StaffOf(policy);
    Rng people_rng(StreamSeed(options.seed, 0xBEEF));
    auto requesters = Requesters(portal, staff, options, people_rng);
    if (!requesters) {
        return fail("company", requesters.error());
    }

    // Both clocks start where the later one is; arrivals before that instant are not played.
    auto emu_now = portal.Clock(bj::object{});
    if (!emu_now) {
        return fail("emulator clock", emu_now.error());
    }
    TimeMs start = *emu_now;
    if (service) {
        auto flows = service->Flows();
        if (!flows) {
            return fail("dispatchd", flows.error());
        }
        start = std::max(start, flows->now);
    }
    const TimeMs month_start = stats::ParseRangeStart(options.month, zone).value();
    const TimeMs month_end = stats::ParseRangeEnd(options.month, zone).value();
    if (start >= month_end) {
        return fail("clocks",
                    Error{make_error_code(CoreErrc::kInvalid),
                          fmt::format("the clocks are at {}, after the month {} (start b24emu with --start "
                                      "{} and dispatchd's clock there too)",
                                      FormatIso8601(start),
                                      options.month,
                                      FormatIso8601(month_start))});
    }
    // Past the month's end plus 4 business days: reviews left at the month's end are auto-accepted by then.
    const TimeMs end = line1->AddBusinessDays(month_end, 4, true).value_or(month_end + 7 * kDayMs) + kMinuteMs;

    Player player(options,
                  portal,
                  service ? &*service : nullptr,
                  *layout,
                  policy,
                  *calendars,
                  *line1,
                  *line2,
                  zone,
                  std::move(staff));
    player.PlanArrivals(std::max(start, month_start), month_end, *requesters);
    fmt::print(
        "dispatch-demo: month={} requests={} seed={} requesters={} entity_type_id={} service={} from={} "
        "until={}\n",
        options.month,
        player.Requests().size(),
        options.seed,
        requesters->size(),
        layout->entity_type_id,
        service ? service->Base() : std::string("none"),
        FormatIso8601(std::max(start, month_start)),
        FormatIso8601(end));
    std::fflush(stdout);
    const auto play_start = std::chrono::steady_clock::now();
    if (auto played = player.Play(std::max(start, month_start), end); !played) {
        return fail("play", played.error());
    }
    const double play_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - play_start).count();

    std::vector<SummaryRow> rows;
    std::string source;
    if (service) {
        const std::string query = fmt::format(
            "from={}&to={}&group_by=template", options.month, stats::FormatDate(zone.ToLocal(end - kMinuteMs).date));
        auto stats = service->Stats(options.member, query);
        if (!stats) {
            return fail("stats", stats.error());
        }
        rows = FromStats(*stats);
        source =
            fmt::format("dispatchd stats API ({}/api/v1/portals/{}/stats?{})", service->Base(), options.member, query);
    } else {
        auto from_items = FromItems(portal, *layout, options);
        if (!from_items) {
            return fail("summary", from_items.error());
        }
        rows = std::move(*from_items);
        source = "the items in the portal (no service: counts only)";
    }
    const DayCounters& t = player.Totals();
    const int open_at_end = player.OpenCount();
    fmt::print("\nSummary of {} (source: {})\n", options.month, source);
    PrintTable(rows);
    fmt::print(
        "\npeople: filed={} first_moves={} paused={} resolved={} accepted={} returned={} rejected={} | seen "
        "from the service: auto_closed={} escalated={} auto_accepted={} rerouted={} | still open={}\n",
        t.filed,
        t.taken,
        t.paused,
        t.resolved,
        t.accepted,
        t.returned,
        t.rejected,
        t.auto_closed,
        t.escalated,
        t.auto_accepted,
        t.rerouted,
        open_at_end);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    fmt::print(
        "wall time: {:.1f} s (play {:.1f} s; {} steps, {} clock stops, {} settles taking {:.1f} s, the longest "
        "{:.0f} ms; {} HTTP calls)\n",
        wall,
        play_s,
        player.Steps(),
        player.ClockStops(),
        player.Settles(),
        player.SettleSeconds(),
        player.SettleMaxMs(),
        wire.Calls());
    if (service) {
        fmt::print("dashboard: {}/dashboard\n", service->Base());
    }
    return 0;
}

}  // namespace
}  // namespace dispatch::demo

int main(int argc, char** argv) {
    dispatch::log::SetLevel(
        dispatch::log::ParseLevel(std::getenv("DISPATCH_LOG_LEVEL") != nullptr ? std::getenv("DISPATCH_LOG_LEVEL") : "",
                                  dispatch::log::Level::kWarn));
    return dispatch::demo::Main(argc, argv);
}
