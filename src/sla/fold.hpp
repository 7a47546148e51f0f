#pragma once
// The fold: a ticket's ledger + the policy + the calendars + `now` → its clocks, the next timer and the decisions
// due (DESIGN.md §1, §4). Pure and deterministic: same inputs, same result; events after `now` are ignored, so
// folding one ledger at several instants replays its history.
//
// Definitions (DESIGN.md §4), as computed here:
// - reaction: from `created` until the first instant the stage is neither new nor rejected AND an assignee is set.
//   Not paused by `waiting` (the definition has no pause). One per ticket.
// - resolution (per cycle): cycle 1 starts at `created`; a cycle stops when the ticket enters review or done; a
//   return (review/done → new, queued, in_progress or waiting) closes nothing and opens the next cycle at the
//   return instant, counted and attributed to the resolver (the assignee when the cycle stopped) and their line.
//   Time in the policy's pause roles (`waiting`) is subtracted.
// - resolution_total: from `created` until the ticket last entered review/done, minus pauses and minus the review
//   periods that ended in a return (the requester held the ticket then). Its deadline uses the same target.
// - line2_ola: from the first entry into the Line 2 funnel until the next review/done entry, minus pauses, on the
//   rule's `line2_ola` target (no clock when the rule has none or the ticket never reached line 2).
// - Clocks measure open time of the target's calendar, so a ticket created outside hours starts at the next
//   opening; every clock also reports calendar time (wall time minus pauses).
// - Targets are the row selected by the priority and template in effect: the current ones for an open clock, the
//   ones in effect when it stopped for a stopped clock. A change re-selects the row and KEEPS elapsed and paused
//   time: the deadline is always cycle start + new target + pauses (a shorter target can breach at once, JSM-like).
// - State: met when stopped at or before the deadline; breached when stopped after it, or open at/after it (the
//   breach instant is the deadline itself, whenever it is detected); paused while in a pause role; cancelled when
//   rejected, auto-closed or deleted while open (excluded from SLA %, auto-closed ones count in intake).
//   Cancellation is terminal for the clocks.
// - While paused the deadline is projected as if the clock resumed at `now`; no timer is armed for a paused clock
//   (the resume is an event and folds again).
//
// Decisions: a threshold (warning i, escalation level L, reminder, auto-acceptance, auto-close, routing) is due when
// its instant is <= now, its clock is still open, and the ledger holds no record of it (warned/escalated/reminded/
// auto_accepted/auto_closed/routed with the same metric, cycle and threshold). Carrying one out means appending
// Decision::Record to the ledger; the key (ticket, metric, cycle, threshold) is the idempotency key. A warning or
// reminder whose clock has already breached / whose auto-acceptance is also due is dropped: the later step speaks.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "sla/calendar.hpp"
#include "sla/ledger.hpp"
#include "sla/policy.hpp"

namespace dispatch::sla {

enum class ClockState { kRunning, kPaused, kMet, kBreached, kCancelled };
std::string_view Name(ClockState state);

struct MetricClock {
    Metric metric = Metric::kReaction;
    int cycle = 1;
    ClockState state = ClockState::kRunning;
    TimeMs start = 0;                // creation, return instant, or entry into line 2
    std::optional<TimeMs> stop;      // when it stopped (met, or breached and finished)
    std::optional<TimeMs> deadline;  // nullopt past the compiled calendar range
    TimeMs target_ms = 0;            // the target as open time of `calendar`
    TimeMs elapsed_business_ms = 0;  // open time in [start, stop or now) minus pauses
    TimeMs elapsed_calendar_ms = 0;  // wall time in [start, stop or now) minus pauses
    TimeMs paused_ms = 0;            // wall time of the pauses in [start, stop or now)
    IntervalSet pauses;              // the pauses subtracted, clipped to [start, stop or now)
    const Calendar* calendar = nullptr;   // owned by the CalendarSet passed to Fold
    const TargetRule* rule = nullptr;     // owned by the Policy passed to Fold
    const Target* target = nullptr;       // within `rule`
    // Resolution cycles only: who resolved it and whether a return ended it.
    std::int64_t resolver = 0;
    int resolver_line = 0;
    bool returned = false;

    bool Open() const { return !stop && state != ClockState::kCancelled; }
};

enum class TimerKind { kWarning, kBreach, kEscalation, kReminder, kAutoAccept, kAutoClose };
std::string_view Name(TimerKind kind);

struct Timer {
    TimeMs at = 0;
    TimerKind kind = TimerKind::kBreach;
    Metric metric = Metric::kReaction;
    int cycle = 0;
    int threshold = 0;  // warning index, escalation level
};

enum class DecisionKind { kWarn, kEscalate, kRemind, kAutoAccept, kAutoClose, kRoute };
std::string_view Name(DecisionKind kind);

struct Decision {
    DecisionKind kind = DecisionKind::kWarn;
    Metric metric = Metric::kReaction;  // warn, escalate; kResolution for remind/auto-accept
    int cycle = 0;                      // the clock's cycle (reaction and auto-close/route: 1)
    int threshold = 0;                  // warning index, escalation level
    TimeMs due_at = 0;                  // the threshold instant (a late decision keeps its real instant)
    const EscalationLevel* escalation = nullptr;  // escalate: the level and its actions (owned by the Policy)
    RouteTarget route;                  // route
    std::string template_name;          // route: the template routed for
    std::string comment;                // auto-close

    // "42/reaction/1/warn/0": unique per (ticket, metric, cycle, threshold).
    std::string Key(std::int64_t ticket_id) const;
    // The ledger event that records this decision as carried out.
    Event Record(TimeMs at, std::int64_t seq) const;
};

struct Return {
    TimeMs at = 0;
    int cycle = 0;               // the cycle it closed
    std::int64_t resolver = 0;
    int line = 0;
};

struct FoldResult {
    std::int64_t ticket_id = 0;
    TimeMs created = 0;
    StageRole stage = StageRole::kNew;
    int line = 1;
    std::int64_t assignee = 0;
    Priority priority = Priority::kNormal;
    std::string template_name;
    bool cancelled = false;
    std::optional<TimeMs> cancelled_at;  // set with `cancelled`: the rejection, auto-close or deletion that cut it
    bool auto_closed = false;
    bool accepted = false;
    bool auto_accepted = false;
    bool deleted = false;
    bool counts_in_sla = true;  // false for auto-closed and deleted tickets
    int reselections = 0;       // priority/template changes that picked another target row
    int escalation_level = 0;   // highest level recorded in the ledger

    MetricClock reaction;
    MetricClock resolution;        // the current (latest) cycle
    MetricClock resolution_total;
    std::optional<MetricClock> line2_ola;
    std::vector<MetricClock> cycles;  // every resolution cycle, oldest first; cycles.back() == resolution
    std::vector<Return> returns;

    std::vector<Timer> timers;        // every pending timer after `now`, earliest first
    std::optional<Timer> next_timer;  // timers.front()
    std::vector<Decision> decisions;  // due at `now`, by due_at
};

// Fails with CoreErrc::kInvalid when the ledger has no `created` at or before `now` or the policy has no target
// row for the ticket's priority, and CoreErrc::kNotFound when a target's calendar is not in `calendars`.
[[nodiscard]] Result<FoldResult> Fold(const Policy& policy, const CalendarSet& calendars, const Ledger& ledger,
                                      TimeMs now);

}  // namespace dispatch::sla
