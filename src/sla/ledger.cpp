#include "sla/ledger.hpp"

#include <algorithm>
#include <array>
#include <tuple>

#include "core/errc.hpp"

namespace dispatch::sla {
namespace {

constexpr std::array<std::string_view, 14> kEventNames{
    "created",  "stage_moved", "assigned", "priority_changed", "template_changed", "returned", "accepted",
    "auto_accepted", "auto_closed", "warned", "escalated", "reminded", "routed", "deleted"};

auto OrderKey(const Event& e) { return std::make_tuple(e.at, PrecedenceOf(e.kind, e.stage), e.seq); }

bool Before(const Event& a, const Event& b) { return OrderKey(a) < OrderKey(b); }

}  // namespace

std::string_view Name(EventKind kind) { return kEventNames[static_cast<std::size_t>(kind)]; }

std::optional<EventKind> ParseEventKind(std::string_view text) {
    for (std::size_t i = 0; i < kEventNames.size(); ++i) {
        if (kEventNames[i] == text) {
            return static_cast<EventKind>(i);
        }
    }
    return std::nullopt;
}

Precedence PrecedenceOf(EventKind kind, StageRole stage) {
    switch (kind) {
        case EventKind::kCreated:
            return Precedence::kStart;
        case EventKind::kAssigned:
        case EventKind::kPriorityChanged:
        case EventKind::kTemplateChanged:
            return Precedence::kAttribute;
        case EventKind::kReturned:
            return Precedence::kReset;
        case EventKind::kStageMoved:
            switch (stage) {
                case StageRole::kWaiting:
                    return Precedence::kPause;
                case StageRole::kReview:
                case StageRole::kDone:
                    return Precedence::kStop;
                case StageRole::kRejected:
                    return Precedence::kCancel;
                case StageRole::kNew:
                case StageRole::kQueued:
                case StageRole::kInProgress:
                    return Precedence::kResume;
            }
            return Precedence::kResume;
        case EventKind::kAccepted:
        case EventKind::kAutoAccepted:
            return Precedence::kStop;
        case EventKind::kAutoClosed:
        case EventKind::kDeleted:
            return Precedence::kCancel;
        case EventKind::kWarned:
        case EventKind::kEscalated:
        case EventKind::kReminded:
        case EventKind::kRouted:
            return Precedence::kRecord;
    }
    return Precedence::kRecord;
}

Event Event::Created(TimeMs at, std::int64_t seq, Priority priority, std::string template_name, StageRole stage,
                     int line, std::int64_t assignee) {
    Event e;
    e.at = at;
    e.seq = seq;
    e.kind = EventKind::kCreated;
    e.priority = priority;
    e.template_name = std::move(template_name);
    e.stage = stage;
    e.line = line;
    e.assignee = assignee;
    return e;
}

Event Event::StageMoved(TimeMs at, std::int64_t seq, StageRole stage, int line, std::int64_t actor) {
    Event e;
    e.at = at;
    e.seq = seq;
    e.kind = EventKind::kStageMoved;
    e.stage = stage;
    e.line = line;
    e.actor = actor;
    return e;
}

Event Event::Assigned(TimeMs at, std::int64_t seq, std::int64_t assignee, std::int64_t actor) {
    Event e;
    e.at = at;
    e.seq = seq;
    e.kind = EventKind::kAssigned;
    e.assignee = assignee;
    e.actor = actor;
    return e;
}

Event Event::PriorityChanged(TimeMs at, std::int64_t seq, Priority priority) {
    Event e;
    e.at = at;
    e.seq = seq;
    e.kind = EventKind::kPriorityChanged;
    e.priority = priority;
    return e;
}

Event Event::TemplateChanged(TimeMs at, std::int64_t seq, std::string template_name) {
    Event e;
    e.at = at;
    e.seq = seq;
    e.kind = EventKind::kTemplateChanged;
    e.template_name = std::move(template_name);
    return e;
}

Event Event::Simple(TimeMs at, std::int64_t seq, EventKind kind) {
    Event e;
    e.at = at;
    e.seq = seq;
    e.kind = kind;
    return e;
}

Event Event::Record(TimeMs at, std::int64_t seq, EventKind kind, Metric metric, int cycle, int threshold) {
    Event e;
    e.at = at;
    e.seq = seq;
    e.kind = kind;
    e.metric = metric;
    e.cycle = cycle;
    e.threshold = threshold;
    return e;
}

Result<void> Ledger::Append(Event event) {
    if (event.kind == EventKind::kReturned) {
        return Fail(CoreErrc::kInvalid, "ledger: 'returned' is derived from stage moves, not appended");
    }
    const bool has_created = !events_.empty() && events_.front().kind == EventKind::kCreated;
    if (event.kind == EventKind::kCreated) {
        if (has_created) {
            return Fail(CoreErrc::kInvalid, "ledger: ticket " + std::to_string(ticket_id_) + " already created");
        }
        if (!events_.empty() && events_.front().at < event.at) {
            return Fail(CoreErrc::kInvalid, "ledger: events precede 'created' of ticket " + std::to_string(ticket_id_));
        }
    } else if (has_created && event.at < events_.front().at) {
        return Fail(CoreErrc::kInvalid, "ledger: event earlier than 'created' of ticket " + std::to_string(ticket_id_));
    }
    for (const Event& held : events_) {
        if (held.seq == event.seq && held.kind == event.kind) {
            return Fail(CoreErrc::kInvalid, "ledger: duplicate " + std::string(Name(event.kind)) + " seq " +
                                                std::to_string(event.seq));
        }
    }

    const bool in_order = events_.empty() || !Before(event, events_.back());
    if (in_order) {
        // The common case: derive a return from the stage in effect just before, without rescanning.
        StageRole previous = StageRole::kNew;
        bool known = false;
        for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
            if (it->kind == EventKind::kStageMoved || it->kind == EventKind::kCreated) {
                previous = it->stage;
                known = true;
                break;
            }
        }
        if (event.kind == EventKind::kStageMoved && known && IsResolved(previous) &&
            (event.stage == StageRole::kNew || IsWorking(event.stage))) {
            events_.push_back(std::move(event));
            DeriveReturns();  // numbers the new return's cycle and finds its resolver
            return {};
        }
        events_.push_back(std::move(event));
        return {};
    }
    events_.insert(std::upper_bound(events_.begin(), events_.end(), event, Before), std::move(event));
    DeriveReturns();
    return {};
}

