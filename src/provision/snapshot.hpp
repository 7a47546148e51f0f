#pragma once
// What a portal holds of the workplace, as provisioning read it: the typed rows of crm.automatedsolution.list,
// crm.type.list, crm.category.list, crm.status.list, userfieldconfig.list, event.get and bizproc.robot.list, plus the
// item counts of the objects a deletion would touch. The planner diffs the spec against this; the applier keeps it
// current from the answers of its own writes, so a fresh apply reads the portal once.
//
// Parsers read Bitrix24's lenient shapes (ids as strings or numbers, "Y"/"N", PHP's [] for an empty map) and fail
// with b24::Errc::kBadResponse on a row without the members provisioning relies on.

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "provision/spec.hpp"

namespace dispatch::provision {

struct PortalSolution {
    std::int64_t id = 0;
    std::string title;
    std::vector<std::int64_t> type_ids;  // crm.type `id`s (CONTRACT §14.9)
};

struct PortalType {
    std::int64_t id = 0;
    std::int64_t entity_type_id = 0;
    std::string title;
    std::string code;
    std::map<std::string, bool, std::less<>> flags;  // "isCategoriesEnabled" → true
};

struct PortalCategory {
    std::int64_t id = 0;
    std::int64_t entity_type_id = 0;
    std::string name;
    std::int64_t sort = 0;
    bool is_default = false;
};

struct PortalStage {
    std::int64_t id = 0;
    std::string entity_id;  // DYNAMIC_{entityTypeId}_STAGE_{categoryId}
    std::string status_id;  // DT{entityTypeId}_{categoryId}:{code}
    std::string name;
    std::int64_t sort = 0;
    std::string color;
    StageSemantics semantics = StageSemantics::kProcess;
    bool system = false;
    std::int64_t category_id = 0;

    // The part after the prefix ("QUEUED" of "DT1038_12:QUEUED"); the whole id when it has no prefix.
    std::string Code() const;
};

struct PortalEnumItem {
    std::int64_t id = 0;
    std::string value;
    bool def = false;
    std::int64_t sort = 0;
    std::string xml_id;
};

struct PortalField {
    std::int64_t id = 0;
    std::string entity_id;   // CRM_{type id}
    std::string field_name;  // UF_CRM_{type id}_{CODE}
    std::string user_type_id;
    bool multiple = false;
    bool mandatory = false;
    std::string show_filter = "N";  // N, I, E, S (list reads) or Y
    bool searchable = false;
    std::int64_t sort = 0;
    boost::json::object settings;
    boost::json::object edit_form_label;  // {"en": "..."}
    boost::json::object help_message;
    std::vector<PortalEnumItem> enums;
};

struct PortalBinding {
    std::string event;  // upper case
    std::string handler;
};

// Stable keys of PortalSnapshot::item_counts: how many items a deletion would touch.
std::string StageCountKey(std::string_view status_id);
std::string CategoryCountKey(std::int64_t category_id);
std::string FieldCountKey(std::string_view field_name);

struct PortalSnapshot {
    std::vector<PortalSolution> solutions;
    std::vector<PortalType> types;
    std::vector<PortalCategory> categories;  // of the types provisioning manages
    std::vector<PortalStage> stages;         // of those categories
    std::vector<PortalField> fields;         // of those types
    // Event bindings and robot codes; only readable in application context (CONTRACT §0), read with the base.
    std::vector<PortalBinding> bindings;
    std::vector<std::string> robots;
    std::map<std::string, std::int64_t, std::less<>> item_counts;  // see the *CountKey functions
    // The items of a stray stage (StageCountKey), read only when --prune is to move them out.
    std::map<std::string, std::vector<std::int64_t>, std::less<>> item_ids;
    // Categories created by this apply (and the default funnels of types it created): they hold no items, so
    // their stray stages can go without counting.
    std::set<std::int64_t> fresh_categories;
    // Funnels this apply created ("it_request/line2" → category id): matched by id on the next plan, before the
    // layout is stored, so a funnel is never looked up by its name right after it was made.
    std::map<std::string, std::int64_t, std::less<>> assigned_categories;
    std::int64_t assigned_workplace = 0;  // the workplace this apply created
    // What has been read so far. The planner asks for what is missing (read operations) before it plans a write
    // that depends on it, so nothing is created twice because it was not looked for.
    bool base_read = false;                  // workplaces, types, event bindings, robots
    std::set<std::int64_t> categories_read;  // entity type ids whose crm.category.list is known
    std::set<std::int64_t> stages_read;      // category ids whose crm.status.list is known
    std::set<std::int64_t> fields_read;      // type ids whose userfieldconfig.list is known

    const PortalSolution* SolutionById(std::int64_t id) const;
    const PortalType* TypeById(std::int64_t id) const;
    const PortalType* TypeByCode(std::string_view code) const;
    const PortalCategory* CategoryById(std::int64_t id) const;
    std::vector<const PortalCategory*> CategoriesOf(std::int64_t entity_type_id) const;
    // Stages of a funnel's directory, in SORT order.
    std::vector<const PortalStage*> StagesOf(std::int64_t entity_type_id, std::int64_t category_id) const;
    const PortalStage* StageById(std::int64_t id) const;
    const PortalField* FieldByName(std::string_view field_name) const;
    std::vector<const PortalField*> FieldsOf(std::int64_t type_id) const;
    std::optional<std::int64_t> ItemCount(std::string_view key) const;

    // Upserts by id (replacing the row), so a result applied twice leaves one row.
    void Put(PortalSolution row);
    void Put(PortalType row);
    void Put(PortalCategory row);
    void Put(PortalStage row);
    void Put(PortalField row);
    void RemoveStage(std::int64_t id);
    void RemoveField(std::int64_t id);
    void RemoveCategory(std::int64_t id);  // and its stages
};

// DYNAMIC_{entityTypeId}_STAGE_{categoryId} (CONTRACT §7.1) and the DT{entityTypeId}_{categoryId} prefix.
std::string StageEntityId(std::int64_t entity_type_id, std::int64_t category_id);
std::string StagePrefix(std::int64_t entity_type_id, std::int64_t category_id);
// CRM_{type id} (CONTRACT §9) and the field name UF_CRM_{type id}_{code}.
std::string UfEntityId(std::int64_t type_id);

Result<PortalSolution> ParseSolution(const boost::json::value& row);
Result<PortalType> ParseType(const boost::json::value& row);
Result<PortalCategory> ParseCategory(const boost::json::value& row);
Result<PortalStage> ParseStage(const boost::json::value& row);
Result<PortalField> ParseField(const boost::json::value& row);
// event.get rows; bizproc.robot.list is a plain array of codes.
Result<std::vector<PortalBinding>> ParseBindings(const boost::json::value& result);
Result<std::vector<std::string>> ParseRobotCodes(const boost::json::value& result);

// The rows of a list answer: result[key] when key is given, else result itself; [] and {} both mean none.
Result<std::vector<boost::json::value>> ListRows(const boost::json::value& result, std::string_view key);

}  // namespace dispatch::provision
