#include "provision/snapshot.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "b24/errc.hpp"
#include "core/json.hpp"

namespace dispatch::provision {

namespace bj = boost::json;

namespace {

Error BadRow(std::string_view what, const bj::value& row) {
    std::string text = json::Dump(row);
    if (text.size() > 200) {
        text = text.substr(0, 200) + "...";
    }
    return Fail(b24::Errc::kBadResponse, fmt::format("{} row without the expected members: {}", what, text));
}

bool BoolAt(const bj::value& row, std::string_view key, bool fallback = false) {
    const auto* v = json::Find(row, key);
    if (v == nullptr || v->is_null()) {
        return fallback;
    }
    return json::ToBool(*v).value_or(fallback);
}

bj::object ObjectAt(const bj::value& row, std::string_view key) {
    const auto* v = json::Find(row, key);
    return v != nullptr && v->is_object() ? v->get_object() : bj::object{};
}

template <class Row>
void Upsert(std::vector<Row>& rows, Row&& row) {
    const auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.id == row.id; });
    if (it != rows.end()) {
        *it = std::move(row);
    } else {
        rows.push_back(std::move(row));
    }
}

}  // namespace

std::string PortalStage::Code() const {
    const auto colon = status_id.rfind(':');
    return colon == std::string::npos ? status_id : status_id.substr(colon + 1);
}

std::string StageCountKey(std::string_view status_id) { return fmt::format("stage:{}", status_id); }
std::string CategoryCountKey(std::int64_t category_id) { return fmt::format("category:{}", category_id); }
std::string FieldCountKey(std::string_view field_name) { return fmt::format("field:{}", field_name); }

std::string StageEntityId(std::int64_t entity_type_id, std::int64_t category_id) {
    return fmt::format("DYNAMIC_{}_STAGE_{}", entity_type_id, category_id);
}

std::string StagePrefix(std::int64_t entity_type_id, std::int64_t category_id) {
    return fmt::format("DT{}_{}", entity_type_id, category_id);
}

std::string UfEntityId(std::int64_t type_id) { return fmt::format("CRM_{}", type_id); }

const PortalSolution* PortalSnapshot::SolutionById(std::int64_t id) const {
    for (const auto& s : solutions) {
        if (s.id == id) {
            return &s;
        }
    }
    return nullptr;
}

const PortalType* PortalSnapshot::TypeById(std::int64_t id) const {
    for (const auto& t : types) {
        if (t.id == id) {
            return &t;
        }
    }
    return nullptr;
}

const PortalType* PortalSnapshot::TypeByCode(std::string_view code) const {
    for (const auto& t : types) {
        if (!code.empty() && t.code == code) {
            return &t;
        }
    }
    return nullptr;
}

const PortalCategory* PortalSnapshot::CategoryById(std::int64_t id) const {
    for (const auto& c : categories) {
        if (c.id == id) {
            return &c;
        }
    }
    return nullptr;
}

std::vector<const PortalCategory*> PortalSnapshot::CategoriesOf(std::int64_t entity_type_id) const {
    std::vector<const PortalCategory*> out;
    for (const auto& c : categories) {
        if (c.entity_type_id == entity_type_id) {
            out.push_back(&c);
        }
    }
    std::sort(out.begin(), out.end(), [](const PortalCategory* a, const PortalCategory* b) {
        return a->sort != b->sort ? a->sort < b->sort : a->id < b->id;
    });
    return out;
}

std::vector<const PortalStage*> PortalSnapshot::StagesOf(std::int64_t entity_type_id, std::int64_t category_id) const {
    const auto entity_id = StageEntityId(entity_type_id, category_id);
    std::vector<const PortalStage*> out;
    for (const auto& s : stages) {
        if (s.entity_id == entity_id) {
            out.push_back(&s);
        }
    }
    std::sort(out.begin(), out.end(), [](const PortalStage* a, const PortalStage* b) {
        return a->sort != b->sort ? a->sort < b->sort : a->id < b->id;
    });
    return out;
}

const PortalStage* PortalSnapshot::StageById(std::int64_t id) const {
    for (const auto& s : stages) {
        if (s.id == id) {
            return &s;
        }
    }
    return nullptr;
}

