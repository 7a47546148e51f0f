#include "web/routes.hpp"

#include <fmt/format.h>

#include <exception>
#include <map>
#include <optional>
#include <set>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "stats/kpi.hpp"
#include "stats/render.hpp"
#include "web/assets.hpp"

namespace dispatch::web {
namespace {

constexpr log::Logger kLog{"web"};

// The page and its scripts come only from this server; the charts draw on canvases.
constexpr std::string_view kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

struct Asset {
    std::string_view name;
    std::string_view content_type;
    std::string_view body;
    std::string etag;
};

std::string Etag(std::string_view body) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a: a cache validator, not a security property
    for (unsigned char c : body) {
        h = (h ^ c) * 1099511628211ull;
    }
    return fmt::format("\"{:016x}\"", h);
}

// Bitrix24 member ids are 32 hex digits; anything path-safe and short is accepted so other sources can be used.
bool ValidMemberId(std::string_view id) {
    if (id.empty() || id.size() > 64) {
        return false;
    }
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

http::Response JsonError(int status, std::string_view reason) {
    http::Response res = http::Response::Json(status, json::Dump(json::bj::object{{"error", reason}}));
    res.WithHeader("Cache-Control", "no-store");
    return res;
}

// json::ParseInt without the surrounding spaces it forgives in Bitrix24 ids: "line=+2" decodes to " 2".
std::optional<std::int64_t> ParseInteger(std::string_view text) {
    if (!text.empty() && (text.front() == ' ' || text.back() == ' ')) {
        return std::nullopt;
    }
    return json::ParseInt(text);
}

struct StatsRequest {
    stats::Query query;
    bool csv = false;
};

// The query string of the stats route → a stats query; the error detail is the 400's reason.
Result<StatsRequest> ParseStatsRequest(const std::vector<std::pair<std::string, std::string>>& params,
                                       const stats::Zone& zone,
                                       TimeMs now) {
    std::map<std::string, std::string> given;
    for (const auto& [key, value] : params) {
        static const std::set<std::string> kKnown = {
            "from", "to", "group_by", "format", "line", "template", "priority", "assignee"};
        if (kKnown.count(key) == 0) {
            return Fail(CoreErrc::kInvalid, "unknown parameter '" + key + "'");
        }
        if (!given.emplace(key, value).second) {
            return Fail(CoreErrc::kInvalid, "parameter '" + key + "' given twice");
        }
    }
    const auto get = [&](const std::string& key) -> const std::string* {
        const auto it = given.find(key);
        return it == given.end() ? nullptr : &it->second;
    };

    StatsRequest out;
    stats::Query& q = out.query;
    q.now = now;
    if (const std::string* group_by = get("group_by")) {
        auto parsed = stats::ParseGroupBy(*group_by);
        if (!parsed) {
            return parsed.error();
        }
        q.group_by = std::move(*parsed);
    }
    // The year view's first visit shows the last five years; everything else defaults to this year so far.
    const sla::LocalDate today = zone.ToLocal(now).date;
    const bool years = q.group_by.period == stats::PeriodKind::kYear;
    if (const std::string* from = get("from")) {
        auto parsed = stats::ParseRangeStart(*from, zone);
        if (!parsed) {
            return Fail(CoreErrc::kInvalid, "from: " + parsed.error().detail);
        }
        q.from = *parsed;
    } else {
        q.from = zone.StartOf(sla::LocalDate{years ? today.year - 4 : today.year, 1, 1});
    }
    if (const std::string* to = get("to")) {
        auto parsed = stats::ParseRangeEnd(*to, zone);
        if (!parsed) {
            return Fail(CoreErrc::kInvalid, "to: " + parsed.error().detail);
        }
        q.to = *parsed;
    } else {
        q.to = zone.StartOf(years ? stats::NextPeriodStart(today, stats::PeriodKind::kMonth) : stats::NextDay(today));
    }
    if (const std::string* line = get("line")) {
        const auto value = ParseInteger(*line);
        if (!value || *value < 0 || *value > 9) {
            return Fail(CoreErrc::kInvalid, "line: '" + *line + "' is not a line number");
        }
        q.filter.line = static_cast<int>(*value);
    }
    if (const std::string* assignee = get("assignee")) {
        const auto value = ParseInteger(*assignee);
        if (!value || *value < 0) {
            return Fail(CoreErrc::kInvalid, "assignee: '" + *assignee + "' is not a user id");
        }
        q.filter.assignee = *value;
    }
    if (const std::string* priority = get("priority")) {
        const auto value = sla::ParsePriority(*priority);
        if (!value) {
            return Fail(CoreErrc::kInvalid, "priority: '" + *priority + "' is not urgent, high, normal or low");
        }
        q.filter.priority = *value;
    }
    if (const std::string* template_name = get("template")) {
        if (template_name->size() > 200) {
            return Fail(CoreErrc::kInvalid, "template: too long");
        }
        q.filter.template_name = *template_name;
    }
    if (const std::string* format = get("format")) {
        if (*format != "json" && *format != "csv") {
            return Fail(CoreErrc::kInvalid, "format: '" + *format + "' is not json or csv");
        }
        out.csv = *format == "csv";
    }
    if (auto valid = stats::ValidateQuery(q, zone); !valid) {
        return valid.error();
    }
    return out;
}

}  // namespace

struct Routes::State {
    FoldSource source;
    std::shared_ptr<const sla::Policy> policy;
    const Clock* clock = nullptr;
    stats::Zone zone;
    Options options;
    std::vector<Asset> assets;

