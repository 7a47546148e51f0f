// userfieldconfig.* for smart processes (CONTRACT §9). Errors carry `error: ""` and the text in the description;
// numeric values come back as strings.
#include <algorithm>
#include <cctype>

#include "core/json.hpp"
#include "emulator/filter.hpp"
#include "emulator/methods.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

constexpr const char* kTypes[][2] = {{"crm", "CRM item binding"},
                                     {"crm_status", "CRM directory"},
                                     {"money", "Money"},
                                     {"employee", "Employee"},
                                     {"string", "String"},
                                     {"integer", "Integer"},
                                     {"double", "Number"},
                                     {"datetime", "Date and time"},
                                     {"date", "Date"},
                                     {"boolean", "Yes/No"},
                                     {"address", "Address"},
                                     {"url", "Link"},
                                     {"file", "File"},
                                     {"enumeration", "List"},
                                     {"iblock_section", "Information block sections"},
                                     {"iblock_element", "Information block elements"}};

bool KnownType(std::string_view t) {
    return std::any_of(std::begin(kTypes), std::end(kTypes), [&](const auto& p) { return t == p[0]; }) ||
           t.rfind("rest_", 0) == 0;
}

bj::value Label(const bj::value* v) {
    if (v == nullptr || v->is_null()) {
        return bj::object{{"en", nullptr}};
    }
    if (v->is_object()) {
        return *v;
    }
    return bj::object{{"en", json::ToString(*v).value_or("")}};
}

bj::object RenderField(const UserField& f) {
    bj::object o{{"id", std::to_string(f.id)},
                 {"entityId", f.entity_id},
                 {"fieldName", f.field_name},
                 {"userTypeId", f.user_type_id},
                 {"xmlId", f.xml_id.empty() ? bj::value(nullptr) : bj::value(f.xml_id)},
                 {"sort", std::to_string(f.sort)},
                 {"multiple", f.multiple ? "Y" : "N"},
                 {"mandatory", f.mandatory ? "Y" : "N"},
                 {"showFilter", f.show_filter},
                 {"showInList", f.show_in_list},
                 {"editInList", f.edit_in_list},
                 {"isSearchable", f.is_searchable},
                 {"settings", f.settings.is_null() ? bj::value(bj::object{}) : f.settings},
                 {"languageId", bj::object{{"en", "en"}}},
                 {"editFormLabel", Label(&f.edit_form_label)},
                 {"listColumnLabel", bj::object{{"en", nullptr}}},
                 {"listFilterLabel", bj::object{{"en", nullptr}}},
                 {"errorMessage", bj::object{{"en", nullptr}}},
                 {"helpMessage", Label(&f.help_message)}};
    if (f.user_type_id == "enumeration") {
        bj::array items;
        for (const auto& e : f.enums) {
            items.push_back(bj::object{{"id", std::to_string(e.id)},
                                       {"userFieldId", std::to_string(f.id)},
                                       {"value", e.value},
                                       {"def", e.def ? "Y" : "N"},
                                       {"sort", std::to_string(e.sort)},
                                       {"xmlId", e.xml_id}});
        }
        o["enum"] = std::move(items);
    }
    return o;
}

std::string YN(const bj::value* v, const char* fallback) {
    if (v == nullptr) {
        return fallback;
    }
    if (auto s = json::ToString(*v); s && (*s == "N" || *s == "I" || *s == "E" || *s == "S" || *s == "Y")) {
        return *s;
    }
    return json::ToBool(*v).value_or(false) ? "Y" : "N";
}