const PortalField* PortalSnapshot::FieldByName(std::string_view field_name) const {
    for (const auto& f : fields) {
        if (f.field_name == field_name) {
            return &f;
        }
    }
    return nullptr;
}

std::vector<const PortalField*> PortalSnapshot::FieldsOf(std::int64_t type_id) const {
    const auto entity_id = UfEntityId(type_id);
    std::vector<const PortalField*> out;
    for (const auto& f : fields) {
        if (f.entity_id == entity_id) {
            out.push_back(&f);
        }
    }
    return out;
}

std::optional<std::int64_t> PortalSnapshot::ItemCount(std::string_view key) const {
    const auto it = item_counts.find(key);
    if (it == item_counts.end()) {
        return std::nullopt;
    }
    return it->second;
}

void PortalSnapshot::Put(PortalSolution row) { Upsert(solutions, std::move(row)); }
void PortalSnapshot::Put(PortalType row) { Upsert(types, std::move(row)); }
void PortalSnapshot::Put(PortalCategory row) { Upsert(categories, std::move(row)); }
void PortalSnapshot::Put(PortalStage row) { Upsert(stages, std::move(row)); }
void PortalSnapshot::Put(PortalField row) { Upsert(fields, std::move(row)); }

void PortalSnapshot::RemoveStage(std::int64_t id) {
    std::erase_if(stages, [&](const PortalStage& s) { return s.id == id; });
}

void PortalSnapshot::RemoveField(std::int64_t id) {
    std::erase_if(fields, [&](const PortalField& f) { return f.id == id; });
}

void PortalSnapshot::RemoveCategory(std::int64_t id) {
    std::erase_if(stages, [&](const PortalStage& s) { return s.category_id == id; });
    std::erase_if(categories, [&](const PortalCategory& c) { return c.id == id; });
}

Result<PortalSolution> ParseSolution(const bj::value& row) {
    const auto id = json::IntAt(row, "id");
    if (!id) {
        return BadRow("crm.automatedsolution", row);
    }
    PortalSolution s;
    s.id = *id;
    s.title = json::StringAt(row, "title").value_or("");
    if (const auto* ids = json::Find(row, "typeIds"); ids != nullptr && ids->is_array()) {
        for (const auto& v : ids->get_array()) {
            if (const auto type_id = json::ToInt(v)) {
                s.type_ids.push_back(*type_id);
            }
        }
    }
    return s;
}

Result<PortalType> ParseType(const bj::value& row) {
    const auto id = json::IntAt(row, "id");
    const auto entity_type_id = json::IntAt(row, "entityTypeId");
    if (!id || !entity_type_id) {
        return BadRow("crm.type", row);
    }
    PortalType t;
    t.id = *id;
    t.entity_type_id = *entity_type_id;
    t.title = json::StringAt(row, "title").value_or("");
    t.code = json::StringAt(row, "code").value_or("");
    if (row.is_object()) {
        for (const auto& kv : row.get_object()) {
            const std::string_view key = kv.key();
            if (key.size() > 2 && key.substr(0, 2) == "is" && !kv.value().is_null()) {
                if (const auto flag = json::ToBool(kv.value())) {
                    t.flags.emplace(std::string(key), *flag);
                }
            }
        }
    }
    return t;
}

Result<PortalCategory> ParseCategory(const bj::value& row) {
    const auto id = json::IntAt(row, "id");
    const auto entity_type_id = json::IntAt(row, "entityTypeId");
    if (!id || !entity_type_id) {
        return BadRow("crm.category", row);
    }
    PortalCategory c;
    c.id = *id;
    c.entity_type_id = *entity_type_id;
    c.name = json::StringAt(row, "name").value_or("");
    c.sort = json::IntAt(row, "sort").value_or(0);
    c.is_default = BoolAt(row, "isDefault");
    return c;
}

