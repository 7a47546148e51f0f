#include "flows/runtime.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

#include "b24/batch.hpp"
#include "b24/errc.hpp"
#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/time_format.hpp"
#include "store/errc.hpp"

namespace dispatch::flows {
namespace {

constexpr log::Logger kLog{"flows"};
constexpr std::string_view kReconcileTimer = "reconcile";
constexpr std::string_view kReconcileKey = "reconcile";
constexpr int kCommitAttempts = 4;

bool IsStore(const Error& e, store::Errc code) { return e.code == make_error_code(code); }

bool IsB24(const Error& e, b24::Errc code) { return b24::AsErrc(e.code) == code; }

// A failure worth another try later (the client already retried within its budget).
bool Retryable(const Error& e) {
    auto errc = b24::AsErrc(e.code);
    if (!errc) {
        return true;  // store or transport-level failures of ours
    }
    return b24::Classify(*errc) != b24::RetryClass::kNever || *errc == b24::Errc::kPortalBlocked ||
           *errc == b24::Errc::kRefreshFailed;
}

bool IsItemEvent(const store::InboxEvent& e) {
    return (e.kind == store::InboxKind::kEvent || e.kind == store::InboxKind::kRobot ||
            e.kind == store::InboxKind::kHook) &&
           e.item_id > 0;
}

std::vector<b24::StageHistoryRow> ParseHistory(const bj::value& result) {
    std::vector<b24::StageHistoryRow> rows;
    const bj::value* items = json::Find(result, "items");
    if (items == nullptr || !items->is_array()) {
        return rows;
    }
    for (const auto& v : items->as_array()) {
        if (auto row = b24::ParseStageHistoryRow(v)) {
            rows.push_back(std::move(*row));
        }
    }
    return rows;
}

bj::object HistoryParams(const store::TicketKey& key, std::int64_t after) {
    return bj::object{{"entityTypeId", key.entity_type_id},
                      {"filter", bj::object{{"OWNER_ID", key.item_id}, {">ID", after}}},
                      {"order", bj::object{{"ID", "ASC"}}}};
}

}  // namespace

std::optional<store::TicketKey> ParseSubject(std::string_view subject) {
    const auto b = subject.rfind('/');
    if (b == std::string_view::npos || b == 0) {
        return std::nullopt;
    }
    const auto a = subject.rfind('/', b - 1);
    if (a == std::string_view::npos || a == 0) {
        return std::nullopt;
    }
    auto etid = json::ParseInt(subject.substr(a + 1, b - a - 1));
    auto item = json::ParseInt(subject.substr(b + 1));
    if (!etid || !item) {
        return std::nullopt;
    }
    store::TicketKey key;
    key.member_id = std::string(subject.substr(0, a));
    key.entity_type_id = *etid;
    key.item_id = *item;
    return key;
}

Runtime::Runtime(
    store::Store& store, const Engine& engine, const Clock& clock, ClientFor clients, RuntimeOptions options)
    : store_(store), engine_(engine), clock_(clock), clients_(std::move(clients)), options_(std::move(options)) {
    if (options_.reconcile_every > 0) {
        AddPortalJob(std::string(kReconcileTimer), options_.reconcile_every, [this](std::string_view member_id) {
            auto swept = Reconcile(member_id);
            return swept ? Result<void>{} : Result<void>(swept.error());
        });
    }
}

void Runtime::AddPortalJob(std::string kind, TimeMs every, PortalJob handler) {
    jobs_[std::move(kind)] = Job{every, std::move(handler)};
}

Result<void> Runtime::ArmPortalJobs(std::string_view member_id, bool only_missing) {
    std::set<std::string> armed;
    if (only_missing) {
        auto timers = store_.Timers().List(member_id);
        if (!timers) {
            return timers.error();
        }
        for (const auto& t : *timers) {
            armed.insert(t.timer.kind);
        }
    }
    for (const auto& [kind, job] : jobs_) {
        if (armed.count(kind) != 0) {
            continue;
        }
        store::TimerArm arm;
        arm.member_id = std::string(member_id);
        arm.kind = kind;
        arm.subject = std::string(member_id);
        arm.due_at = clock_.Now() + job.every;
        if (auto ok = store_.Timers().Arm(arm); !ok) {
            return ok.error();
        }
    }
    return {};
}

Runtime::~Runtime() { Stop(); }

Result<std::shared_ptr<const provision::Layout>> Runtime::LayoutOf(std::string_view member_id) {
    {
        std::lock_guard lock(layouts_mu_);
        if (auto it = layouts_.find(member_id); it != layouts_.end()) {
            return it->second;
        }
    }
    auto text = store_.Settings().Get(member_id, provision::kLayoutSettingsKey);
    if (!text) {
        return text.error();
    }
    auto doc = json::Parse(*text);
    if (!doc) {
        return doc.error();
    }
    auto layout = provision::Layout::FromJson(*doc);
    if (!layout) {
        return layout.error();
    }
    auto shared = std::make_shared<const provision::Layout>(std::move(*layout));
    std::lock_guard lock(layouts_mu_);
    layouts_[std::string(member_id)] = shared;
    return shared;
}

void Runtime::ForgetLayout(std::string_view member_id) {
    std::lock_guard lock(layouts_mu_);
    if (auto it = layouts_.find(member_id); it != layouts_.end()) {
        layouts_.erase(it);
    }
}

const provision::ProcessIds* Runtime::Tickets(const provision::Layout& layout) const {
    return layout.FindProcess(options_.process_code);
}

void Runtime::FailRow(const store::ClaimedEvent& row, const Error& error, PassStats& stats) {
    ++stats.failed;
    auto outcome = store_.Inbox().Fail(row.id, row.attempt, error.detail, clock_.Now(), options_.retry);
    DISPATCH_LOG_WARN(kLog,
                      "inbox row failed",
                      "id={} member={} item={} attempt={} dead={} error=\"{}\"",
                      row.id,
                      row.event.member_id,
                      row.event.item_id,
                      row.attempt,
                      outcome && outcome->dead,
                      error.detail);
}

Result<void> Runtime::CommitTicket(const store::TicketKey& key,
                                   const Fetched* fetched,
                                   const provision::ProcessIds& ids,
                                   std::optional<store::Fence> inbox,
                                   std::optional<store::Fence> timer,
                                   std::vector<store::OutboxAction> extra,
                                   std::optional<store::TicketState> preloaded) {
    for (int attempt = 1;; ++attempt) {
        // The state read before the fetch serves the first plan only: a kConflict means it is stale.
        Result<store::TicketState> state =
            attempt == 1 && preloaded ? Result<store::TicketState>(std::move(*preloaded)) : store_.Tickets().Load(key);
        if (!state) {
            return state.error();
        }
        const TimeMs now = clock_.Now();
        auto planned = engine_.Plan(key, *state, fetched, ids, now);
        if (!planned) {
            return planned.error();
        }
        if (planned->ignored && extra.empty()) {
            if (inbox) {
                return store_.Inbox().Complete(inbox->id, inbox->attempt, now);
            }
            if (timer) {
                return store_.Timers().Complete(*timer);
            }
            return {};
        }
        auto& commit = planned->commit;
        commit.inbox = inbox;
        commit.timer = timer;
        for (const auto& a : extra) {
            commit.actions.push_back(a);
        }
        const bool has_actions = !commit.actions.empty();
        auto done = store_.Tickets().Commit(commit, now);
        if (done) {
            DISPATCH_LOG_DEBUG(kLog,
                               "ticket committed",
                               "ticket={} events={} decisions={} actions={} version={}",
                               key.Subject(),
                               planned->new_events,
                               planned->decisions,
                               commit.actions.size(),
                               *done);
            if (has_actions) {
                Wake();
            }
            return {};
        }
        if (!IsStore(done.error(), store::Errc::kConflict) || attempt >= kCommitAttempts) {
            return done.error();
        }
    }
}

Result<std::vector<Result<Fetched>>> Runtime::FetchTickets(b24::Client& client,
                                                           const std::vector<store::TicketKey>& keys,
                                                           const std::vector<std::int64_t>& after) {
    // One batch: the item and its new stage-history rows for every ticket (25 tickets = 50 calls = one request).
    b24::BatchBuilder batch;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        (void)batch.Add(fmt::format("i{}", i),
                        "crm.item.get",
                        bj::object{{"entityTypeId", keys[i].entity_type_id}, {"id", keys[i].item_id}});
        (void)batch.Add(fmt::format("h{}", i), "crm.stagehistory.list", HistoryParams(keys[i], after[i]));
    }
    auto answer = client.CallBatch(batch);
    if (!answer) {
        return answer.error();
    }
    auto one = [&](std::size_t i) -> Result<Fetched> {
        Fetched fetched;
        auto item = answer->Get(fmt::format("i{}", i));
        if (item) {
            const bj::value* obj = json::Find(*item, "item");
            if (obj == nullptr || !obj->is_object()) {
                return Error{make_error_code(b24::Errc::kBadResponse), "crm.item.get without item"};
            }
            fetched.item = obj->as_object();
        } else if (!IsB24(item.error(), b24::Errc::kNotFound)) {
            return item.error();
        }
        auto history = answer->Get(fmt::format("h{}", i));
        if (!history) {
            return history.error();
        }
        fetched.history = ParseHistory(*history);
        if (fetched.history.size() >= 50) {
            // More than one page of moves since the last look (a long outage): read them all.
            b24::ListQuery query;
            query.filter = bj::object{{"OWNER_ID", keys[i].item_id}, {">ID", after[i]}};
            query.order = bj::object{{"ID", "ASC"}};
            auto all = b24::StageHistoryList(client, keys[i].entity_type_id, query);
            if (!all) {
                return all.error();
            }
            fetched.history = std::move(*all);
        }
        return fetched;
    };
    std::vector<Result<Fetched>> out;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        out.push_back(one(i));
    }
    return out;
}

