// crm.category.* (funnels) and crm.status.* (stages) of smart processes (CONTRACT §6, §7).
#include <algorithm>

#include "core/json.hpp"
#include "emulator/filter.hpp"
#include "emulator/methods.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

// --- crm.category.* ---

bj::object RenderCategory(const Category& c) {
    return bj::object{{"id", c.id},
                      {"name", c.name},
                      {"sort", c.sort},
                      {"entityTypeId", c.entity_type_id},
                      {"isDefault", c.is_default ? "Y" : "N"},
                      {"isSystem", c.is_system ? "Y" : "N"},
                      {"code", c.code.empty() ? bj::value(nullptr) : bj::value(c.code)}};
}

// The SPA a category call addresses, or the documented error.
std::variant<SpaType*, ApiError> CategoryType(CallContext& ctx, const bj::object& p) {
    const auto e = IntParam(p, "entityTypeId");
    if (!e) {
        return Err(400, "NOT_FOUND", "Smart process not found");
    }
    if (*e == 5 || *e == 1 || *e == 7) {
        return Err(400, "ENTITY_TYPE_NOT_SUPPORTED", "Entity type is not supported");
    }
    auto* t = ctx.portal.TypeByEntityTypeId(*e);
    if (t == nullptr) {
        return Err(400, "NOT_FOUND", "Smart process not found");
    }
    return t;
}

std::optional<std::string> ValidName(const bj::value* v) {
    if (v == nullptr) {
        return std::nullopt;
    }
    auto s = json::ToString(*v).value_or("");
    if (s.find_first_not_of(" \t\r\n") == std::string::npos || s.size() > 255) {
        return std::nullopt;
    }
    return s;
}

