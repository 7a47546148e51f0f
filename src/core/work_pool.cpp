#include "core/work_pool.hpp"

#include <pthread.h>

#include <utility>

namespace dispatch {

WorkPool::WorkPool(std::string name, int threads, std::size_t max_queued)
    : name_(std::move(name).substr(0, 15)), max_queued_(max_queued) {
    threads_.reserve(static_cast<std::size_t>(threads));
    for (int i = 0; i < threads; ++i) {
        threads_.emplace_back([this] {
            ::pthread_setname_np(::pthread_self(), name_.c_str());
            Run();
        });
    }
}

WorkPool::~WorkPool() { Stop(); }

bool WorkPool::Submit(std::function<void()> work) {
    {
        std::lock_guard lock(mu_);
        if (stopping_ || threads_.empty() || queue_.size() >= max_queued_) {
            return false;
        }
        queue_.push_back(std::move(work));
    }
    cv_.notify_one();
    return true;
}

void WorkPool::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
}

std::size_t WorkPool::Queued() const {
    std::lock_guard lock(mu_);
    return queue_.size();
}

void WorkPool::Run() {
    for (;;) {
        std::function<void()> work;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) {
                return;  // stopping, and nothing left to answer
            }
            work = std::move(queue_.front());
            queue_.pop_front();
        }
        work();
    }
}

}  // namespace dispatch
