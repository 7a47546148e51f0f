#pragma once
// The report as the stats API serves it: JSON (with the glossary, the policy's targets and templates) and CSV (one
// header row, then one line per row of the report). Instants are ISO 8601 with the portal zone's offset.

#include <string>

#include "stats/export.hpp"
#include "stats/kpi.hpp"
#include "stats/zone.hpp"

namespace dispatch::stats {

// {"zone", "from", "to", "now", "group_by": {"period", "dimensions"}, "filter", "rows": [{"period", "from", "to",
//  [dimensions], "kpis"}], "totals", "arrivals": {"by_hour", "by_weekday", "by_weekday_hour"},
//  "load": {"at", "by_assignee": [{"assignee", "open"}]}, "targets", "templates", "glossary"}.
// Figures without samples are null. Numbers print in their shortest form (12.5, not 1.25E1).
std::string RenderJson(const Report& report, const Zone& zone);

// The CSV columns, in order (the dimension columns only when grouped by them).
std::vector<std::string> CsvHeader(const Report& report);
// RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted; text that a spreadsheet would run as a
// formula (leading =, +, -, @) is prefixed with an apostrophe. Figures without samples are empty.
std::string RenderCsv(const Report& report, const Zone& zone);

// The KPI items as JSON: [{"key", "title", "fields": {code: value}}] (dispatchctl stats export --dry-run, tests).
std::string RenderKpiItems(const std::vector<KpiItem>& items);

}  // namespace dispatch::stats
