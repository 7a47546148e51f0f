#pragma once
// What the flows make of a Bitrix24 item: its stage as an SLA role, its line, priority, template and assignee in
// the policy's words, and the SLA fields we write back, read through the portal's provisioned layout (ids are
// never hard-coded). Pure.

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "provision/layout.hpp"
#include "sla/fold.hpp"
#include "sla/policy.hpp"

namespace dispatch::flows {

namespace bj = boost::json;

// Funnel codes of workplace/helpdesk.json that are the two lines; items in any other funnel (change requests) are
// on "line 0" for the engine.
inline constexpr std::string_view kLine1Funnel = "line1";
inline constexpr std::string_view kLine2Funnel = "line2";

struct ItemView {
    std::int64_t id = 0;
    std::string stage_id;
    std::int64_t category_id = 0;
    std::string funnel;        // spec code of the funnel; empty when unknown
    bool known_stage = false;  // false: a stage made by hand, not in the layout
    sla::StageRole role = sla::StageRole::kNew;
    int line = 1;                 // 1, 2; 0 for another funnel
    std::int64_t created_by = 0;  // the requester
    // 0 when nobody or only the requester holds it: Bitrix24 makes the creator the assignee by default, and a
    // request assigned to its own author has not been taken by anyone.
    std::int64_t assignee = 0;
    std::int64_t assigned_by_id = 0;  // as Bitrix24 has it
    TimeMs created_time = 0;
    TimeMs updated_time = 0;
    sla::Priority priority = sla::Priority::kNormal;
    std::string template_name;  // the policy's spelling ("Hardware"); empty: none chosen
    bj::object service_fields;  // our write-back fields as the item holds them: ufCamel → value
};

sla::StageRole ToSla(provision::StageRole role);
provision::StageRole ToProvision(sla::StageRole role);
int LineOfFunnel(std::string_view funnel_code);

// Where a stageId puts an item. The funnel is the stage's own; a stage made by hand is not in the layout, so then
// the item's categoryId names the funnel (and with it the line).
struct StagePlace {
    sla::StageRole role = sla::StageRole::kNew;
    bool known = false;       // false: a stage made by hand, not in the layout
    std::string_view funnel;  // spec code of the funnel (not owned); empty when unknown
    int line = 1;             // 1, 2; 0 for another funnel
};
StagePlace PlaceOf(const provision::ProcessIds& ids, std::string_view status_id, std::int64_t category_id);

// kInvalid when the item lacks id, stageId or createdTime.
[[nodiscard]] Result<ItemView> ReadItem(const bj::object& item,
                                        const provision::ProcessIds& ids,
                                        const sla::Policy& policy);

// The item field name ("ufCrm21SlaState") of a spec field code; empty when the layout lacks it.
std::string ItemFieldName(const provision::ProcessIds& ids, std::string_view code);

// The SLA fields the item should carry after `fold`, as crm.item.update values keyed by item field name: dates as
// ISO 8601 (seconds), enumerations as option ids, booleans "Y"/"N", integers. Minutes and on-time flags are
// written once their clock stops. `warned`: a warning was sent for a clock still running.
bj::object WriteBackFields(const sla::FoldResult& fold, const provision::ProcessIds& ids, bool warned);

// The subset of `wanted` whose values differ from `current` (same names), comparing as Bitrix24 would store them
// (instants to the second, a date alike with its local midnight, "Y"/true/1 alike, ids as numbers or strings,
// numbers to two decimals).
bj::object ChangedFields(const bj::object& wanted, const bj::object& current);

}  // namespace dispatch::flows
