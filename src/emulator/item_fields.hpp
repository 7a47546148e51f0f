#pragma once
// The field list of one smart process's items (CONTRACT §8.2, §8.3, §9.3): system fields in camelCase, user fields
// with their names converted both ways, how each is validated on write, stored, filtered and rendered.
//
// UF naming (api-reference/crm/universal/index.md): UF_CRM_10_DIGIT → ufCrm10Digit (regular rule: the tail after
// UF_CRM_{n}_ is letters-only words or digits-only blocks), UF_CRM_3_1747309727 → ufCrm3_1747309727, otherwise the
// simplified rule UF_CRM_3_DIGIT10 → ufCrm_3_DIGIT10, UF_CRM_1747309879 → ufCrm_1747309879; a converted name that
// collides with another field keeps the UPPER name. With useOriginalUfNames=Y the UPPER names are used.

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "emulator/api_error.hpp"
#include "emulator/filter.hpp"
#include "emulator/portal.hpp"

namespace dispatch::emulator {

// The naming rule alone (no collision check).
std::string UfCamelName(std::string_view upper);

struct ItemField {
    std::string name;        // as requests and responses spell it in this mode
    std::string camel_name;  // camelCase (collision-resolved) name
    std::string key;         // storage key in Item::values (camelCase for system fields, UPPER for UFs)
    std::string type;        // Bitrix24 type: integer, string, user, datetime, crm_status, enumeration, ...
    ValueKind kind = ValueKind::kString;
    bool multiple = false;
    bool read_only = false;
    bool enabled = true;  // false: the feature flag is off, the value reads as null
    const UserField* uf = nullptr;
    std::string title;
    std::size_t index = 0;  // position in values laid out by ItemSchema::Layout
};

class ItemSchema {
public:
    ItemSchema(const Portal& portal, const SpaType& type, bool original_uf_names);

    const std::vector<ItemField>& Fields() const { return fields_; }
    // Accepts the mode's name and, leniently, the other spelling of a UF (README).
    const ItemField* Find(std::string_view name) const;
    std::optional<FilterField> Filterable(std::string_view name) const;

    // Converts a request value to storage form, or the documented error (CRM_FIELD_ERROR_VALUE_NOT_VALID; `100`
    // for a scalar given to a multiple field).
    std::variant<boost::json::value, ApiError> ToStorage(const Portal& portal,
                                                         const ItemField& field,
                                                         const boost::json::value& value) const;
    // The response value of one field; allocated from `sp` (list pages build into one arena per call).
    boost::json::value Render(const Portal& portal,
                              const ItemField& field,
                              const boost::json::value* stored,
                              const boost::json::storage_ptr& sp = {}) const;
    // `values` rebuilt in the schema's storage order (every field present, null when unset; keys outside the schema
    // after them) in one arena of its own. Stored item values are kept this way: reads then find a field at its index
    // (Stored) instead of hashing its name, and an item's data sits together in memory (bench_emu: list pages
    // are bound by memory latency).
    boost::json::object Layout(const boost::json::object& values) const;
    // Asks the CPU to start loading where `fields` of `values` live. A list page reads 50 items that are not in any
    // cache; issuing all the loads first overlaps their latency instead of waiting for each in turn.
    void Prefetch(const boost::json::object& values, const std::vector<const ItemField*>& fields) const;
    // The stored value of `field` in `values`, or nullptr.
    const boost::json::value* Stored(const boost::json::object& values, const ItemField& field) const;

    // crm.item.fields description of one field.
    boost::json::object Describe(const Portal& portal, const ItemField& field) const;

private:
    std::vector<ItemField> fields_;     // documented order (responses, crm.item.fields)
    std::vector<std::size_t> storage_;  // indexes into fields_ in storage order (Layout)
    std::int64_t entity_type_id_;
};

// The schema of `type` as it is now: cached in the portal until the next Portal::SchemaChanged().
std::shared_ptr<const ItemSchema> SchemaOf(Portal& portal, const SpaType& type, bool original_uf_names);

}  // namespace dispatch::emulator