Result<void> Runtime::HandleTicketRows(const std::string& member_id,
                                       std::vector<store::ClaimedEvent>& rows,
                                       PassStats& stats) {
    const TimeMs now = clock_.Now();
    std::vector<store::ClaimedEvent*> tickets;
    std::shared_ptr<const provision::Layout> layout;
    const provision::ProcessIds* ids = nullptr;
    for (auto& row : rows) {
        if (!IsItemEvent(row.event)) {
            // Install and uninstall need nothing from the flows but a fresh look at the layout (and, for an
            // install, the portal's periodic jobs).
            ForgetLayout(member_id);
            if (row.event.kind == store::InboxKind::kInstall || row.event.event_name == "ONAPPINSTALL") {
                if (auto armed = ArmPortalJobs(member_id); !armed) {
                    return armed.error();
                }
            }
            if (auto ok = store_.Inbox().Complete(row.id, row.attempt, now); !ok) {
                return ok.error();
            }
            ++stats.processed;
            continue;
        }
        if (!layout) {
            auto found = LayoutOf(member_id);
            if (!found) {
                FailRow(row, Error{found.error().code, "portal not provisioned: " + found.error().detail}, stats);
                continue;
            }
            layout = *found;
            ids = Tickets(*layout);
        }
        if (ids == nullptr || row.event.entity_type_id != ids->entity_type_id) {
            // Another smart process (the KPI items we write, or the customer's own): not a ticket.
            if (auto ok = store_.Inbox().Complete(row.id, row.attempt, now); !ok) {
                return ok.error();
            }
            ++stats.processed;
            continue;
        }
        tickets.push_back(&row);
    }
    if (tickets.empty()) {
        return {};
    }

    auto client = clients_(member_id);
    if (!client) {
        for (auto* row : tickets) {
            FailRow(*row, client.error(), stats);
        }
        return {};
    }

    std::vector<store::ClaimedEvent*> loaded;
    std::vector<store::TicketKey> keys;
    std::vector<store::TicketState> states;
    std::vector<std::int64_t> after;
    for (auto* row : tickets) {
        store::TicketKey key;
        key.member_id = member_id;
        key.entity_type_id = row->event.entity_type_id;
        key.item_id = row->event.item_id;
        auto state = store_.Tickets().Load(key);
        if (!state) {
            FailRow(*row, state.error(), stats);
            continue;
        }
        after.push_back(state->snapshot ? state->snapshot->last_history_id : 0);
        loaded.push_back(row);
        keys.push_back(std::move(key));
        states.push_back(std::move(*state));
    }
    tickets = std::move(loaded);
    if (tickets.empty()) {
        return {};
    }
    auto fetched_all = FetchTickets(**client, keys, after);
    if (!fetched_all) {
        for (auto* row : tickets) {
            FailRow(*row, fetched_all.error(), stats);
        }
        return {};
    }

    for (std::size_t i = 0; i < tickets.size(); ++i) {
        auto& row = *tickets[i];
        if (!(*fetched_all)[i]) {
            FailRow(row, (*fetched_all)[i].error(), stats);
            continue;
        }
        Fetched fetched = std::move(*(*fetched_all)[i]);

        std::vector<store::OutboxAction> extra;
        if (row.event.kind == store::InboxKind::kRobot) {
            // A robot waits for its answer (bizproc.event.send) before the automation goes on.
            auto payload = json::Parse(row.event.payload);
            const std::string token = payload ? json::StringAt(*payload, "event_token").value_or("") : "";
            if (!token.empty()) {
                extra.push_back(
                    MakeAction(member_id,
                               keys[i].Subject(),
                               fmt::format("{}/robot/{}", keys[i].Subject(), row.id),
                               "bizproc.event.send",
                               bj::object{{"EVENT_TOKEN", token}, {"LOG_MESSAGE", "dispatch: SLA recalculated"}},
                               now));
            }
        }
        auto done = CommitTicket(keys[i],
                                 &fetched,
                                 *ids,
                                 store::Fence{row.id, row.attempt},
                                 std::nullopt,
                                 std::move(extra),
                                 std::move(states[i]));
        if (!done) {
            if (IsStore(done.error(), store::Errc::kLeaseLost)) {
                continue;  // someone else holds the row now; their commit counts
            }
            FailRow(row, done.error(), stats);
            continue;
        }
        ++stats.processed;
    }
    return {};
}

