#include "b24/methods.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/json.hpp"

namespace dispatch::b24 {
namespace {

bool AllOf(std::string_view s, int (*pred)(int)) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [pred](char c) {
        return c == '_' || pred(static_cast<unsigned char>(c)) != 0;
    });
}

Result<std::vector<bj::object>> Objects(Result<std::vector<bj::value>> rows, std::string_view method) {
    if (!rows) {
        return rows.error();
    }
    std::vector<bj::object> out;
    out.reserve(rows->size());
    for (auto& row : *rows) {
        if (!row.is_object()) {
            return Fail(Errc::kBadResponse, fmt::format("method={} row is not an object", method));
        }
        out.push_back(std::move(row.as_object()));
    }
    return out;
}

void ApplyQuery(bj::object& params, const ListQuery& query) {
    if (!query.select.empty()) {
        params["select"] = query.select;
    }
    if (!query.filter.empty()) {
        params["filter"] = query.filter;
    }
    if (!query.order.empty()) {
        params["order"] = query.order;
    }
}

Result<bj::object> ObjectAt(const Result<bj::value>& result, std::string_view key, std::string_view method) {
    if (!result) {
        return result.error();
    }
    const bj::value* v = json::Find(*result, key);
    if (v == nullptr || !v->is_object()) {
        return Fail(Errc::kBadResponse, fmt::format("method={} result without '{}' object", method, key));
    }
    return v->get_object();
}

Result<std::int64_t> IdResult(const Result<bj::value>& result, std::string_view method) {
    if (!result) {
        return result.error();
    }
    if (const auto id = json::ToInt(*result)) {
        return *id;
    }
    if (result->is_bool() && !result->get_bool()) {
        return std::int64_t{0};  // im.notify.*: `false` means "not sent", which is not an error
    }
    return Fail(Errc::kBadResponse, fmt::format("method={} result is not an id", method));
}

Result<std::int64_t> Notify(Client& client, std::string_view method, const Notification& n) {
    bj::object params{{"USER_ID", n.user_id}, {"MESSAGE", n.message}};
    if (!n.tag.empty()) {
        params["TAG"] = n.tag;
    }
    return IdResult(client.Call(method, params), method);
}

}  // namespace

std::string UfCamelName(std::string_view upper_name) {
    constexpr std::string_view kPrefix = "UF_CRM_";
    if (upper_name.substr(0, kPrefix.size()) != kPrefix) {
        return std::string(upper_name);
    }
    const std::string_view rest = upper_name.substr(kPrefix.size());
    const std::size_t sep = rest.find('_');
    const std::string_view number = sep == std::string_view::npos ? std::string_view{} : rest.substr(0, sep);
    const std::string_view tail = sep == std::string_view::npos ? std::string_view{} : rest.substr(sep + 1);
    const bool has_number = !number.empty() && AllOf(number, [](int c) { return std::isdigit(c); }) &&
                            number.find('_') == std::string_view::npos;
    const bool letters = AllOf(tail, [](int c) { return std::isalpha(c); });
    const bool digits = AllOf(tail, [](int c) { return std::isdigit(c); });
    if (!has_number || tail.empty() || !(letters || digits)) {
        return "ufCrm_" + std::string(rest);  // simplified rule
    }
    std::string out = "ufCrm" + std::string(number);
    std::size_t pos = 0;
    while (pos <= tail.size()) {
        const std::size_t end = std::min(tail.find('_', pos), tail.size());
        const std::string_view word = tail.substr(pos, end - pos);
        if (!word.empty()) {
            if (std::isdigit(static_cast<unsigned char>(word.front())) != 0) {
                out += '_';  // an underscore before a numeric block stays
                out += word;
            } else {
                out += static_cast<char>(std::toupper(static_cast<unsigned char>(word.front())));
                for (const char c : word.substr(1)) {
                    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                }
            }
        }
        pos = end + 1;
    }
    return out;
}

Result<bj::object> ItemGet(Client& client, std::int64_t entity_type_id, std::int64_t id) {
    return ObjectAt(
        client.Call("crm.item.get", {{"entityTypeId", entity_type_id}, {"id", id}}), "item", "crm.item.get");
}

Result<std::vector<bj::object>> ItemList(Client& client,
                                         std::int64_t entity_type_id,
                                         const ListQuery& query,
                                         std::size_t max_rows) {
    bj::object params{{"entityTypeId", entity_type_id}};
    ApplyQuery(params, query);
    return Objects(client.ListAll("crm.item.list", params, "items", max_rows), "crm.item.list");
}

Result<std::int64_t> ItemAdd(Client& client, std::int64_t entity_type_id, const bj::object& fields) {
    auto item = ObjectAt(
        client.Call("crm.item.add", {{"entityTypeId", entity_type_id}, {"fields", fields}}), "item", "crm.item.add");
    if (!item) {
        return item.error();
    }
    const auto id = json::IntAt(*item, "id");
    if (!id) {
        return Fail(Errc::kBadResponse, "method=crm.item.add item without id");
    }
    return *id;
}

