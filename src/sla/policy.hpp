#pragma once
// The SLA policy (DESIGN.md §4): who the roles are, which targets apply to a ticket (priority × template, each on
// a named calendar), when to warn and escalate, the review window with auto-acceptance, template routing and the
// auto-close of requests filed without a template. Plain data: policy_load.hpp builds it from workplace/sla.json,
// fold.hpp evaluates a ticket against it. Pure: no I/O, no clock.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "sla/calendar.hpp"

namespace dispatch::sla {

// The role a funnel stage plays for the engine (DESIGN.md §4). Bitrix24 stage ids map onto these per portal.
enum class StageRole { kNew, kQueued, kInProgress, kWaiting, kReview, kDone, kRejected };
// Most urgent first; RaisePriority moves one step towards kUrgent.
enum class Priority { kUrgent, kHigh, kNormal, kLow };
enum class Role { kLine1Dispatcher, kLine1Specialists, kLine2Dispatcher, kLine2Specialists, kHeadOfIt, kSpecialist1c };
inline constexpr int kRoleCount = 6;
// kResolution is the current resolution cycle; kResolutionTotal runs from creation across returns; kLine2Ola is the
// line-2 ownership clock that starts when the ticket first enters the Line 2 funnel.
enum class Metric { kReaction, kResolution, kResolutionTotal, kLine2Ola };

// Stable lower-case names used in sla.json, scenarios, logs and idempotency keys ("in_progress", "urgent",
// "line1_dispatcher", "resolution_total").
std::string_view Name(StageRole role);
std::string_view Name(Priority priority);
std::string_view Name(Role role);
std::string_view Name(Metric metric);
std::optional<StageRole> ParseStageRole(std::string_view text);
std::optional<Priority> ParsePriority(std::string_view text);
std::optional<Role> ParseRole(std::string_view text);
std::optional<Metric> ParseMetric(std::string_view text);

// The next more urgent priority; kUrgent stays kUrgent.
Priority RaisePriority(Priority priority);
// Stages in which a ticket is being worked on or waits for work (not new, not closed, not in review).
bool IsWorking(StageRole role);
// review and done: entering one stops the resolution clock of the current cycle.
bool IsResolved(StageRole role);

enum class TargetUnit { kMinutes, kHours, kBusinessDays };
std::string_view Name(TargetUnit unit);

// A target on a named calendar. Minutes and hours are open (business) time of that calendar. Business days follow
// Calendar::AddBusinessDays (with `end_of_day`, the deadline snaps to the close of the last day); the span they
// cover is then treated as that much open time, so pauses push a day-unit deadline like any other.
struct Target {
    std::int64_t amount = 0;
    TargetUnit unit = TargetUnit::kMinutes;
    bool end_of_day = false;
    std::string calendar;
};

// Targets for one priority, for one template or (empty template) for every template without its own row.
struct TargetRule {
    Priority priority = Priority::kNormal;
    std::string template_name;
    Target reaction;
    Target resolution;
    std::optional<Target> line2_ola;
};

// A pre-breach warning: at `percent` of the target's open time, or `minutes_before` open minutes of the target's
// calendar before the breach. Exactly one of the two is set.
struct Warning {
    std::vector<Metric> metrics;  // among kReaction, kResolution, kLine2Ola
    std::optional<int> percent;
    std::optional<std::int64_t> minutes_before;
};

enum class ActionKind {
    kNotify,         // notify `roles`
    kAssign,         // reassign to the first user of `roles[0]`
    kMoveToLine2,    // move the item to the Line 2 funnel
    kRaisePriority,  // one step towards urgent
    kNotifyHead,     // notify the head of IT
};
std::string_view Name(ActionKind kind);

struct Action {
    ActionKind kind = ActionKind::kNotify;
    std::vector<Role> roles;
    friend bool operator==(const Action&, const Action&) = default;
};

// One rung of the escalation ladder. Its instant is the breach plus `offset_minutes` of open time on the target's
// calendar (negative: before the breach), so an escalation never fires while the desk is closed (GLPI #22678).
struct EscalationLevel {
    int level = 1;
    std::vector<Metric> metrics;  // among kReaction, kResolution, kLine2Ola
    std::int64_t offset_minutes = 0;
    std::optional<int> only_on_line;  // applies only while the ticket is on this line (1 or 2)
    std::vector<Action> actions;
};

// Review window: an item in review that the requester neither accepts nor returns is auto-accepted after `days`
// (business days of `calendar`, or calendar days), with a reminder `reminder_days_before` days earlier (0: none).
struct Acceptance {
    int days = 3;
    bool business_days = true;
    std::string calendar;
    int reminder_days_before = 1;
};

// A template goes to one user or to a role; a template without a rule, or whose role has no users, goes to the
// fallback role.
struct RoutingRule {
    std::string template_name;
    std::optional<std::int64_t> user;
    std::optional<Role> role;
};

struct Routing {
    std::vector<RoutingRule> rules;
    Role fallback = Role::kLine1Dispatcher;
};

// Requests without a template are moved to `rejected` with `comment` after `grace_minutes` (calendar time).
struct AutoClose {
    bool enabled = true;
    std::int64_t grace_minutes = 0;
    std::string comment;
};

struct Policy {
    std::string id = "default";
    int version = 1;
    std::array<std::vector<std::int64_t>, kRoleCount> roles;
    std::vector<StageRole> pause_roles{StageRole::kWaiting};
    std::vector<std::string> templates;
    std::vector<TargetRule> targets;
    std::vector<Warning> warnings;
    std::vector<EscalationLevel> escalation;
    Acceptance acceptance;
    Routing routing;
    AutoClose auto_close;

    // The row for (priority, template), else the priority's default row (empty template); nullptr when neither
    // exists (LoadSlaConfig rejects such policies).
    const TargetRule* SelectTargets(Priority priority, std::string_view template_name) const;
    bool Pauses(StageRole role) const;
    const std::vector<std::int64_t>& Users(Role role) const { return roles[static_cast<int>(role)]; }
};

struct RouteTarget {
    std::optional<Role> role;          // unset when a rule names a user directly
    std::vector<std::int64_t> users;   // whom to assign (a role may hold several: the caller picks one)
    bool fallback = false;             // no rule matched, or the rule's role has no users
};
RouteTarget Route(const Policy& policy, std::string_view template_name);

// The compiled calendars a policy refers to, by id. Small (a handful of calendars), so lookup is a linear scan.
class CalendarSet {
public:
    void Add(std::shared_ptr<const Calendar> calendar);
    const Calendar* Find(std::string_view id) const;
    const std::vector<std::shared_ptr<const Calendar>>& All() const { return calendars_; }

private:
    std::vector<std::shared_ptr<const Calendar>> calendars_;
};

}  // namespace dispatch::sla
