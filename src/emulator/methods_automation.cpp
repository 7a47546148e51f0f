// crm.automation.trigger* (CONTRACT §11.4): app triggers (add/list/delete/execute, application context, admin) and
// the "incoming webhook" trigger call crm.automation.trigger. A trigger does something only where the automation
// designer placed it on a stage (/_emu/triggers/place): firing it for an item moves the item to the earliest such
// stage of its funnel, as automation (the event then carries no tokens). Errors carry `error: ""` and the sentence.
#include <algorithm>
#include <cctype>

#include "core/json.hpp"
#include "emulator/methods.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

bool ValidTriggerCode(const std::string& code) {
    // crm-automation-trigger-add.md: [a-z0-9.-_]
    return !code.empty() && std::all_of(code.begin(), code.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    });
}

MethodReply TriggerAdd(CallContext& ctx, const bj::object& p) {
    if (!CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    const auto code = StringParam(p, "CODE").value_or("");
    const auto name = StringParam(p, "NAME").value_or("");
    if (!ValidTriggerCode(code)) {
        return ErrEmpty("Incorrect trigger code.");
    }
    if (name.empty()) {
        return ErrEmpty("Empty trigger name.");
    }
    // crm-automation-trigger-add.md: an existing CODE is renamed, not duplicated.
    ctx.portal.State().triggers[code] = Trigger{code, name};
    return bj::value(true);
}

MethodReply TriggerList(CallContext& ctx, const bj::object&) {
    if (!CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    bj::array out;
    for (const auto& [code, t] : ctx.portal.State().triggers) {
        out.push_back(bj::object{{"NAME", t.name}, {"CODE", t.code}});
    }
    return bj::value(std::move(out));
}

MethodReply TriggerDelete(CallContext& ctx, const bj::object& p) {
    if (!CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    const auto code = StringParam(p, "CODE").value_or("");
    if (ctx.portal.State().triggers.erase(code) == 0) {
        return ErrEmpty("Trigger not found");
    }
    std::erase_if(ctx.portal.State().trigger_placements, [&](const TriggerPlacement& pl) { return pl.code == code; });
    return bj::value(true);
}

// Moves item `id` of type `e` to the earliest stage of its funnel that carries trigger `code`, as automation.
// Nothing happens when no stage of that funnel carries it (the call still succeeds: "sent" only).
MethodReply Fire(CallContext& ctx, const std::string& code, std::int64_t e, std::int64_t id) {
    const auto& items = ctx.portal.State().items[e];
    const auto it = items.find(id);
    const auto category = json::IntAt(it->second.values, "categoryId").value_or(0);
    const Stage* target = nullptr;
    for (const auto* s : ctx.portal.StagesOf(e, category)) {
        const bool placed =
            std::any_of(ctx.portal.State().trigger_placements.begin(),
                        ctx.portal.State().trigger_placements.end(),
                        [&](const TriggerPlacement& pl) { return pl.code == code && pl.stage_id == s->status_id; });
        if (placed) {
            target = s;  // StagesOf is in SORT order: the first hit is the earliest stage
            break;
        }
    }
    if (target != nullptr) {
        Caller automation = ctx.caller;
        automation.automation = true;
        CallContext sub{ctx.portal, ctx.api, automation, ctx.in_batch};
        auto moved = UpdateItem(
            sub, bj::object{{"entityTypeId", e}, {"id", id}, {"fields", bj::object{{"stageId", target->status_id}}}});
        if (!moved.Ok()) {
            return moved;
        }
    }
    return bj::value(true);
}

MethodReply TriggerExecute(CallContext& ctx, const bj::object& p) {
    if (!CallerIsAdmin(ctx)) {
        return AccessDenied();
    }
    const auto code = StringParam(p, "CODE").value_or("");
    if (ctx.portal.State().triggers.count(code) == 0) {
        return ErrEmpty("Trigger with code " + code + " is not registered.");
    }
    const auto e = IntParam(p, "OWNER_TYPE_ID");
    if (!e || ctx.portal.TypeByEntityTypeId(*e) == nullptr) {
        return ErrEmpty("Incorrect parameter OWNER_TYPE_ID.");
    }
    const auto id = IntParam(p, "OWNER_ID");
    const auto& items = ctx.portal.State().items[*e];
    if (!id || items.find(*id) == items.end()) {
        return ErrEmpty("Incorrect parameter OWNER_ID.");
    }
    return Fire(ctx, code, *e, *id);
}

// crm.automation.trigger: fires a UI-configured "incoming webhook" trigger. The SPA target format is a GAP
// (CONTRACT §14.23); we take DYNAMIC_{entityTypeId}_{id}, the bizproc document id.
MethodReply WebhookTrigger(CallContext& ctx, const bj::object& p) {
    const auto target = StringParam(p, "target").value_or("");
    if (target.empty()) {
        return ErrEmpty("Target is not set.");
    }
    constexpr std::string_view kHead = "DYNAMIC_";
    const auto sep = target.rfind('_');
    if (target.rfind(kHead, 0) != 0 || sep == std::string::npos || sep <= kHead.size()) {
        return ErrEmpty("Incorrect target format.");
    }
    const auto e = json::ParseInt(std::string_view(target).substr(kHead.size(), sep - kHead.size()));
    const auto id = json::ParseInt(std::string_view(target).substr(sep + 1));
    if (!e || !id) {
        return ErrEmpty("Incorrect target format.");
    }
    const auto& items = ctx.portal.State().items[*e];
    if (ctx.portal.TypeByEntityTypeId(*e) == nullptr || items.find(*id) == items.end()) {
        return ErrEmpty("Target is not found.");
    }
    return Fire(ctx, StringParam(p, "code").value_or(""), *e, *id);
}

}  // namespace

void RegisterAutomationMethods(MethodMap& m) {
    m["crm.automation.trigger.add"] = {"crm", true, TriggerAdd};
    m["crm.automation.trigger.list"] = {"crm", true, TriggerList};
    m["crm.automation.trigger.delete"] = {"crm", true, TriggerDelete};
    m["crm.automation.trigger.execute"] = {"crm", true, TriggerExecute};
    m["crm.automation.trigger"] = {"crm", false, WebhookTrigger};
}

}  // namespace dispatch::emulator
