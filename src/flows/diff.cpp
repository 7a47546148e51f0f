#include "flows/diff.hpp"

#include <algorithm>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"

namespace dispatch::flows {

bj::object ToJson(const Remembered& r) {
    return bj::object{{"role", sla::Name(r.role)},
                      {"line", r.line},
                      {"assignee", r.assignee},
                      {"priority", sla::Name(r.priority)},
                      {"template", r.template_name},
                      {"requester", r.requester},
                      {"funnel", r.funnel},
                      {"written", r.written}};
}

bj::value ParseOr(std::string_view text) {
    auto parsed = json::Parse(text);
    return parsed ? std::move(*parsed) : bj::value(bj::object{});
}

Remembered RememberedFromJson(const bj::value& json) {
    Remembered r;
    if (auto s = json::StringAt(json, "role")) {
        r.role = sla::ParseStageRole(*s).value_or(sla::StageRole::kNew);
    }
    r.line = static_cast<int>(json::IntAt(json, "line").value_or(1));
    r.assignee = json::IntAt(json, "assignee").value_or(0);
    if (auto s = json::StringAt(json, "priority")) {
        r.priority = sla::ParsePriority(*s).value_or(sla::Priority::kNormal);
    }
    r.template_name = json::StringAt(json, "template").value_or("");
    r.requester = json::IntAt(json, "requester").value_or(0);
    r.funnel = json::StringAt(json, "funnel").value_or("");
    if (const auto* w = json::Find(json, "written"); w != nullptr && w->is_object()) {
        r.written = w->as_object();
    }
    return r;
}

Remembered Remember(const ItemView& item) {
    Remembered r;
    r.role = item.role;
    r.line = item.line;
    r.assignee = item.assignee;
    r.priority = item.priority;
    r.template_name = item.template_name;
    r.requester = item.created_by;
    r.funnel = item.funnel;
    return r;
}

DiffOutput Diff(const DiffInput& in) {
    DiffOutput out;
    out.last_history_id = in.previous != nullptr ? in.previous->last_history_id : 0;
    std::int64_t own = in.next_own_seq;

    if (in.item == nullptr) {
        // Gone: a ticket we never saw leaves nothing to close.
        if (in.previous != nullptr && !in.previous->closed) {
            out.events.push_back(sla::Event::Simple(in.now, own++, sla::EventKind::kDeleted));
        }
        return out;
    }
    const ItemView& item = *in.item;
    const provision::ProcessIds& ids = *in.ids;
    std::vector<b24::StageHistoryRow> rows(in.history.begin(), in.history.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const auto& r) { return r.id <= out.last_history_id; }),
               rows.end());

    auto row_time = [&](const b24::StageHistoryRow& row) {
        auto t = ParseIso8601(row.created_time);
        return std::max(item.created_time, t ? *t : item.updated_time);
    };

    // Where the ticket stood before this fetch; on first sight, the first stage.
    sla::StageRole before_role = sla::StageRole::kNew;
    int before_line = 1;
    std::string before_stage;
    if (in.previous == nullptr) {
        // First sight. The creation row of the stage history (type 1) tells the first stage; without it the
        // current stage is the best we know.
        StagePlace first{.role = item.role, .known = item.known_stage, .funnel = item.funnel, .line = item.line};
        std::size_t next_row = 0;
        if (!rows.empty() && rows.front().type_id == 1) {
            first = PlaceOf(ids, rows.front().stage_id, rows.front().category_id);
            before_stage = rows.front().stage_id;
            out.last_history_id = rows.front().id;
            next_row = 1;
        } else {
            before_stage = rows.empty() ? item.stage_id : std::string();
        }
        out.events.push_back(sla::Event::Created(
            item.created_time, own++, item.priority, item.template_name, first.role, first.line, item.assignee));
        before_role = first.role;
        before_line = first.line;
        rows.erase(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(next_row));
    } else {
        Remembered parsed;
        const Remembered* remembered = in.before;
        if (remembered == nullptr) {
            parsed = RememberedFromJson(ParseOr(in.previous->fields));
            remembered = &parsed;
        }
        const Remembered& before = *remembered;
        before_role = before.role;
        before_line = before.line;
        before_stage = in.previous->stage_id;
        // Attribute changes since the last fetch, at the item's updatedTime (Bitrix24 keeps no history of them).
        if (item.assignee != before.assignee) {
            out.events.push_back(sla::Event::Assigned(item.updated_time, own++, item.assignee));
        }
        if (item.priority != before.priority) {
            out.events.push_back(sla::Event::PriorityChanged(item.updated_time, own++, item.priority));
        }
        if (item.template_name != before.template_name) {
            out.events.push_back(sla::Event::TemplateChanged(item.updated_time, own++, item.template_name));
        }
    }

    std::string stage = before_stage;
    for (const auto& row : rows) {
        out.last_history_id = std::max(out.last_history_id, row.id);
        if (row.stage_id == stage) {
            continue;
        }
        const StagePlace place = PlaceOf(ids, row.stage_id, row.category_id);
        out.events.push_back(sla::Event::StageMoved(row_time(row), row.id, place.role, place.line));
        stage = row.stage_id;
    }
    // No history row for a change we can see (history lags, or it was not readable): the move happened by
    // updatedTime at the latest.
    if (!stage.empty() && stage != item.stage_id) {
        out.events.push_back(sla::Event::StageMoved(item.updated_time, own++, item.role, item.line));
    } else if (stage.empty() && (item.role != before_role || item.line != before_line)) {
        out.events.push_back(sla::Event::StageMoved(item.updated_time, own++, item.role, item.line));
    }
    return out;
}

