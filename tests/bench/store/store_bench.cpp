// Ticket commit throughput: what one unit of flows work costs the store. Each commit is what the inbox worker
// writes for an event: the snapshot compare-and-swap, two ledger rows, the re-armed SLA timer and one queued
// action, in one transaction (one fsync on SQLite with synchronous=FULL). Writers work on distinct tickets, as the
// inbox's per-ticket order makes them. Prints on stdout:
//   bench store.ticket_commits_per_s <v> 1/s     bench store.ticket_commit_p50_ms <v> ms
//   bench store.ticket_commit_p99_ms <v> ms      (SQLite file, 4 writer threads)
//   bench store.pg_ticket_commits_per_s <v> 1/s  bench store.pg_ticket_commit_p99_ms <v> ms
//   (PostgreSQL, only when DISPATCH_TEST_PG_DSN is set: scripts/pg-test-server.sh start prints one)

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "store/pg.hpp"
#include "store/store.hpp"
#include "support/test_support.hpp"

namespace dispatch::store {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kWriters = 4;
constexpr auto kDuration = std::chrono::seconds(3);
constexpr TimeMs kT0 = 1'772'442'000'000;

struct Figures {
    double per_second = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    int failures = 0;
};

TicketCommit NextCommit(std::int64_t item, std::int64_t version, TimeMs at) {
    TicketCommit c;
    c.snapshot.key.member_id = "m-bench";
    c.snapshot.key.entity_type_id = 1032;
    c.snapshot.key.item_id = item;
    c.snapshot.stage_id = version % 2 == 0 ? "DT1032_7:NEW" : "DT1032_7:IN_PROGRESS";
    c.snapshot.category_id = 7;
    c.snapshot.assigned_by_id = 15;
    c.snapshot.fields = R"({"priority":"urgent","template":"1C","sla_state":"ok","reaction_due":1772443200000})";
    c.snapshot.item_updated_at = at;
    c.snapshot.fetched_at = at;
    c.expected_version = version;
    c.append.resize(2);
    c.append[0].at = at;
    c.append[0].kind = "stage_moved";
    c.append[0].data = R"({"from":"DT1032_7:NEW","to":"DT1032_7:IN_PROGRESS","history_id":901})";
    c.append[1].at = at;
    c.append[1].kind = "assigned";
    c.append[1].data = R"({"user":15})";
    TimerArm arm;
    arm.member_id = "m-bench";
    arm.kind = "sla";
    arm.subject = c.snapshot.key.Subject();
    arm.due_at = at + kHourMs;
    arm.version = 2 * (version + 1);
    arm.payload = R"({"threshold":"resolution","level":1})";
    c.arm = arm;
    OutboxAction action;
    action.member_id = "m-bench";
    action.idempotency_key = fmt::format("{}/{}", c.snapshot.key.Subject(), version + 1);
    action.method = "crm.item.update";
    action.params = R"({"entityTypeId":1032,"id":1,"fields":{"ufCrmSlaState":"ok"}})";
    action.subject = c.snapshot.key.Subject();
    action.next_try_at = at;
    action.created_at = at;
    c.actions.push_back(action);
    return c;
}

Figures Run(Store& store) {
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::vector<std::vector<double>> latencies(kWriters);
    std::vector<std::thread> writers;
    const auto start = SteadyClock::now();
    for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([&, w] {
            // Each writer cycles over its own tickets, so versions are known without re-reading.
            constexpr int kTickets = 64;
            std::vector<std::int64_t> versions(kTickets, 0);
            for (std::int64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
                const auto t = static_cast<std::size_t>(n % kTickets);
                const std::int64_t item = 1 + w * kTickets + static_cast<std::int64_t>(t);
                const auto before = SteadyClock::now();
                auto committed = store.Tickets().Commit(NextCommit(item, versions[t], kT0 + n), kT0 + n);
                const auto after = SteadyClock::now();
                if (!committed) {
                    ++failures;
                    continue;
                }
                versions[t] = *committed;
                latencies[static_cast<std::size_t>(w)].push_back(
                    std::chrono::duration<double, std::milli>(after - before).count());
            }
        });
    }
    std::this_thread::sleep_for(kDuration);
    stop = true;
    for (auto& t : writers) {
        t.join();
    }
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    std::vector<double> all;
    for (const auto& l : latencies) {
        all.insert(all.end(), l.begin(), l.end());
    }
    std::sort(all.begin(), all.end());
    Figures f;
    f.failures = failures.load();
    if (all.empty()) {
        return f;
    }
    f.per_second = static_cast<double>(all.size()) / seconds;
    f.p50_ms = all[all.size() / 2];
    f.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    return f;
}

int Main() {
    ManualClock clock(kT0);
    int status = 0;
    {
        dispatch::testing::TempDir dir;
        SqliteOptions options;
        options.path = dir.File("bench.db");
        auto store = OpenSqliteStore(options, clock);
        if (!store) {
            fmt::print(stderr, "bench_store: cannot open SQLite: {}\n", store.error().detail);
            return 1;
        }
        const Figures f = Run(**store);
        fmt::print(stderr, "sqlite: {} failed commits\n", f.failures);
        fmt::print("bench store.ticket_commits_per_s {:.0f} 1/s\n", f.per_second);
        fmt::print("bench store.ticket_commit_p50_ms {:.2f} ms\n", f.p50_ms);
        fmt::print("bench store.ticket_commit_p99_ms {:.2f} ms\n", f.p99_ms);
        status |= f.failures != 0 ? 1 : 0;
    }
    const char* dsn = std::getenv("DISPATCH_TEST_PG_DSN");
    if (dsn == nullptr || *dsn == '\0') {
        fmt::print(stderr, "bench_store: DISPATCH_TEST_PG_DSN not set, no PostgreSQL figures\n");
        return status;
    }
    const std::string schema = fmt::format("bench_{}", std::random_device()() % 1000000);
    {
        PostgresOptions options;
        options.dsn = dsn;
        options.schema = schema;
        options.pool_size = kWriters;
        auto store = OpenPostgresStore(options, clock);
        if (!store) {
            fmt::print(stderr, "bench_store: cannot open PostgreSQL: {}\n", store.error().detail);
            return 1;
        }
        const Figures f = Run(**store);
        fmt::print(stderr, "postgres: {} failed commits\n", f.failures);
        fmt::print("bench store.pg_ticket_commits_per_s {:.0f} 1/s\n", f.per_second);
        fmt::print("bench store.pg_ticket_commit_p99_ms {:.2f} ms\n", f.p99_ms);
        status |= f.failures != 0 ? 1 : 0;
    }
    if (auto admin = pg::Connection::Open(dsn, ""); admin) {
        (void)(*admin)->Exec(fmt::format("DROP SCHEMA IF EXISTS \"{}\" CASCADE", schema));
    }
    return status;
}

}  // namespace
}  // namespace dispatch::store

int main() { return dispatch::store::Main(); }