Result<PassStats> Runtime::ProcessInbox() {
    PassStats stats;
    auto claimed = store_.Inbox().Claim(options_.inbox_batch, clock_.Now(), options_.inbox_lease);
    if (!claimed) {
        return claimed.error();
    }
    std::map<std::string, std::vector<store::ClaimedEvent>> by_portal;
    for (auto& row : *claimed) {
        by_portal[row.event.member_id].push_back(std::move(row));
    }
    for (auto& [member, rows] : by_portal) {
        if (auto ok = HandleTicketRows(member, rows, stats); !ok) {
            return ok.error();
        }
    }
    return stats;
}

Result<PassStats> Runtime::FireTimers() {
    PassStats stats;
    auto due = store_.Timers().Claim(options_.timer_batch, clock_.Now(), options_.timer_lease);
    if (!due) {
        return due.error();
    }
    // Look before acting: a ticket whose timer fell due is read again first, so a reaction hidden by a dropped or
    // late event does not escalate. If the portal cannot be read, the decisions still happen on what we know (on
    // time, with their true instants); their actions wait in the outbox like any other.
    std::map<std::string, Fetched> fresh;                      // by subject
    std::map<std::string, Result<store::TicketState>> states;  // by subject
    {
        std::map<std::string, std::vector<store::TicketKey>> by_portal;
        for (const auto& t : *due) {
            auto key = ParseSubject(t.timer.subject);
            if (!key || t.timer.kind != kSlaTimer || states.count(t.timer.subject) != 0) {
                continue;
            }
            auto state = store_.Tickets().Load(*key);
            const bool ok = state.has_value();
            states.emplace(t.timer.subject, std::move(state));
            if (ok) {
                by_portal[key->member_id].push_back(*key);
            }
        }
        for (const auto& [member, keys] : by_portal) {
            auto client = clients_(member);
            if (!client) {
                continue;
            }
            for (std::size_t from = 0; from < keys.size(); from += static_cast<std::size_t>(options_.inbox_batch)) {
                std::vector<store::TicketKey> chunk(
                    keys.begin() + static_cast<std::ptrdiff_t>(from),
                    keys.begin() + static_cast<std::ptrdiff_t>(
                                       std::min(keys.size(), from + static_cast<std::size_t>(options_.inbox_batch))));
                std::vector<std::int64_t> after;
                for (const auto& key : chunk) {
                    const auto& snapshot = states.at(key.Subject())->snapshot;
                    after.push_back(snapshot ? snapshot->last_history_id : 0);
                }
                auto fetched = FetchTickets(**client, chunk, after);
                if (!fetched) {
                    DISPATCH_LOG_WARN(
                        kLog, "timer look-up failed", "member={} detail=\"{}\"", member, fetched.error().detail);
                    continue;
                }
                for (std::size_t i = 0; i < chunk.size(); ++i) {
                    if ((*fetched)[i]) {
                        fresh[chunk[i].Subject()] = std::move(*(*fetched)[i]);
                    }
                }
            }
        }
    }
    for (const auto& t : *due) {
        const store::Fence fence{t.id, t.attempt};
        Result<void> done;
        if (auto job = jobs_.find(t.timer.kind); job != jobs_.end()) {
            done = job->second.handler(t.timer.member_id);
            if (done) {
                store::TimerArm next = t.timer;
                next.due_at = clock_.Now() + job->second.every;
                done = store_.Timers().Arm(next);
            }
        } else if (auto key = ParseSubject(t.timer.subject); key && t.timer.kind == kSlaTimer) {
            auto layout = LayoutOf(key->member_id);
            const provision::ProcessIds* ids = layout ? Tickets(**layout) : nullptr;
            if (ids == nullptr) {
                done = Fail(CoreErrc::kNotFound, "portal not provisioned");
            } else if (auto state = states.find(t.timer.subject); state != states.end() && !state->second) {
                done = state->second.error();
            } else {
                auto it = fresh.find(t.timer.subject);
                std::optional<store::TicketState> preloaded;
                if (state != states.end()) {
                    // Taken, not copied: a second timer of the ticket (none today: UNIQUE (kind, subject)) loads.
                    preloaded = std::move(*state->second);
                    states.erase(state);
                }
                done = CommitTicket(*key,
                                    it != fresh.end() ? &it->second : nullptr,
                                    *ids,
                                    std::nullopt,
                                    fence,
                                    {},
                                    std::move(preloaded));
            }
        } else {
            DISPATCH_LOG_WARN(kLog, "unknown timer dropped", "kind={} subject={}", t.timer.kind, t.timer.subject);
            done = store_.Timers().Complete(fence);
        }
        if (done) {
            ++stats.processed;
            continue;
        }
        if (IsStore(done.error(), store::Errc::kLeaseLost)) {
            continue;
        }
        ++stats.failed;
        const TimeMs retry_at = clock_.Now() + store::Backoff(options_.retry, t.tries);
        (void)store_.Timers().Fail(fence, done.error().detail, retry_at, options_.retry.max_attempts);
        DISPATCH_LOG_WARN(kLog,
                          "timer failed",
                          "kind={} subject={} attempt={} error=\"{}\"",
                          t.timer.kind,
                          t.timer.subject,
                          t.attempt,
                          done.error().detail);
    }
    return stats;
}

