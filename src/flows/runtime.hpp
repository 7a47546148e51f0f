#pragma once
// The flows at run time: the inbox worker, the timer scheduler, the outbox sender and the reconciliation sweep,
// around the pure Engine. Each is one pass that the background loops run; tests and the demo move the running
// service's clock and wait until GET /_admin/flows reports it idle (Busy() and what is due).
//
// Threads: one for the inbox and the timers (both end in a TicketRepo::Commit; ticket order holds because the inbox
// hands out one row per ticket and a version conflict with a timer commit is re-planned), one for the outbox (it
// waits on the portal's rate limit and must not hold up intake). A loop sleeps until its next due instant (the
// earliest timer, the earliest outbox retry) or until Wake(); there is no polling interval for timers. New inbox
// rows Wake() the worker when the intake tells it; a short idle re-check of the inbox covers the rest.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <utility>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "b24/client.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "flows/engine.hpp"
#include "provision/layout.hpp"
#include "store/store.hpp"

namespace dispatch::flows {

using ClientFor = std::function<Result<b24::Client*>(std::string_view member_id)>;

struct RuntimeOptions {
    std::string process_code = "it_request";  // the smart process whose items are tickets
    int inbox_batch = 25;                     // rows per claim: 2 calls each fit one batch of 50
    TimeMs inbox_lease = 2 * kMinuteMs;
    int timer_batch = 100;
    TimeMs timer_lease = 2 * kMinuteMs;
    int outbox_batch = 50;
    TimeMs outbox_lease = 2 * kMinuteMs;
    TimeMs reconcile_every = 15 * kMinuteMs;  // 0: no periodic sweep
    // Done inbox rows and outbox actions are deleted this long after they finished (flows.retention_days; 0: kept).
    TimeMs retention = 30 * kDayMs;
    TimeMs retention_every = kHourMs;         // how often the worker looks for rows to delete
    int retention_chunk = 1000;               // rows per delete transaction: the writer is never held for long
    int retention_chunks_per_pass = 20;       // then the worker serves the inbox before it deletes more
    store::RetryPolicy retry;                 // inbox rows, outbox actions and timers that fail
    // How long to really wait for `delay` of the service clock (warped and manual clocks differ from wall time).
    // Empty: wall time. A nullopt answer waits until Wake().
    std::function<std::optional<std::chrono::milliseconds>(TimeMs delay)> real_delay;
    std::chrono::milliseconds idle_recheck{200};
};

struct PassStats {
    int processed = 0;  // inbox rows, timers or actions handled
    int failed = 0;
};

struct RetentionStats {
    TimeMs cutoff = 0;        // rows that finished before this instant were deleted
    std::int64_t inbox = 0;   // done inbox rows deleted
    std::int64_t outbox = 0;  // done outbox actions deleted
    int chunks = 0;           // delete transactions
    bool more = false;        // the pass stopped at retention_chunks_per_pass with rows left to delete
};

class Runtime {
public:
    Runtime(
        store::Store& store, const Engine& engine, const Clock& clock, ClientFor clients, RuntimeOptions options = {});
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    // One pass each. Fail only when the store fails; per-row failures are counted and retried later.
    [[nodiscard]] Result<PassStats> ProcessInbox();
    [[nodiscard]] Result<PassStats> FireTimers();
    [[nodiscard]] Result<PassStats> SendOutbox();
    // Queues a synthetic inbox row for every item of the portal changed since the last sweep (by updatedTime) and
    // for every open ticket Bitrix24 no longer has; the worker then treats them as events.
    [[nodiscard]] Result<PassStats> Reconcile(std::string_view member_id);
    // Retention: deletes done inbox rows and outbox actions that finished more than options.retention ago, in
    // chunks of retention_chunk rows, at most retention_chunks_per_pass of them. Dead rows, unfinished rows and the
    // ledger stay. Logs one line.
    [[nodiscard]] Result<RetentionStats> PurgeDone();
    // PurgeDone when it is due (nullopt otherwise, and always when retention is 0): at the worker's first pass, so a
    // restart never postpones it, then every retention_every; at once again when a pass left rows behind. The
    // worker loop calls it; tests call it with a manual clock.
    [[nodiscard]] Result<std::optional<RetentionStats>> PurgeDoneIfDue();
    // Rows PurgeDone deleted since start: {inbox, outbox} (for /metrics).
    std::pair<std::int64_t, std::int64_t> PurgedSoFar() const { return {purged_inbox_.load(), purged_outbox_.load()}; }