Result<bj::object> ItemUpdate(Client& client, std::int64_t entity_type_id, std::int64_t id, const bj::object& fields) {
    return ObjectAt(client.Call("crm.item.update", {{"entityTypeId", entity_type_id}, {"id", id}, {"fields", fields}}),
                    "item",
                    "crm.item.update");
}

Result<StageHistoryRow> ParseStageHistoryRow(const bj::value& row) {
    const auto id = json::IntAt(row, "ID");
    const auto owner = json::IntAt(row, "OWNER_ID");
    const auto type = json::IntAt(row, "TYPE_ID");
    if (!id || !owner || !type) {
        return Fail(Errc::kBadResponse, "stage history row without ID, OWNER_ID or TYPE_ID");
    }
    StageHistoryRow out;
    out.id = *id;
    out.owner_id = *owner;
    out.type_id = static_cast<int>(*type);
    out.created_time = json::StringAt(row, "CREATED_TIME").value_or("");
    out.category_id = json::IntAt(row, "CATEGORY_ID").value_or(0);
    out.stage_semantic_id = json::StringAt(row, "STAGE_SEMANTIC_ID").value_or("");
    out.stage_id = json::StringAt(row, "STAGE_ID").value_or("");
    return out;
}

Result<std::vector<StageHistoryRow>> StageHistoryList(Client& client,
                                                      std::int64_t entity_type_id,
                                                      const ListQuery& query,
                                                      std::size_t max_rows) {
    bj::object params{{"entityTypeId", entity_type_id}};
    ApplyQuery(params, query);
    auto rows = client.ListAll("crm.stagehistory.list", params, "items", max_rows);
    if (!rows) {
        return rows.error();
    }
    std::vector<StageHistoryRow> out;
    out.reserve(rows->size());
    for (const auto& row : *rows) {
        auto parsed = ParseStageHistoryRow(row);
        if (!parsed) {
            return parsed.error();
        }
        out.push_back(std::move(*parsed));
    }
    return out;
}

Result<std::int64_t> TimelineCommentAdd(Client& client,
                                        std::int64_t entity_type_id,
                                        std::int64_t item_id,
                                        std::string_view comment) {
    // crm-timeline-comment-add.md: `fields` must be lower-case since crm 23.100.0.
    const bj::object fields{
        {"ENTITY_ID", item_id}, {"ENTITY_TYPE", fmt::format("dynamic_{}", entity_type_id)}, {"COMMENT", comment}};
    return IdResult(client.Call("crm.timeline.comment.add", {{"fields", fields}}), "crm.timeline.comment.add");
}

Result<std::int64_t> NotifySystem(Client& client, const Notification& notification) {
    return Notify(client, "im.notify.system.add", notification);
}

Result<std::int64_t> NotifyPersonal(Client& client, const Notification& notification) {
    return Notify(client, "im.notify.personal.add", notification);
}

Result<void> BizprocEventSend(Client& client,
                              std::string_view event_token,
                              const bj::object& return_values,
                              std::string_view log_message) {
    bj::object params{{"EVENT_TOKEN", event_token}};
    if (!return_values.empty()) {
        params["RETURN_VALUES"] = return_values;
    }
    if (!log_message.empty()) {
        params["LOG_MESSAGE"] = log_message;
    }
    auto result = client.Call("bizproc.event.send", params);
    if (!result) {
        return result.error();
    }
    return {};
}

Result<void> EventBind(Client& client, std::string_view event, std::string_view handler) {
    auto result = client.Call("event.bind", {{"event", event}, {"handler", handler}});
    if (!result && result.error().code == make_error_code(Errc::kAlreadyExists)) {
        return {};  // error-codes.md: a duplicate binding; the state we asked for already holds
    }
    if (!result) {
        return result.error();
    }
    return {};
}

Result<std::vector<bj::object>> TypeList(Client& client, const ListQuery& query) {
    bj::object params;
    ApplyQuery(params, query);
    return Objects(client.ListAll("crm.type.list", params, "types"), "crm.type.list");
}

Result<std::vector<bj::object>> CategoryList(Client& client, std::int64_t entity_type_id) {
    return Objects(client.ListAll("crm.category.list", {{"entityTypeId", entity_type_id}}, "categories"),
                   "crm.category.list");
}

Result<std::vector<bj::object>> StatusList(Client& client, const ListQuery& query) {
    bj::object params;
    ApplyQuery(params, query);
    return Objects(client.ListAll("crm.status.list", params, ""), "crm.status.list");
}

Result<std::vector<bj::object>> UserFieldConfigList(Client& client,
                                                    std::string_view module_id,
                                                    const ListQuery& query) {
    bj::object params{{"moduleId", module_id}};
    ApplyQuery(params, query);
    return Objects(client.ListAll("userfieldconfig.list", params, "fields"), "userfieldconfig.list");
}

}  // namespace dispatch::b24