MethodReply CategoryAdd(CallContext& ctx, const bj::object& p) {
    auto t = CategoryType(ctx, p);
    if (auto* e = std::get_if<ApiError>(&t)) {
        return *e;
    }
    auto* type = std::get<SpaType*>(t);
    if (!CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    // CONTRACT §14.24: we follow the tutorial — no custom funnels when isCategoriesEnabled=N (README).
    if (!type->Flag("isCategoriesEnabled")) {
        return Err(400, "ENTITY_TYPE_NOT_SUPPORTED", "Funnels are disabled for this smart process");
    }
    const auto* fields = ObjectParam(p, "fields");
    if (fields == nullptr) {
        return MissingParam("fields");
    }
    const auto name = ValidName(fields->if_contains("name"));
    if (!name) {
        return ErrZero("Field 'NAME' is required");
    }
    std::int64_t sort = 500;
    if (const auto* v = fields->if_contains("sort")) {
        sort = std::max<std::int64_t>(0, json::ToInt(*v).value_or(500));
    }
    const bool is_default = YesParam(fields->if_contains("isDefault"));
    auto& c = ctx.portal.AddCategory(type->entity_type_id, *name, sort, is_default);
    return bj::value(bj::object{{"category", RenderCategory(c)}});
}

// The funnel an `entityTypeId` + `id` call addresses: the SPA's errors first, then the funnel's.
std::variant<Category*, ApiError> FindCategory(CallContext& ctx, const bj::object& p) {
    auto t = CategoryType(ctx, p);
    if (auto* e = std::get_if<ApiError>(&t)) {
        return *e;
    }
    const auto id = IntParam(p, "id");
    auto* c = id ? ctx.portal.CategoryById(*id) : nullptr;
    if (c == nullptr || c->entity_type_id != std::get<SpaType*>(t)->entity_type_id) {
        return Err(400, "NOT_FOUND", "Category not found");
    }
    return c;
}

MethodReply CategoryUpdate(CallContext& ctx, const bj::object& p) {
    auto found = FindCategory(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    if (!CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    auto* c = std::get<Category*>(found);
    const auto* fields = ObjectParam(p, "fields");
    if (fields == nullptr) {
        return MissingParam("fields");
    }
    if (const auto* v = fields->if_contains("name")) {
        const auto name = ValidName(v);
        if (!name) {
            return ErrZero("Field 'NAME' is required");
        }
        c->name = *name;
    }
    if (const auto* v = fields->if_contains("sort")) {
        c->sort = std::max<std::int64_t>(0, json::ToInt(*v).value_or(c->sort));
    }
    // crm-category-add.md: isDefault=Y moves the flag here; unsetting it on the current default is ignored.
    if (YesParam(fields->if_contains("isDefault")) && !c->is_default) {
        for (auto& [id, other] : ctx.portal.State().categories) {
            if (other.entity_type_id == c->entity_type_id) {
                other.is_default = false;
            }
        }
        c->is_default = true;
    }
    return bj::value(bj::object{{"category", RenderCategory(*c)}});
}

MethodReply CategoryGet(CallContext& ctx, const bj::object& p) {
    auto found = FindCategory(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    return bj::value(bj::object{{"category", RenderCategory(*std::get<Category*>(found))}});
}

MethodReply CategoryList(CallContext& ctx, const bj::object& p) {
    auto t = CategoryType(ctx, p);
    if (auto* e = std::get_if<ApiError>(&t)) {
        return *e;
    }
    const auto e = std::get<SpaType*>(t)->entity_type_id;
    std::vector<const Category*> cats;
    for (const auto& [id, c] : ctx.portal.State().categories) {
        if (c.entity_type_id == e) {
            cats.push_back(&c);
        }
    }
    std::stable_sort(cats.begin(), cats.end(), [](const Category* a, const Category* b) {
        return a->sort != b->sort ? a->sort < b->sort : a->id < b->id;
    });
    // CONTRACT §14.14: no pagination is documented; we return every funnel in one page (README).
    bj::array out;
    for (const auto* c : cats) {
        out.push_back(RenderCategory(*c));
    }
    MethodOk ok{bj::object{{"categories", std::move(out)}}, static_cast<std::int64_t>(cats.size()), std::nullopt};
    return ok;
}

MethodReply CategoryDelete(CallContext& ctx, const bj::object& p) {
    auto found = FindCategory(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    if (!CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    const auto* c = std::get<Category*>(found);
    if (c->is_system) {
        return Err(400, "REMOVING_DISABLED", "System funnel cannot be deleted");
    }
    if (c->is_default) {
        return Err(400, "BX_ERROR", "This funnel is the default funnel");
    }
    auto& st = ctx.portal.State();
    if (auto it = st.items.find(c->entity_type_id); it != st.items.end()) {
        for (const auto& [id, item] : it->second) {
            if (json::IntAt(item.values, "categoryId") == c->id) {
                return Err(400, "BX_ERROR", "Elements related to the funnel found");
            }
        }
    }
    const auto entity_id = Portal::StageEntityId(c->entity_type_id, c->id);
    std::erase_if(st.stages, [&](const auto& kv) { return kv.second.entity_id == entity_id; });
    std::erase_if(st.placements, [&](const RobotPlacement& pl) {
        return pl.stage_id.rfind(Portal::StagePrefix(c->entity_type_id, c->id) + ":", 0) == 0;
    });
    st.categories.erase(c->id);
    return bj::value(nullptr);
}

MethodReply CategoryFields(CallContext& ctx, const bj::object& p) {
    auto t = CategoryType(ctx, p);
    if (auto* e = std::get_if<ApiError>(&t)) {
        return *e;
    }
    auto field = [](const char* type, bool ro, const char* title) {
        return FieldDescription(type, false, ro, false, false, title);
    };
    bj::object f{{"id", field("integer", true, "ID")},
                 {"name", field("string", false, "Name")},
                 {"sort", field("integer", false, "Sort")},
                 {"entityTypeId", field("integer", true, "Entity type")},
                 {"isDefault", field("boolean", false, "Default")},
                 {"isSystem", field("boolean", true, "System")},
                 {"code", field("string", true, "Code")}};
    return bj::value(bj::object{{"fields", std::move(f)}});
}

// --- crm.status.* ---
// crm-status-*.md: errors carry "" or a sentence as `error`; numbers come back as strings.

ApiError Sentence(const char* s) { return Err(400, s, s); }

bj::object RenderStage(const Stage& s) {
    return bj::object{{"ID", std::to_string(s.id)},
                      {"ENTITY_ID", s.entity_id},
                      {"STATUS_ID", s.status_id},
                      {"NAME", s.name},
                      {"NAME_INIT", s.name_init},
                      {"SORT", std::to_string(s.sort)},
                      {"SYSTEM", s.system ? "Y" : "N"},
                      {"CATEGORY_ID", std::to_string(s.category_id)},
                      {"COLOR", s.color},
                      {"SEMANTICS", s.semantics.empty() ? bj::value(nullptr) : bj::value(s.semantics)}};
}

bj::object StageRow(const Stage& s) {
    return bj::object{{"ID", s.id},
                      {"ENTITY_ID", s.entity_id},
                      {"STATUS_ID", s.status_id},
                      {"NAME", s.name},
                      {"NAME_INIT", s.name_init},
                      {"SORT", s.sort},
                      {"SYSTEM", s.system ? "Y" : "N"},
                      {"CATEGORY_ID", s.category_id},
                      {"COLOR", s.color},
                      {"SEMANTICS", s.semantics}};
}

std::optional<FilterField> StageField(std::string_view name) {
    std::string n(name);
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (n == "ID" || n == "SORT" || n == "CATEGORY_ID") {
        return FilterField{n, ValueKind::kInt, false};
    }
    if (n == "ENTITY_ID" || n == "STATUS_ID" || n == "NAME" || n == "NAME_INIT" || n == "SYSTEM" || n == "COLOR" ||
        n == "SEMANTICS") {
        return FilterField{n, ValueKind::kString, false};
    }
    return std::nullopt;
}

bool ItemsInStage(const Portal& portal, const Stage& s) {
    std::int64_t e = 0;
    std::int64_t c = 0;
    if (!Portal::ParseStageEntityId(s.entity_id, e, c)) {
        return false;
    }
    auto it = portal.State().items.find(e);
    if (it == portal.State().items.end()) {
        return false;
    }
    return std::any_of(it->second.begin(), it->second.end(), [&](const auto& kv) {
        const auto* v = kv.second.values.if_contains("stageId");
        return v && v->is_string() && v->get_string() == s.status_id;
    });
}

MethodReply StatusAdd(CallContext& ctx, const bj::object& p) {
    const auto* fields = ObjectParam(p, "fields");
    if (fields == nullptr) {
        return ErrEmpty("Parameter 'fields' must be array.");
    }
    if (!CallerIsAdmin(ctx)) {
        return ErrEmpty("Access denied.");
    }
    const bj::value fv(*fields);
    const auto entity_id = json::StringAt(fv, "ENTITY_ID").value_or("");
    if (entity_id.empty()) {
        return ErrEmpty("The field ENTITY_ID is required.");
    }
    auto status_id = json::StringAt(fv, "STATUS_ID").value_or("");
    if (status_id.empty()) {
        return ErrEmpty("The field STATUS_ID is required.");
    }
    std::int64_t e = 0;
    std::int64_t c = 0;
    if (!Portal::ParseStageEntityId(entity_id, e, c) || ctx.portal.TypeByEntityTypeId(e) == nullptr ||
        ctx.portal.CategoryById(c) == nullptr || ctx.portal.CategoryById(c)->entity_type_id != e) {
        return ErrEmpty("Specified entity type is not supported.");
    }
    const auto name = json::StringAt(fv, "NAME").value_or("");
    if (name.empty()) {
        return ErrEmpty("The field Title is required.");
    }
    // crm-status-add.md: a bare code is prefixed with the funnel's DT{e}_{c}: prefix.
    const auto prefix = Portal::StagePrefix(e, c) + ":";
    if (status_id.rfind(prefix, 0) != 0) {
        status_id = prefix + status_id;
    }
    if (status_id.size() > 50) {
        return ErrEmpty("The field STATUS_ID is too long.");
    }
    const auto siblings = ctx.portal.StagesOf(e, c);
    if (std::any_of(siblings.begin(), siblings.end(), [&](const Stage* s) { return s->status_id == status_id; })) {
        return Err(400, "ERROR_CORE", "The specified status ID already exists.");
    }
    std::string semantics = json::StringAt(fv, "SEMANTICS").value_or("");
    if (semantics != "S" && semantics != "F") {
        semantics.clear();
    }
    const std::int64_t sort = json::IntAt(fv, "SORT").value_or(10);
    const Stage* success = nullptr;
    for (const auto* s : siblings) {
        if (s->semantics == "S") {
            success = s;
        }
    }
    if (semantics == "S" && success != nullptr) {
        return ErrEmpty("A funnel can have only one success stage.");  // CONTRACT §7.2: exactly one success stage
    }
    if (semantics.empty() && success != nullptr && sort > success->sort) {
        // CONTRACT §7.2: assumed for SPA directories like DEAL_STAGE.
        return ErrEmpty("Cannot create more stages after the final stage.");
    }
    Stage s;
    s.id = ctx.portal.NextId();
    s.entity_id = entity_id;
    s.status_id = status_id;
    s.name = name;
    s.sort = sort;
    s.category_id = c;
    s.color = json::StringAt(fv, "COLOR").value_or("");
    s.semantics = semantics;
    const auto id = s.id;
    ctx.portal.State().stages[id] = std::move(s);
    return bj::value(id);
}

std::variant<Stage*, ApiError> FindStage(CallContext& ctx, const bj::object& p) {
    const auto id = IntParam(p, "id");
    if (!id || *id <= 0) {
        return Sentence("Invalid identifier.");
    }
    auto& stages = ctx.portal.State().stages;
    auto it = stages.find(*id);
    if (it == stages.end()) {
        return Sentence("Status is not found.");
    }
    return &it->second;
}

MethodReply StatusUpdate(CallContext& ctx, const bj::object& p) {
    auto found = FindStage(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    if (!CallerIsAdmin(ctx)) {
        return ErrEmpty("Access denied.");
    }
    const auto* fields = ObjectParam(p, "fields");
    if (fields == nullptr) {
        return ErrEmpty("Parameter 'fields' must be array.");
    }
    auto* s = std::get<Stage*>(found);
    const bj::value fv(*fields);
    if (auto name = json::StringAt(fv, "NAME")) {
        s->name = *name;
    }
    if (auto sort = json::IntAt(fv, "SORT")) {
        s->sort = *sort;
    }
    if (auto color = json::StringAt(fv, "COLOR")) {
        s->color = *color;
    }
    return bj::value(true);
}

MethodReply StatusGet(CallContext& ctx, const bj::object& p) {
    auto found = FindStage(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    return bj::value(RenderStage(*std::get<Stage*>(found)));
}

MethodReply StatusList(CallContext& ctx, const bj::object& p) {
    auto query = ParseListQuery(Param(p, "filter"), Param(p, "order"), StageField, "ID");
    if (std::holds_alternative<ApiError>(query)) {
        return ErrEmpty("Invalid parameters.");
    }
    std::vector<bj::object> rows;
    for (const auto& [id, s] : ctx.portal.State().stages) {
        rows.push_back(StageRow(s));
    }
    const auto hits = std::get<ListQuery>(query).Select(rows);
    // CONTRACT §14.14: undocumented pagination; a wrong directory gives an empty list. We return all rows.
    bj::array out;
    for (const auto* r : hits) {
        out.push_back(RenderStage(ctx.portal.State().stages.at(r->at("ID").as_int64())));
    }
    return MethodOk{std::move(out), static_cast<std::int64_t>(hits.size()), std::nullopt};
}

MethodReply StatusDelete(CallContext& ctx, const bj::object& p) {
    auto found = FindStage(ctx, p);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    if (!CallerIsAdmin(ctx)) {
        return ErrEmpty("Access denied.");
    }
    const auto* s = std::get<Stage*>(found);
    bool forced = false;
    if (const auto* params = ObjectParam(p, "params")) {
        forced = json::StringAt(*params, "FORCED").value_or("") == "Y";
    }
    if (s->system && !forced) {
        return Sentence("CRM System Status can be deleted only if parameter FORCED is specified and equal to \"Y\".");
    }
    if (ItemsInStage(ctx.portal, *s)) {
        return Sentence("There are active items in this status.");
    }
    std::int64_t e = 0;
    std::int64_t c = 0;
    if (Portal::ParseStageEntityId(s->entity_id, e, c)) {
        // how-to-add-category-to-spa.md: a funnel keeps at least one stage of each group.
        const auto siblings = ctx.portal.StagesOf(e, c);
        const auto same_group = std::count_if(
            siblings.begin(), siblings.end(), [&](const Stage* o) { return o->semantics == s->semantics; });
        if (same_group <= 1) {
            return Sentence("Error on deleting status.");
        }
    }
    const auto status_id = s->status_id;
    std::erase_if(ctx.portal.State().placements, [&](const RobotPlacement& pl) { return pl.stage_id == status_id; });
    ctx.portal.State().stages.erase(s->id);
    return bj::value(true);
}

MethodReply StatusEntityItems(CallContext& ctx, const bj::object& p) {
    const auto entity_id = StringParam(p, "entityId").value_or("");
    std::int64_t e = 0;
    std::int64_t c = 0;
    if (entity_id.empty() || !Portal::ParseStageEntityId(entity_id, e, c)) {
        return ErrEmpty("The parameter entityId is not defined or invalid.");
    }
    bj::array out;
    for (const auto* s : ctx.portal.StagesOf(e, c)) {
        out.push_back(bj::object{{"NAME", s->name}, {"SORT", s->sort}, {"STATUS_ID", s->status_id}});
    }
    return bj::value(std::move(out));
}

MethodReply StatusEntityTypes(CallContext& ctx, const bj::object&) {
    bj::array out;
    for (const auto& [id, c] : ctx.portal.State().categories) {
        const auto* t = ctx.portal.TypeByEntityTypeId(c.entity_type_id);
        if (t == nullptr) {
            continue;
        }
        out.push_back(bj::object{{"ID", Portal::StageEntityId(c.entity_type_id, c.id)},
                                 {"NAME", t->title + " (" + c.name + ")"},
                                 {"SEMANTIC_INFO", bj::array{}},
                                 {"PREFIX", Portal::StagePrefix(c.entity_type_id, c.id)},
                                 {"FIELD_ATTRIBUTE_SCOPE", "category_" + std::to_string(c.id)},
                                 {"ENTITY_TYPE_ID", c.entity_type_id},
                                 {"IS_ENABLED", true},
                                 {"CATEGORY_ID", c.id},
                                 {"CATEGORY_NAME", c.name},
                                 {"CATEGORY_SORT", c.sort},
                                 {"IS_DEFAULT_CATEGORY", c.is_default}});
    }
    return bj::value(std::move(out));
}

MethodReply StatusFields(CallContext&, const bj::object&) {
    auto field = [](const char* type, bool ro, bool immutable, bool required, const char* title) {
        return FieldDescription(type, required, ro, immutable, false, title);
    };
    return bj::value(bj::object{{"ID", field("integer", true, false, false, "ID")},
                                {"ENTITY_ID", field("string", false, true, true, "Entity ID")},
                                {"STATUS_ID", field("string", false, true, true, "Status ID")},
                                {"NAME", field("string", false, false, true, "Name")},
                                {"NAME_INIT", field("string", true, false, false, "Default name")},
                                {"SORT", field("integer", false, false, false, "Sort")},
                                {"SYSTEM", field("char", true, false, false, "System")},
                                {"CATEGORY_ID", field("integer", false, true, false, "Funnel")},
                                {"COLOR", field("string", false, false, false, "Color")},
                                {"SEMANTICS", field("string", false, true, false, "Semantics")}});
}

}  // namespace

void RegisterCategoryMethods(MethodMap& m) {
    m["crm.category.add"] = {"crm", false, CategoryAdd};
    m["crm.category.update"] = {"crm", false, CategoryUpdate};
    m["crm.category.get"] = {"crm", false, CategoryGet};
    m["crm.category.list"] = {"crm", false, CategoryList};
    m["crm.category.delete"] = {"crm", false, CategoryDelete};
    m["crm.category.fields"] = {"crm", false, CategoryFields};
    m["crm.status.add"] = {"crm", false, StatusAdd};
    m["crm.status.update"] = {"crm", false, StatusUpdate};
    m["crm.status.get"] = {"crm", false, StatusGet};
    m["crm.status.list"] = {"crm", false, StatusList};
    m["crm.status.delete"] = {"crm", false, StatusDelete};
    m["crm.status.entity.items"] = {"crm", false, StatusEntityItems};
    m["crm.status.entity.types"] = {"crm", false, StatusEntityTypes};
    m["crm.status.fields"] = {"crm", false, StatusFields};
}

}  // namespace dispatch::emulator
