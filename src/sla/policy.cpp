#include "sla/policy.hpp"

#include <algorithm>

namespace dispatch::sla {
namespace {

constexpr std::array<std::string_view, 7> kStageNames{"new", "queued", "in_progress", "waiting",
                                                      "review", "done", "rejected"};
constexpr std::array<std::string_view, 4> kPriorityNames{"urgent", "high", "normal", "low"};
constexpr std::array<std::string_view, kRoleCount> kRoleNames{"line1_dispatcher",  "line1_specialists",
                                                              "line2_dispatcher",  "line2_specialists",
                                                              "head_of_it",        "specialist_1c"};
constexpr std::array<std::string_view, 4> kMetricNames{"reaction", "resolution", "resolution_total", "line2_ola"};
constexpr std::array<std::string_view, 3> kUnitNames{"minutes", "hours", "business_days"};
constexpr std::array<std::string_view, 5> kActionNames{"notify", "assign", "move_to_line2", "raise_priority",
                                                       "notify_head"};

template <class E, std::size_t N>
std::optional<E> ParseName(const std::array<std::string_view, N>& names, std::string_view text) {
    for (std::size_t i = 0; i < N; ++i) {
        if (names[i] == text) {
            return static_cast<E>(i);
        }
    }
    return std::nullopt;
}

}  // namespace

std::string_view Name(StageRole role) { return kStageNames[static_cast<std::size_t>(role)]; }
std::string_view Name(Priority priority) { return kPriorityNames[static_cast<std::size_t>(priority)]; }
std::string_view Name(Role role) { return kRoleNames[static_cast<std::size_t>(role)]; }
std::string_view Name(Metric metric) { return kMetricNames[static_cast<std::size_t>(metric)]; }
std::string_view Name(TargetUnit unit) { return kUnitNames[static_cast<std::size_t>(unit)]; }
std::string_view Name(ActionKind kind) { return kActionNames[static_cast<std::size_t>(kind)]; }

std::optional<StageRole> ParseStageRole(std::string_view text) { return ParseName<StageRole>(kStageNames, text); }
std::optional<Priority> ParsePriority(std::string_view text) { return ParseName<Priority>(kPriorityNames, text); }
std::optional<Role> ParseRole(std::string_view text) { return ParseName<Role>(kRoleNames, text); }
std::optional<Metric> ParseMetric(std::string_view text) { return ParseName<Metric>(kMetricNames, text); }

Priority RaisePriority(Priority priority) {
    return priority == Priority::kUrgent ? Priority::kUrgent : static_cast<Priority>(static_cast<int>(priority) - 1);
}

bool IsWorking(StageRole role) {
    return role == StageRole::kQueued || role == StageRole::kInProgress || role == StageRole::kWaiting;
}

bool IsResolved(StageRole role) { return role == StageRole::kReview || role == StageRole::kDone; }

const TargetRule* Policy::SelectTargets(Priority priority, std::string_view template_name) const {
    const TargetRule* fallback = nullptr;
    for (const TargetRule& rule : targets) {
        if (rule.priority != priority) {
            continue;
        }
        if (!template_name.empty() && rule.template_name == template_name) {
            return &rule;
        }
        if (rule.template_name.empty() && fallback == nullptr) {
            fallback = &rule;
        }
    }
    return fallback;
}

bool Policy::Pauses(StageRole role) const {
    return std::find(pause_roles.begin(), pause_roles.end(), role) != pause_roles.end();
}

RouteTarget Route(const Policy& policy, std::string_view template_name) {
    for (const RoutingRule& rule : policy.routing.rules) {
        if (rule.template_name != template_name) {
            continue;
        }
        if (rule.user) {
            return RouteTarget{std::nullopt, {*rule.user}, false};
        }
        if (rule.role && !policy.Users(*rule.role).empty()) {
            return RouteTarget{rule.role, policy.Users(*rule.role), false};
        }
        break;  // the rule's role is empty (everyone left): the dispatcher decides instead
    }
    return RouteTarget{policy.routing.fallback, policy.Users(policy.routing.fallback), true};
}

void CalendarSet::Add(std::shared_ptr<const Calendar> calendar) {
    for (auto& existing : calendars_) {
        if (existing->Id() == calendar->Id()) {
            existing = std::move(calendar);
            return;
        }
    }
    calendars_.push_back(std::move(calendar));
}

const Calendar* CalendarSet::Find(std::string_view id) const {
    for (const auto& calendar : calendars_) {
        if (calendar->Id() == id) {
            return calendar.get();
        }
    }
    return nullptr;
}

}  // namespace dispatch::sla
