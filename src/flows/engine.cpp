#include "flows/engine.hpp"

#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/log.hpp"

namespace dispatch::flows {
namespace {

constexpr log::Logger kLog{"flows"};

const sla::Calendar* DisplayCalendar(const sla::CalendarSet& calendars) {
    return calendars.All().empty() ? nullptr : calendars.All().front().get();
}

}  // namespace

bool WarnedOpenClock(const sla::Ledger& ledger, const sla::FoldResult& fold) {
    for (const auto& e : ledger.Events()) {
        if (e.kind != sla::EventKind::kWarned) {
            continue;
        }
        if (e.metric == sla::Metric::kReaction && fold.reaction.Open()) {
            return true;
        }
        if (e.metric == sla::Metric::kResolution && fold.resolution.Open() && e.cycle == fold.resolution.cycle) {
            return true;
        }
        if (e.metric == sla::Metric::kLine2Ola && fold.line2_ola && fold.line2_ola->Open()) {
            return true;
        }
    }
    return false;
}

Result<sla::FoldResult> Engine::FoldRows(std::int64_t item_id,
                                         const std::vector<store::LedgerRow>& rows,
                                         TimeMs now) const {
    auto ledger = LedgerFromRows(item_id, rows);
    if (!ledger) {
        return ledger.error();
    }
    return sla::Fold(policy_, calendars_, *ledger, now);
}

Result<Planned> Engine::Plan(const store::TicketKey& key,
                             const store::TicketState& state,
                             const Fetched* fetched,
                             const provision::ProcessIds& ids,
                             TimeMs now) const {
    Planned planned;
    auto& commit = planned.commit;
    const store::TicketSnapshot* previous = state.snapshot ? &*state.snapshot : nullptr;
    commit.expected_version = previous != nullptr ? previous->version : 0;
    if (previous != nullptr) {
        commit.snapshot = *previous;
    } else {
        commit.snapshot.key = key;
    }

    auto ledger_or = LedgerFromRows(key.item_id, state.ledger);
    if (!ledger_or) {
        return ledger_or.error();
    }
    sla::Ledger ledger = std::move(*ledger_or);
    std::int64_t own_seq = kOwnSeqBase + static_cast<std::int64_t>(state.ledger.size()) * 16;

    Remembered item = previous != nullptr ? RememberedFromJson(ParseOr(previous->fields)) : Remembered{};

    auto append = [&](sla::Event event) {
        store::LedgerRow row = ToRow(event);
        if (auto ok = ledger.Append(std::move(event)); !ok) {
            // A replayed history row or an event before creation: the ledger already says what it should.
            DISPATCH_LOG_DEBUG(kLog,
                               "ledger event skipped",
                               "ticket={} kind={} reason=\"{}\"",
                               key.Subject(),
                               row.kind,
                               ok.error().detail);
            return false;
        }
        commit.append.push_back(std::move(row));
        return true;
    };

    if (fetched != nullptr) {
        std::optional<ItemView> view;
        if (fetched->item) {
            auto read = ReadItem(*fetched->item, ids, policy_);
            if (!read) {
                return read.error();
            }
            view = std::move(*read);
        }
        if (!view && previous == nullptr) {
            planned.ignored = true;
            return planned;
        }
        DiffInput in;
        in.previous = previous;
        in.before = previous != nullptr ? &item : nullptr;
        in.item = view ? &*view : nullptr;
        in.history = fetched->history;
        in.ids = &ids;
        in.now = now;
        in.next_own_seq = own_seq;
        DiffOutput diff = Diff(in);
        own_seq += static_cast<std::int64_t>(diff.events.size());
        for (auto& e : diff.events) {
            planned.new_events += append(std::move(e)) ? 1 : 0;
        }
        commit.snapshot.last_history_id = diff.last_history_id;
        commit.snapshot.fetched_at = now;
        if (view) {
            bj::object written = std::move(item.written);
            item = Remember(*view);
            // First sight of an item that already carries SLA values (a re-provisioned service): take them as ours.
            item.written = previous != nullptr ? std::move(written) : view->service_fields;
            commit.snapshot.stage_id = view->stage_id;
            commit.snapshot.category_id = view->category_id;
            commit.snapshot.assigned_by_id = view->assigned_by_id;
            commit.snapshot.item_updated_at = view->updated_time;
        }
    }

    if (ledger.Empty()) {
        planned.ignored = previous == nullptr;
        commit.disarm = true;
        commit.snapshot.fields = json::Dump(ToJson(item));
        return planned;
    }

    auto fold = sla::Fold(policy_, calendars_, ledger, now);
    if (!fold) {
        return fold.error();
    }

    ActionContext context;
    context.key = &key;
    context.ids = &ids;
    context.policy = &policy_;
    context.item = &item;
    context.now = now;
    context.calendar = DisplayCalendar(calendars_);

    if (!fold->deleted) {
        for (const auto& decision : fold->decisions) {
            auto actions = ActionsFor(decision, *fold, context);
            for (auto& a : actions) {
                commit.actions.push_back(std::move(a));
            }
            // Recorded at its own instant: a late timer still tells the true breach time.
            append(decision.Record(std::max(decision.due_at, fold->created), own_seq++));
            ++planned.decisions;
        }
        if (!fold->decisions.empty()) {
            fold = sla::Fold(policy_, calendars_, ledger, now);
            if (!fold) {
                return fold.error();
            }
        }
        const bj::object wanted = WriteBackFields(*fold, ids, WarnedOpenClock(ledger, *fold));
        const bj::object changed = ChangedFields(wanted, item.written);
        if (!changed.empty()) {
            commit.actions.push_back(WriteBackAction(changed, commit.expected_version + 1, context));
            for (const auto& [name, value] : changed) {
                item.written[name] = value;
            }
        }
    }

    commit.snapshot.fields = json::Dump(ToJson(item));
    commit.snapshot.closed =
        fold->deleted || fold->cancelled || (fold->stage == sla::StageRole::kDone && fold->timers.empty());
    if (fold->next_timer && !fold->deleted) {
        store::TimerArm arm;
        arm.member_id = key.member_id;
        arm.kind = std::string(kSlaTimer);
        arm.subject = key.Subject();
        arm.due_at = fold->next_timer->at;
        arm.version = static_cast<std::int64_t>(state.ledger.size() + commit.append.size());
        arm.payload = json::Dump(bj::object{{"timer", sla::Name(fold->next_timer->kind)},
                                            {"metric", sla::Name(fold->next_timer->metric)},
                                            {"cycle", fold->next_timer->cycle},
                                            {"threshold", fold->next_timer->threshold}});
        commit.arm = std::move(arm);
    } else {
        commit.disarm = true;
    }
    return planned;
}

}  // namespace dispatch::flows