Result<PassStats> Runtime::SendOutbox() {
    PassStats stats;
    auto claimed = store_.Outbox().Claim(options_.outbox_batch, clock_.Now(), options_.outbox_lease);
    if (!claimed) {
        return claimed.error();
    }
    if (claimed->empty()) {
        return stats;
    }
    const std::string member = claimed->front().action.member_id;
    auto fail_all = [&](const std::vector<const store::ClaimedAction*>& rows, const Error& error) {
        for (const auto* row : rows) {
            const auto& c = *row;
            ++stats.failed;
            std::optional<TimeMs> retry;
            if (Retryable(error) && c.tries < options_.retry.max_attempts) {
                retry = clock_.Now() + store::Backoff(options_.retry, c.tries);
            }
            (void)store_.Outbox().Fail(store::Fence{c.id, c.attempt}, error.detail, retry, clock_.Now());
        }
        DISPATCH_LOG_WARN(
            kLog, "outbox batch failed", "member={} actions={} error=\"{}\"", member, rows.size(), error.detail);
        return stats;
    };
    auto client = clients_(member);
    if (!client) {
        std::vector<const store::ClaimedAction*> all;
        for (const auto& c : *claimed) {
            all.push_back(&c);
        }
        return fail_all(all, client.error());
    }
    b24::BatchBuilder batch;
    // Only what went into the batch has an answer; the rest was failed right here.
    std::vector<const store::ClaimedAction*> sent;
    for (const auto& c : *claimed) {
        auto params = json::Parse(c.action.params);
        if (!params || !params->is_object()) {
            (void)store_.Outbox().Fail(
                store::Fence{c.id, c.attempt}, "params are not a JSON object", std::nullopt, clock_.Now());
            ++stats.failed;
            continue;
        }
        if (auto added = batch.Add(fmt::format("a{}", c.id), c.action.method, params->as_object()); !added) {
            (void)store_.Outbox().Fail(store::Fence{c.id, c.attempt}, added.error().detail, std::nullopt, clock_.Now());
            ++stats.failed;
            continue;
        }
        sent.push_back(&c);
    }
    if (batch.Size() == 0) {
        return stats;
    }
    auto answer = (*client)->CallBatch(batch);
    if (!answer) {
        return fail_all(sent, answer.error());
    }
    const TimeMs now = clock_.Now();
    for (const auto* row : sent) {
        const auto& c = *row;
        auto result = answer->Get(fmt::format("a{}", c.id));
        const store::Fence fence{c.id, c.attempt};
        if (result) {
            (void)store_.Outbox().Complete(fence, now);
            ++stats.processed;
            continue;
        }
        ++stats.failed;
        std::optional<TimeMs> retry;
        if (Retryable(result.error()) && c.tries < options_.retry.max_attempts) {
            retry = now + store::Backoff(options_.retry, c.tries);
        }
        (void)store_.Outbox().Fail(fence, result.error().detail, retry, now);
        DISPATCH_LOG_WARN(kLog,
                          "action failed",
                          "member={} key={} method={} attempt={} dead={} error=\"{}\"",
                          member,
                          c.action.idempotency_key,
                          c.action.method,
                          c.attempt,
                          !retry,
                          result.error().detail);
    }
    return stats;
}

