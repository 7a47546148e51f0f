#pragma once
// The store executor (STYLE.md §3.6): one dedicated thread that owns the writer connection and runs every write in
// the order it was posted. Inbox appends get group commit here: whatever appends queued up while the previous
// transaction was committing are gathered into the next transaction, so under load one fsync serves many HTTP
// threads, and an idle system commits a lone append at once (no fixed wait). Grouped writes (CallGrouped: the
// repositories' write transactions) are gathered the same way, each in its own savepoint of the shared transaction.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "store/errc.hpp"
#include "store/repos.hpp"

namespace dispatch::store {

class StoreExecutor {
public:
    // Runs a gathered batch in one transaction on the writer thread and returns one result per event, in order,
    // after COMMIT returned (or the error that prevented it).
    using AppendBatchFn = std::function<std::vector<Result<AppendOutcome>>(std::vector<InboxEvent>& events)>;

    // One unit of work that may share a transaction with the grouped writes queued beside it.
    using GroupedWrite = std::function<Result<void>()>;
    // Runs consecutive grouped writes in one transaction on the writer thread, each all-or-nothing on its own (a
    // failing one leaves nothing and does not disturb the others), and returns one result per write, in order,
    // after COMMIT returned (or the error that prevented it).
    using WriteGroupFn = std::function<std::vector<Result<void>>(const std::vector<GroupedWrite*>& writes)>;

    static constexpr std::size_t kMaxBatch = 512;  // bounds one transaction's size and the latency of its callers

    // Without run_writes, each grouped write runs alone (it must then open its own transaction).
    explicit StoreExecutor(AppendBatchFn run_batch, WriteGroupFn run_writes = {});
    ~StoreExecutor();
    StoreExecutor(const StoreExecutor&) = delete;
    StoreExecutor& operator=(const StoreExecutor&) = delete;

    // Queues an append; `done` runs on the writer thread after the batch's COMMIT (kClosed at once after Close).
    void Append(InboxEvent event, AppendCallback done);

    // Runs `fn` on the writer thread and waits for its result. Runs inline when already on the writer thread.
    // kClosed after Close.
    template <class T>
    Result<T> Call(std::function<Result<T>()> fn) {
        if (OnWriterThread()) {
            return fn();
        }
        auto promise = std::make_shared<std::promise<Result<T>>>();
        auto future = promise->get_future();
        const bool accepted = Post([promise, fn = std::move(fn)]() {
            try {
                promise->set_value(fn());
            } catch (const std::exception& e) {
                promise->set_value(Fail(Errc::kSql, std::string("store task threw: ") + e.what()));
            }
        });
        if (!accepted) {
            return Fail(Errc::kClosed, "store executor is closed");
        }
        return future.get();
    }

    // Runs `write` on the writer thread as part of the next write group and waits for its result, which is final
    // only once the group committed. On the writer thread itself it runs at once as a group of one. kClosed after
    // Close.
    Result<void> CallGrouped(GroupedWrite write);

    // Items queued and not yet taken by the writer thread (tests wait on it; also a load signal).
    std::size_t QueueDepth() const;

    bool OnWriterThread() const { return std::this_thread::get_id() == writer_id_.load(std::memory_order_acquire); }

    // Drains everything already queued (every append gets its completion), then stops the thread. Idempotent.
    void Close();

    GroupCommitStats Stats() const;

private:
    struct Item {
        std::function<void()> task;  // set for generic work
        GroupedWrite write;          // set for a grouped write
        std::shared_ptr<std::promise<Result<void>>> written;
        InboxEvent event;  // otherwise an append
        AppendCallback done;
    };

    bool Post(std::function<void()> task);
    void Run();
    void RunAppends(std::deque<Item>& work, std::size_t from, std::size_t to);
    std::vector<Result<void>> RunWrites(const std::vector<GroupedWrite*>& writes);

    AppendBatchFn run_batch_;
    WriteGroupFn run_writes_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Item> queue_;
    bool closing_ = false;
    std::mutex join_mu_;
    std::atomic<std::thread::id> writer_id_{};
    GroupCommitStats stats_;
    std::thread thread_;  // last: starts after every member above exists
};

}  // namespace dispatch::store
