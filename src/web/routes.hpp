#pragma once
// The statistics API and the dashboard (issue #8) as routes on an http::Router:
//   GET /api/v1/portals/{member_id}/stats?from=&to=&group_by=[&line=&template=&priority=&assignee=][&format=csv]
//   GET /dashboard[?member_id=...]      the page (plain HTML/JS, embedded; no CDN: the chart library is embedded
//   GET /dashboard/assets/{file}        too, from src/web/node_modules at build time)
//
// Query parameters of the stats route (every one optional; an unknown one is a 400):
//   from, to   local calendar bounds in the portal's zone, "YYYY", "YYYY-MM" or "YYYY-MM-DD", both included
//              (stats/zone.hpp). Defaults: from the first day of the current local year, to today; grouped by
//              year, from the first day of the year four years back, to the end of the current month.
//   group_by   "month" or "year" and/or any of "assignee", "line", "template", "priority", comma-separated.
//   line, template, priority, assignee   filters (stats::Filter); template= (empty) selects requests without one.
//   format     "json" (default) or "csv" (one header row; text/csv, as an attachment).
// Answers: 200; 401 {"error": ...} without the bearer token Options::api_token asks for; 400 {"error": reason} for a
// bad parameter; 404 {"error": ...} for a portal the source does not know (CoreErrc::kNotFound); 503 when the source
// fails otherwise (logged once here, no detail to the caller).
//
// Threads: the stats route is a blocking one (http::Router::AddBlocking): the source and the fold of the report run
// on the router's offload (dispatchd's WorkPool), never on an io thread; a router without one runs them inline.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "http/server.hpp"
#include "sla/fold.hpp"
#include "sla/policy.hpp"
#include "stats/zone.hpp"

namespace dispatch::web {

// Every ticket of the portal folded at `now` (sla::Fold). The FoldResults' raw pointers (MetricClock::calendar,
// rule, target) point into the Policy and CalendarSet the source folded with: the source keeps those alive while
// it folds. Once returned, the statistics read only values, never those pointers (stats/kpi.hpp), so the results
// may outlive a policy reload. Called on the offload executor, possibly on several threads at once.
using FoldSource = std::function<Result<std::vector<sla::FoldResult>>(std::string_view member_id, TimeMs now)>;

struct Options {
    // /dashboard without ?member_id= redirects to this portal's page when set (single-portal deployments, the
    // demo); otherwise the page asks for one.
    std::string default_member_id;
    // The statistics API asks for "Authorization: Bearer <api_token>" when set (dispatchd's flows.api_token_env):
    // KPIs per assignee are personnel data. The page and its assets stay public (no data in them); the page reads
    // the token from its fragment (/dashboard#token=...) and sends it with every API call.
    std::string api_token;
};

class Routes {
public:
    // `policy` gives the targets and templates served with the data (kept alive by the routes); `clock` gives "now"
    // and must outlive every request; `zone` is the portal's (stats::PortalZone).
    Routes(FoldSource source,
           std::shared_ptr<const sla::Policy> policy,
           const Clock& clock,
           stats::Zone zone,
           Options options = {});

    // Adds the routes; they share this object's state (kept alive by the router), so the Routes may go away.
    void Register(http::Router& router) const;

    // The names of the embedded dashboard assets ("dashboard.js", "chart.umd.js", ...): for tests and logs.
    static std::vector<std::string> AssetNames();
    // False when the build found no chart library to embed (scripts/setup.sh --web was not run): the page then
    // says so instead of drawing.
    static bool ChartLibraryEmbedded();

private:
    struct State;
    std::shared_ptr<const State> state_;
};

}  // namespace dispatch::web