Result<PassStats> Runtime::Reconcile(std::string_view member_id) {
    PassStats stats;
    auto layout = LayoutOf(member_id);
    if (!layout) {
        return layout.error();
    }
    const provision::ProcessIds* ids = Tickets(**layout);
    if (ids == nullptr) {
        return Fail(CoreErrc::kNotFound, "layout has no tickets process");
    }
    auto client = clients_(member_id);
    if (!client) {
        return client.error();
    }
    TimeMs watermark = 0;
    if (auto saved = store_.Settings().Get(member_id, kReconcileKey)) {
        if (auto doc = json::Parse(*saved)) {
            watermark = json::IntAt(*doc, "updated_after").value_or(0);
        }
    }
    auto snapshots = store_.Tickets().List(member_id, true);
    if (!snapshots) {
        return snapshots.error();
    }
    std::map<std::int64_t, const store::TicketSnapshot*> known;
    for (const auto& s : *snapshots) {
        if (s.key.entity_type_id == ids->entity_type_id) {
            known[s.key.item_id] = &s;
        }
    }

    const TimeMs now = clock_.Now();
    auto queue = [&](std::int64_t item_id, std::string_view name, std::string dedup) -> Result<void> {
        store::InboxEvent e;
        e.member_id = std::string(member_id);
        e.received_at = now;
        e.kind = store::InboxKind::kEvent;
        e.event_name = std::string(name);
        e.entity_type_id = ids->entity_type_id;
        e.item_id = item_id;
        e.payload = json::Dump(bj::object{{"source", "reconcile"}});
        e.dedup_key = std::move(dedup);
        auto stored = store_.Inbox().AppendAndWait(std::move(e));
        if (!stored) {
            return stored.error();
        }
        stats.processed += *stored == store::AppendOutcome::kStored ? 1 : 0;
        return {};
    };

    // Changed items. A minute of overlap: updatedTime has second precision and clocks of a cluster drift.
    b24::ListQuery query;
    query.select = {"id", "updatedTime"};
    query.order = bj::object{{"updatedTime", "ASC"}};
    if (watermark > 0) {
        query.filter = bj::object{{">=updatedTime", FormatIso8601(watermark - kMinuteMs)}};
    }
    auto items = b24::ItemList(**client, ids->entity_type_id, query);
    if (!items) {
        return items.error();
    }
    TimeMs newest = watermark;
    for (const auto& item : *items) {
        const auto id = json::IntAt(item, "id").value_or(0);
        const auto updated_text = json::StringAt(item, "updatedTime").value_or("");
        auto parsed_time = ParseIso8601(updated_text);
        const TimeMs updated = parsed_time ? *parsed_time : 0;
        newest = std::max(newest, updated);
        auto it = known.find(id);
        // updatedTime has second precision: a change in the same second as our last fetch looks equal, so only a
        // strictly later fetch proves we saw it.
        if (id <= 0 || (it != known.end() && it->second->item_updated_at > updated)) {
            continue;
        }
        if (auto ok = queue(
                id, "RECONCILE", fmt::format("{}|reconcile|{}|{}|{}", member_id, ids->entity_type_id, id, updated));
            !ok) {
            return ok.error();
        }
    }

    // Open tickets Bitrix24 no longer has (a delete event that never came).
    std::vector<std::int64_t> open;
    for (const auto& [id, s] : known) {
        if (!s->closed) {
            open.push_back(id);
        }
    }
    for (std::size_t from = 0; from < open.size(); from += 50) {
        bj::array chunk;
        for (std::size_t i = from; i < std::min(open.size(), from + 50); ++i) {
            chunk.push_back(open[i]);
        }
        b24::ListQuery q;
        q.select = {"id"};
        q.filter = bj::object{{"@id", chunk}};
        auto present = b24::ItemList(**client, ids->entity_type_id, q);
        if (!present) {
            return present.error();
        }
        std::set<std::int64_t> seen;
        for (const auto& item : *present) {
            seen.insert(json::IntAt(item, "id").value_or(0));
        }
        for (const auto& v : chunk) {
            const auto id = v.as_int64();
            if (!seen.count(id)) {
                if (auto ok = queue(id,
                                    "RECONCILE_DELETED",
                                    fmt::format("{}|reconcile-deleted|{}|{}", member_id, ids->entity_type_id, id));
                    !ok) {
                    return ok.error();
                }
            }
        }
    }
    if (newest > watermark) {
        (void)store_.Settings().Put(member_id, kReconcileKey, json::Dump(bj::object{{"updated_after", newest}}), now);
    }
    DISPATCH_LOG_INFO(kLog, "reconciled", "member={} items={} queued={}", member_id, items->size(), stats.processed);
    if (stats.processed > 0) {
        Wake();
    }
    return stats;
}

