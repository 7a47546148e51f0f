#pragma once
// KPIs written back to Bitrix24: one item of the "HelpDesk KPI" smart process per period and scope (stats::
// ExportKpis), found by its KPI_KEY, created when missing, and updated with only the fields whose values differ
// from what the portal holds (so a re-run that changes nothing writes nothing). The writes go through the outbox
// like every other action: batched, retried by class, never doubled.

#include <string>
#include <string_view>

#include "core/error.hpp"
#include "flows/runtime.hpp"
#include "stats/export.hpp"

namespace dispatch::flows {

inline constexpr std::string_view kKpiProcess = "helpdesk_kpi";
inline constexpr std::string_view kKpiTimer = "kpi";

struct KpiExportResult {
    int items = 0;    // KPI items computed
    int created = 0;  // crm.item.add queued
    int updated = 0;  // crm.item.update queued (changed fields only)
    int unchanged = 0;
    // The portal's KPI writes that had already failed for good before these were queued (KpiOutboxPrefix): a
    // caller waiting for these counts only the failures beyond it.
    std::int64_t dead_before = 0;
};

// The start of every KPI write's idempotency key (and outbox subject) for the portal: "<member_id>/kpi/".
std::string KpiOutboxPrefix(std::string_view member_id);

// Folds every ticket of the portal at now, computes the month and year items for [from, to) and queues the writes.
// kNotFound when the portal's layout has no KPI process.
[[nodiscard]] Result<KpiExportResult> ExportKpis(Runtime& runtime, std::string_view member_id, TimeMs from, TimeMs to);

// A bound of the export range as an admin types it: an ISO 8601 instant, or a date of the portal's calendar
// ("2026", "2026-11", "2026-11-05"; an `is_end` bound includes that whole period), read in the portal's zone.
[[nodiscard]] Result<TimeMs> ParseExportBound(const Runtime& runtime, std::string_view text, bool is_end);

// The crm.item field values of one KPI item as Bitrix24 stores them (enumerations as option ids, dates as
// YYYY-MM-DD, empty figures cleared), keyed by item field name.
bj::object KpiItemFields(const stats::KpiItem& item, const provision::ProcessIds& ids);

}  // namespace dispatch::flows
