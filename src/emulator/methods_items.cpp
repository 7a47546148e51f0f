// crm.item.* and crm.stagehistory.list (CONTRACT §8). Every real change raises ONCRMDYNAMICITEM* and, when an item
// enters a stage carrying a robot, a robot call; a no-op update saves nothing and raises nothing (§14.20).
#include <algorithm>

#include "core/json.hpp"
#include "emulator/filter.hpp"
#include "emulator/item_fields.hpp"
#include "emulator/methods.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

ApiError TypeNotFound() { return Err(400, "NOT_FOUND", "Smart process not found"); }
ApiError ItemNotFound() { return Err(400, "NOT_FOUND", "Item not found"); }

bool OriginalNames(const bj::object& p) { return YesParam(Param(p, "useOriginalUfNames")); }

bj::object RenderItem(const Portal& portal,
                      const ItemSchema& schema,
                      const Item& item,
                      const std::vector<const ItemField*>* select,
                      const bj::storage_ptr& sp = {}) {
    bj::object out(sp);
    auto put = [&](const ItemField& f) {
        out.emplace(f.name, schema.Render(portal, f, schema.Stored(item.values, f), sp));
    };
    if (select == nullptr) {
        out.reserve(schema.Fields().size());
        for (const auto& f : schema.Fields()) {
            put(f);
        }
    } else {
        // README: `id` is always returned, whatever `select` says.
        out.reserve(select->size() + 1);
        const auto* id = schema.Find("id");
        put(*id);
        for (const auto* f : *select) {
            if (f != id) {
                put(*f);
            }
        }
    }
    return out;
}

std::string StageSemantic(const Portal& portal, const std::string& stage_id) {
    const auto* s = portal.StageByStatusId(stage_id);
    if (s == nullptr || s->semantics.empty()) {
        return "P";
    }
    return s->semantics;
}

void AddHistory(Portal& portal, std::int64_t e, const Item& item, int type_id) {
    StageHistoryEntry h;
    h.id = portal.NextId();
    h.entity_type_id = e;
    h.type_id = type_id;
    h.owner_id = item.id;
    h.created_time = portal.NowSeconds();
    h.category_id = json::IntAt(item.values, "categoryId").value_or(0);
    h.stage_id = json::StringAt(item.values, "stageId").value_or("");
    h.stage_semantic_id = StageSemantic(portal, h.stage_id);
    portal.State().stage_history.push_back(std::move(h));
}

void RaiseRobots(CallContext& ctx, std::int64_t e, const Item& item) {
    const auto stage = json::StringAt(item.values, "stageId").value_or("");
    for (const auto& pl : ctx.portal.State().placements) {
        if (pl.stage_id == stage) {
            ctx.portal.RaiseRobot(RobotCall{pl, e, item.id, ctx.caller.user_id});
        }
    }
}

void RaiseItemEvent(CallContext& ctx, const char* name, std::int64_t e, std::int64_t id) {
    ctx.portal.Raise(DomainEvent{name, e, id, ctx.caller.user_id, ctx.caller.automation});
}

