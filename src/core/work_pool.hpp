#pragma once
// A few named threads for work that may block: a store query over every ticket of a portal, a call to the portal
// that waits on its request budget. Such work must never run on an io thread, where it would hold up the events
// Bitrix24 is waiting to have acknowledged. The queue is bounded: a flood of slow requests is refused at once (the
// caller answers 503) instead of piling up until each one hits the server's handler timeout.
//
//   WorkPool pool("offload", 2, 64);
//   if (!pool.Submit([respond] { respond(Fold()); })) { respond(Busy()); }

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dispatch {

class WorkPool {
public:
    // `name` (at most 15 characters) names the threads in top -H, perf and gdb. max_queued counts work waiting for a
    // thread, not work running.
    WorkPool(std::string name, int threads, std::size_t max_queued);
    ~WorkPool();  // Stop()
    WorkPool(const WorkPool&) = delete;
    WorkPool& operator=(const WorkPool&) = delete;

    // Queues `work` for the next free thread. `work` is its own catching boundary: an exception escaping it ends
    // the process. False, and `work` is destroyed unrun, when max_queued are already
    // waiting or after Stop.
    [[nodiscard]] bool Submit(std::function<void()> work);

    // Refuses new work, runs what is already queued (each item answers a request someone waits for), then joins.
    // Idempotent; not from the pool's own threads.
    void Stop();

    std::size_t Queued() const;

private:
    void Run();

    const std::string name_;
    const std::size_t max_queued_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;  // last: they start once everything above exists
};

}  // namespace dispatch