Result<RetentionStats> Runtime::PurgeDone() {
    RetentionStats stats;
    const TimeMs now = clock_.Now();
    stats.cutoff = now - options_.retention;
    // The inbox's UNIQUE dedup_key is what recognises a duplicate delivery, and a deleted row forgets its key. That
    // is safe: Bitrix24 re-delivers an event within minutes, never days later; and a row that did come in again
    // would only make the worker fetch the item once more and diff it against a snapshot that already holds it.
    // The outbox's idempotency keys name decisions the ledger records, so no commit queues a purged key again. The
    // statistics and the API's clocks fold the ledger, which is never purged; nothing reads done rows for history.
    struct Queue {
        const char* name;
        std::function<Result<std::int64_t>(TimeMs, int)> purge;
        std::int64_t& deleted;  // this pass
        std::atomic<std::int64_t>& since_start;
        bool more = true;
    };
    std::array<Queue, 2> queues{
        Queue{"inbox",
              [this](TimeMs cutoff, int rows) { return store_.Inbox().PurgeDone(cutoff, rows); },
              stats.inbox,
              purged_inbox_},
        Queue{"outbox",
              [this](TimeMs cutoff, int rows) { return store_.Outbox().PurgeDone(cutoff, rows); },
              stats.outbox,
              purged_outbox_}};
    const auto any_more = [&] { return queues[0].more || queues[1].more; };
    // At least one chunk, or a pass that deleted nothing would report rows left and be due again at once, forever.
    const int max_chunks = std::max(1, options_.retention_chunks_per_pass);
    while (any_more() && stats.chunks < max_chunks) {
        for (auto& q : queues) {
            if (!q.more || stats.chunks >= max_chunks) {
                continue;
            }
            auto deleted = q.purge(stats.cutoff, options_.retention_chunk);
            if (!deleted) {
                DISPATCH_LOG_WARN(kLog,
                                  "retention failed",
                                  "queue={} cutoff={} inbox={} outbox={} chunks={} error=\"{}\"",
                                  q.name,
                                  FormatIso8601(stats.cutoff),
                                  stats.inbox,
                                  stats.outbox,
                                  stats.chunks,
                                  deleted.error().detail);
                return deleted.error();
            }
            ++stats.chunks;
            q.deleted += *deleted;
            q.since_start += *deleted;
            q.more = *deleted >= options_.retention_chunk;
        }
    }
    stats.more = any_more();
    DISPATCH_LOG_INFO(kLog,
                      "done rows purged",
                      "cutoff={} inbox={} outbox={} chunks={} more={}",
                      FormatIso8601(stats.cutoff),
                      stats.inbox,
                      stats.outbox,
                      stats.chunks,
                      stats.more);
    return stats;
}

