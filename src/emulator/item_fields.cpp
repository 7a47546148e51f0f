#include "emulator/item_fields.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/json.hpp"
#include "core/time_format.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

struct SystemField {
    const char* name;
    const char* type;
    ValueKind kind;
    bool multiple;
    bool read_only;
    const char* flag;  // feature flag of the type, or nullptr
    const char* title;
};

// object-fields.md / crm-item-fields.md, SPA subset.
constexpr SystemField kSystem[] = {
    {"id", "integer", ValueKind::kInt, false, true, nullptr, "ID"},
    {"xmlId", "string", ValueKind::kString, false, false, nullptr, "External ID"},
    {"title", "string", ValueKind::kString, false, false, nullptr, "Name"},
    {"createdBy", "user", ValueKind::kInt, false, true, nullptr, "Created by"},
    {"updatedBy", "user", ValueKind::kInt, false, true, nullptr, "Updated by"},
    {"movedBy", "user", ValueKind::kInt, false, true, nullptr, "Moved by"},
    {"createdTime", "datetime", ValueKind::kTime, false, true, nullptr, "Created on"},
    {"updatedTime", "datetime", ValueKind::kTime, false, true, nullptr, "Updated on"},
    {"movedTime", "datetime", ValueKind::kTime, false, true, nullptr, "Moved on"},
    {"categoryId", "crm_category", ValueKind::kInt, false, false, nullptr, "Pipeline"},
    {"opened", "char", ValueKind::kString, false, false, nullptr, "Available to everyone"},
    {"stageId", "crm_status", ValueKind::kString, false, false, nullptr, "Stage"},
    {"previousStageId", "crm_status", ValueKind::kString, false, true, nullptr, "Previous stage"},
    {"begindate", "date", ValueKind::kTime, false, false, "isBeginCloseDatesEnabled", "Start date"},
    {"closedate", "date", ValueKind::kTime, false, false, "isBeginCloseDatesEnabled", "End date"},
    {"companyId", "crm_company", ValueKind::kInt, false, false, "isClientEnabled", "Company"},
    {"contactId", "crm_contact", ValueKind::kInt, false, false, "isClientEnabled", "Contact"},
    {"contactIds", "crm_contact", ValueKind::kInt, true, false, "isClientEnabled", "Contacts"},
    {"opportunity", "double", ValueKind::kDouble, false, false, "isLinkWithProductsEnabled", "Amount"},
    {"isManualOpportunity", "char", ValueKind::kString, false, false, "isLinkWithProductsEnabled", "Manual amount"},
    {"taxValue", "double", ValueKind::kDouble, false, false, "isLinkWithProductsEnabled", "Tax"},
    {"currencyId", "crm_currency", ValueKind::kString, false, false, "isLinkWithProductsEnabled", "Currency"},
    {"mycompanyId", "crm_company", ValueKind::kInt, false, false, "isMycompanyEnabled", "Your company"},
    {"sourceId", "crm_status", ValueKind::kString, false, false, "isSourceEnabled", "Source"},
    {"sourceDescription", "text", ValueKind::kString, false, false, "isSourceEnabled", "Source information"},
    {"webformId", "integer", ValueKind::kInt, false, false, nullptr, "Created by CRM form"},
    {"assignedById", "user", ValueKind::kInt, false, false, nullptr, "Responsible person"},
    {"lastActivityBy", "user", ValueKind::kInt, false, true, nullptr, "Last activity by"},
    {"lastActivityTime", "datetime", ValueKind::kTime, false, true, nullptr, "Last activity"},
    {"observers", "user", ValueKind::kInt, true, false, "isObserversEnabled", "Observers"},
    {"entityTypeId", "integer", ValueKind::kInt, false, true, nullptr, "Entity type"},
};

bool AllOf(std::string_view s, int (*pred)(int)) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return pred(static_cast<unsigned char>(c)); });
}

ValueKind KindOf(const std::string& user_type) {
    if (user_type == "integer" || user_type == "employee" || user_type == "enumeration") {
        return ValueKind::kInt;
    }
    if (user_type == "double") {
        return ValueKind::kDouble;
    }
    if (user_type == "boolean") {
        return ValueKind::kBool;
    }
    if (user_type == "datetime" || user_type == "date") {
        return ValueKind::kTime;
    }
    return ValueKind::kString;
}

