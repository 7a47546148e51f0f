// WorkPool: work runs on the pool's threads, the queue bound refuses at once, Stop answers what was queued.
#include "core/work_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace dispatch {
namespace {

// Occupies the pool's only thread until Release(): what is submitted meanwhile waits in the queue.
class Blocker {
public:
    explicit Blocker(WorkPool& pool) {
        EXPECT_TRUE(pool.Submit([this] {
            started_.set_value();
            release_.get_future().wait();
        }));
        started_.get_future().wait();
    }
    void Release() { release_.set_value(); }

private:
    std::promise<void> started_;
    std::promise<void> release_;
};

TEST(WorkPool, RunsWorkOnItsOwnThreads) {
    WorkPool pool("test-pool", 2, 8);
    std::promise<std::thread::id> ran_on;

    ASSERT_TRUE(pool.Submit([&ran_on] { ran_on.set_value(std::this_thread::get_id()); }));

    EXPECT_NE(ran_on.get_future().get(), std::this_thread::get_id());
}

TEST(WorkPool, RefusesWhenTheQueueIsFullAndTakesWorkAgainOnceItDrains) {
    WorkPool pool("test-pool", 1, 2);
    Blocker blocker(pool);
    std::atomic<int> ran{0};

    EXPECT_TRUE(pool.Submit([&ran] { ++ran; }));
    EXPECT_TRUE(pool.Submit([&ran] { ++ran; }));
    EXPECT_FALSE(pool.Submit([&ran] { ran += 100; }));  // refused, never run
    EXPECT_EQ(pool.Queued(), 2u);

    blocker.Release();
    std::promise<void> last;
    // The queue drains in order, so once this one runs the two before it have.
    while (!pool.Submit([&last] { last.set_value(); })) {
        std::this_thread::yield();
    }
    last.get_future().wait();
    EXPECT_EQ(ran.load(), 2);
}

TEST(WorkPool, StopRunsWhatWasQueuedThenRefuses) {
    WorkPool pool("test-pool", 1, 4);
    Blocker blocker(pool);
    std::atomic<int> ran{0};
    ASSERT_TRUE(pool.Submit([&ran] { ++ran; }));
    ASSERT_TRUE(pool.Submit([&ran] { ++ran; }));

    std::thread stopper([&pool] { pool.Stop(); });
    blocker.Release();
    stopper.join();

    EXPECT_EQ(ran.load(), 2);  // each queued item answers a request someone waits for
    EXPECT_FALSE(pool.Submit([&ran] { ++ran; }));
    pool.Stop();  // idempotent
    EXPECT_EQ(ran.load(), 2);
}

TEST(WorkPool, WithoutThreadsEverythingIsRefused) {
    WorkPool pool("test-pool", 0, 4);
    EXPECT_FALSE(pool.Submit([] {}));
}

}  // namespace
}  // namespace dispatch
