#include "flows/actions.hpp"

#include <fmt/format.h>

#include "core/json.hpp"
#include "core/time_format.hpp"

namespace dispatch::flows {
namespace {

class Builder {
public:
    Builder(const sla::Decision& decision, const ActionContext& c) : c_(c) {
        prefix_ = c.key->Subject() + "/" + decision.Key(c.key->item_id);
    }

    void Notify(std::int64_t user, const std::string& message, std::string_view tag) {
        if (user <= 0) {
            return;
        }
        Add(fmt::format("notify/{}/{}", tag, user),
            "im.notify.system.add",
            bj::object{{"USER_ID", user}, {"MESSAGE", message}});
    }
    void NotifyAll(const std::vector<std::int64_t>& users, const std::string& message, std::string_view tag) {
        for (auto u : users) {
            Notify(u, message, tag);
        }
    }
    void Comment(const std::string& text) {
        Add("comment",
            "crm.timeline.comment.add",
            bj::object{{"fields",
                        bj::object{{"ENTITY_ID", c_.key->item_id},
                                   {"ENTITY_TYPE", fmt::format("dynamic_{}", c_.key->entity_type_id)},
                                   {"COMMENT", text}}}});
    }
    void Update(bj::object fields) {
        if (fields.empty()) {
            return;
        }
        Add("update",
            "crm.item.update",
            bj::object{
                {"entityTypeId", c_.key->entity_type_id}, {"id", c_.key->item_id}, {"fields", std::move(fields)}});
    }
    std::vector<store::OutboxAction> Take() { return std::move(out_); }

private:
    void Add(const std::string& step, std::string_view method, const bj::object& params) {
        out_.push_back(MakeAction(c_.key->member_id, c_.key->Subject(), prefix_ + "/" + step, method, params, c_.now));
    }