ApiError NotValid(const ItemField& f) {
    return Err(400, "CRM_FIELD_ERROR_VALUE_NOT_VALID", "Invalid value for field \"" + f.title + "\"");
}

bool IsBlank(const bj::value& v) { return v.is_null() || (v.is_string() && v.get_string().empty()); }

}  // namespace

std::string UfCamelName(std::string_view upper) {
    constexpr std::string_view kHead = "UF_CRM_";
    if (upper.substr(0, kHead.size()) != kHead) {
        return std::string(upper);
    }
    const auto rest = upper.substr(kHead.size());
    const auto us = rest.find('_');
    const auto num = rest.substr(0, us);
    if (us != std::string_view::npos && AllOf(num, ::isdigit)) {
        const auto tail = rest.substr(us + 1);
        std::vector<std::string_view> words;
        std::size_t pos = 0;
        while (pos <= tail.size()) {
            auto end = tail.find('_', pos);
            if (end == std::string_view::npos) {
                end = tail.size();
            }
            words.push_back(tail.substr(pos, end - pos));
            pos = end + 1;
        }
        const bool letters = std::all_of(words.begin(), words.end(), [](auto w) { return AllOf(w, ::isalpha); });
        const bool digits = std::all_of(words.begin(), words.end(), [](auto w) { return AllOf(w, ::isdigit); });
        if (letters) {
            std::string out = "ufCrm" + std::string(num);
            for (auto w : words) {
                out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(w[0]))));
                for (std::size_t i = 1; i < w.size(); ++i) {
                    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(w[i]))));
                }
            }
            return out;
        }
        if (digits) {
            return "ufCrm" + std::string(num) + "_" + std::string(tail);
        }
    }
    return "ufCrm_" + std::string(rest);
}

ItemSchema::ItemSchema(const Portal& portal, const SpaType& type, bool original_uf_names)
    : entity_type_id_(type.entity_type_id) {
    std::set<std::string> taken;
    for (const auto& s : kSystem) {
        ItemField f;
        f.name = f.camel_name = f.key = s.name;
        f.type = s.type;
        f.kind = s.kind;
        f.multiple = s.multiple;
        f.read_only = s.read_only;
        f.enabled = s.flag == nullptr || type.Flag(s.flag);
        if (std::string_view(s.name) == "movedBy" || std::string_view(s.name) == "movedTime" ||
            std::string_view(s.name) == "previousStageId") {
            f.enabled = true;  // README: stage fields are always on (we always create stages, §14.10)
        }
        f.title = s.title;
        taken.insert(f.name);
        fields_.push_back(std::move(f));
    }
    auto ufs = portal.FieldsOfType(type.id);
    std::sort(ufs.begin(), ufs.end(), [](const UserField* a, const UserField* b) {
        return a->sort != b->sort ? a->sort < b->sort : a->id < b->id;
    });
    std::vector<std::string> camel;
    std::map<std::string, int> counts;
    for (const auto* uf : ufs) {
        camel.push_back(UfCamelName(uf->field_name));
        ++counts[camel.back()];
    }
    for (std::size_t i = 0; i < ufs.size(); ++i) {
        const auto* uf = ufs[i];
        ItemField f;
        // A converted name that collides with another field keeps the original UPPER name.
        f.camel_name = (counts[camel[i]] > 1 || taken.count(camel[i]) > 0) ? uf->field_name : camel[i];
        f.name = original_uf_names ? uf->field_name : f.camel_name;
        f.key = uf->field_name;
        f.type = uf->user_type_id;
        f.kind = KindOf(uf->user_type_id);
        f.multiple = uf->multiple;
        f.uf = uf;
        f.title = uf->edit_form_label.is_string() ? std::string(uf->edit_form_label.get_string()) : uf->field_name;
        if (uf->edit_form_label.is_object()) {
            if (const auto* en = uf->edit_form_label.get_object().if_contains("en"); en && en->is_string()) {
                f.title = std::string(en->get_string());
            }
        }
        fields_.push_back(std::move(f));
    }
    // Storage order (Layout): what a sync or an SLA engine reads on every item first and together, then the user
    // fields, then the rest. A list page reads items from memory no cache holds, so the fields one call reads
    // should share as few cache lines as possible. Responses keep the documented order of fields_.
    static constexpr std::string_view kHot[] = {"id",
                                                "stageId",
                                                "categoryId",
                                                "assignedById",
                                                "updatedTime",
                                                "createdTime",
                                                "createdBy",
                                                "title",
                                                "movedTime",
                                                "movedBy",
                                                "previousStageId",
                                                "updatedBy",
                                                "entityTypeId",
                                                "opened",
                                                "observers"};
    auto rank = [&](const ItemField& f) -> std::size_t {
        for (std::size_t i = 0; i < std::size(kHot); ++i) {
            if (f.uf == nullptr && f.key == kHot[i]) {
                return i;
            }
        }
        return f.uf != nullptr ? 100 : 1000;
    };
    storage_.resize(fields_.size());
    for (std::size_t i = 0; i < fields_.size(); ++i) {
        storage_[i] = i;
    }
    std::stable_sort(storage_.begin(), storage_.end(), [&](std::size_t a, std::size_t b) {
        return rank(fields_[a]) < rank(fields_[b]);
    });
    for (std::size_t pos = 0; pos < storage_.size(); ++pos) {
        fields_[storage_[pos]].index = pos;
    }
}