    explicit State(stats::Zone z) : zone(std::move(z)) {}

    const Asset* FindAsset(std::string_view name) const {
        for (const Asset& a : assets) {
            if (a.name == name) {
                return &a;
            }
        }
        return nullptr;
    }

    // Runs on the router's offload (a blocking route): the unit of work of one stats request.
    void AnswerStats(const std::string& member_id, const StatsRequest& request, const http::Respond& respond) const {
        auto tickets = source(member_id, request.query.now);
        if (!tickets) {
            if (tickets.error().code == make_error_code(CoreErrc::kNotFound)) {
                respond(JsonError(404, "unknown portal"));
                return;
            }
            DISPATCH_LOG_WARN(kLog,
                              "stats source failed",
                              "portal={} code={} detail={}",
                              member_id,
                              tickets.error().code.message(),
                              log::Quote(tickets.error().detail));
            respond(JsonError(503, "statistics unavailable, retry later"));
            return;
        }
        auto report = stats::Compute(*tickets, *policy, zone, request.query);
        if (!report) {
            respond(JsonError(400, report.error().detail));
            return;
        }
        http::Response res;
        if (request.csv) {
            res = http::Response::Text(200, stats::RenderCsv(*report, zone));
            res.content_type = "text/csv; charset=utf-8";
            const auto first = stats::FormatDate(zone.ToLocal(request.query.from).date);
            const auto last = stats::FormatDate(zone.ToLocal(request.query.to - 1).date);
            res.WithHeader("Content-Disposition",
                           fmt::format("attachment; filename=\"stats-{}-{}-{}.csv\"", member_id, first, last));
        } else {
            res = http::Response::Json(200, stats::RenderJson(*report, zone));
        }
        res.WithHeader("Cache-Control", "no-store");
        DISPATCH_LOG_DEBUG(
            kLog, "stats served", "portal={} tickets={} rows={}", member_id, tickets->size(), report->rows.size());
        respond(std::move(res));
    }
};

Routes::Routes(FoldSource source,
               std::shared_ptr<const sla::Policy> policy,
               const Clock& clock,
               stats::Zone zone,
               Options options) {
    auto state = std::make_shared<State>(std::move(zone));
    state->source = std::move(source);
    state->policy = std::move(policy);
    state->clock = &clock;
    state->options = std::move(options);
    for (const detail::EmbeddedAsset& a : detail::EmbeddedAssets()) {
        state->assets.push_back(Asset{a.name, a.content_type, a.body, Etag(a.body)});
    }
    state_ = std::move(state);
}

std::vector<std::string> Routes::AssetNames() {
    std::vector<std::string> names;
    for (const detail::EmbeddedAsset& a : detail::EmbeddedAssets()) {
        names.emplace_back(a.name);
    }
    return names;
}

bool Routes::ChartLibraryEmbedded() { return detail::ChartLibraryPresent(); }

void Routes::Register(http::Router& router) const {
    const std::shared_ptr<const State> state = state_;

    router.AddBlocking("GET", "/api/v1/portals/{member_id}/stats", [state](http::Request&& req, http::Respond respond) {
        if (!req.BearerMatches(state->options.api_token)) {
            http::Response res = JsonError(401, "missing or wrong bearer token");
            res.WithHeader("WWW-Authenticate", "Bearer");
            respond(std::move(res));
            return;
        }
        const std::string member_id = req.Param("member_id");
        if (!ValidMemberId(member_id)) {
            respond(JsonError(400, "member_id: expected 1-64 letters, digits, '.', '_' or '-'"));
            return;
        }
        auto request = ParseStatsRequest(req.QueryParams(), state->zone, state->clock->Now());
        if (!request) {
            respond(JsonError(400, request.error().detail));
            return;
        }
        state->AnswerStats(member_id, *request, respond);
    });

    const auto serve = [](const http::Request& req, const Asset& asset) {
        http::Response res;
        if (req.Header("if-none-match") == asset.etag) {
            res.status = 304;
            res.body.clear();
        } else {
            res = http::Response::Text(200, std::string(asset.body));
            res.content_type = std::string(asset.content_type);
        }
        res.WithHeader("ETag", asset.etag);
        res.WithHeader("Cache-Control", "no-cache");
        res.WithHeader("X-Content-Type-Options", "nosniff");
        return res;
    };

    router.Add("GET", "/dashboard", [state, serve](http::Request&& req, http::Respond respond) {
        if (!req.QueryParam("member_id") && !state->options.default_member_id.empty()) {
            // Relative, so that the page also works behind a reverse proxy that adds a path prefix.
            http::Response res = http::Response::Status(302);
            res.WithHeader("Location", "dashboard?member_id=" + state->options.default_member_id);
            respond(std::move(res));
            return;
        }
        const Asset* page = state->FindAsset("index.html");
        if (page == nullptr) {
            respond(http::Response::Status(404));
            return;
        }
        http::Response res = serve(req, *page);
        res.WithHeader("Content-Security-Policy", std::string(kPageCsp));
        res.WithHeader("Referrer-Policy", "no-referrer");
        respond(std::move(res));
    });

    router.Add("GET", "/dashboard/assets/{file}", [state, serve](http::Request&& req, http::Respond respond) {
        const Asset* asset = state->FindAsset(req.Param("file"));
        if (asset == nullptr || asset->name == "index.html") {
            respond(http::Response::Status(404));
            return;
        }
        respond(serve(req, *asset));
    });
}

}  // namespace dispatch::web
