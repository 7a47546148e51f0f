// Inbox append throughput: what the acknowledgement path costs the store alone, without HTTP. Producer threads
// keep a window of appends in flight, as the receiver's connections do, so the executor group-commits them; every
// event is distinct and shaped like the receiver's rows (payload and dedup key of an ONCRMDYNAMICITEMUPDATE).
// Prints on stdout:
//   bench store.inbox_appends_per_s <v> 1/s     (SQLite file, WAL, synchronous=FULL)
//   bench store.inbox_append_cpu_us <v> us      (process CPU per stored append: the writer thread's work, mostly)

#include <fmt/format.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "store/store.hpp"
#include "support/test_support.hpp"

namespace dispatch::store {
namespace {

constexpr int kProducers = 2;
constexpr int kWindow = 16;  // per producer: 32 in flight, as bench_http's 32 connections
constexpr auto kDuration = std::chrono::seconds(3);
constexpr TimeMs kT0 = 1'772'442'000'000;

double ProcessCpuSeconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

InboxEvent Event(int producer, std::int64_t n) {
    InboxEvent e;
    e.member_id = "bench-member";
    e.received_at = kT0 + n;
    e.kind = InboxKind::kEvent;
    e.event_name = "ONCRMDYNAMICITEMUPDATE";
    e.entity_type_id = 1038;
    e.item_id = producer * 100'000'000 + n;
    e.payload = fmt::format(
        R"({{"event":"ONCRMDYNAMICITEMUPDATE","event_handler_id":"7","data":{{"FIELDS":{{"ID":"{}",)"
        R"("ENTITY_TYPE_ID":"1038"}}}},"ts":"{}","auth":{{"domain":"bench.bitrix24.ru","member_id":"bench-member"}}}})",
        e.item_id,
        1772430000 + n);
    e.dedup_key = fmt::format("bench-member|ONCRMDYNAMICITEMUPDATE|1038|{}|{}|7|{:064x}", e.item_id, 1772430000 + n, n);
    return e;
}

int Main() {
    ManualClock clock(kT0);
    dispatch::testing::TempDir dir;
    SqliteOptions options;
    options.path = dir.File("inbox.db");
    auto opened = OpenSqliteStore(options, clock);
    if (!opened) {
        fmt::print(stderr, "bench_inbox: cannot open SQLite: {}\n", opened.error().detail);
        return 1;
    }
    Store& store = **opened;
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> stored{0};
    std::atomic<std::int64_t> failed{0};
    std::vector<std::thread> producers;
    const double cpu0 = ProcessCpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    for (int p = 0; p < kProducers; ++p) {
        producers.emplace_back([&, p] {
            std::mutex mu;
            std::condition_variable cv;
            int in_flight = 0;
            for (std::int64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
                {
                    std::unique_lock lock(mu);
                    cv.wait(lock, [&] { return in_flight < kWindow; });
                    ++in_flight;
                }
                store.Inbox().Append(Event(p, n), [&](Result<AppendOutcome> outcome) {
                    (outcome && *outcome == AppendOutcome::kStored ? stored : failed).fetch_add(1);
                    std::lock_guard lock(mu);
                    --in_flight;
                    cv.notify_one();
                });
            }
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return in_flight == 0; });
        });
    }
    std::this_thread::sleep_for(kDuration);
    stop = true;
    for (auto& t : producers) {
        t.join();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu = ProcessCpuSeconds() - cpu0;
    const GroupCommitStats commits = store.Inbox().Stats();
    store.Close();
    const auto n = stored.load();
    fmt::print(stderr,
               "bench_inbox: {} transactions, {:.1f} appends each, largest {}\n",
               commits.transactions,
               commits.transactions > 0 ? static_cast<double>(commits.appends) / commits.transactions : 0.0,
               commits.largest_batch);
    fmt::print(stderr, "bench_inbox: {} stored, {} failed in {:.2f} s, {:.2f} CPU s\n", n, failed.load(), seconds, cpu);
    if (n == 0 || failed.load() != 0) {
        return 1;
    }
    fmt::print("bench store.inbox_appends_per_s {:.0f} 1/s\n", static_cast<double>(n) / seconds);
    fmt::print("bench store.inbox_append_cpu_us {:.1f} us\n", cpu * 1e6 / static_cast<double>(n));
    return 0;
}

}  // namespace
}  // namespace dispatch::store

int main() { return dispatch::store::Main(); }