// enum items: [{id?, value, def, sort, xmlId, del}] (userfieldconfig-update.md).
std::optional<ApiError> ApplyEnum(Portal& portal, UserField& f, const bj::value& v) {
    // A scalar changes nothing.
    for (const auto* r : ListElements(v).value_or(std::vector<const bj::value*>{})) {
        if (!r->is_object()) {
            return ErrEmpty("Fail to save enumeration field values");
        }
        const auto id = json::IntAt(*r, "id");
        auto it = id ? std::find_if(f.enums.begin(), f.enums.end(), [&](const EnumOption& o) { return o.id == *id; })
                     : f.enums.end();
        if (it != f.enums.end() && json::StringAt(*r, "del").value_or("N") == "Y") {
            f.enums.erase(it);
            continue;
        }
        EnumOption o = it != f.enums.end() ? *it : EnumOption{};
        if (auto value = json::StringAt(*r, "value")) {
            o.value = *value;
        }
        if (o.value.empty()) {
            return ErrEmpty("Fail to save enumeration field values");
        }
        if (const auto* d = r->as_object().if_contains("def")) {
            o.def = json::ToBool(*d).value_or(false);
        }
        o.sort = json::IntAt(*r, "sort").value_or(o.sort);
        if (auto x = json::StringAt(*r, "xmlId")) {
            o.xml_id = *x;
        }
        if (it != f.enums.end()) {
            *it = std::move(o);
        } else {
            o.id = portal.NextId();
            if (o.xml_id.empty()) {
                o.xml_id = portal.RandomHex(32);  // the portal generates option xmlIds (inference, §9.1)
            }
            f.enums.push_back(std::move(o));
        }
    }
    return std::nullopt;
}

// What add and update both take as given: settings and the two labels.
void ApplySettingsAndLabels(UserField& f, const bj::object& field) {
    if (const auto* v = field.if_contains("settings")) {
        f.settings = *v;
    }
    if (const auto* v = field.if_contains("editFormLabel")) {
        f.edit_form_label = Label(v);
    }
    if (const auto* v = field.if_contains("helpMessage")) {
        f.help_message = Label(v);
    }
}

bool ModuleOk(const bj::object& p) { return StringParam(p, "moduleId").value_or("") == "crm"; }

