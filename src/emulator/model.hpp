#pragma once
// The portal's data as plain structs: everything `crm.*`, `userfieldconfig.*`, `user.get`, the OAuth server and
// the event queue read or write. No behaviour here; rules live with the method families (methods_*.cpp) and in
// Portal. Every instant is TimeMs (UTC ms); ids are int64 and are rendered per method as the docs show them.

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace dispatch::emulator {

struct User {
    std::int64_t id = 0;
    std::string name;
    std::string last_name;
    std::string email;
    std::string work_position;
    std::string time_zone;
    std::vector<std::int64_t> departments;
    bool active = true;
    bool admin = false;  // portal administrator: may change CRM settings (types, funnels, stages, fields, robots)
};

struct Department {
    std::int64_t id = 0;
    std::string name;
    std::int64_t sort = 500;
    std::optional<std::int64_t> parent;
    std::optional<std::int64_t> head;
};

struct AutomatedSolution {
    std::int64_t id = 0;
    std::string title;
    std::vector<std::int64_t> type_ids;  // smart-process type `id`s (CONTRACT §14.9: we pick `id`)
};

struct SpaType {
    std::int64_t id = 0;              // row id: userfieldconfig CRM_{id}, automatedsolution typeIds
    std::int64_t entity_type_id = 0;  // type number: crm.item.*, crm.category.*, stages, events
    std::string title;
    std::string code;
    boost::json::object flags;  // isCategoriesEnabled … isCountersEnabled as "Y"/"N"
    boost::json::value relations;
    boost::json::value linked_user_fields;
    std::int64_t created_by = 0;
    std::int64_t updated_by = 0;
    TimeMs created_time = 0;
    TimeMs updated_time = 0;
    bool Flag(const char* name) const;
};

struct Category {
    std::int64_t id = 0;
    std::int64_t entity_type_id = 0;
    std::string name;
    std::int64_t sort = 500;
    bool is_default = false;
    bool is_system = false;
    std::string code;
};

struct Stage {
    std::int64_t id = 0;    // row id for crm.status.get/update/delete
    std::string entity_id;  // DYNAMIC_{e}_STAGE_{c}
    std::string status_id;  // DT{e}_{c}:CODE
    std::string name;
    std::string name_init;
    std::int64_t sort = 10;
    bool system = false;
    std::int64_t category_id = 0;
    std::string color;
    std::string semantics;  // "" in progress, "S" success, "F" failure
};

struct EnumOption {
    std::int64_t id = 0;
    std::string value;
    bool def = false;
    std::int64_t sort = 100;
    std::string xml_id;
};

struct UserField {
    std::int64_t id = 0;
    std::string entity_id;   // CRM_{type id}
    std::string field_name;  // UF_CRM_{type id}_…
    std::string user_type_id;
    std::string xml_id;
    std::int64_t sort = 100;
    bool multiple = false;
    bool mandatory = false;
    std::string show_filter = "N";
    std::string show_in_list = "Y";
    std::string edit_in_list = "Y";
    std::string is_searchable = "N";
    boost::json::value settings;
    boost::json::value edit_form_label;
    boost::json::value help_message;
    std::vector<EnumOption> enums;
};

// An item's field values by canonical name: system fields in camelCase, user fields by their UPPER name.
// Datetime and date values are stored as TimeMs; rendering happens per request.
struct Item {
    std::int64_t id = 0;
    std::int64_t entity_type_id = 0;
    boost::json::object values;

    // Takes `v` with its own storage. Assigning a bj::object keeps the target's storage and copies into it, which
    // would defeat ItemSchema::Layout (each item's values in one block of their own).
    void Reset(boost::json::object&& v) {
        values.~object();
        ::new (&values) boost::json::object(std::move(v));
    }
};

struct StageHistoryEntry {
    std::int64_t id = 0;
    std::int64_t entity_type_id = 0;
    int type_id = 1;  // 1 created, 2 intermediate stage, 3 final stage, 5 funnel change
    std::int64_t owner_id = 0;
    TimeMs created_time = 0;
    std::int64_t category_id = 0;
    std::string stage_semantic_id;  // P / S / F
    std::string stage_id;
};

struct TimelineComment {
    std::int64_t id = 0;
    std::string entity_type;  // lower case, e.g. dynamic_1038
    std::int64_t entity_id = 0;
    std::string comment;
    std::int64_t author_id = 0;
    TimeMs created = 0;
};

struct Notification {
    std::int64_t id = 0;
    std::string kind;  // system | personal
    std::int64_t from_user = 0;
    std::int64_t to_user = 0;
    std::string message;
    std::string tag;
    TimeMs created = 0;
};

struct Webhook {
    std::int64_t user_id = 0;
    std::string secret;
};

struct LocalApp {
    std::string client_id;
    std::string client_secret;
    std::string install_handler;  // "path for initial installation"; empty: no callback
    std::string application_token;
    std::string scope;  // comma list
    bool installed = false;
};

struct AccessToken {
    std::int64_t user_id = 0;
    TimeMs expires = 0;
};

struct RefreshToken {
    std::int64_t user_id = 0;
    TimeMs expires = 0;
};

struct AuthCode {
    std::int64_t user_id = 0;
    TimeMs expires = 0;
};

struct EventBinding {
    std::int64_t id = 0;
    std::string event;  // upper case
    std::string handler;
    std::int64_t auth_type = 0;
};

struct Robot {
    std::string code;
    std::string handler;
    std::int64_t auth_user_id = 0;
    bool use_subscription = true;
    boost::json::value name;
    boost::json::value properties;
    boost::json::value return_properties;
    std::string document_type;  // DYNAMIC_{e} or "" (any)
};

// A robot placed on a stage (what the automation designer does in the UI; here through /_emu/robots/place).
struct RobotPlacement {
    std::string code;
    std::string stage_id;
    boost::json::object properties;  // values passed as properties[...]
};

// An app trigger (crm.automation.trigger.add, CONTRACT §11.4).
struct Trigger {
    std::string code;
    std::string name;
};

// A trigger placed on a stage (the automation designer's job; here /_emu/triggers/place): when it fires for an item
// in that stage's funnel, the item moves to the stage.
struct TriggerPlacement {
    std::string code;
    std::string stage_id;
};

// One robot run waiting for bizproc.event.send.
struct RobotRun {
    std::string event_token;
    std::string workflow_id;
    std::string code;
    std::int64_t entity_type_id = 0;
    std::int64_t item_id = 0;
    bool answered = false;
    boost::json::value return_values;
    std::string log_message;
};

// Everything a portal holds; saved and loaded as one JSON document (persistence.hpp).
struct PortalState {
    std::string member_id;
    std::map<std::int64_t, User> users;
    std::map<std::int64_t, Department> departments;
    std::map<std::int64_t, AutomatedSolution> solutions;
    std::map<std::int64_t, SpaType> types;  // by type id
    std::map<std::int64_t, Category> categories;
    std::map<std::int64_t, Stage> stages;
    std::map<std::int64_t, UserField> user_fields;
    std::map<std::int64_t, std::map<std::int64_t, Item>> items;  // entityTypeId → id → item
    std::map<std::int64_t, std::int64_t> item_seq;               // entityTypeId → last id
    std::vector<StageHistoryEntry> stage_history;
    std::vector<TimelineComment> comments;
    std::vector<Notification> notifications;
    std::vector<Webhook> webhooks;
    LocalApp app;
    std::map<std::string, AccessToken> access_tokens;
    std::map<std::string, RefreshToken> refresh_tokens;
    std::map<std::string, AuthCode> auth_codes;
    std::map<std::int64_t, EventBinding> bindings;
    std::map<std::string, Robot> robots;
    std::vector<RobotPlacement> placements;
    std::map<std::string, RobotRun> robot_runs;
    std::map<std::string, Trigger> triggers;
    std::vector<TriggerPlacement> trigger_placements;
    std::int64_t seq = 0;  // shared counter for row ids of types, funnels, stages, fields, enums, history, ...
};

}  // namespace dispatch::emulator