void Ledger::DeriveReturns() {
    std::erase_if(events_, [](const Event& e) { return e.kind == EventKind::kReturned; });
    std::vector<Event> derived;
    StageRole stage = StageRole::kNew;
    int line = 1;
    std::int64_t assignee = 0;
    std::int64_t resolver = 0;
    int resolver_line = 1;
    int cycle = 1;
    for (const Event& e : events_) {
        switch (e.kind) {
            case EventKind::kCreated:
                stage = e.stage;
                line = e.line;
                assignee = e.assignee;
                break;
            case EventKind::kAssigned:
                assignee = e.assignee;
                break;
            case EventKind::kStageMoved: {
                const bool back_to_work = e.stage == StageRole::kNew || IsWorking(e.stage);
                if (IsResolved(e.stage) && !IsResolved(stage)) {
                    resolver = assignee;
                    resolver_line = line;
                }
                if (IsResolved(stage) && back_to_work) {
                    Event r;
                    r.at = e.at;
                    r.seq = e.seq;
                    r.kind = EventKind::kReturned;
                    r.stage = e.stage;
                    r.cycle = cycle;
                    r.assignee = resolver;
                    r.line = resolver_line;
                    derived.push_back(std::move(r));
                    ++cycle;
                }
                stage = e.stage;
                line = e.line;
                break;
            }
            default:
                break;
        }
    }
    for (Event& r : derived) {
        events_.insert(std::upper_bound(events_.begin(), events_.end(), r, Before), std::move(r));
    }
}

}  // namespace dispatch::sla