MethodReply FieldAdd(CallContext& ctx, const bj::object& p) {
    if (!ModuleOk(p)) {
        return ErrEmpty("The current method required more scopes. (crm)");
    }
    if (!CallerIsAdmin(ctx)) {
        return ErrEmpty("Access denied");
    }
    const auto* field = ObjectParam(p, "field");
    if (field == nullptr) {
        return ErrEmpty("Fail to create new user field");
    }
    const bj::value fv(*field);
    const auto entity_id = json::StringAt(fv, "entityId").value_or("");
    std::int64_t type_id = 0;
    if (entity_id.rfind("CRM_", 0) == 0) {
        type_id = json::ParseInt(std::string_view(entity_id).substr(4)).value_or(0);
    }
    if (type_id == 0 || ctx.portal.TypeById(type_id) == nullptr) {
        // index.md: CRM_{entityTypeId} instead of CRM_{id} fails exactly like this.
        return ErrEmpty("You cannot create custom fields");
    }
    const auto user_type = json::StringAt(fv, "userTypeId").value_or("");
    if (user_type.empty() || !KnownType(user_type)) {
        return ErrEmpty("The 'USER_TYPE_ID' field is not found");
    }
    const auto name = json::StringAt(fv, "fieldName").value_or("");
    if (name.empty()) {
        return ErrEmpty("The 'FIELD_NAME' field is not found");
    }
    const auto prefix = "UF_" + entity_id + "_";
    const bool chars_ok = std::all_of(
        name.begin(), name.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
    if (name.rfind(prefix, 0) != 0 || name.size() <= prefix.size() || name.size() > 50 || !chars_ok) {
        return ErrEmpty("You cannot create custom fields");
    }
    for (const auto& [id, f] : ctx.portal.State().user_fields) {
        if (f.entity_id == entity_id && f.field_name == name) {
            return ErrEmpty("Field " + name + " already exists");
        }
    }
    UserField f;
    f.id = ctx.portal.NextId();
    f.entity_id = entity_id;
    f.field_name = name;
    f.user_type_id = user_type;
    f.xml_id = json::StringAt(fv, "xmlId").value_or("");
    f.sort = json::IntAt(fv, "sort").value_or(100);
    f.multiple = YN(field->if_contains("multiple"), "N") == "Y";
    f.mandatory = YN(field->if_contains("mandatory"), "N") == "Y";
    f.show_filter = YN(field->if_contains("showFilter"), "N");
    f.edit_in_list = YN(field->if_contains("editInList"), "Y");
    f.is_searchable = YN(field->if_contains("isSearchable"), "N");
    ApplySettingsAndLabels(f, *field);
    if (user_type == "enumeration") {
        if (const auto* e = field->if_contains("enum")) {
            if (auto err = ApplyEnum(ctx.portal, f, *e)) {
                return *err;
            }
        }
    }
    ctx.portal.SchemaChanged();
    auto& stored = ctx.portal.State().user_fields[f.id] = std::move(f);
    return bj::value(bj::object{{"field", RenderField(stored)}});
}

UserField* FindField(CallContext& ctx, const bj::object& p) {
    const auto id = IntParam(p, "id");
    auto& fields = ctx.portal.State().user_fields;
    auto it = id ? fields.find(*id) : fields.end();
    return it == fields.end() ? nullptr : &it->second;
}

MethodReply FieldUpdate(CallContext& ctx, const bj::object& p) {
    if (!ModuleOk(p)) {
        return ErrEmpty("The current method required more scopes. (crm)");
    }
    if (!CallerIsAdmin(ctx)) {
        return ErrEmpty("Access denied");
    }
    auto* existing = FindField(ctx, p);
    if (existing == nullptr) {
        return ErrEmpty("You cannot change the settings of the user field");
    }
    const auto* field = ObjectParam(p, "field");
    if (field == nullptr) {
        return ErrEmpty("Error while attempting to change user field settings");
    }
    UserField f = *existing;
    const bj::value fv(*field);
    // Immutable parameters (entityId, fieldName, multiple, userTypeId itself) are silently not applied.
    if (auto x = json::StringAt(fv, "xmlId")) {
        f.xml_id = *x;
    }
    f.sort = json::IntAt(fv, "sort").value_or(f.sort);
    if (const auto* v = field->if_contains("mandatory")) {
        f.mandatory = YN(v, "N") == "Y";
    }
    if (const auto* v = field->if_contains("showFilter")) {
        f.show_filter = YN(v, "N");
    }
    if (const auto* v = field->if_contains("isSearchable")) {
        f.is_searchable = YN(v, "N");
    }
    ApplySettingsAndLabels(f, *field);
    // userfieldconfig-update.md: enum changes need userTypeId=enumeration in the same call.
    if (const auto* e = field->if_contains("enum");
        e && f.user_type_id == "enumeration" && json::StringAt(fv, "userTypeId").value_or("") == "enumeration") {
        if (auto err = ApplyEnum(ctx.portal, f, *e)) {
            return *err;
        }
    }
    ctx.portal.SchemaChanged();
    *existing = std::move(f);
    return bj::value(bj::object{{"field", RenderField(*existing)}});
}

MethodReply FieldGet(CallContext& ctx, const bj::object& p) {
    if (!ModuleOk(p)) {
        return ErrEmpty("The current method required more scopes. (crm)");
    }
    const auto* f = FindField(ctx, p);
    return bj::value(bj::object{{"field", f ? bj::value(RenderField(*f)) : bj::value(nullptr)}});
}

std::optional<FilterField> FieldFilter(std::string_view name) {
    if (name == "id" || name == "sort") {
        return FilterField{std::string(name), ValueKind::kInt, false};
    }
    // CONTRACT §14.15: entityId is not in the documented list but the tutorial uses it; we accept it (README).
    static constexpr const char* kStrings[] = {"fieldName",
                                               "userTypeId",
                                               "xmlId",
                                               "multiple",
                                               "mandatory",
                                               "showFilter",
                                               "showInList",
                                               "editInList",
                                               "isSearchable",
                                               "entityId"};
    for (const char* s : kStrings) {
        if (name == s) {
            return FilterField{std::string(name), ValueKind::kString, false};
        }
    }
    return std::nullopt;
}

MethodReply FieldList(CallContext& ctx, const bj::object& p) {
    if (!ModuleOk(p)) {
        return ErrEmpty("The current method required more scopes. (crm)");
    }
    const auto* fv = Param(p, "filter");
    if (fv != nullptr && fv->is_object()) {
        for (const auto& kv : fv->get_object()) {
            if (kv.value().is_object()) {
                return ErrEmpty("Invalid filter: only AND conditions are supported");  // §9.2: AND only
            }
        }
    }
    static const bj::value kDefaultOrder(bj::object{{"sort", "ASC"}});
    const auto* ov = Param(p, "order");
    auto query = ParseListQuery(
        fv, ov && !(ov->is_object() && ov->get_object().empty()) ? ov : &kDefaultOrder, FieldFilter, "id");
    if (auto* e = std::get_if<ApiError>(&query)) {
        return ErrEmpty(e->description);
    }
    std::vector<bj::object> rows;
    for (const auto& [id, f] : ctx.portal.State().user_fields) {
        rows.push_back(bj::object{{"id", f.id},
                                  {"sort", f.sort},
                                  {"fieldName", f.field_name},
                                  {"userTypeId", f.user_type_id},
                                  {"xmlId", f.xml_id},
                                  {"multiple", f.multiple ? "Y" : "N"},
                                  {"mandatory", f.mandatory ? "Y" : "N"},
                                  {"showFilter", f.show_filter},
                                  {"showInList", f.show_in_list},
                                  {"editInList", f.edit_in_list},
                                  {"isSearchable", f.is_searchable},
                                  {"entityId", f.entity_id}});
    }
    const auto hits = std::get<ListQuery>(query).Select(rows);
    return Paginate(hits.size(), ParseStart(Param(p, "start")), "fields", [&](std::size_t i) {
        return bj::value(RenderField(ctx.portal.State().user_fields.at(hits[i]->at("id").as_int64())));
    });
}

MethodReply FieldDelete(CallContext& ctx, const bj::object& p) {
    if (!ModuleOk(p)) {
        return ErrEmpty("The current method required more scopes. (crm)");
    }
    if (!CallerIsAdmin(ctx)) {
        return ErrEmpty("Access denied");
    }
    const auto* f = FindField(ctx, p);
    if (f == nullptr) {
        return ErrEmpty("You cannot delete the user field");
    }
    ctx.portal.SchemaChanged();
    const auto name = f->field_name;
    for (auto& [e, items] : ctx.portal.State().items) {
        for (auto& [id, item] : items) {
            item.values.erase(name);
        }
    }
    ctx.portal.State().user_fields.erase(f->id);
    return bj::value(nullptr);
}

MethodReply FieldGetTypes(CallContext&, const bj::object& p) {
    if (!ModuleOk(p)) {
        return ErrEmpty("The current method required more scopes. (crm)");
    }
    bj::object types;
    for (const auto& t : kTypes) {
        types[t[0]] = bj::object{{"userTypeId", t[0]}, {"description", t[1]}};
    }
    return bj::value(bj::object{{"types", std::move(types)}});
}

}  // namespace

void RegisterUserFieldMethods(MethodMap& m) {
    m["userfieldconfig.add"] = {"userfieldconfig", false, FieldAdd};
    m["userfieldconfig.update"] = {"userfieldconfig", false, FieldUpdate};
    m["userfieldconfig.get"] = {"userfieldconfig", false, FieldGet};
    m["userfieldconfig.list"] = {"userfieldconfig", false, FieldList};
    m["userfieldconfig.delete"] = {"userfieldconfig", false, FieldDelete};
    m["userfieldconfig.gettypes"] = {"userfieldconfig", false, FieldGetTypes};
}

}  // namespace dispatch::emulator
