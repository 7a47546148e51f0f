#pragma once
// Typed helpers for the REST methods the service uses, over Client::Call/ListAll. Thin on purpose: they build the
// documented params, unwrap the documented result wrapper and read ids leniently ("42" or 42, CONTRACT §13.2).
// Every helper returns the Client's errors unchanged, plus Errc::kBadResponse when the result has another shape.

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "b24/client.hpp"
#include "core/error.hpp"

namespace dispatch::b24 {

namespace bj = boost::json;

// crm.item.* user-field names (CONTRACT §8.3). "UF_CRM_21_SLA_DEADLINE" → "ufCrm21SlaDeadline" (regular rule:
// the tail after UF_CRM_{n}_ is letters only or digits only), "UF_CRM_3_1747309727" → "ufCrm3_1747309727",
// "UF_CRM_3_DIGIT10" → "ufCrm_3_DIGIT10" (simplified rule: mixed tail, or no type number). Names that are not
// UF_CRM_ names are returned unchanged. (The portal falls back to the UPPER name on a collision; check
// crm.item.fields → upperName when that matters.)
std::string UfCamelName(std::string_view upper_name);

// Filter/select/order of a list call (crm.item.list, crm.stagehistory.list, crm.type.list, ...).
struct ListQuery {
    bj::array select{};  // empty: method default (all fields for crm.item.list: heavy)
    bj::object filter{};
    bj::object order{};
};

// crm.item.get → result.item
Result<bj::object> ItemGet(Client& client, std::int64_t entity_type_id, std::int64_t id);
// crm.item.list → every result.items[] row (pages of 50)
Result<std::vector<bj::object>> ItemList(Client& client,
                                         std::int64_t entity_type_id,
                                         const ListQuery& query,
                                         std::size_t max_rows = 0);
// crm.item.add → the new item's id
Result<std::int64_t> ItemAdd(Client& client, std::int64_t entity_type_id, const bj::object& fields);
// crm.item.update → result.item (only changed keys in `fields`; send categoryId with stageId, CONTRACT §14.11)
Result<bj::object> ItemUpdate(Client& client, std::int64_t entity_type_id, std::int64_t id, const bj::object& fields);

// One crm.stagehistory.list row (CONTRACT §8.6).
struct StageHistoryRow {
    std::int64_t id = 0;
    int type_id = 0;  // 1 created, 2 intermediate stage, 3 final stage, 5 funnel change
    std::int64_t owner_id = 0;
    std::string created_time{};  // ISO 8601 with offset, as sent
    std::int64_t category_id = 0;
    std::string stage_semantic_id{};  // P/S/F
    std::string stage_id{};
};
Result<std::vector<StageHistoryRow>> StageHistoryList(Client& client,
                                                      std::int64_t entity_type_id,
                                                      const ListQuery& query,
                                                      std::size_t max_rows = 0);
Result<StageHistoryRow> ParseStageHistoryRow(const bj::value& row);

// crm.timeline.comment.add (ENTITY_TYPE "dynamic_{entityTypeId}") → comment id
Result<std::int64_t> TimelineCommentAdd(Client& client,
                                        std::int64_t entity_type_id,
                                        std::int64_t item_id,
                                        std::string_view comment);

// im.notify.system.add / im.notify.personal.add → notification id (0 when the portal answers false)
struct Notification {
    std::int64_t user_id = 0;
    std::string message{};
    std::string tag{};  // optional: a newer notification with the same tag replaces older ones
};
Result<std::int64_t> NotifySystem(Client& client, const Notification& notification);
Result<std::int64_t> NotifyPersonal(Client& client, const Notification& notification);

// bizproc.event.send (upper-case params, CONTRACT §11.3)
Result<void> BizprocEventSend(Client& client,
                              std::string_view event_token,
                              const bj::object& return_values,
                              std::string_view log_message = {});

// event.bind (OAuth only). ERROR_HANDLER_ALREADY_EXIST is success here: the binding is what we wanted.
Result<void> EventBind(Client& client, std::string_view event, std::string_view handler);

// Directories.
Result<std::vector<bj::object>> TypeList(Client& client, const ListQuery& query = {});      // result.types
Result<std::vector<bj::object>> CategoryList(Client& client, std::int64_t entity_type_id);  // result.categories
Result<std::vector<bj::object>> StatusList(Client& client, const ListQuery& query);         // result[]
Result<std::vector<bj::object>> UserFieldConfigList(Client& client,
                                                    std::string_view module_id,  // result.fields
                                                    const ListQuery& query = {});

}  // namespace dispatch::b24
