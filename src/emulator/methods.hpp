#pragma once
// Internal to the emulator: how method families register themselves with RestApi, and the small helpers every
// family uses to read parameters the lenient way Bitrix24 does (names case-insensitive, numbers as strings).

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "emulator/rest_api.hpp"

namespace dispatch::emulator {

using MethodMap = std::map<std::string, MethodInfo, std::less<>>;

void RegisterTypeMethods(MethodMap& m);        // crm.type.*, crm.automatedsolution.*
void RegisterCategoryMethods(MethodMap& m);    // crm.category.*, crm.status.*
void RegisterUserFieldMethods(MethodMap& m);   // userfieldconfig.*
void RegisterItemMethods(MethodMap& m);        // crm.item.*, crm.stagehistory.list
void RegisterDirectoryMethods(MethodMap& m);   // user.*, department.get, im.notify.*, crm.timeline.comment.add
void RegisterAppMethods(MethodMap& m);         // event.*, bizproc.*, app.info
void RegisterBatchMethod(MethodMap& m);        // batch
void RegisterAutomationMethods(MethodMap& m);  // crm.automation.trigger*

// crm.item.update's handler, for other families that change items the way the portal's automation does.
MethodReply UpdateItem(CallContext& ctx, const boost::json::object& params);

// Parameter lookup: exact name first, then case-insensitive (the portal accepts `ID`/`id`, `fields`/`FIELDS`).
const boost::json::value* Param(const boost::json::object& params, std::string_view name);
std::optional<std::int64_t> IntParam(const boost::json::object& params, std::string_view name);
std::optional<std::string> StringParam(const boost::json::object& params, std::string_view name);
// An object parameter (e.g. `fields`); nullptr when absent or not an object.
const boost::json::object* ObjectParam(const boost::json::object& params, std::string_view name);
// Reads a Y/N-ish flag the lenient way: "Y", "1", true → true.
bool YesParam(const boost::json::value* v);

// "Could not find value for parameter {fields}" — error `100` (crm-type-add.md and friends).
ApiError MissingParam(std::string_view name);
// crm.* permission failures are 400 ACCESS_DENIED (CONTRACT §14.12 — we follow the crm.* tables).
ApiError AccessDenied();
// The caller must be a portal administrator to change CRM settings.
bool CallerIsAdmin(const CallContext& ctx);

// One field of a static *.fields answer (crm-type-fields.md layout, key order as documented).
boost::json::object FieldDescription(
    const char* type, bool required, bool read_only, bool immutable, bool multiple, const char* title);

}  // namespace dispatch::emulator