const ItemField* ItemSchema::Find(std::string_view name) const {
    for (const auto& f : fields_) {
        if (f.name == name) {
            return &f;
        }
    }
    for (const auto& f : fields_) {
        if (f.uf != nullptr && (f.key == name || f.camel_name == name)) {
            return &f;
        }
    }
    return nullptr;
}

std::optional<FilterField> ItemSchema::Filterable(std::string_view name) const {
    const auto* f = Find(name);
    if (f == nullptr) {
        return std::nullopt;
    }
    return FilterField{f->key, f->kind, f->multiple, f->index};
}

bj::object ItemSchema::Layout(const bj::object& values) const {
    bj::object out(bj::make_shared_resource<bj::monotonic_resource>(4096));
    out.reserve(fields_.size() + 4);
    for (const auto i : storage_) {
        const auto& f = fields_[i];
        const auto* v = values.if_contains(f.key);
        out.emplace(f.key, v != nullptr ? *v : bj::value());
    }
    for (const auto& kv : values) {
        if (!out.contains(kv.key())) {
            out.emplace(kv.key(), kv.value());
        }
    }
    return out;
}

void ItemSchema::Prefetch(const bj::object& values, const std::vector<const ItemField*>& fields) const {
    for (const auto* f : fields) {
        if (f->index < values.size()) {
            __builtin_prefetch(&values.begin()[f->index]);
        }
    }
}

const bj::value* ItemSchema::Stored(const bj::object& values, const ItemField& field) const {
    return RowValue(values, field.key, field.index);
}

std::variant<bj::value, ApiError> ItemSchema::ToStorage(const Portal& portal,
                                                        const ItemField& f,
                                                        const bj::value& v) const {
    if (f.multiple) {
        if (IsBlank(v) || (v.is_array() && v.get_array().empty())) {
            return bj::value(bj::array{});
        }
        const auto raw = ListElements(v);
        if (!raw) {
            // crm-item-add.md: a scalar for a multiple field is error `100`.
            return Err(400, "100", "Field \"" + f.title + "\" expects an array of values");
        }
        ItemField single = f;
        single.multiple = false;
        bj::array out;
        for (const auto* r : *raw) {
            auto one = ToStorage(portal, single, *r);
            if (auto* e = std::get_if<ApiError>(&one)) {
                return *e;
            }
            if (!std::get<bj::value>(one).is_null()) {
                out.push_back(std::move(std::get<bj::value>(one)));
            }
        }
        return bj::value(std::move(out));
    }
    if (IsBlank(v)) {
        return bj::value(nullptr);
    }
    switch (f.kind) {
        case ValueKind::kInt: {
            const auto i = json::ToInt(v);
            if (!i) {
                return NotValid(f);
            }
            if ((f.type == "user" || f.type == "employee") && portal.FindUser(*i) == nullptr) {
                return NotValid(f);
            }
            if (f.type == "enumeration" && f.uf != nullptr &&
                std::none_of(f.uf->enums.begin(), f.uf->enums.end(), [&](const EnumOption& o) { return o.id == *i; })) {
                return NotValid(f);
            }
            return bj::value(*i);
        }
        case ValueKind::kDouble: {
            const auto d = ToDouble(v);
            if (!d) {
                return NotValid(f);
            }
            return bj::value(*d);
        }
        case ValueKind::kBool: {
            const auto b = json::ToBool(v);
            if (!b) {
                return NotValid(f);
            }
            return bj::value(*b);
        }
        case ValueKind::kTime: {
            const auto s = json::ToString(v);
            if (!s) {
                return NotValid(f);
            }
            if (s->size() == 10) {
                // A bare date is midnight in the portal's zone (CONTRACT §14.22).
                auto t = ParseIso8601(*s + "T00:00:00Z");
                if (!t) {
                    return NotValid(f);
                }
                return bj::value(*t - static_cast<TimeMs>(portal.Settings().utc_offset_minutes) * kMinuteMs);
            }
            auto t = ParseIso8601(*s);
            if (!t) {
                return NotValid(f);
            }
            if (f.type == "date") {
                // Dates keep only the day, at local midnight.
                const TimeMs off = static_cast<TimeMs>(portal.Settings().utc_offset_minutes) * kMinuteMs;
                const TimeMs local = *t + off;
                return bj::value(local - ((local % kDayMs) + kDayMs) % kDayMs - off);
            }
            return bj::value(*t);
        }
        case ValueKind::kString: {
            auto s = json::ToString(v);
            if (!s) {
                if (v.is_bool()) {
                    s = v.get_bool() ? "Y" : "N";
                } else {
                    return NotValid(f);
                }
            }
            if (f.type == "char" && *s != "Y" && *s != "N") {
                return NotValid(f);
            }
            return bj::value(*s);
        }
    }
    return NotValid(f);
}