// Applies request `fields` onto `values`. Unknown and read-only keys are ignored (crm-item-add.md).
std::optional<ApiError> ApplyFields(CallContext& ctx,
                                    const ItemSchema& schema,
                                    const SpaType& type,
                                    const bj::object& fields,
                                    bj::object& values,
                                    bool creating) {
    auto& portal = ctx.portal;
    for (const auto& kv : fields) {
        const auto* f = schema.Find(std::string_view(kv.key().data(), kv.key().size()));
        if (f == nullptr || f->read_only || !f->enabled) {
            continue;
        }
        auto stored = schema.ToStorage(portal, *f, kv.value());
        if (auto* e = std::get_if<ApiError>(&stored)) {
            return *e;
        }
        values[f->key] = std::move(std::get<bj::value>(stored));
    }
    // Funnel and stage: a stage from another funnel of this type moves the item there when categoryId is not
    // given (CONTRACT §14.11: an omitted categoryId keeps the current funnel; README).
    const bool cat_given = fields.if_contains("categoryId") != nullptr;
    const bool stage_given = fields.if_contains("stageId") != nullptr;
    auto cat = json::IntAt(values, "categoryId");
    if (stage_given && !cat_given) {
        if (const auto* s = portal.StageByStatusId(json::StringAt(values, "stageId").value_or(""))) {
            cat = s->category_id;
        }
    }
    if (!cat) {
        const auto* d = portal.DefaultCategory(type.entity_type_id);
        cat = d ? d->id : 0;
    }
    const auto* c = portal.CategoryById(*cat);
    if (c == nullptr || c->entity_type_id != type.entity_type_id) {
        return Err(400, "CRM_FIELD_ERROR_VALUE_NOT_VALID", "Invalid value for field \"Pipeline\"");
    }
    values["categoryId"] = *cat;
    const auto stages = portal.StagesOf(type.entity_type_id, *cat);
    auto stage = json::StringAt(values, "stageId");
    const bool stage_in_cat =
        stage && std::any_of(stages.begin(), stages.end(), [&](const Stage* s) { return s->status_id == *stage; });
    if (!stage_in_cat) {
        if (stage_given) {
            return Err(400, "CRM_FIELD_ERROR_VALUE_NOT_VALID", "Invalid value for field \"Stage\"");
        }
        // New item, or funnel changed without a stage: the first stage of the funnel.
        values["stageId"] = stages.empty() ? bj::value(nullptr) : bj::value(stages.front()->status_id);
    }
    (void)creating;
    return std::nullopt;
}

std::variant<SpaType*, ApiError> ItemType(CallContext& ctx, const bj::object& p) {
    const auto e = IntParam(p, "entityTypeId");
    if (e && (*e == 5)) {
        return Err(400, "ENTITY_TYPE_NOT_SUPPORTED", "Entity type is not supported");
    }
    auto* t = e ? ctx.portal.TypeByEntityTypeId(*e) : nullptr;
    if (t == nullptr) {
        return TypeNotFound();
    }
    return t;
}

