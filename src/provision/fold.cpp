// ApplyResult (plan.hpp): the answers of the planner's calls folded back into the snapshot, so the next plan sees
// what the portal now holds without reading it again.
#include <fmt/format.h>

#include "b24/errc.hpp"
#include "core/json.hpp"
#include "provision/plan.hpp"

namespace dispatch::provision {

namespace bj = boost::json;

namespace {

Result<bj::value> Member(const bj::value& result, std::string_view key, std::string_view method) {
    const auto* v = json::Find(result, key);
    if (v == nullptr || !v->is_object()) {
        return Fail(b24::Errc::kBadResponse, fmt::format("method={} answer without '{}'", method, key));
    }
    return *v;
}

}  // namespace

Result<void> ApplyResult(PortalSnapshot& snap,
                         const PlannedOp& op,
                         const bj::value& result,
                         std::optional<std::int64_t> total) {
    auto put_rows = [&](std::string_view key, auto parse) -> Result<std::vector<std::int64_t>> {
        auto rows = ListRows(result, key);
        if (!rows) {
            return rows.error();
        }
        std::vector<std::int64_t> ids;
        for (const auto& row : *rows) {
            auto parsed = parse(row);
            if (!parsed) {
                return parsed.error();
            }
            ids.push_back(parsed->id);
            snap.Put(std::move(*parsed));
        }
        return ids;
    };
    switch (op.kind) {
        case OpKind::kListSolutions: {
            auto ids = put_rows(ListKey(op.kind), ParseSolution);
            if (!ids) {
                return ids.error();
            }
            return {};
        }
        case OpKind::kListTypes: {
            auto ids = put_rows(ListKey(op.kind), ParseType);
            if (!ids) {
                return ids.error();
            }
            snap.base_read = true;
            return {};
        }
        case OpKind::kListBindings: {
            auto bindings = ParseBindings(result);
            if (!bindings) {
                return bindings.error();
            }
            snap.bindings = std::move(*bindings);
            return {};
        }
        case OpKind::kListRobots: {
            auto robots = ParseRobotCodes(result);
            if (!robots) {
                return robots.error();
            }
            snap.robots = std::move(*robots);
            return {};
        }
        case OpKind::kListCategories: {
            auto ids = put_rows(ListKey(op.kind), ParseCategory);
            if (!ids) {
                return ids.error();
            }
            std::int64_t e = op.entity_type_id;
            if (e == 0) {
                const auto* type = snap.TypeByCode(op.process);
                e = type != nullptr ? type->entity_type_id : 0;
            }
            if (e == 0 && !ids->empty()) {
                e = snap.CategoryById(ids->front())->entity_type_id;
            }
            if (e != 0) {
                snap.categories_read.insert(e);
            }
            if (op.fresh) {
                snap.fresh_categories.insert(ids->begin(), ids->end());
            }
            return {};
        }
        case OpKind::kListStages: {
            auto rows = ListRows(result, "");
            if (!rows) {
                return rows.error();
            }
            if (op.category_id != 0) {
                snap.stages_read.insert(op.category_id);
            }
            for (const auto& row : *rows) {
                auto stage = ParseStage(row);
                if (!stage) {
                    return stage.error();
                }
                // A CATEGORY_ID filter may also match directories of other entities (deal funnels share ids).
                const auto* c = snap.CategoryById(stage->category_id);
                if (c == nullptr || stage->entity_id != StageEntityId(c->entity_type_id, c->id)) {
                    continue;
                }
                snap.stages_read.insert(c->id);
                snap.Put(std::move(*stage));
            }
            return {};
        }
        case OpKind::kListFields: {
            auto ids = put_rows(ListKey(op.kind), ParseField);
            if (!ids) {
                return ids.error();
            }
            snap.fields_read.insert(op.object_id);
            return {};
        }
        case OpKind::kCountItems: {
            std::int64_t count = total.value_or(0);
            if (!total) {
                if (auto rows = ListRows(result, "items")) {
                    count = static_cast<std::int64_t>(rows->size());
                }
            }
            snap.item_counts[op.count_key] = count;
            return {};
        }
        case OpKind::kSolutionAdd:
        case OpKind::kSolutionUpdate: {
            auto row = Member(result, "automatedSolution", op.method);
            if (!row) {
                return row.error();
            }
            auto solution = ParseSolution(*row);
            if (!solution) {
                return solution.error();
            }
            if (op.kind == OpKind::kSolutionAdd) {
                snap.assigned_workplace = solution->id;
            }
            snap.Put(std::move(*solution));
            return {};
        }
        case OpKind::kTypeAdd:
        case OpKind::kTypeUpdate: {
            auto row = Member(result, "type", op.method);
            if (!row) {
                return row.error();
            }
            auto type = ParseType(*row);
            if (!type) {
                return type.error();
            }
            if (op.kind == OpKind::kTypeAdd) {
                snap.fields_read.insert(type->id);  // a new type has no custom fields yet
            }
            snap.Put(std::move(*type));
            return {};
        }
        case OpKind::kCategoryAdd:
        case OpKind::kCategoryUpdate: {
            auto row = Member(result, "category", op.method);
            if (!row) {
                return row.error();
            }
            auto category = ParseCategory(*row);
            if (!category) {
                return category.error();
            }
            if (op.kind == OpKind::kCategoryAdd) {
                snap.assigned_categories[op.process + "/" + op.funnel] = category->id;
                snap.fresh_categories.insert(category->id);
            }
            if (category->is_default) {
                for (auto& other : snap.categories) {
                    if (other.entity_type_id == category->entity_type_id) {
                        other.is_default = false;  // crm-category-add.md: the flag moves
                    }
                }
            }
            snap.Put(std::move(*category));
            return {};
        }
        case OpKind::kCategoryDelete:
            snap.RemoveCategory(op.object_id);
            return {};
        case OpKind::kStageAdd: {
            const auto id = json::ToInt(result);
            const auto* fields = op.params.if_contains("fields");
            if (!id || fields == nullptr || !fields->is_object()) {
                return Fail(b24::Errc::kBadResponse, "method=crm.status.add answer is not an id");
            }
            // The row as crm.status.list would give it back.
            bj::object row = fields->get_object();
            const auto prefix = StagePrefix(op.entity_type_id, op.category_id) + ":";
            const auto code = json::StringAt(*fields, "STATUS_ID").value_or("");
            row["ID"] = *id;
            // crm-status-add.md: a bare code is stored with the funnel's prefix.
            row["STATUS_ID"] = code.rfind(prefix, 0) == 0 ? code : prefix + code;
            row["CATEGORY_ID"] = op.category_id;
            auto stage = ParseStage(bj::value(std::move(row)));
            if (!stage) {
                return stage.error();
            }
            snap.Put(std::move(*stage));
            return {};
        }
        case OpKind::kStageUpdate: {
            const auto* current = snap.StageById(op.object_id);
            const auto* fields = op.params.if_contains("fields");
            if (current == nullptr || fields == nullptr) {
                return {};
            }
            PortalStage stage = *current;
            const bj::value& f = *fields;
            stage.name = json::StringAt(f, "NAME").value_or(stage.name);
            stage.sort = json::IntAt(f, "SORT").value_or(stage.sort);
            stage.color = json::StringAt(f, "COLOR").value_or(stage.color);
            snap.Put(std::move(stage));
            return {};
        }
        case OpKind::kStageDelete:
            snap.RemoveStage(op.object_id);
            return {};
        case OpKind::kFieldAdd:
        case OpKind::kFieldUpdate: {
            auto row = Member(result, "field", op.method);
            if (!row) {
                return row.error();
            }
            auto field = ParseField(*row);
            if (!field) {
                return field.error();
            }
            snap.Put(std::move(*field));
            return {};
        }
        case OpKind::kFieldDelete:
            snap.RemoveField(op.object_id);
            return {};
        case OpKind::kEventBind: {
            // The planner sends the event name upper-cased, as event.get reads back.
            snap.bindings.push_back(PortalBinding{json::StringAt(bj::value(op.params), "event").value_or(""),
                                                  json::StringAt(bj::value(op.params), "handler").value_or("")});
            return {};
        }
        case OpKind::kListItemIds: {
            auto rows = ListRows(result, ListKey(op.kind));
            if (!rows) {
                return rows.error();
            }
            auto& ids = snap.item_ids[op.count_key];
            ids.clear();
            for (const auto& row : *rows) {
                if (const auto id = json::IntAt(row, "id")) {
                    ids.push_back(*id);
                }
            }
            snap.item_counts[op.count_key] = static_cast<std::int64_t>(ids.size());
            return {};
        }
        case OpKind::kItemMove: {
            auto& ids = snap.item_ids[op.count_key];
            std::erase(ids, op.object_id);
            snap.item_counts[op.count_key] = static_cast<std::int64_t>(ids.size());
            return {};
        }
        case OpKind::kRobotAdd: {
            snap.robots.push_back(json::StringAt(bj::value(op.params), "CODE").value_or(""));
            return {};
        }
    }
    return {};
}

}  // namespace dispatch::provision