bj::value ItemSchema::Render(const Portal& portal,
                             const ItemField& f,
                             const bj::value* stored,
                             const bj::storage_ptr& sp) const {
    if (!f.enabled || stored == nullptr || stored->is_null()) {
        return f.multiple && f.enabled ? bj::value(bj::array(sp)) : bj::value(nullptr, sp);
    }
    auto one = [&](const bj::value& v) -> bj::value {
        switch (f.kind) {
            case ValueKind::kTime:
                if (v.is_int64()) {
                    char buf[40];
                    const auto n = portal.IsoTo(v.get_int64(), buf);
                    return bj::value(bj::string_view(buf, n), sp);
                }
                break;
            case ValueKind::kBool:
                if (v.is_bool()) {
                    return bj::value(v.get_bool() ? "Y" : "N", sp);
                }
                break;
            default:
                break;
        }
        return bj::value(v, sp);
    };
    if (stored->is_array()) {
        bj::array out(sp);
        out.reserve(stored->get_array().size());
        for (const auto& e : stored->get_array()) {
            out.push_back(one(e));
        }
        return out;
    }
    return one(*stored);
}

bj::object ItemSchema::Describe(const Portal& portal, const ItemField& f) const {
    bj::object d{{"type", f.type},
                 {"isRequired", f.uf != nullptr ? f.uf->mandatory : (f.name == "opened" || f.name == "title")},
                 {"isReadOnly", f.read_only},
                 {"isImmutable", false},
                 {"isMultiple", f.multiple},
                 {"isDynamic", f.uf != nullptr},
                 {"title", f.title}};
    if (f.uf != nullptr) {
        d["listLabel"] = f.title;
        d["formLabel"] = f.title;
        d["filterLabel"] = f.title;
        d["settings"] = f.uf->settings.is_null() ? bj::value(bj::object{}) : f.uf->settings;
        d["upperName"] = f.uf->field_name;
        if (f.type == "enumeration") {
            bj::array items;
            for (const auto& o : f.uf->enums) {
                items.push_back(bj::object{{"ID", std::to_string(o.id)}, {"VALUE", o.value}});
            }
            d["items"] = std::move(items);
        }
    } else {
        std::string upper;
        for (char c : f.name) {
            if (std::isupper(static_cast<unsigned char>(c))) {
                upper.push_back('_');
            }
            upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        }
        d["upperName"] = upper;
        if (f.name == "stageId") {
            const auto* c = const_cast<Portal&>(portal).DefaultCategory(entity_type_id_);
            d["statusType"] = Portal::StageEntityId(entity_type_id_, c ? c->id : 0);
        }
    }
    return d;
}

std::shared_ptr<const ItemSchema> SchemaOf(Portal& portal, const SpaType& type, bool original_uf_names) {
    auto& slot = portal.SchemaCache()[{type.id, original_uf_names}];
    if (!slot) {
        slot = std::make_shared<const ItemSchema>(portal, type, original_uf_names);
    }
    return slot;
}

}  // namespace dispatch::emulator