    const ActionContext& c_;
    std::string prefix_;
    std::vector<store::OutboxAction> out_;
};

std::string When(TimeMs t, const ActionContext& c) {
    if (c.calendar != nullptr) {
        return c.calendar->FormatLocal(t);
    }
    std::string s = FormatIso8601(t / kMinuteMs * kMinuteMs);
    return s.size() >= 16 ? s.substr(0, 10) + " " + s.substr(11, 5) + " UTC" : s;
}

std::string Title(const ActionContext& c) { return fmt::format("Request #{}", c.key->item_id); }

std::string_view MetricText(sla::Metric m) {
    switch (m) {
        case sla::Metric::kReaction:
            return "reaction";
        case sla::Metric::kResolution:
            return "resolution";
        case sla::Metric::kResolutionTotal:
            return "total resolution";
        case sla::Metric::kLine2Ola:
            return "line-2 OLA";
    }
    return "SLA";
}

const sla::MetricClock* ClockOf(const sla::FoldResult& fold, sla::Metric metric) {
    switch (metric) {
        case sla::Metric::kReaction:
            return &fold.reaction;
        case sla::Metric::kResolution:
            return &fold.resolution;
        case sla::Metric::kResolutionTotal:
            return &fold.resolution_total;
        case sla::Metric::kLine2Ola:
            return fold.line2_ola ? &*fold.line2_ola : nullptr;
    }
    return nullptr;
}

std::int64_t DispatcherOf(const sla::Policy& policy, int line) {
    const auto& users = policy.Users(line == 2 ? sla::Role::kLine2Dispatcher : sla::Role::kLine1Dispatcher);
    return users.empty() ? 0 : users.front();
}

// stageId + categoryId (Bitrix24 moves an item to the default funnel when a stageId comes without its
// categoryId, CONTRACT §8.5) of the first stage with `role` in `funnel`.
void MoveFields(bj::object& fields, const ActionContext& c, std::string_view funnel, sla::StageRole role) {
    const auto* f = c.ids->FindFunnel(funnel);
    std::string status_id = c.ids->StatusIdFor(funnel, ToProvision(role));
    if (f == nullptr || status_id.empty()) {
        return;
    }
    fields["categoryId"] = f->category_id;
    fields["stageId"] = std::move(status_id);
}

}  // namespace

std::int64_t PickUser(const std::vector<std::int64_t>& users, std::int64_t item_id) {
    if (users.empty()) {
        return 0;
    }
    return users[static_cast<std::size_t>(item_id % static_cast<std::int64_t>(users.size()))];
}

std::vector<store::OutboxAction> ActionsFor(const sla::Decision& d,
                                            const sla::FoldResult& fold,
                                            const ActionContext& c) {
    Builder b(d, c);
    const Remembered& item = *c.item;
    const sla::Policy& policy = *c.policy;
    const sla::MetricClock* clock = ClockOf(fold, d.metric);
    const std::string deadline =
        clock != nullptr && clock->deadline ? When(*clock->deadline, c) : std::string("(no deadline)");

    switch (d.kind) {
        case sla::DecisionKind::kRoute: {
            const std::int64_t user = PickUser(d.route.users, c.key->item_id);
            if (user == 0) {
                break;
            }
            b.Update(bj::object{{"assignedById", user}});
            b.Notify(user,
                     fmt::format("{} ({}) is assigned to you. Reaction due {}.", Title(c), d.template_name, deadline),
                     "route");
            break;
        }
        case sla::DecisionKind::kAutoClose: {
            bj::object fields;
            MoveFields(
                fields, c, item.funnel.empty() ? std::string(kLine1Funnel) : item.funnel, sla::StageRole::kRejected);
            b.Update(std::move(fields));
            b.Comment(d.comment);
            b.Notify(item.requester, fmt::format("{} was closed: {}", Title(c), d.comment), "auto_close");
            break;
        }
        case sla::DecisionKind::kWarn: {
            const std::string message =
                fmt::format("{}: the {} deadline {} is close.", Title(c), MetricText(d.metric), deadline);
            b.Notify(fold.assignee, message, "warn");
            const auto dispatcher = DispatcherOf(policy, fold.line);
            if (dispatcher != fold.assignee) {
                b.Notify(dispatcher, message, "warn");
            }
            break;
        }
        case sla::DecisionKind::kEscalate: {
            if (d.escalation == nullptr) {
                break;
            }
            bj::object fields;
            std::string done;
            for (const auto& action : d.escalation->actions) {
                switch (action.kind) {
                    case sla::ActionKind::kNotify:
                        for (auto role : action.roles) {
                            b.NotifyAll(policy.Users(role),
                                        fmt::format("{}: the {} deadline {} was missed; escalation level {}.",
                                                    Title(c),
                                                    MetricText(d.metric),
                                                    deadline,
                                                    d.threshold),
                                        "escalate");
                        }
                        break;
                    case sla::ActionKind::kAssign:
                        if (!action.roles.empty()) {
                            const auto& users = policy.Users(action.roles.front());
                            if (!users.empty()) {
                                fields["assignedById"] = users.front();
                                done += fmt::format(" Assigned to user {}.", users.front());
                            }
                        }
                        break;
                    case sla::ActionKind::kMoveToLine2: {
                        sla::StageRole role = fold.stage;
                        if (role == sla::StageRole::kReview || role == sla::StageRole::kDone ||
                            role == sla::StageRole::kRejected) {
                            role = sla::StageRole::kNew;
                        }
                        MoveFields(fields, c, kLine2Funnel, role);
                        done += " Moved to line 2.";
                        break;
                    }
                    case sla::ActionKind::kRaisePriority: {
                        const auto raised = sla::RaisePriority(fold.priority);
                        std::string xml(sla::Name(raised));
                        for (auto& ch : xml) {
                            ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                        }
                        const auto id = c.ids->EnumId(provision::field_codes::kPriority, xml);
                        const auto name = ItemFieldName(*c.ids, provision::field_codes::kPriority);
                        if (id != 0 && !name.empty()) {
                            fields[name] = id;
                            done += fmt::format(" Priority raised to {}.", sla::Name(raised));
                        }
                        break;
                    }
                    case sla::ActionKind::kNotifyHead:
                        b.NotifyAll(policy.Users(sla::Role::kHeadOfIt),
                                    fmt::format("{}: the {} deadline {} was missed (escalation level {}).",
                                                Title(c),
                                                MetricText(d.metric),
                                                deadline,
                                                d.threshold),
                                    "head");
                        done += " Head of IT notified.";
                        break;
                }
            }
            b.Update(std::move(fields));
            b.Comment(fmt::format("SLA escalation level {}: the {} deadline {} was missed.{}",
                                  d.threshold,
                                  MetricText(d.metric),
                                  deadline,
                                  done));
            break;
        }
        case sla::DecisionKind::kRemind: {
            const auto accept_at = [&]() -> std::string {
                for (const auto& t : fold.timers) {
                    if (t.kind == sla::TimerKind::kAutoAccept) {
                        return When(t.at, c);
                    }
                }
                return "soon";
            }();
            b.Notify(item.requester,
                     fmt::format("{} is waiting for your review. Without an answer it is accepted automatically on {}.",
                                 Title(c),
                                 accept_at),
                     "remind");
            break;
        }
        case sla::DecisionKind::kAutoAccept: {
            bj::object fields;
            MoveFields(fields, c, item.funnel.empty() ? std::string(kLine1Funnel) : item.funnel, sla::StageRole::kDone);
            b.Update(std::move(fields));
            b.Comment(fmt::format("Accepted automatically: no answer within {} {} days of review.",
                                  policy.acceptance.days,
                                  policy.acceptance.business_days ? "business" : "calendar"));
            b.Notify(item.requester, fmt::format("{} was accepted automatically.", Title(c)), "auto_accept");
            break;
        }
    }
    return b.Take();
}

store::OutboxAction MakeAction(std::string member_id,
                               std::string subject,
                               std::string idempotency_key,
                               std::string_view method,
                               const bj::object& params,
                               TimeMs now) {
    store::OutboxAction a;
    a.member_id = std::move(member_id);
    a.idempotency_key = std::move(idempotency_key);
    a.method = std::string(method);
    a.params = json::Dump(params);
    a.subject = std::move(subject);
    a.next_try_at = now;
    a.created_at = now;
    return a;
}

store::OutboxAction WriteBackAction(const bj::object& fields, std::int64_t version, const ActionContext& c) {
    return MakeAction(c.key->member_id,
                      c.key->Subject(),
                      fmt::format("{}/fields/v{}", c.key->Subject(), version),
                      "crm.item.update",
                      bj::object{{"entityTypeId", c.key->entity_type_id}, {"id", c.key->item_id}, {"fields", fields}},
                      c.now);
}

}  // namespace dispatch::flows
