// crm.type.* and crm.automatedsolution.* (CONTRACT §4, §5).
#include <algorithm>

#include "core/json.hpp"
#include "emulator/filter.hpp"
#include "emulator/methods.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

// crm-type-add.md: flags and their defaults (all N except isSetOpenPermissions).
constexpr const char* kFlags[] = {"isCategoriesEnabled",
                                  "isStagesEnabled",
                                  "isBeginCloseDatesEnabled",
                                  "isClientEnabled",
                                  "isUseInUserfieldEnabled",
                                  "isLinkWithProductsEnabled",
                                  "isMycompanyEnabled",
                                  "isDocumentsEnabled",
                                  "isSourceEnabled",
                                  "isObserversEnabled",
                                  "isRecyclebinEnabled",
                                  "isAutomationEnabled",
                                  "isBizProcEnabled",
                                  "isSetOpenPermissions",
                                  "isPaymentsEnabled",
                                  "isCountersEnabled"};
constexpr const char* kReadOnlyFlags[] = {"isPaymentsEnabled", "isCountersEnabled"};

bool IsReadOnlyFlag(std::string_view f) {
    return std::any_of(std::begin(kReadOnlyFlags), std::end(kReadOnlyFlags), [&](const char* r) { return f == r; });
}

std::string YN(const bj::value& v) { return json::ToBool(v).value_or(false) ? "Y" : "N"; }

bool EntityTypeIdAllowed(std::int64_t e) { return (e >= 128 && e <= 192) || (e >= 1030 && e % 2 == 0); }

bj::object RenderType(Portal& portal, const SpaType& t, bool full) {
    bj::object o{{"id", t.id},
                 {"title", t.title},
                 {"code", t.code},
                 {"createdBy", t.created_by},
                 {"entityTypeId", t.entity_type_id},
                 {"customSectionId", nullptr},
                 {"customSections", bj::array{}}};
    for (const char* f : kFlags) {
        const auto* v = t.flags.if_contains(f);
        o[f] = v ? *v : bj::value("N");
    }
    o["isInitialized"] = "Y";
    o["createdTime"] = portal.Iso(t.created_time);
    o["updatedTime"] = portal.Iso(t.updated_time);
    o["updatedBy"] = t.updated_by;
    if (full) {
        o["relations"] = t.relations.is_null() ? bj::value(bj::object{{"parent", bj::array{}}, {"child", bj::array{}}})
                                               : t.relations;
        o["linkedUserFields"] = t.linked_user_fields.is_null() ? bj::value(bj::object{}) : t.linked_user_fields;
    }
    return o;
}

// Applies writable keys of `fields` to the type; returns the first validation error.
std::optional<ApiError> ApplyTypeFields(Portal& portal, SpaType& t, const bj::object& fields) {
    for (const auto& kv : fields) {
        const std::string_view key(kv.key().data(), kv.key().size());
        if (key == "title") {
            t.title = json::ToString(kv.value()).value_or("");
        } else if (key == "code") {
            t.code = json::ToString(kv.value()).value_or("");
        } else if (key == "relations") {
            t.relations = kv.value();  // crm-type-update.md: relations overwrite fully
        } else if (key == "linkedUserFields") {
            t.linked_user_fields = kv.value();
        } else if (key == "isExternal" && json::ToBool(kv.value()).value_or(false) &&
                   fields.if_contains("customSectionId") == nullptr) {
            return ErrZero("Select a workplace where the SPA will be located");
        } else {
            for (const char* f : kFlags) {
                if (key == f && !IsReadOnlyFlag(key)) {
                    t.flags[f] = YN(kv.value());
                }
            }
        }
    }
    (void)portal;
    return std::nullopt;
}