store::LedgerRow ToRow(const sla::Event& e) {
    store::LedgerRow row;
    row.at = e.at;
    row.kind = std::string(sla::Name(e.kind));
    bj::object data{{"seq", e.seq}};
    switch (e.kind) {
        case sla::EventKind::kCreated:
            data["stage"] = sla::Name(e.stage);
            data["line"] = e.line;
            data["priority"] = sla::Name(e.priority);
            data["template"] = e.template_name;
            data["assignee"] = e.assignee;
            data["actor"] = e.actor;
            break;
        case sla::EventKind::kStageMoved:
            data["stage"] = sla::Name(e.stage);
            data["line"] = e.line;
            data["actor"] = e.actor;
            break;
        case sla::EventKind::kAssigned:
            data["assignee"] = e.assignee;
            data["actor"] = e.actor;
            break;
        case sla::EventKind::kPriorityChanged:
            data["priority"] = sla::Name(e.priority);
            break;
        case sla::EventKind::kTemplateChanged:
            data["template"] = e.template_name;
            break;
        case sla::EventKind::kRouted:
            data["template"] = e.template_name;
            data["assignee"] = e.assignee;
            [[fallthrough]];
        default:
            data["metric"] = sla::Name(e.metric);
            data["cycle"] = e.cycle;
            data["threshold"] = e.threshold;
            break;
    }
    row.data = json::Dump(data);
    return row;
}

Result<sla::Event> FromRow(const store::LedgerRow& row) {
    auto kind = sla::ParseEventKind(row.kind);
    if (!kind) {
        return Fail(CoreErrc::kInvalid, "ledger row of unknown kind " + row.kind);
    }
    auto data = json::Parse(row.data);
    if (!data) {
        return data.error();
    }
    sla::Event e;
    e.kind = *kind;
    e.at = row.at;
    e.seq = json::IntAt(*data, "seq").value_or(row.seq);
    if (auto s = json::StringAt(*data, "stage")) {
        e.stage = sla::ParseStageRole(*s).value_or(sla::StageRole::kNew);
    }
    e.line = static_cast<int>(json::IntAt(*data, "line").value_or(1));
    e.actor = json::IntAt(*data, "actor").value_or(0);
    e.assignee = json::IntAt(*data, "assignee").value_or(0);
    if (auto s = json::StringAt(*data, "priority")) {
        e.priority = sla::ParsePriority(*s).value_or(sla::Priority::kNormal);
    }
    e.template_name = json::StringAt(*data, "template").value_or("");
    if (auto s = json::StringAt(*data, "metric")) {
        e.metric = sla::ParseMetric(*s).value_or(sla::Metric::kReaction);
    }
    e.cycle = static_cast<int>(json::IntAt(*data, "cycle").value_or(0));
    e.threshold = static_cast<int>(json::IntAt(*data, "threshold").value_or(0));
    return e;
}

Result<sla::Ledger> LedgerFromRows(std::int64_t ticket_id, const std::vector<store::LedgerRow>& rows) {
    sla::Ledger ledger(ticket_id);
    for (const auto& row : rows) {
        auto e = FromRow(row);
        if (!e) {
            return e.error();
        }
        if (auto appended = ledger.Append(std::move(*e)); !appended) {
            return appended.error();
        }
    }
    return ledger;
}

}  // namespace dispatch::flows
