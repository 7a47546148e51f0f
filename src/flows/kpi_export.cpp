#include "flows/kpi_export.hpp"

#include <fmt/format.h>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/time_format.hpp"
#include "flows/actions.hpp"
#include "flows/api.hpp"
#include "flows/item_view.hpp"
#include "stats/zone.hpp"

namespace dispatch::flows {
namespace {

constexpr log::Logger kLog{"kpi"};

bj::value ToValue(const stats::KpiValue& v) {
    if (std::holds_alternative<std::int64_t>(v)) {
        return std::get<std::int64_t>(v);
    }
    if (std::holds_alternative<double>(v)) {
        // Bitrix24 keeps doubles to the field's precision; two decimals are what the dashboard shows.
        return std::round(std::get<double>(v) * 100.0) / 100.0;
    }
    if (std::holds_alternative<std::string>(v)) {
        return bj::value(std::get<std::string>(v));
    }
    return "";
}

// Two exports at one instant (a manual or warped clock: the daily job and `dispatchctl stats export`) may want
// different values: the update's idempotency key carries what it writes, not only when.
std::string ContentTag(const bj::object& fields) {
    std::uint64_t h = 14695981039346656037ull;  // FNV-1a: stable across runs and builds, unlike std::hash
    for (const char c : json::Dump(fields)) {
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    }
    return fmt::format("{:016x}", h);
}

}  // namespace

bj::object KpiItemFields(const stats::KpiItem& item, const provision::ProcessIds& ids) {
    bj::object out;
    const stats::KpiFieldCodes codes;
    for (const auto& [code, value] : item.fields) {
        const std::string name = ItemFieldName(ids, code);
        if (name.empty()) {
            continue;
        }
        if (code == codes.period_kind || code == codes.scope_kind) {
            const std::string xml = std::holds_alternative<std::string>(value) ? std::get<std::string>(value) : "";
            const auto id = ids.EnumId(code, xml);
            if (id != 0) {
                out[name] = id;
            }
            continue;
        }
        out[name] = ToValue(value);
    }
    return out;
}

std::string KpiOutboxPrefix(std::string_view member_id) { return fmt::format("{}/kpi/", member_id); }

Result<TimeMs> ParseExportBound(const Runtime& runtime, std::string_view text, bool is_end) {
    if (text.find('T') != std::string_view::npos) {
        return ParseIso8601(text);
    }
    const auto& engine = runtime.GetEngine();
    auto zone = stats::Zone::Locate(stats::PortalZone(engine.Policy(), engine.Calendars()));
    if (!zone) {
        return zone.error();
    }
    return is_end ? stats::ParseRangeEnd(text, *zone) : stats::ParseRangeStart(text, *zone);
}

Result<KpiExportResult> ExportKpis(Runtime& runtime, std::string_view member_id, TimeMs from, TimeMs to) {
    KpiExportResult result;
    auto layout = runtime.LayoutOf(member_id);
    if (!layout) {
        return layout.error();
    }
    const provision::ProcessIds* kpi = (*layout)->FindProcess(kKpiProcess);
    if (kpi == nullptr) {
        return Fail(CoreErrc::kNotFound, "the layout has no KPI smart process");
    }
    const TimeMs now = runtime.Now();
    auto tickets = FoldAll(runtime, member_id, now);
    if (!tickets) {
        return tickets.error();
    }
    const auto& engine = runtime.GetEngine();
    auto zone = stats::Zone::Locate(stats::PortalZone(engine.Policy(), engine.Calendars()));
    if (!zone) {
        return zone.error();
    }
    stats::ExportOptions options;
    options.from = from;
    options.to = to;
    options.now = now;
    auto items = stats::ExportKpis(*tickets, engine.Policy(), *zone, options);
    if (!items) {
        return items.error();
    }
    result.items = static_cast<int>(items->size());

    auto client = runtime.Clients()(member_id);
    if (!client) {
        return client.error();
    }
    // What the portal holds now, by key: one list call per 50 items.
    const std::string key_field = ItemFieldName(*kpi, stats::KpiFieldCodes{}.key);
    b24::ListQuery query;
    query.select = {"id", "*", "uf_*"};
    auto existing = b24::ItemList(**client, kpi->entity_type_id, query);
    if (!existing) {
        return existing.error();
    }
    std::map<std::string, bj::object> by_key;
    for (auto& row : *existing) {
        if (auto key = json::StringAt(row, key_field)) {
            by_key[*key] = std::move(row);
        }
    }

    std::vector<store::OutboxAction> actions;
    for (const auto& item : *items) {
        bj::object wanted = KpiItemFields(item, *kpi);
        const std::string subject = KpiOutboxPrefix(member_id) + item.key;
        auto it = by_key.find(item.key);
        if (it == by_key.end()) {
            wanted["title"] = item.title;
            actions.push_back(MakeAction(std::string(member_id),
                                         subject,
                                         subject + "/add",
                                         "crm.item.add",
                                         bj::object{{"entityTypeId", kpi->entity_type_id}, {"fields", wanted}},
                                         now));
            ++result.created;
            continue;
        }
        bj::object changed = ChangedFields(wanted, it->second);
        if (changed.empty()) {
            ++result.unchanged;
            continue;
        }
        actions.push_back(MakeAction(std::string(member_id),
                                     subject,
                                     fmt::format("{}/update/{}/{}", subject, now, ContentTag(changed)),
                                     "crm.item.update",
                                     bj::object{{"entityTypeId", kpi->entity_type_id},
                                                {"id", json::IntAt(it->second, "id").value_or(0)},
                                                {"fields", changed}},
                                     now));
        ++result.updated;
    }
    auto depth = runtime.Store().Outbox().DepthOf(member_id, KpiOutboxPrefix(member_id));
    if (!depth) {
        return depth.error();
    }
    result.dead_before = depth->dead;
    if (!actions.empty()) {
        auto queued = runtime.Store().Outbox().Enqueue(actions);
        if (!queued) {
            return queued.error();
        }
        runtime.Wake();
    }
    DISPATCH_LOG_INFO(kLog,
                      "kpis exported",
                      "member={} items={} created={} updated={} unchanged={}",
                      member_id,
                      result.items,
                      result.created,
                      result.updated,
                      result.unchanged);
    return result;
}

}  // namespace dispatch::flows
