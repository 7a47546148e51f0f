#include "store/executor.hpp"

#include <pthread.h>

#include "core/log.hpp"

namespace dispatch::store {
namespace {
constexpr log::Logger kLog{"store"};
}  // namespace

StoreExecutor::StoreExecutor(AppendBatchFn run_batch, WriteGroupFn run_writes)
    : run_batch_(std::move(run_batch)), run_writes_(std::move(run_writes)), thread_([this] {
          ::pthread_setname_np(::pthread_self(), "store-writer");  // in top -H, perf and gdb
          Run();
      }) {}

StoreExecutor::~StoreExecutor() { Close(); }

void StoreExecutor::Append(InboxEvent event, AppendCallback done) {
    {
        std::lock_guard lock(mu_);
        if (!closing_) {
            queue_.push_back(Item{nullptr, nullptr, nullptr, std::move(event), std::move(done)});
            cv_.notify_one();
            return;
        }
    }
    done(Fail(Errc::kClosed, "store executor is closed"));
}

bool StoreExecutor::Post(std::function<void()> task) {
    std::lock_guard lock(mu_);
    if (closing_) {
        return false;
    }
    queue_.push_back(Item{std::move(task), nullptr, nullptr, {}, nullptr});
    cv_.notify_one();
    return true;
}

Result<void> StoreExecutor::CallGrouped(GroupedWrite write) {
    if (OnWriterThread()) {
        return RunWrites({&write}).front();
    }
    auto written = std::make_shared<std::promise<Result<void>>>();
    auto future = written->get_future();
    {
        std::lock_guard lock(mu_);
        if (closing_) {
            return Fail(Errc::kClosed, "store executor is closed");
        }
        queue_.push_back(Item{nullptr, std::move(write), std::move(written), {}, nullptr});
        cv_.notify_one();
    }
    return future.get();
}

std::size_t StoreExecutor::QueueDepth() const {
    std::lock_guard lock(mu_);
    return queue_.size();
}

std::vector<Result<void>> StoreExecutor::RunWrites(const std::vector<GroupedWrite*>& writes) {
    std::vector<Result<void>> results;
    try {
        if (run_writes_) {
            results = run_writes_(writes);
        } else {
            for (auto* write : writes) {
                results.push_back((*write)());
            }
        }
    } catch (const std::exception& e) {
        results.assign(writes.size(), Fail(Errc::kSql, std::string("store write threw: ") + e.what()));
    }
    DISPATCH_CHECK(results.size() == writes.size(), "a write group must answer every write");
    return results;
}

void StoreExecutor::Close() {
    {
        std::lock_guard lock(mu_);
        closing_ = true;
        cv_.notify_one();
    }
    std::lock_guard join(join_mu_);
    if (thread_.joinable() && !OnWriterThread()) {
        thread_.join();
    }
}

GroupCommitStats StoreExecutor::Stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

void StoreExecutor::Run() {
    writer_id_.store(std::this_thread::get_id(), std::memory_order_release);
    for (;;) {
        std::deque<Item> work;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return !queue_.empty() || closing_; });
            if (queue_.empty()) {
                return;  // closing and drained
            }
            // Take everything that arrived while the previous batch was committing: that is the group.
            work.swap(queue_);
        }
        std::size_t i = 0;
        while (i < work.size()) {
            if (work[i].task) {
                try {
                    work[i].task();
                } catch (const std::exception& e) {
                    // Call() catches its own; this guards plain posted tasks so the writer thread survives.
                    DISPATCH_LOG_ERROR(kLog, "store task threw", "what={}", log::Quote(e.what()));
                }
                ++i;
                continue;
            }
            // Consecutive appends form one transaction, and so do consecutive grouped writes; anything in between
            // keeps its place in the order.
            const bool writes = static_cast<bool>(work[i].write);
            std::size_t j = i;
            while (j < work.size() && !work[j].task && static_cast<bool>(work[j].write) == writes &&
                   j - i < kMaxBatch) {
                ++j;
            }
            if (writes) {
                std::vector<GroupedWrite*> group;
                for (std::size_t k = i; k < j; ++k) {
                    group.push_back(&work[k].write);
                }
                auto results = RunWrites(group);
                for (std::size_t k = i; k < j; ++k) {
                    work[k].written->set_value(std::move(results[k - i]));
                }
            } else {
                RunAppends(work, i, j);
            }
            i = j;
        }
    }
}

void StoreExecutor::RunAppends(std::deque<Item>& work, std::size_t from, std::size_t to) {
    std::vector<InboxEvent> events;
    events.reserve(to - from);
    for (std::size_t k = from; k < to; ++k) {
        events.push_back(std::move(work[k].event));
    }
    std::vector<Result<AppendOutcome>> results;
    try {
        results = run_batch_(events);
    } catch (const std::exception& e) {
        results.assign(events.size(), Fail(Errc::kSql, std::string("append batch threw: ") + e.what()));
    }
    DISPATCH_CHECK(results.size() == events.size(), "append batch must answer every event");
    {
        std::lock_guard lock(mu_);
        ++stats_.transactions;
        stats_.appends += events.size();
        for (const auto& r : results) {
            if (r && *r == AppendOutcome::kDuplicate) {
                ++stats_.duplicates;
            }
        }
        if (events.size() > stats_.largest_batch) {
            stats_.largest_batch = events.size();
        }
    }
    for (std::size_t k = from; k < to; ++k) {
        work[k].done(std::move(results[k - from]));
    }
}

}  // namespace dispatch::store
