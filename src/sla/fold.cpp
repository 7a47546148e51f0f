#include "sla/fold.hpp"

#include <algorithm>
#include <array>

#include "core/errc.hpp"

namespace dispatch::sla {
namespace {

constexpr std::array<std::string_view, 5> kStateNames{"running", "paused", "met", "breached", "cancelled"};
constexpr std::array<std::string_view, 6> kTimerNames{"warning", "breach", "escalation",
                                                      "reminder", "auto_accept", "auto_close"};
constexpr std::array<std::string_view, 6> kDecisionNames{"warn", "escalate", "remind",
                                                         "auto_accept", "auto_close", "route"};

struct RecordKey {
    EventKind kind;
    Metric metric;
    int cycle;
    int threshold;
};

// Priority and template in effect at some instant; `template_name` points into the ledger.
struct Selection {
    Priority priority = Priority::kNormal;
    const std::string* template_name = nullptr;
};

struct CycleScan {
    TimeMs start = 0;
    std::optional<TimeMs> stop;
    Selection at_stop;
    std::int64_t resolver = 0;
    int resolver_line = 0;
    bool returned = false;
};

// The ticket as the ledger describes it at `now`.
struct Scan {
    TimeMs created = 0;
    StageRole stage = StageRole::kNew;
    int line = 1;
    std::int64_t assignee = 0;
    Selection current;
    std::optional<TimeMs> reaction_stop;
    Selection reaction_at_stop;
    IntervalSet pauses;
    std::optional<TimeMs> pause_open;
    std::vector<CycleScan> cycles;
    std::vector<Return> returns;
    std::optional<TimeMs> review_since;
    std::optional<TimeMs> line2_start;
    std::optional<TimeMs> line2_stop;
    Selection line2_at_stop;
    std::optional<TimeMs> cancelled_at;
    bool auto_closed = false;
    bool deleted = false;
    bool accepted = false;
    bool auto_accepted = false;
    bool routed = false;  // routed since the last template change
    TimeMs template_since = 0;
    int reselections = 0;
    int escalation_level = 0;
    std::vector<RecordKey> records;
};

const std::string kNoTemplate;

const std::string& TemplateOf(const Selection& s) { return s.template_name ? *s.template_name : kNoTemplate; }

bool Recorded(const Scan& scan, EventKind kind, Metric metric, int cycle, int threshold) {
    for (const RecordKey& r : scan.records) {
        if (r.kind == kind && r.metric == metric && r.cycle == cycle && r.threshold == threshold) {
            return true;
        }
    }
    return false;
}

void CheckReaction(Scan& scan, TimeMs at) {
    if (!scan.reaction_stop && !scan.cancelled_at && scan.stage != StageRole::kNew &&
        scan.stage != StageRole::kRejected && scan.assignee != 0) {
        scan.reaction_stop = at;
        scan.reaction_at_stop = scan.current;
    }
}

void MoveStage(Scan& scan, const Policy& policy, const Event& e) {
    const StageRole prev = scan.stage;
    const StageRole next = e.stage;
    if (!scan.cancelled_at) {
        if (scan.pause_open && !policy.Pauses(next)) {
            if (e.at > *scan.pause_open) {
                scan.pauses.push_back({*scan.pause_open, e.at});
            }
            scan.pause_open.reset();
        } else if (!scan.pause_open && policy.Pauses(next)) {
            scan.pause_open = e.at;
        }
        if (IsResolved(next) && !IsResolved(prev)) {
            CycleScan& cycle = scan.cycles.back();
            cycle.stop = e.at;
            cycle.at_stop = scan.current;
            cycle.resolver = scan.assignee;
            cycle.resolver_line = scan.line;
            if (scan.line2_start && !scan.line2_stop) {
                scan.line2_stop = e.at;
                scan.line2_at_stop = scan.current;
            }
        }
        if (IsResolved(prev) && (next == StageRole::kNew || IsWorking(next))) {
            CycleScan& closed = scan.cycles.back();
            closed.returned = true;
            scan.returns.push_back(Return{e.at, static_cast<int>(scan.cycles.size()), closed.resolver,
                                          closed.resolver_line});
            scan.cycles.push_back(CycleScan{e.at, std::nullopt, {}, 0, 0, false});
        }
        if (next == StageRole::kRejected) {
            scan.cancelled_at = e.at;
        }
    }
    if (next == StageRole::kReview && prev != StageRole::kReview) {
        scan.review_since = e.at;
    } else if (next != StageRole::kReview) {
        scan.review_since.reset();
    }
    scan.stage = next;
    scan.line = e.line;
    if (e.line == 2 && !scan.line2_start && !scan.cancelled_at) {
        scan.line2_start = e.at;
    }
}

void ChangeSelection(Scan& scan, const Policy& policy, Selection next) {
    const TargetRule* before = policy.SelectTargets(scan.current.priority, TemplateOf(scan.current));
    scan.current = next;
    if (policy.SelectTargets(next.priority, TemplateOf(next)) != before) {
        ++scan.reselections;
    }
}

Result<Scan> ScanLedger(const Policy& policy, const Ledger& ledger, TimeMs now) {
    Scan scan;
    const auto& events = ledger.Events();
    if (events.empty() || events.front().kind != EventKind::kCreated || events.front().at > now) {
        return Fail(CoreErrc::kInvalid, "fold: ticket " + std::to_string(ledger.TicketId()) + " not created by now");
    }
    for (const Event& e : events) {
        if (e.at > now) {
            break;
        }
        switch (e.kind) {
            case EventKind::kCreated:
                scan.created = e.at;
                scan.stage = e.stage;
                scan.line = e.line;
                scan.assignee = e.assignee;
                scan.current = Selection{e.priority, &e.template_name};
                scan.template_since = e.at;
                scan.cycles.push_back(CycleScan{e.at, std::nullopt, {}, 0, 0, false});
                if (policy.Pauses(e.stage)) {
                    scan.pause_open = e.at;
                }
                if (e.line == 2) {
                    scan.line2_start = e.at;
                }
                if (e.stage == StageRole::kRejected) {
                    scan.cancelled_at = e.at;
                }
                break;
            case EventKind::kStageMoved:
                MoveStage(scan, policy, e);
                break;
            case EventKind::kAssigned:
                scan.assignee = e.assignee;
                break;
            case EventKind::kPriorityChanged:
                ChangeSelection(scan, policy, Selection{e.priority, scan.current.template_name});
                break;
            case EventKind::kTemplateChanged:
                ChangeSelection(scan, policy, Selection{scan.current.priority, &e.template_name});
                scan.routed = false;
                scan.template_since = e.at;
                break;
            case EventKind::kReturned:
                break;  // MoveStage sees the same transition; the event is for the timeline
            case EventKind::kAccepted:
                scan.accepted = true;
                break;
            case EventKind::kAutoAccepted:
                scan.auto_accepted = true;
                scan.records.push_back({e.kind, Metric::kResolution, e.cycle, 0});
                break;
            case EventKind::kAutoClosed:
                scan.auto_closed = true;
                scan.records.push_back({e.kind, Metric::kReaction, 1, 0});
                if (!scan.cancelled_at) {
                    scan.cancelled_at = e.at;
                }
                break;
            case EventKind::kDeleted:
                scan.deleted = true;
                if (!scan.cancelled_at) {
                    scan.cancelled_at = e.at;
                }
                break;
            case EventKind::kWarned:
            case EventKind::kReminded:
                scan.records.push_back({e.kind, e.metric, e.cycle, e.threshold});
                break;
            case EventKind::kEscalated:
                scan.records.push_back({e.kind, e.metric, e.cycle, e.threshold});
                scan.escalation_level = std::max(scan.escalation_level, e.threshold);
                break;
            case EventKind::kRouted:
                scan.routed = true;
                break;
        }
        if (e.kind != EventKind::kReturned) {
            CheckReaction(scan, e.at);
        }
    }
    if (scan.pause_open && !scan.cancelled_at && now > *scan.pause_open) {
        scan.pauses.push_back({*scan.pause_open, now});
    }
    return scan;
}

// `pauses` ∩ [from, to), for a normalized (sorted, disjoint) set.
IntervalSet Clip(const IntervalSet& pauses, TimeMs from, TimeMs to) {
    IntervalSet out;
    for (const Interval& p : pauses) {
        if (p.to <= from) {
            continue;
        }
        if (p.from >= to) {
            break;
        }
        out.push_back({std::max(p.from, from), std::min(p.to, to)});
    }
    return out;
}

std::optional<TimeMs> TargetMs(const Calendar& calendar, const Target& target, TimeMs start) {
    switch (target.unit) {
        case TargetUnit::kMinutes:
            return target.amount * kMinuteMs;
        case TargetUnit::kHours:
            return target.amount * kHourMs;
        case TargetUnit::kBusinessDays: {
            const auto until = calendar.AddBusinessDays(start, static_cast<int>(target.amount), target.end_of_day);
            if (!until) {
                return std::nullopt;
            }
            return calendar.Elapsed(start, *until);
        }
    }
    return std::nullopt;
}

struct ClockInput {
    Metric metric;
    int cycle;
    TimeMs start;
    std::optional<TimeMs> stop;
    const TargetRule* rule;
    const Target* target;
    const IntervalSet* pauses;
    bool paused_now;
};

Result<MetricClock> Evaluate(const CalendarSet& calendars, const ClockInput& in, const Scan& scan, TimeMs now) {
    MetricClock clock;
    clock.metric = in.metric;
    clock.cycle = in.cycle;
    clock.start = in.start;
    clock.stop = in.stop;
    clock.rule = in.rule;
    clock.target = in.target;
    clock.calendar = calendars.Find(in.target->calendar);
    if (clock.calendar == nullptr) {
        return Fail(CoreErrc::kNotFound, "fold: calendar '" + in.target->calendar + "' is not compiled");
    }
    const Calendar& cal = *clock.calendar;
    TimeMs end = in.stop ? *in.stop : now;
    if (!in.stop && scan.cancelled_at) {
        end = std::min(end, *scan.cancelled_at);
    }
    end = std::max(end, in.start);
    clock.pauses = Clip(*in.pauses, in.start, end);
    for (const Interval& p : clock.pauses) {
        clock.paused_ms += p.to - p.from;
    }
    clock.elapsed_calendar_ms = end - in.start - clock.paused_ms;
    clock.elapsed_business_ms = cal.Elapsed(in.start, end, clock.pauses);
    const auto target_ms = TargetMs(cal, *in.target, in.start);
    if (target_ms) {
        clock.target_ms = *target_ms;
        clock.deadline = cal.Deadline(in.start, *target_ms, clock.pauses);
    }
    if (in.stop) {
        clock.state = (!clock.deadline || *in.stop <= *clock.deadline) ? ClockState::kMet : ClockState::kBreached;
    } else if (scan.cancelled_at) {
        clock.state = ClockState::kCancelled;
    } else if (clock.deadline && now >= *clock.deadline) {
        clock.state = ClockState::kBreached;
    } else {
        clock.state = in.paused_now ? ClockState::kPaused : ClockState::kRunning;
    }
    return clock;
}

bool Applies(const std::vector<Metric>& metrics, Metric metric) {
    return std::find(metrics.begin(), metrics.end(), metric) != metrics.end();
}

void AddThreshold(FoldResult& out, const Scan& scan, std::optional<TimeMs> instant, TimeMs now, bool paused,
                  Timer timer, Decision decision, EventKind record_kind) {
    if (!instant) {
        return;
    }
    if (*instant <= now) {
        if (!Recorded(scan, record_kind, decision.metric, decision.cycle, decision.threshold)) {
            decision.due_at = *instant;
            out.decisions.push_back(std::move(decision));
        }
        return;
    }
    if (!paused) {
        timer.at = *instant;
        out.timers.push_back(timer);
    }
}

// Warnings, breach and escalation of one open clock.
void Thresholds(const Policy& policy, const Scan& scan, const MetricClock& clock, TimeMs now, FoldResult& out) {
    if (!clock.Open() || !clock.deadline) {
        return;
    }
    const Calendar& cal = *clock.calendar;
    const bool paused = clock.state == ClockState::kPaused;
    const bool breached = clock.state == ClockState::kBreached;
    if (!breached) {
        for (std::size_t i = 0; i < policy.warnings.size(); ++i) {
            const Warning& w = policy.warnings[i];
            if (!Applies(w.metrics, clock.metric)) {
                continue;
            }
            const TimeMs offset = w.percent ? clock.target_ms * *w.percent / 100
                                            : std::max<TimeMs>(0, clock.target_ms - *w.minutes_before * kMinuteMs);
            Decision d;
            d.kind = DecisionKind::kWarn;
            d.metric = clock.metric;
            d.cycle = clock.cycle;
            d.threshold = static_cast<int>(i);
            AddThreshold(out, scan, cal.Deadline(clock.start, offset, clock.pauses), now, paused,
                         Timer{0, TimerKind::kWarning, clock.metric, clock.cycle, static_cast<int>(i)}, std::move(d),
                         EventKind::kWarned);
        }
        if (!paused) {
            out.timers.push_back(Timer{*clock.deadline, TimerKind::kBreach, clock.metric, clock.cycle, 0});
        }
    }
    for (const EscalationLevel& level : policy.escalation) {
        if (!Applies(level.metrics, clock.metric) || (level.only_on_line && *level.only_on_line != scan.line)) {
            continue;
        }
        const TimeMs offset = std::max<TimeMs>(0, clock.target_ms + level.offset_minutes * kMinuteMs);
        const auto instant = offset == clock.target_ms ? clock.deadline : cal.Deadline(clock.start, offset, clock.pauses);
        Decision d;
        d.kind = DecisionKind::kEscalate;
        d.metric = clock.metric;
        d.cycle = clock.cycle;
        d.threshold = level.level;
        d.escalation = &level;
        AddThreshold(out, scan, instant, now, paused,
                     Timer{0, TimerKind::kEscalation, clock.metric, clock.cycle, level.level}, std::move(d),
                     EventKind::kEscalated);
    }
}

Result<void> ReviewWindow(const Policy& policy, const CalendarSet& calendars, const Scan& scan, TimeMs now,
                          FoldResult& out) {
    if (scan.stage != StageRole::kReview || !scan.review_since || scan.cancelled_at || scan.auto_accepted) {
        return {};
    }
    const Acceptance& acc = policy.acceptance;
    const TimeMs since = *scan.review_since;
    std::optional<TimeMs> accept_at;
    std::optional<TimeMs> remind_at;
    const int remind_days = acc.days - acc.reminder_days_before;
    if (acc.business_days) {
        const Calendar* cal = calendars.Find(acc.calendar);
        if (cal == nullptr) {
            return Fail(CoreErrc::kNotFound, "fold: acceptance calendar '" + acc.calendar + "' is not compiled");
        }
        accept_at = cal->AddBusinessDays(since, acc.days, false);
        if (acc.reminder_days_before > 0 && remind_days >= 0) {
            remind_at = cal->AddBusinessDays(since, remind_days, false);
        }
    } else {
        accept_at = since + acc.days * kDayMs;
        if (acc.reminder_days_before > 0 && remind_days >= 0) {
            remind_at = since + remind_days * kDayMs;
        }
    }
    const int cycle = static_cast<int>(scan.cycles.size());
    const bool accept_due = accept_at && *accept_at <= now;
    if (!accept_due) {
        Decision remind;
        remind.kind = DecisionKind::kRemind;
        remind.metric = Metric::kResolution;
        remind.cycle = cycle;
        AddThreshold(out, scan, remind_at, now, false, Timer{0, TimerKind::kReminder, Metric::kResolution, cycle, 0},
                     std::move(remind), EventKind::kReminded);
    }
    Decision accept;
    accept.kind = DecisionKind::kAutoAccept;
    accept.metric = Metric::kResolution;
    accept.cycle = cycle;
    AddThreshold(out, scan, accept_at, now, false, Timer{0, TimerKind::kAutoAccept, Metric::kResolution, cycle, 0},
                 std::move(accept), EventKind::kAutoAccepted);
    return {};
}

void Intake(const Policy& policy, const Scan& scan, TimeMs now, FoldResult& out) {
    if (scan.cancelled_at || scan.stage != StageRole::kNew) {
        return;
    }
    const std::string& template_name = TemplateOf(scan.current);
    if (template_name.empty()) {
        if (!policy.auto_close.enabled || scan.auto_closed) {
            return;
        }
        Decision close;
        close.kind = DecisionKind::kAutoClose;
        close.metric = Metric::kReaction;
        close.cycle = 1;
        close.comment = policy.auto_close.comment;
        AddThreshold(out, scan, scan.created + policy.auto_close.grace_minutes * kMinuteMs, now, false,
                     Timer{0, TimerKind::kAutoClose, Metric::kReaction, 1, 0}, std::move(close),
                     EventKind::kAutoClosed);
        return;
    }
    if (scan.assignee != 0 || scan.routed) {
        return;
    }
    Decision route;
    route.kind = DecisionKind::kRoute;
    route.metric = Metric::kReaction;
    route.cycle = 1;
    route.due_at = scan.template_since;
    route.route = Route(policy, template_name);
    route.template_name = template_name;
    out.decisions.push_back(std::move(route));
}

}  // namespace

std::string_view Name(ClockState state) { return kStateNames[static_cast<std::size_t>(state)]; }
std::string_view Name(TimerKind kind) { return kTimerNames[static_cast<std::size_t>(kind)]; }
std::string_view Name(DecisionKind kind) { return kDecisionNames[static_cast<std::size_t>(kind)]; }

std::string Decision::Key(std::int64_t ticket_id) const {
    std::string key = std::to_string(ticket_id);
    key += '/';
    key += Name(metric);
    key += '/';
    key += std::to_string(cycle);
    key += '/';
    key += Name(kind);
    key += '/';
    key += kind == DecisionKind::kRoute ? template_name : std::to_string(threshold);
    return key;
}

Event Decision::Record(TimeMs at, std::int64_t seq) const {
    switch (kind) {
        case DecisionKind::kWarn:
            return Event::Record(at, seq, EventKind::kWarned, metric, cycle, threshold);
        case DecisionKind::kEscalate:
            return Event::Record(at, seq, EventKind::kEscalated, metric, cycle, threshold);
        case DecisionKind::kRemind:
            return Event::Record(at, seq, EventKind::kReminded, metric, cycle, threshold);
        case DecisionKind::kAutoAccept:
            return Event::Record(at, seq, EventKind::kAutoAccepted, metric, cycle, threshold);
        case DecisionKind::kAutoClose:
            return Event::Record(at, seq, EventKind::kAutoClosed, metric, cycle, threshold);
        case DecisionKind::kRoute: {
            Event e = Event::Record(at, seq, EventKind::kRouted, metric, cycle, threshold);
            e.template_name = template_name;
            if (route.users.size() == 1) {
                e.assignee = route.users.front();
            }
            return e;
        }
    }
    return Event::Record(at, seq, EventKind::kWarned, metric, cycle, threshold);
}

Result<FoldResult> Fold(const Policy& policy, const CalendarSet& calendars, const Ledger& ledger, TimeMs now) {
    auto scanned = ScanLedger(policy, ledger, now);
    if (!scanned) {
        return scanned.error();
    }
    Scan& scan = *scanned;
    const auto rule_for = [&](const Selection& s) { return policy.SelectTargets(s.priority, TemplateOf(s)); };
    const TargetRule* current = rule_for(scan.current);
    if (current == nullptr) {
        return Fail(CoreErrc::kInvalid, "fold: no target row for priority " + std::string(Name(scan.current.priority)));
    }
    const bool paused_now = scan.pause_open.has_value() && !scan.cancelled_at;

    FoldResult out;
    out.ticket_id = ledger.TicketId();
    out.created = scan.created;
    out.stage = scan.stage;
    out.line = scan.line;
    out.assignee = scan.assignee;
    out.priority = scan.current.priority;
    out.template_name = TemplateOf(scan.current);
    out.cancelled = scan.cancelled_at.has_value();
    out.cancelled_at = scan.cancelled_at;
    out.auto_closed = scan.auto_closed;
    out.accepted = scan.accepted;
    out.auto_accepted = scan.auto_accepted;
    out.deleted = scan.deleted;
    out.counts_in_sla = !scan.auto_closed && !scan.deleted;
    out.reselections = scan.reselections;
    out.escalation_level = scan.escalation_level;
    out.returns = std::move(scan.returns);

    const IntervalSet no_pauses;
    {
        const TargetRule* rule = scan.reaction_stop ? rule_for(scan.reaction_at_stop) : current;
        if (rule == nullptr) {
            rule = current;
        }
        auto clock = Evaluate(calendars,
                              ClockInput{Metric::kReaction, 1, scan.created, scan.reaction_stop, rule, &rule->reaction,
                                         &no_pauses, false},
                              scan, now);
        if (!clock) {
            return clock.error();
        }
        out.reaction = std::move(*clock);
    }
    out.cycles.reserve(scan.cycles.size());
    for (std::size_t i = 0; i < scan.cycles.size(); ++i) {
        const CycleScan& c = scan.cycles[i];
        const TargetRule* rule = c.stop ? rule_for(c.at_stop) : current;
        if (rule == nullptr) {
            rule = current;
        }
        auto clock = Evaluate(calendars,
                              ClockInput{Metric::kResolution, static_cast<int>(i + 1), c.start, c.stop, rule,
                                         &rule->resolution, &scan.pauses, paused_now},
                              scan, now);
        if (!clock) {
            return clock.error();
        }
        clock->resolver = c.resolver;
        clock->resolver_line = c.resolver_line;
        clock->returned = c.returned;
        out.cycles.push_back(std::move(*clock));
    }
    out.resolution = out.cycles.back();
    {
        IntervalSet total_pauses = scan.pauses;
        for (std::size_t i = 0; i + 1 < scan.cycles.size(); ++i) {
            if (scan.cycles[i].stop && *scan.cycles[i].stop < scan.cycles[i + 1].start) {
                total_pauses.push_back({*scan.cycles[i].stop, scan.cycles[i + 1].start});
            }
        }
        if (scan.cycles.size() > 1) {
            total_pauses = NormalizeIntervals(std::move(total_pauses));
        }
        const CycleScan& last = scan.cycles.back();
        const TargetRule* rule = last.stop ? rule_for(last.at_stop) : current;
        if (rule == nullptr) {
            rule = current;
        }
        auto clock = Evaluate(calendars,
                              ClockInput{Metric::kResolutionTotal, static_cast<int>(scan.cycles.size()), scan.created,
                                         last.stop, rule, &rule->resolution, &total_pauses, paused_now},
                              scan, now);
        if (!clock) {
            return clock.error();
        }
        out.resolution_total = std::move(*clock);
    }
    if (scan.line2_start) {
        const TargetRule* rule = scan.line2_stop ? rule_for(scan.line2_at_stop) : current;
        if (rule == nullptr) {
            rule = current;
        }
        if (rule->line2_ola) {
            auto clock = Evaluate(calendars,
                                  ClockInput{Metric::kLine2Ola, 1, *scan.line2_start, scan.line2_stop, rule,
                                             &*rule->line2_ola, &scan.pauses, paused_now},
                                  scan, now);
            if (!clock) {
                return clock.error();
            }
            out.line2_ola = std::move(*clock);
        }
    }

    out.timers.reserve(12);  // a few per open clock; one allocation instead of several regrowths
    Thresholds(policy, scan, out.reaction, now, out);
    Thresholds(policy, scan, out.resolution, now, out);
    if (out.line2_ola) {
        Thresholds(policy, scan, *out.line2_ola, now, out);
    }
    if (auto ok = ReviewWindow(policy, calendars, scan, now, out); !ok) {
        return ok.error();
    }
    Intake(policy, scan, now, out);

    // Ties keep the order they were added in (warnings, breach, escalation; reaction before resolution).
    if (out.timers.size() > 1) {
        std::stable_sort(out.timers.begin(), out.timers.end(),
                         [](const Timer& a, const Timer& b) { return a.at < b.at; });
    }
    if (!out.timers.empty()) {
        out.next_timer = out.timers.front();
    }
    if (out.decisions.size() > 1) {
        std::stable_sort(out.decisions.begin(), out.decisions.end(),
                         [](const Decision& a, const Decision& b) { return a.due_at < b.due_at; });
    }
    return out;
}

}  // namespace dispatch::sla