    // The layout of a portal, cached (kNotFound when it was never provisioned).
    [[nodiscard]] Result<std::shared_ptr<const provision::Layout>> LayoutOf(std::string_view member_id);
    void ForgetLayout(std::string_view member_id);
    // The tickets process of a layout (nullptr when the layout lacks it).
    const provision::ProcessIds* Tickets(const provision::Layout& layout) const;

    // Periodic per-portal work beyond the tickets (the reconciliation sweep, KPI export): a durable timer of `kind`
    // per portal (subject = member_id) runs `handler` and re-arms itself `every` later. Register before Start.
    using PortalJob = std::function<Result<void>(std::string_view member_id)>;
    void AddPortalJob(std::string kind, TimeMs every, PortalJob handler);
    // Arms every portal job for the portal (after an install; at Start, for every active portal, only the jobs
    // not armed yet, so a restart does not postpone them).
    [[nodiscard]] Result<void> ArmPortalJobs(std::string_view member_id, bool only_missing = false);

    void Start();
    void Stop();
    // A clock change, new inbox rows, a provisioned layout: look again now.
    void Wake();
    // True while a loop is in a pass (work claimed but maybe not committed yet), or has been woken and not yet
    // looked: "idle" for tests and the demo means not busy and nothing due.
    bool Busy() const { return busy_.load() > 0 || pending_wake_.load(); }

    const Engine& GetEngine() const { return engine_; }
    const ClientFor& Clients() const { return clients_; }
    TimeMs Now() const { return clock_.Now(); }
    store::Store& Store() { return store_; }

private:
    // The item and its stage-history rows since the snapshot, for each key, in one batch; per-key failures inside.
    // REST only: `after[i]` is the last stage-history id the snapshot of `keys[i]` already holds.
    Result<std::vector<Result<Fetched>>> FetchTickets(b24::Client& client,
                                                      const std::vector<store::TicketKey>& keys,
                                                      const std::vector<std::int64_t>& after);
    Result<void> HandleTicketRows(const std::string& member_id,
                                  std::vector<store::ClaimedEvent>& rows,
                                  PassStats& stats);
    Result<void> CommitTicket(const store::TicketKey& key,
                              const Fetched* fetched,
                              const provision::ProcessIds& ids,
                              std::optional<store::Fence> inbox,
                              std::optional<store::Fence> timer,
                              std::vector<store::OutboxAction> extra,
                              std::optional<store::TicketState> preloaded = std::nullopt);
    void FailRow(const store::ClaimedEvent& row, const Error& error, PassStats& stats);
    void Loop(bool outbox);
    std::optional<std::chrono::milliseconds> RealDelay(TimeMs delay) const;

    store::Store& store_;
    const Engine& engine_;
    const Clock& clock_;
    ClientFor clients_;
    RuntimeOptions options_;

    struct Job {
        TimeMs every = 0;
        PortalJob handler;
    };
    std::map<std::string, Job, std::less<>> jobs_;
    // When PurgeDoneIfDue next runs (0: at the first look). Not a durable timer: the job is global, idempotent and
    // cheap when there is nothing to delete, and several instances running it at once only skip each other's rows.
    std::atomic<TimeMs> next_purge_at_{0};
    std::atomic<std::int64_t> purged_inbox_{0};
    std::atomic<std::int64_t> purged_outbox_{0};

    std::mutex layouts_mu_;
    std::map<std::string, std::shared_ptr<const provision::Layout>, std::less<>> layouts_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::uint64_t wakes_ = 0;
    std::atomic<int> busy_{0};
    std::atomic<bool> pending_wake_{false};
    bool stopping_ = false;
    std::thread worker_;
    std::thread sender_;
};

// "member/etid/item" → key; nullopt when malformed.
std::optional<store::TicketKey> ParseSubject(std::string_view subject);

}  // namespace dispatch::flows
