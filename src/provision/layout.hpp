#pragma once
// The layout of one portal: every id Bitrix24 assigned to the objects of the workplace spec, found or created by
// provisioning (`dispatchctl provision apply`) and stored per portal (store SettingsRepo, key "layout"), so the
// service never hard-codes an id. The flows read it to turn an item's stageId and enumeration ids back into spec
// codes and roles, and to spell field names as Bitrix24 does.

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "provision/spec.hpp"

namespace dispatch::provision {

inline constexpr std::string_view kLayoutSettingsKey = "layout";

struct StageIds {
    std::string code;  // spec code ("IN_PROGRESS")
    StageRole role = StageRole::kNew;
    std::string status_id;  // Bitrix24 STATUS_ID ("DT1038_12:IN_PROGRESS"); what crm.item carries as stageId
    std::int64_t id = 0;    // crm.status ID
};

struct FunnelIds {
    std::string code;  // spec code ("line1")
    std::int64_t category_id = 0;
    bool is_default = false;
    std::vector<StageIds> stages;
};

struct FieldIds {
    std::string code;                              // spec code ("TEMPLATE")
    std::string uf_name;                           // "UF_CRM_21_TEMPLATE" (upper case, as userfieldconfig spells it)
    std::int64_t id = 0;                           // userfieldconfig id
    std::map<std::string, std::int64_t> enum_ids;  // enumeration: xml_id -> item ID
};

struct ProcessIds {
    std::string code;                 // spec code ("it_request")
    std::int64_t type_id = 0;         // crm.type id (field names use it)
    std::int64_t entity_type_id = 0;  // crm.item entityTypeId
    std::vector<FunnelIds> funnels;
    std::vector<FieldIds> fields;

    const FunnelIds* FindFunnel(std::string_view code) const;
    FunnelIds* FindFunnel(std::string_view code);
    const FunnelIds* FunnelByCategory(std::int64_t category_id) const;
    const FieldIds* FindField(std::string_view code) const;
    // The stage and its funnel for an item's stageId; nullptr when unknown (a stage created by hand).
    const StageIds* StageByStatusId(std::string_view status_id, const FunnelIds** funnel = nullptr) const;
    // The STATUS_ID of the first stage with `role` in funnel `funnel_code`; empty when none.
    std::string StatusIdFor(std::string_view funnel_code, StageRole role) const;
    // The xml_id of enumeration item `enum_id` of field `code`; empty when unknown.
    std::string EnumXmlId(std::string_view code, std::int64_t enum_id) const;
    // The enumeration item id of `xml_id`; 0 when unknown.
    std::int64_t EnumId(std::string_view code, std::string_view xml_id) const;
};

struct Layout {
    std::int64_t workplace_id = 0;  // crm.automatedsolution id
    std::vector<ProcessIds> processes;

    const ProcessIds* FindProcess(std::string_view code) const;
    ProcessIds* FindProcess(std::string_view code);
    const ProcessIds* ByEntityTypeId(std::int64_t entity_type_id) const;

    boost::json::value ToJson() const;
    static Result<Layout> FromJson(const boost::json::value& json);
};

}  // namespace dispatch::provision