Result<PortalStage> ParseStage(const bj::value& row) {
    const auto id = json::IntAt(row, "ID");
    const auto entity_id = json::StringAt(row, "ENTITY_ID");
    const auto status_id = json::StringAt(row, "STATUS_ID");
    if (!id || !entity_id || !status_id) {
        return BadRow("crm.status", row);
    }
    PortalStage s;
    s.id = *id;
    s.entity_id = *entity_id;
    s.status_id = *status_id;
    s.name = json::StringAt(row, "NAME").value_or("");
    s.sort = json::IntAt(row, "SORT").value_or(0);
    s.color = json::StringAt(row, "COLOR").value_or("");
    // crm-status-list.md: in-progress stages read back as null; S and F are the only other values.
    const auto semantics = json::StringAt(row, "SEMANTICS").value_or("");
    s.semantics = semantics == "S"   ? StageSemantics::kSuccess
                  : semantics == "F" ? StageSemantics::kFailure
                                     : StageSemantics::kProcess;
    s.system = BoolAt(row, "SYSTEM");
    s.category_id = json::IntAt(row, "CATEGORY_ID").value_or(0);
    return s;
}

Result<PortalField> ParseField(const bj::value& row) {
    const auto id = json::IntAt(row, "id");
    const auto entity_id = json::StringAt(row, "entityId");
    const auto field_name = json::StringAt(row, "fieldName");
    if (!id || !entity_id || !field_name) {
        return BadRow("userfieldconfig", row);
    }
    PortalField f;
    f.id = *id;
    f.entity_id = *entity_id;
    f.field_name = *field_name;
    f.user_type_id = json::StringAt(row, "userTypeId").value_or("");
    f.multiple = BoolAt(row, "multiple");
    f.mandatory = BoolAt(row, "mandatory");
    f.show_filter = json::StringAt(row, "showFilter").value_or("N");
    f.searchable = BoolAt(row, "isSearchable");
    f.sort = json::IntAt(row, "sort").value_or(0);
    f.settings = ObjectAt(row, "settings");
    f.edit_form_label = ObjectAt(row, "editFormLabel");
    f.help_message = ObjectAt(row, "helpMessage");
    if (const auto* items = json::Find(row, "enum"); items != nullptr && (items->is_array() || items->is_object())) {
        auto rows = ListRows(*items, "");
        if (!rows) {
            return rows.error();
        }
        for (const auto& item : *rows) {
            PortalEnumItem e;
            e.id = json::IntAt(item, "id").value_or(0);
            e.value = json::StringAt(item, "value").value_or("");
            e.def = BoolAt(item, "def");
            e.sort = json::IntAt(item, "sort").value_or(0);
            e.xml_id = json::StringAt(item, "xmlId").value_or("");
            f.enums.push_back(std::move(e));
        }
    }
    return f;
}

Result<std::vector<PortalBinding>> ParseBindings(const bj::value& result) {
    auto rows = ListRows(result, "");
    if (!rows) {
        return rows.error();
    }
    std::vector<PortalBinding> out;
    for (const auto& row : *rows) {
        auto event = json::StringAt(row, "event");
        auto handler = json::StringAt(row, "handler");
        if (!event || !handler) {
            return BadRow("event.get", row);
        }
        std::transform(event->begin(), event->end(), event->begin(), [](unsigned char c) {
            return static_cast<char>(std::toupper(c));
        });
        out.push_back(PortalBinding{std::move(*event), std::move(*handler)});
    }
    return out;
}

Result<std::vector<std::string>> ParseRobotCodes(const bj::value& result) {
    auto rows = ListRows(result, "");
    if (!rows) {
        return rows.error();
    }
    std::vector<std::string> out;
    for (const auto& row : *rows) {
        auto code = json::ToString(row);
        if (!code) {
            return BadRow("bizproc.robot.list", row);
        }
        out.push_back(std::move(*code));
    }
    return out;
}

Result<std::vector<bj::value>> ListRows(const bj::value& result, std::string_view key) {
    const bj::value* list = &result;
    if (!key.empty()) {
        list = json::Find(result, key);
        if (list == nullptr) {
            return Fail(b24::Errc::kBadResponse, fmt::format("list answer without '{}'", key));
        }
    }
    std::vector<bj::value> out;
    if (list->is_array()) {
        out.assign(list->get_array().begin(), list->get_array().end());
    } else if (list->is_object()) {
        // PHP serialises a list with holes, or a map, as an object.
        for (const auto& kv : list->get_object()) {
            out.push_back(kv.value());
        }
    } else if (!list->is_null()) {
        return Fail(b24::Errc::kBadResponse, fmt::format("list answer '{}' is not a list", key));
    }
    return out;
}

}  // namespace dispatch::provision