MethodReply ItemAdd(CallContext& ctx, const bj::object& p) {
    auto found = ItemType(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    const auto& type = *std::get<SpaType*>(found);
    const auto* fields = ObjectParam(p, "fields");
    if (fields == nullptr) {
        return MissingParam("fields");
    }
    auto& portal = ctx.portal;
    const auto schema_ptr = SchemaOf(portal, type, OriginalNames(p));
    const ItemSchema& schema = *schema_ptr;
    const TimeMs now = portal.NowSeconds();
    bj::object values;
    // Defaults first (crm-item-add.md); request values override them.
    values["assignedById"] = ctx.caller.user_id;
    values["opened"] = "Y";
    values["observers"] = bj::array{};
    values["contactIds"] = bj::array{};
    if (type.Flag("isBeginCloseDatesEnabled")) {
        const TimeMs off = static_cast<TimeMs>(portal.Settings().utc_offset_minutes) * kMinuteMs;
        const TimeMs local = now + off;
        const TimeMs midnight = local - ((local % kDayMs) + kDayMs) % kDayMs - off;
        values["begindate"] = midnight;
        values["closedate"] = midnight + 7 * kDayMs;
    }
    for (const auto& f : schema.Fields()) {
        if (f.uf != nullptr && f.type == "enumeration") {
            for (const auto& o : f.uf->enums) {
                if (o.def) {
                    values[f.key] = f.multiple ? bj::value(bj::array{o.id}) : bj::value(o.id);
                }
            }
        }
    }
    if (auto err = ApplyFields(ctx, schema, type, *fields, values, true)) {
        return *err;
    }
    Item item;
    item.entity_type_id = type.entity_type_id;
    item.id = ++portal.State().item_seq[type.entity_type_id];
    values["id"] = item.id;
    values["entityTypeId"] = type.entity_type_id;
    const auto title = json::StringAt(values, "title").value_or("");
    if (title.empty()) {
        values["title"] = type.title + " #" + std::to_string(item.id);
    }
    values["createdBy"] = values["updatedBy"] = values["movedBy"] = ctx.caller.user_id;
    values["createdTime"] = values["updatedTime"] = values["movedTime"] = now;
    values["lastActivityBy"] = ctx.caller.user_id;
    values["lastActivityTime"] = now;
    values["previousStageId"] = nullptr;
    item.Reset(schema.Layout(values));
    auto& stored = portal.State().items[type.entity_type_id].emplace(item.id, std::move(item)).first->second;
    AddHistory(portal, type.entity_type_id, stored, 1);
    RaiseItemEvent(ctx, "ONCRMDYNAMICITEMADD", type.entity_type_id, stored.id);
    RaiseRobots(ctx, type.entity_type_id, stored);
    return bj::value(bj::object{{"item", RenderItem(portal, schema, stored, nullptr)}});
}

Item* FindItem(Portal& portal, std::int64_t e, const bj::object& p) {
    const auto id = IntParam(p, "id");
    if (!id) {
        return nullptr;
    }
    auto& items = portal.State().items[e];
    auto it = items.find(*id);
    return it == items.end() ? nullptr : &it->second;
}

MethodReply ItemUpdate(CallContext& ctx, const bj::object& p) {
    auto found = ItemType(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    const auto& type = *std::get<SpaType*>(found);
    auto& portal = ctx.portal;
    auto* item = FindItem(portal, type.entity_type_id, p);
    if (item == nullptr) {
        return ItemNotFound();
    }
    const auto* fields = ObjectParam(p, "fields");
    if (fields == nullptr) {
        return MissingParam("fields");
    }
    const auto schema_ptr = SchemaOf(portal, type, OriginalNames(p));
    const ItemSchema& schema = *schema_ptr;
    bj::object values(item->values, bj::storage_ptr());  // a working copy outside the item's own arena
    if (auto err = ApplyFields(ctx, schema, type, *fields, values, false)) {
        return *err;
    }
    if (values == item->values) {
        // crm-item-update.md: nothing changed → nothing is saved (and, our choice, no event: README).
        return bj::value(bj::object{{"item", RenderItem(portal, schema, *item, nullptr)}});
    }
    const TimeMs now = portal.NowSeconds();
    const auto old_stage = json::StringAt(item->values, "stageId").value_or("");
    const auto old_cat = json::IntAt(item->values, "categoryId").value_or(0);
    const auto new_stage = json::StringAt(values, "stageId").value_or("");
    const auto new_cat = json::IntAt(values, "categoryId").value_or(0);
    values["updatedBy"] = ctx.caller.user_id;
    values["updatedTime"] = now;
    const bool moved = old_stage != new_stage;
    if (moved) {
        values["movedBy"] = ctx.caller.user_id;
        values["movedTime"] = now;
        values["previousStageId"] = old_stage;
    }
    item->Reset(schema.Layout(values));
    if (new_cat != old_cat) {
        AddHistory(portal, type.entity_type_id, *item, 5);
    } else if (moved) {
        AddHistory(portal, type.entity_type_id, *item, StageSemantic(portal, new_stage) == "P" ? 2 : 3);
    }
    RaiseItemEvent(ctx, "ONCRMDYNAMICITEMUPDATE", type.entity_type_id, item->id);
    if (moved) {
        RaiseRobots(ctx, type.entity_type_id, *item);
    }
    return bj::value(bj::object{{"item", RenderItem(portal, schema, *item, nullptr)}});
}

MethodReply ItemGet(CallContext& ctx, const bj::object& p) {
    auto found = ItemType(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    const auto& type = *std::get<SpaType*>(found);
    const auto* item = FindItem(ctx.portal, type.entity_type_id, p);
    if (item == nullptr) {
        return ItemNotFound();
    }
    const auto schema_ptr = SchemaOf(ctx.portal, type, OriginalNames(p));
    const ItemSchema& schema = *schema_ptr;
    return bj::value(bj::object{{"item", RenderItem(ctx.portal, schema, *item, nullptr)}});
}

MethodReply ItemList(CallContext& ctx, const bj::object& p) {
    auto found = ItemType(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    const auto& type = *std::get<SpaType*>(found);
    const auto schema_ptr = SchemaOf(ctx.portal, type, OriginalNames(p));
    const ItemSchema& schema = *schema_ptr;
    const FieldLookup lookup = [&](std::string_view n) { return schema.Filterable(n); };
    auto query = ParseListQuery(Param(p, "filter"), Param(p, "order"), lookup, "id");
    if (auto* e = std::get_if<ApiError>(&query)) {
        return *e;
    }
    std::optional<std::vector<const ItemField*>> select;
    const auto* sv = Param(p, "select");
    if (const auto names = sv ? ListElements(*sv) : std::nullopt) {
        select.emplace();
        for (const auto* n : *names) {
            const auto name = json::ToString(*n).value_or("");
            if (name == "*" || name == "uf_*" || name == "UF_*") {
                select.reset();  // all fields (README)
                break;
            }
            if (const auto* f = schema.Find(name)) {
                select->push_back(f);
            }  // unknown names in select are ignored, like unknown keys in fields
        }
    }
    const auto start = ParseStart(Param(p, "start"));
    const auto& f = std::get<ListQuery>(query).filter;
    const auto& keys = std::get<ListQuery>(query).order;
    const auto& items = ctx.portal.State().items[type.entity_type_id];
    // The page is built in one arena, released with the response (a page of 50 items is thousands of small
    // allocations otherwise).
    const bj::storage_ptr sp = bj::make_shared_resource<bj::monotonic_resource>(16 * 1024);
    auto render = [&](const Item& item) {
        return bj::value(RenderItem(ctx.portal, schema, item, select ? &*select : nullptr, sp));
    };
    if (keys.front().field.key == "id") {
        // Items are kept by id, so an order by id needs no sort: walk the map from the id bounds of the filter,
        // and in fast mode stop at the first full page (huge-data.md's traversal: order id, filter >id, start -1).
        const auto bounds = f.BoundsOf("id");
        const bool bounds_say_all = f.OnlyBoundsOf("id");
        const std::int64_t from = start < 0 ? 0 : start;
        std::vector<const Item*> page;
        std::int64_t count = 0;
        auto visit = [&](const Item& item) {
            if (!bounds_say_all && !f.Matches(item.values)) {
                return true;
            }
            if (count >= from && count < from + kPageSize) {
                page.push_back(&item);
            }
            ++count;
            return !(start < 0 && count == kPageSize);
        };
        if (!bounds.Empty()) {
            auto first = bounds.lo ? items.lower_bound(*bounds.lo) : items.begin();
            auto last = bounds.hi ? items.upper_bound(*bounds.hi) : items.end();
            if (first != items.end() && (last == items.end() || first->first < last->first)) {
                if (keys.front().descending) {
                    for (auto it = std::make_reverse_iterator(last); it != std::make_reverse_iterator(first); ++it) {
                        if (!visit(it->second)) {
                            break;
                        }
                    }
                } else {
                    for (auto it = first; it != last; ++it) {
                        if (!visit(it->second)) {
                            break;
                        }
                    }
                }
            }
        }
        std::vector<const ItemField*> read;
        if (select) {
            read = *select;
        } else {
            for (const auto& f : schema.Fields()) {
                read.push_back(&f);
            }
        }
        for (const auto* item : page) {
            schema.Prefetch(item->values, read);
        }
        return Paginate(
            static_cast<std::size_t>(count),
            start,
            "items",
            [&](std::size_t i) { return render(*page[i - static_cast<std::size_t>(from)]); },
            sp);
    }
    std::vector<const bj::object*> hits;
    for (const auto& [id, item] : items) {
        if (f.Matches(item.values)) {
            hits.push_back(&item.values);
        }
    }
    SortRows(hits, keys);
    return Paginate(
        hits.size(), start, "items", [&](std::size_t i) { return render(items.at(hits[i]->at("id").as_int64())); }, sp);
}

MethodReply ItemDelete(CallContext& ctx, const bj::object& p) {
    auto found = ItemType(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    const auto e = std::get<SpaType*>(found)->entity_type_id;
    const auto* item = FindItem(ctx.portal, e, p);
    if (item == nullptr) {
        return ItemNotFound();
    }
    const auto id = item->id;
    ctx.portal.State().items[e].erase(id);
    RaiseItemEvent(ctx, "ONCRMDYNAMICITEMDELETE", e, id);
    return bj::value(bj::array{});  // crm-item-delete.md: `[]`
}

MethodReply ItemFields(CallContext& ctx, const bj::object& p) {
    auto found = ItemType(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    const auto schema_ptr = SchemaOf(ctx.portal, *std::get<SpaType*>(found), OriginalNames(p));
    const ItemSchema& schema = *schema_ptr;
    bj::object fields;
    for (const auto& f : schema.Fields()) {
        fields[f.name] = schema.Describe(ctx.portal, f);
    }
    return bj::value(bj::object{{"fields", std::move(fields)}});
}

// --- crm.stagehistory.list ---

std::optional<FilterField> HistoryField(std::string_view name) {
    if (name == "ID" || name == "TYPE_ID" || name == "OWNER_ID" || name == "CATEGORY_ID") {
        return FilterField{std::string(name), ValueKind::kInt, false};
    }
    if (name == "CREATED_TIME") {
        return FilterField{std::string(name), ValueKind::kTime, false};
    }
    if (name == "STAGE_ID" || name == "STAGE_SEMANTIC_ID") {
        return FilterField{std::string(name), ValueKind::kString, false};
    }
    return std::nullopt;
}

MethodReply StageHistoryList(CallContext& ctx, const bj::object& p) {
    const auto e = IntParam(p, "entityTypeId");
    if (!e) {
        return ErrZero("entityTypeId is required");
    }
    if (ctx.portal.TypeByEntityTypeId(*e) == nullptr) {
        return Err(400, "ENTITY_TYPE_NOT_SUPPORTED", "Entity type is not supported");
    }
    auto query = ParseListQuery(Param(p, "filter"), Param(p, "order"), HistoryField, "ID");
    if (auto* err = std::get_if<ApiError>(&query)) {
        return *err;
    }
    // The history is append-only in ID order; the flows ask per item (`OWNER_ID` = n, `>ID` = last seen), so the ID
    // bounds pick the range by binary search and the owner is checked on the struct before any JSON row is built.
    const auto& q = std::get<ListQuery>(query);
    const auto ids = q.filter.BoundsOf("ID");
    const auto owners = q.filter.BoundsOf("OWNER_ID");
    const auto& history = ctx.portal.State().stage_history;
    auto first = history.begin();
    if (ids.lo) {
        first =
            std::lower_bound(history.begin(), history.end(), *ids.lo, [](const StageHistoryEntry& h, std::int64_t id) {
                return h.id < id;
            });
    }
    std::vector<bj::object> rows;
    for (auto it = first; it != history.end() && !ids.Empty() && !owners.Empty(); ++it) {
        const auto& h = *it;
        if (ids.hi && h.id > *ids.hi) {
            break;
        }
        if (h.entity_type_id != *e || (owners.lo && h.owner_id < *owners.lo) ||
            (owners.hi && h.owner_id > *owners.hi)) {
            continue;
        }
        rows.push_back(bj::object{{"ID", h.id},
                                  {"TYPE_ID", h.type_id},
                                  {"OWNER_ID", h.owner_id},
                                  {"CREATED_TIME", h.created_time},
                                  {"CATEGORY_ID", h.category_id},
                                  {"STAGE_SEMANTIC_ID", h.stage_semantic_id},
                                  {"STAGE_ID", h.stage_id}});
    }
    const auto hits = q.Select(rows);
    std::vector<std::string> select;
    if (const auto* sv = Param(p, "select"); sv && sv->is_array()) {
        for (const auto& s : sv->get_array()) {
            if (auto n = json::ToString(s); n && HistoryField(*n)) {
                select.push_back(*n);
            }
        }
    }
    return Paginate(hits.size(), ParseStart(Param(p, "start")), "items", [&](std::size_t i) {
        bj::object out;
        for (const auto& kv : *hits[i]) {
            if (!select.empty() && std::find(select.begin(), select.end(), std::string(kv.key())) == select.end()) {
                continue;
            }
            out[kv.key()] = kv.key() == "CREATED_TIME" ? bj::value(ctx.portal.Iso(kv.value().as_int64())) : kv.value();
        }
        return bj::value(std::move(out));
    });
}

}  // namespace

MethodReply UpdateItem(CallContext& ctx, const bj::object& params) { return ItemUpdate(ctx, params); }

void RegisterItemMethods(MethodMap& m) {
    m["crm.item.add"] = {"crm", false, ItemAdd};
    m["crm.item.update"] = {"crm", false, ItemUpdate};
    m["crm.item.get"] = {"crm", false, ItemGet};
    m["crm.item.list"] = {"crm", false, ItemList};
    m["crm.item.delete"] = {"crm", false, ItemDelete};
    m["crm.item.fields"] = {"crm", false, ItemFields};
    m["crm.stagehistory.list"] = {"crm", false, StageHistoryList};
}

}  // namespace dispatch::emulator