Result<std::optional<RetentionStats>> Runtime::PurgeDoneIfDue() {
    const TimeMs now = clock_.Now();
    if (options_.retention <= 0 || now < next_purge_at_.load()) {
        return std::optional<RetentionStats>();
    }
    auto purged = PurgeDone();
    // A failed pass waits for the next period like a finished one: the rows it left are no less safe to keep.
    // (A period under a minute would only spin the worker: the job is for hours.)
    next_purge_at_ = purged && purged->more ? now : now + std::max(options_.retention_every, kMinuteMs);
    if (!purged) {
        return purged.error();
    }
    return std::optional<RetentionStats>(*purged);
}

std::optional<std::chrono::milliseconds> Runtime::RealDelay(TimeMs delay) const {
    if (options_.real_delay) {
        return options_.real_delay(delay);
    }
    return std::chrono::milliseconds(std::max<TimeMs>(delay, 0));
}

void Runtime::Start() {
    std::lock_guard lock(mu_);
    if (worker_.joinable()) {
        return;
    }
    stopping_ = false;
    if (auto portals = store_.Portals().List()) {
        for (const auto& p : *portals) {
            if (p.status == store::PortalStatus::kActive) {
                (void)ArmPortalJobs(p.member_id, true);
            }
        }
    }
    worker_ = std::thread([this] { Loop(false); });
    sender_ = std::thread([this] { Loop(true); });
}

