#pragma once
// The per-ticket SLA ledger (DESIGN.md §1, research §4.6): an append-only list of what happened to a ticket, each
// event stamped with the Bitrix24 time (TimeMs) and a sequence number (the Bitrix24 stage-history id, or our own
// counter) that breaks ties. The fold (fold.hpp) reads it in one fixed order.
//
// ORDER. Events are read by (at, precedence class, seq). At one instant the classes apply in this order, so that a
// later class wins when events at the same instant conflict ("cancel > stop > pause > resume > reset", research
// §4.4 and JSM's "stop over pause, pause over start"):
//   1. start      created (nothing of a ticket can precede its creation)
//   2. attribute  assigned, priority_changed, template_changed (no clock effect of their own; applied first so that
//                 the clocks that start or stop at this instant see the new assignee and targets)
//   3. reset      returned (derived: review/done back to work, opens a new resolution cycle)
//   4. resume     stage_moved to new, queued or in_progress
//   5. pause      stage_moved to waiting
//   6. stop       stage_moved to review or done, accepted, auto_accepted
//   7. cancel     stage_moved to rejected, auto_closed, deleted
//   8. record     warned, escalated, reminded, routed (records of decisions carried out; never move a clock)
// Within a class, the lower seq comes first. Consequence, written down on purpose: a ticket moved to `waiting` and
// to `in_progress` in the same millisecond ends the instant paused, whatever the history ids say.
//
// Derived events: appending a stage_moved that takes the ticket from review or done back to new/queued/
// in_progress/waiting also appends a `returned` event at the same instant (same seq, class reset). Appending an
// event out of order re-derives every `returned`, so the list always matches the stage transitions.

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "sla/policy.hpp"

namespace dispatch::sla {

enum class EventKind {
    kCreated,
    kStageMoved,
    kAssigned,
    kPriorityChanged,
    kTemplateChanged,
    kReturned,
    kAccepted,
    kAutoAccepted,
    kAutoClosed,
    kWarned,
    kEscalated,
    kReminded,
    kRouted,
    kDeleted,
};
std::string_view Name(EventKind kind);
std::optional<EventKind> ParseEventKind(std::string_view text);

// The precedence classes above, in application order.
enum class Precedence { kStart, kAttribute, kReset, kResume, kPause, kStop, kCancel, kRecord };
Precedence PrecedenceOf(EventKind kind, StageRole stage);

// One ledger entry. Which fields mean something depends on `kind`:
//   created          stage, line, priority, template_name, assignee (0: none), actor (the requester)
//   stage_moved      stage (the new role), line (1, 2; 0: another funnel), actor
//   assigned         assignee (0: unassigned), actor
//   priority_changed priority;  template_changed template_name (empty: none)
//   warned           metric, cycle, threshold (index into Policy::warnings)
//   escalated        metric, cycle, threshold (the level)
//   reminded, auto_accepted  cycle (the resolution cycle under review)
//   routed           template_name (the template routed for), assignee (the user chosen, 0: a role)
//   returned         cycle (the cycle it closed), assignee (the resolver), line (the resolver's line)
struct Event {
    TimeMs at = 0;
    std::int64_t seq = 0;
    EventKind kind = EventKind::kCreated;
    StageRole stage = StageRole::kNew;
    int line = 1;
    std::int64_t actor = 0;
    std::int64_t assignee = 0;
    Priority priority = Priority::kNormal;
    std::string template_name;
    Metric metric = Metric::kReaction;
    int cycle = 0;
    int threshold = 0;

    static Event Created(TimeMs at, std::int64_t seq, Priority priority, std::string template_name,
                         StageRole stage = StageRole::kNew, int line = 1, std::int64_t assignee = 0);
    static Event StageMoved(TimeMs at, std::int64_t seq, StageRole stage, int line = 1, std::int64_t actor = 0);
    static Event Assigned(TimeMs at, std::int64_t seq, std::int64_t assignee, std::int64_t actor = 0);
    static Event PriorityChanged(TimeMs at, std::int64_t seq, Priority priority);
    static Event TemplateChanged(TimeMs at, std::int64_t seq, std::string template_name);
    static Event Simple(TimeMs at, std::int64_t seq, EventKind kind);
    static Event Record(TimeMs at, std::int64_t seq, EventKind kind, Metric metric, int cycle, int threshold);
};

class Ledger {
public:
    explicit Ledger(std::int64_t ticket_id = 0) : ticket_id_(ticket_id) {}

    std::int64_t TicketId() const { return ticket_id_; }
    // In the documented order; includes the derived `returned` events.
    const std::vector<Event>& Events() const { return events_; }
    bool Empty() const { return events_.empty(); }

    // Appends one event (an out-of-order one is placed where the order says). Fails with CoreErrc::kInvalid for a
    // second `created`, an event earlier than `created`, an event with the same (seq, kind) as one already held
    // (a replayed history row), or a `returned` (derived only).
    [[nodiscard]] Result<void> Append(Event event);

private:
    void DeriveReturns();

    std::int64_t ticket_id_;
    std::vector<Event> events_;
};

}  // namespace dispatch::sla