std::optional<FilterField> TypeField(std::string_view name) {
    if (name == "id" || name == "entityTypeId" || name == "createdBy" || name == "updatedBy") {
        return FilterField{std::string(name), ValueKind::kInt, false};
    }
    if (name == "createdTime" || name == "updatedTime") {
        return FilterField{std::string(name), ValueKind::kTime, false};
    }
    if (name == "title" || name == "code") {
        return FilterField{std::string(name), ValueKind::kString, false};
    }
    for (const char* f : kFlags) {
        if (name == f) {
            return FilterField{std::string(name), ValueKind::kString, false};
        }
    }
    return std::nullopt;
}

bj::object TypeRow(const SpaType& t) {
    bj::object row{{"id", t.id},
                   {"entityTypeId", t.entity_type_id},
                   {"title", t.title},
                   {"code", t.code},
                   {"createdBy", t.created_by},
                   {"updatedBy", t.updated_by},
                   {"createdTime", t.created_time},
                   {"updatedTime", t.updated_time}};
    for (const auto& kv : t.flags) {
        row[kv.key()] = kv.value();
    }
    return row;
}

MethodReply TypeReply(Portal& portal, const SpaType& t) {
    return bj::value(bj::object{{"type", RenderType(portal, t, true)}});
}

// The type an `id` call addresses; the admin check, where the method has one, comes between the two lookups.
std::variant<SpaType*, ApiError> FindType(CallContext& ctx, const bj::object& p, bool admin_only) {
    const auto id = IntParam(p, "id");
    if (!id) {
        return MissingParam("id");
    }
    if (admin_only && !CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    auto* t = ctx.portal.TypeById(*id);
    if (t == nullptr) {
        return ErrZero("SPA not found");
    }
    return t;
}

MethodReply TypeAdd(CallContext& ctx, const bj::object& p) {
    const auto* fields = ObjectParam(p, "fields");
    if (fields == nullptr) {
        return MissingParam("fields");
    }
    if (!CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    auto& portal = ctx.portal;
    std::int64_t e = 0;
    if (const auto* v = fields->if_contains("entityTypeId"); v && !v->is_null()) {
        const auto want = json::ToInt(*v);
        if (!want || !EntityTypeIdAllowed(*want)) {
            return Err(400, "INVALID_ARG_VALUE", "entityTypeId is out of allowed range");
        }
        if (portal.TypeByEntityTypeId(*want) != nullptr) {
            return Err(400, "INVALID_ARG_VALUE", "entityTypeId is already in use");
        }
        e = *want;
    } else {
        // Auto numbering: 128…192 first, then even numbers from 1030 (README).
        for (std::int64_t c = 128; c <= 192 && e == 0; ++c) {
            if (portal.TypeByEntityTypeId(c) == nullptr) {
                e = c;
            }
        }
        for (std::int64_t c = 1030; e == 0; c += 2) {
            if (portal.TypeByEntityTypeId(c) == nullptr) {
                e = c;
            }
        }
    }
    const auto title = json::StringAt(*fields, "title").value_or("");
    if (title.empty()) {
        return ErrZero("The field \"title\" is required");
    }
    SpaType t;
    t.id = portal.NextId();
    t.entity_type_id = e;
    for (const char* f : kFlags) {
        t.flags[f] = std::string_view(f) == "isSetOpenPermissions" ? "Y" : "N";
    }
    if (auto err = ApplyTypeFields(portal, t, *fields)) {
        return *err;
    }
    t.created_by = t.updated_by = ctx.caller.user_id;
    t.created_time = t.updated_time = portal.NowSeconds();
    portal.SchemaChanged();
    auto& stored = portal.State().types[t.id] = std::move(t);
    // CONTRACT §14.10: a new SPA always gets its default funnel "General" with the five default stages, whatever
    // isCategoriesEnabled/isStagesEnabled say (README).
    portal.AddCategory(e, "General", 500, true);
    return TypeReply(portal, stored);
}

MethodReply TypeUpdate(CallContext& ctx, const bj::object& p) {
    auto found = FindType(ctx, p, true);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    auto* t = std::get<SpaType*>(found);
    const auto* fields = ObjectParam(p, "fields");
    if (fields == nullptr) {
        return MissingParam("fields");
    }
    SpaType copy = *t;
    if (auto err = ApplyTypeFields(ctx.portal, copy, *fields)) {
        return *err;
    }
    copy.updated_by = ctx.caller.user_id;
    copy.updated_time = ctx.portal.NowSeconds();
    ctx.portal.SchemaChanged();
    *t = std::move(copy);
    return TypeReply(ctx.portal, *t);
}

MethodReply TypeGet(CallContext& ctx, const bj::object& p) {
    auto found = FindType(ctx, p, false);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    return TypeReply(ctx.portal, *std::get<SpaType*>(found));
}

MethodReply TypeGetByEntityTypeId(CallContext& ctx, const bj::object& p) {
    const auto e = IntParam(p, "entityTypeId");
    if (!e) {
        return MissingParam("entityTypeId");
    }
    const auto* t = ctx.portal.TypeByEntityTypeId(*e);
    if (t == nullptr) {
        return ErrZero("Smart process not found");
    }
    return TypeReply(ctx.portal, *t);
}

MethodReply TypeList(CallContext& ctx, const bj::object& p) {
    auto query = ParseListQuery(Param(p, "filter"), Param(p, "order"), TypeField, "id");
    if (auto* e = std::get_if<ApiError>(&query)) {
        return *e;
    }
    std::vector<bj::object> rows;
    for (const auto& [id, t] : ctx.portal.State().types) {
        rows.push_back(TypeRow(t));
    }
    const auto hits = std::get<ListQuery>(query).Select(rows);
    return Paginate(hits.size(), ParseStart(Param(p, "start")), "types", [&](std::size_t i) {
        const auto id = hits[i]->at("id").as_int64();
        return bj::value(RenderType(ctx.portal, *ctx.portal.TypeById(id), false));
    });
}

MethodReply TypeDelete(CallContext& ctx, const bj::object& p) {
    auto found = FindType(ctx, p, true);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    auto& st = ctx.portal.State();
    const auto* t = std::get<SpaType*>(found);
    const auto id = t->id;
    if (ctx.portal.HasItems(t->entity_type_id)) {
        return Err(400, "BX_ERROR", "You cannot delete an entity type that has elements");
    }
    ctx.portal.SchemaChanged();
    const auto e = t->entity_type_id;
    std::erase_if(st.categories, [&](const auto& kv) { return kv.second.entity_type_id == e; });
    const auto prefix = "DYNAMIC_" + std::to_string(e) + "_STAGE_";
    std::erase_if(st.stages, [&](const auto& kv) { return kv.second.entity_id.rfind(prefix, 0) == 0; });
    const auto uf_entity = "CRM_" + std::to_string(id);
    std::erase_if(st.user_fields, [&](const auto& kv) { return kv.second.entity_id == uf_entity; });
    for (auto& [sid, s] : st.solutions) {
        std::erase(s.type_ids, id);
    }
    st.items.erase(e);
    st.types.erase(id);
    return bj::value(bj::array{});  // crm-type-delete.md: `[]` on success
}

MethodReply TypeFields(CallContext&, const bj::object&) {
    bj::object f;
    f["id"] = FieldDescription("integer", false, true, false, false, "ID");
    f["title"] = FieldDescription("string", true, false, false, false, "Title");
    f["code"] = FieldDescription("string", false, false, false, false, "Code");
    f["createdBy"] = FieldDescription("user", false, true, false, false, "Created by");
    f["entityTypeId"] = FieldDescription("integer", false, false, true, false, "Entity type ID");
    f["customSectionId"] = FieldDescription("integer", false, false, true, false, "Digital workplace");
    for (const char* flag : kFlags) {
        f[flag] = FieldDescription("boolean", false, IsReadOnlyFlag(flag), false, false, flag);
    }
    f["createdTime"] = FieldDescription("datetime", false, true, false, false, "Created");
    f["updatedTime"] = FieldDescription("datetime", false, true, false, false, "Updated");
    f["updatedBy"] = FieldDescription("user", false, true, false, false, "Updated by");
    return bj::value(bj::object{{"fields", std::move(f)}});
}

// --- crm.automatedsolution.* ---

bj::object RenderSolution(const AutomatedSolution& s) {
    bj::array ids;
    for (auto id : s.type_ids) {
        ids.push_back(id);
    }
    return bj::object{{"id", s.id}, {"title", s.title}, {"typeIds", std::move(ids)}};
}

// Reads typeIds; every id must be an existing type `id` (README: unknown ids are INVALID_ARG_VALUE).
std::optional<ApiError> ReadTypeIds(Portal& portal, const bj::value& v, std::vector<std::int64_t>& out) {
    out.clear();
    if (v.is_null() || (v.is_string() && v.get_string().empty())) {
        return std::nullopt;
    }
    // A scalar is one id.
    for (const auto* r : ListElements(v).value_or(std::vector<const bj::value*>{&v})) {
        const auto id = json::ToInt(*r);
        if (!id || portal.TypeById(*id) == nullptr) {
            return Err(400, "INVALID_ARG_VALUE", "Smart process type not found: " + json::Dump(*r));
        }
        if (std::find(out.begin(), out.end(), *id) == out.end()) {
            out.push_back(*id);
        }
    }
    return std::nullopt;
}

void LinkTypes(Portal& portal, std::int64_t solution_id, const std::vector<std::int64_t>& ids) {
    // crm-automated-solution-add.md: linking an SPA removes it from its previous workplace.
    for (auto& [sid, s] : portal.State().solutions) {
        if (sid == solution_id) {
            s.type_ids = ids;
        } else {
            std::erase_if(s.type_ids,
                          [&](std::int64_t t) { return std::find(ids.begin(), ids.end(), t) != ids.end(); });
        }
    }
}

using SolutionMap = std::map<std::int64_t, AutomatedSolution>;

// The workplace an `id` call addresses; the methods that change one check the caller first.
std::variant<SolutionMap::iterator, ApiError> FindSolution(CallContext& ctx, const bj::object& p, bool admin_only) {
    if (admin_only && !CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    const auto id = IntParam(p, "id");
    auto& sols = ctx.portal.State().solutions;
    auto it = id ? sols.find(*id) : sols.end();
    if (it == sols.end()) {
        return Err(400, "NOT_FOUND", "Automated solution not found");
    }
    return it;
}

MethodReply SolutionReply(const AutomatedSolution& s) {
    return bj::value(bj::object{{"automatedSolution", RenderSolution(s)}});
}

MethodReply SolutionAdd(CallContext& ctx, const bj::object& p) {
    if (!CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    const auto* fields = ObjectParam(p, "fields");
    const auto title = fields ? json::StringAt(*fields, "title").value_or("") : "";
    if (title.empty()) {
        return Err(400, "BX_EMPTY_REQUIRED", "Required field \"title\" is not filled");
    }
    std::vector<std::int64_t> ids;
    if (const auto* v = fields->if_contains("typeIds")) {
        if (auto err = ReadTypeIds(ctx.portal, *v, ids)) {
            return *err;
        }
    }
    AutomatedSolution s;
    s.id = ctx.portal.NextId();
    s.title = title;
    auto& stored = ctx.portal.State().solutions[s.id] = s;
    LinkTypes(ctx.portal, stored.id, ids);
    return SolutionReply(stored);
}

MethodReply SolutionUpdate(CallContext& ctx, const bj::object& p) {
    auto found = FindSolution(ctx, p, true);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    auto it = std::get<SolutionMap::iterator>(found);
    const auto* fields = ObjectParam(p, "fields");
    if (fields == nullptr) {
        return Err(400, "BX_EMPTY_REQUIRED", "Required parameter \"fields\" is not filled");
    }
    if (const auto* v = fields->if_contains("title")) {
        const auto title = json::ToString(*v).value_or("");
        if (title.empty()) {
            return Err(400, "BX_EMPTY_REQUIRED", "Required field \"title\" is not filled");
        }
        it->second.title = title;
    }
    if (const auto* v = fields->if_contains("typeIds")) {
        std::vector<std::int64_t> ids;
        if (auto err = ReadTypeIds(ctx.portal, *v, ids)) {
            return *err;
        }
        LinkTypes(ctx.portal, it->first, ids);  // replaces the whole set
    }
    return SolutionReply(it->second);
}

MethodReply SolutionGet(CallContext& ctx, const bj::object& p) {
    auto found = FindSolution(ctx, p, false);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    return SolutionReply(std::get<SolutionMap::iterator>(found)->second);
}

std::optional<FilterField> SolutionField(std::string_view name) {
    if (name == "id") {
        return FilterField{"id", ValueKind::kInt, false};
    }
    if (name == "title") {
        return FilterField{"title", ValueKind::kString, false};
    }
    return std::nullopt;
}

MethodReply SolutionList(CallContext& ctx, const bj::object& p) {
    auto query = ParseListQuery(Param(p, "filter"), Param(p, "order"), SolutionField, "id");
    if (auto* e = std::get_if<ApiError>(&query)) {
        return *e;
    }
    std::vector<bj::object> rows;
    for (const auto& [id, s] : ctx.portal.State().solutions) {
        rows.push_back(bj::object{{"id", s.id}, {"title", s.title}});
    }
    const auto hits = std::get<ListQuery>(query).Select(rows);
    return Paginate(hits.size(), ParseStart(Param(p, "start")), "automatedSolutions", [&](std::size_t i) {
        return bj::value(RenderSolution(ctx.portal.State().solutions.at(hits[i]->at("id").as_int64())));
    });
}

MethodReply SolutionDelete(CallContext& ctx, const bj::object& p) {
    auto found = FindSolution(ctx, p, true);
    if (auto* e = std::get_if<ApiError>(&found)) {
        return *e;
    }
    auto it = std::get<SolutionMap::iterator>(found);
    if (!it->second.type_ids.empty()) {
        return Err(400, "HAS_BOUND_TYPES", "Detach the smart processes from the automated solution first");
    }
    ctx.portal.State().solutions.erase(it);
    return bj::value(nullptr);
}

MethodReply SolutionFields(CallContext&, const bj::object&) {
    bj::object f;
    f["id"] = FieldDescription("integer", false, true, false, false, "ID");
    f["title"] = FieldDescription("string", true, false, false, false, "Title");
    auto type_ids = FieldDescription("crm_dynamic_type", false, false, false, true, "Smart processes");
    f["typeIds"] = std::move(type_ids);
    for (auto& kv : f) {
        kv.value().as_object()["upperName"] = [&] {
            std::string s(kv.key());
            return s == "typeIds" ? std::string("TYPE_IDS") : (s == "id" ? std::string("ID") : std::string("TITLE"));
        }();
    }
    return bj::value(bj::object{{"fields", std::move(f)}});
}

}  // namespace

void RegisterTypeMethods(MethodMap& m) {
    m["crm.type.add"] = {"crm", false, TypeAdd};
    m["crm.type.update"] = {"crm", false, TypeUpdate};
    m["crm.type.get"] = {"crm", false, TypeGet};
    m["crm.type.getbyentitytypeid"] = {"crm", false, TypeGetByEntityTypeId};
    m["crm.type.list"] = {"crm", false, TypeList};
    m["crm.type.delete"] = {"crm", false, TypeDelete};
    m["crm.type.fields"] = {"crm", false, TypeFields};
    m["crm.automatedsolution.add"] = {"crm", false, SolutionAdd};
    m["crm.automatedsolution.update"] = {"crm", false, SolutionUpdate};
    m["crm.automatedsolution.get"] = {"crm", false, SolutionGet};
    m["crm.automatedsolution.list"] = {"crm", false, SolutionList};
    m["crm.automatedsolution.delete"] = {"crm", false, SolutionDelete};
    m["crm.automatedsolution.fields"] = {"crm", false, SolutionFields};
}

}  // namespace dispatch::emulator
