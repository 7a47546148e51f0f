#include "stats/export.hpp"

#include <fmt/format.h>

namespace dispatch::stats {
namespace {

std::string LineCode(int line) {
    if (line == 1 || line == 2) {
        return "line" + std::to_string(line);
    }
    return "other";
}

KpiValue Value(const std::optional<double>& v) { return v ? KpiValue{*v} : KpiValue{}; }

// The first instant of the month (or year) holding `t`; and `t` itself when it starts one, else the first instant
// of the next.
TimeMs FloorTo(PeriodKind kind, TimeMs t, const Zone& zone) {
    const sla::LocalDate d = zone.ToLocal(t).date;
    return zone.StartOf(sla::LocalDate{d.year, kind == PeriodKind::kYear ? 1u : d.month, 1});
}

TimeMs CeilTo(PeriodKind kind, TimeMs t, const Zone& zone) {
    if (FloorTo(kind, t, zone) == t) {
        return t;
    }
    return zone.StartOf(NextPeriodStart(zone.ToLocal(t).date, kind));
}

KpiItem MakeItem(const Row& row, ScopeKind scope, std::string scope_value, const Zone& zone) {
    static const KpiFieldCodes codes;
    KpiItem item;
    item.period_kind = row.period_kind;
    item.period = row.period;
    item.scope = scope;
    item.scope_value = std::move(scope_value);
    const std::string_view kind = Name(row.period_kind);
    switch (scope) {
        case ScopeKind::kAll:
            item.key = fmt::format("{}:{}:all", kind, row.period);
            item.title = fmt::format("KPI {} · all requests", row.period);
            break;
        case ScopeKind::kLine:
            item.key = fmt::format("{}:{}:line:{}", kind, row.period, item.scope_value);
            item.title = fmt::format("KPI {} · line {}", row.period, item.scope_value);
            break;
        case ScopeKind::kAssignee:
            item.key = fmt::format("{}:{}:assignee:{}", kind, row.period, item.scope_value);
            item.title = fmt::format("KPI {} · assignee {}", row.period, item.scope_value);
            break;
    }
    const Kpis& k = row.kpis;
    auto& f = item.fields;
    f[codes.key] = item.key;
    f[codes.period_kind] = std::string(XmlId(row.period_kind));
    f[codes.period_start] = FormatDate(zone.ToLocal(row.period_from).date);
    f[codes.scope_kind] = std::string(XmlId(scope));
    f[codes.scope_value] = item.scope_value;
    f[codes.created] = k.created;
    f[codes.closed] = k.closed;
    f[codes.auto_closed] = k.auto_closed;
    f[codes.reaction_median] = Value(k.reaction.business.median);
    f[codes.reaction_p90] = Value(k.reaction.business.p90);
    f[codes.resolution_median] = Value(k.resolution.business.median);
    f[codes.resolution_p90] = Value(k.resolution.business.p90);
    f[codes.reaction_on_time_percent] = Value(k.reaction.on_time_percent);
    f[codes.resolution_on_time_percent] = Value(k.resolution.on_time_percent);
    f[codes.returns] = k.returns;
    f[codes.return_rate] = Value(k.return_rate_percent);
    f[codes.auto_accepted_share] = Value(k.auto_accepted_percent);
    f[codes.open_load] = k.open_at_end;
    return item;
}

}  // namespace

std::string_view XmlId(ScopeKind scope) {
    switch (scope) {
        case ScopeKind::kAll:
            return "ALL";
        case ScopeKind::kLine:
            return "LINE";
        case ScopeKind::kAssignee:
            return "ASSIGNEE";
    }
    return "ALL";
}

std::string_view XmlId(PeriodKind period) { return period == PeriodKind::kYear ? "YEAR" : "MONTH"; }

Result<std::vector<KpiItem>> ExportKpis(const std::vector<sla::FoldResult>& tickets,
                                        const sla::Policy& policy,
                                        const Zone& zone,
                                        const ExportOptions& options) {
    // Per period kind: all requests, per line, per assignee; six reports from one pass over the tickets.
    constexpr PeriodKind kKinds[] = {PeriodKind::kMonth, PeriodKind::kYear};
    const std::vector<std::vector<Dimension>> kScopes = {{}, {Dimension::kLine}, {Dimension::kAssignee}};
    std::vector<Query> queries;
    for (const PeriodKind kind : kKinds) {
        for (const auto& dimensions : kScopes) {
            Query query;
            query.from = FloorTo(kind, options.from, zone);
            query.to = CeilTo(kind, options.to, zone);
            query.now = options.now;
            query.group_by.period = kind;
            query.group_by.dimensions = dimensions;
            queries.push_back(std::move(query));
        }
    }
    auto reports = ComputeAll(tickets, policy, zone, queries);
    if (!reports) {
        return reports.error();
    }
    std::vector<KpiItem> items;
    for (std::size_t k = 0; k < std::size(kKinds); ++k) {
        const Report& all = (*reports)[k * kScopes.size()];
        const Report& lines = (*reports)[k * kScopes.size() + 1];
        const Report& assignees = (*reports)[k * kScopes.size() + 2];
        // Period by period: all, then its lines, then its assignees.
        for (const Row& row : all.rows) {
            items.push_back(MakeItem(row, ScopeKind::kAll, "", zone));
            for (const Row& r : lines.rows) {
                if (r.period == row.period) {
                    items.push_back(MakeItem(r, ScopeKind::kLine, LineCode(*r.line), zone));
                }
            }
            for (const Row& r : assignees.rows) {
                if (r.period == row.period && *r.assignee != 0) {
                    items.push_back(MakeItem(r, ScopeKind::kAssignee, std::to_string(*r.assignee), zone));
                }
            }
        }
    }
    return items;
}

}  // namespace dispatch::stats