void Runtime::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) {
        worker_.join();
    }
    if (sender_.joinable()) {
        sender_.join();
    }
}

void Runtime::Wake() {
    {
        std::lock_guard lock(mu_);
        ++wakes_;
        if (worker_.joinable()) {
            pending_wake_ = true;
        }
    }
    cv_.notify_all();
}

void Runtime::Loop(bool outbox) {
    while (true) {
        std::uint64_t seen;
        {
            std::lock_guard lock(mu_);
            if (stopping_) {
                return;
            }
            seen = wakes_;
            ++busy_;
            if (!outbox) {
                pending_wake_ = false;
            }
        }

        int work = 0;
        std::optional<TimeMs> next_due;
        if (outbox) {
            auto s = SendOutbox();
            work = s ? s->processed + s->failed : 0;
            if (auto next = store_.Outbox().NextReady(); next && *next) {
                next_due = **next;
            }
        } else {
            auto a = ProcessInbox();
            auto b = FireTimers();
            auto c = PurgeDoneIfDue();
            work = (a ? a->processed + a->failed : 0) + (b ? b->processed + b->failed : 0) +
                   (c && *c && (*c)->more ? 1 : 0);
            if (auto next = store_.Timers().NextDue(); next && *next) {
                next_due = **next;
            }
            if (options_.retention > 0) {
                next_due = std::min(next_due.value_or(next_purge_at_.load()), next_purge_at_.load());
            }
        }
        --busy_;
        if (work > 0) {
            continue;
        }
        std::unique_lock lock(mu_);
        if (stopping_ || wakes_ != seen) {
            continue;
        }
        std::optional<std::chrono::milliseconds> wait;
        if (next_due) {
            wait = RealDelay(*next_due - clock_.Now());
        }
        // The inbox has no wake-up of its own when the intake runs elsewhere: look again after a short idle.
        if (!outbox && (!wait || *wait > options_.idle_recheck)) {
            wait = options_.idle_recheck;
        }
        if (wait) {
            cv_.wait_for(
                lock, std::max(*wait, std::chrono::milliseconds(1)), [&] { return stopping_ || wakes_ != seen; });
        } else {
            cv_.wait(lock, [&] { return stopping_ || wakes_ != seen; });
        }
    }
}

}  // namespace dispatch::flows
