#pragma once
// The export shape for the "HelpDesk KPI" smart process (issue #8, workplace/helpdesk.json `helpdesk_kpi`): one
// item per (period, scope), months and years, for all requests, per line and per assignee, each a key and a map
// field code → value. The writer (flows, dispatchctl stats export) matches items by the key, maps enumeration
// xml_ids to the portal's item ids and writes only the fields that changed; nothing here knows Bitrix24 ids.
//
// Keys follow the KPI_KEY field's documented form "period kind:period:scope[:value]":
//   "month:2026-03:all", "month:2026-03:line:line1", "month:2026-03:assignee:22", "year:2026:all".

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "sla/fold.hpp"
#include "sla/policy.hpp"
#include "stats/kpi.hpp"
#include "stats/zone.hpp"

namespace dispatch::stats {

// Empty (monostate) when a figure has no samples: the writer clears the field.
using KpiValue = std::variant<std::monostate, std::int64_t, double, std::string>;

// The KPI field codes (the same strings as provision::field_codes::kKpi*; copied because stats does not depend on
// provision). KPI_COMPUTED_AT is left to the writer: it would change on every run and defeat "only changed fields".
struct KpiFieldCodes {
    std::string key = "KPI_KEY";
    std::string period_kind = "KPI_PERIOD_KIND";    // enumeration xml_id: MONTH, YEAR
    std::string period_start = "KPI_PERIOD_START";  // date "2026-03-01"
    std::string scope_kind = "KPI_SCOPE_KIND";      // enumeration xml_id: ALL, LINE, ASSIGNEE
    std::string scope_value = "KPI_SCOPE_VALUE";    // "", the line's funnel code, the user id
    std::string created = "KPI_CREATED";
    std::string closed = "KPI_CLOSED";
    std::string auto_closed = "KPI_AUTO_CLOSED";
    std::string reaction_median = "KPI_REACTION_MEDIAN";  // business minutes
    std::string reaction_p90 = "KPI_REACTION_NINETIETH";
    std::string resolution_median = "KPI_RESOLUTION_MEDIAN";
    std::string resolution_p90 = "KPI_RESOLUTION_NINETIETH";
    std::string reaction_on_time_percent = "KPI_REACTION_ON_TIME_PERCENT";
    std::string resolution_on_time_percent = "KPI_RESOLUTION_ON_TIME_PERCENT";
    std::string returns = "KPI_RETURNS";
    std::string return_rate = "KPI_RETURN_RATE";
    std::string auto_accepted_share = "KPI_AUTO_ACCEPTED_SHARE";
    std::string open_load = "KPI_OPEN_LOAD";
};

enum class ScopeKind { kAll, kLine, kAssignee };
// The enumeration xml_ids: "ALL", "LINE", "ASSIGNEE"; "MONTH", "YEAR".
std::string_view XmlId(ScopeKind scope);
std::string_view XmlId(PeriodKind period);

struct KpiItem {
    std::string key;
    std::string title;  // the item's title: "KPI 2026-03 · line line1"
    PeriodKind period_kind = PeriodKind::kMonth;
    std::string period;  // "2026-03", "2026"
    ScopeKind scope = ScopeKind::kAll;
    std::string scope_value;
    std::map<std::string, KpiValue> fields;  // every code of KpiFieldCodes, KPI_KEY included
};

struct ExportOptions {
    // Every month and year that intersects [from, to), taken whole (a year item is always the full year).
    TimeMs from = 0;
    TimeMs to = 0;
    TimeMs now = 0;  // the fold instant
};

// Items ordered months first, then years; within a period all, lines, assignees (unassigned, 0, gets no item).
// Fields are keyed by KpiFieldCodes{}; a line's scope value is its funnel code in workplace/helpdesk.json
// (1 → "line1", 2 → "line2", anything else → "other"). Fails like Compute.
[[nodiscard]] Result<std::vector<KpiItem>> ExportKpis(const std::vector<sla::FoldResult>& tickets,
                                                      const sla::Policy& policy,
                                                      const Zone& zone,
                                                      const ExportOptions& options);

}  // namespace dispatch::stats
