// b24emu's throughput as dispatchd sees it: the real b24emu process with `--limits off`, a smart process with
// user fields and a few thousand items, and REST calls over HTTPS keep-alive from a few client threads (the
// emulator serves on one thread, so this measures one core of it). Prints for scripts/bench.sh:
//   bench emu.crm_item_add_per_s <n> 1/s           crm.item.add, one item per call (the seeding itself)
//   bench emu.crm_item_list_per_s <n> 1/s          crm.item.list pages of 50 the documented fast way (CONTRACT
//                                                  §2.5: order id ASC, filter >id, start=-1) with a select of the
//                                                  fields a reconciliation sweep reads
//   bench emu.crm_item_list_counted_per_s <n> 1/s  crm.item.list with a stage filter, order by updatedTime and a
//                                                  total (every call scans all items)
// Knobs (environment): DISPATCH_BENCH_EMU_ITEMS (3000), DISPATCH_BENCH_EMU_THREADS (2), DISPATCH_BENCH_EMU_SECONDS
// (3, per list figure). Everything else goes to stderr.

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/json.hpp"
#include "http/client.hpp"
#include "support/b24emu.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"

namespace {

namespace bj = boost::json;
using dispatch::json::Dump;
using namespace std::chrono_literals;

[[noreturn]] void Die(const std::string& why) {
    std::cerr << "bench_emu: " << why << "\n";
    std::exit(1);
}

// CPU seconds (user + system, all threads) the process has used so far (/proc/<pid>/stat fields 14 and 15).
double CpuSeconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');  // the command name may hold spaces; fields follow the last ')'
    if (close == std::string::npos) {
        Die("cannot read /proc/" + std::to_string(pid) + "/stat");
    }
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i >= 14) {
            ticks += std::stod(field);
        }
    }
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

long EnvLong(const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 10) : fallback;
}

class Portal {
public:
    Portal(dispatch::http::Client& client, std::string hook) : client_(client), hook_(std::move(hook)) {}

    // One REST call through the admin webhook; dies on anything but 200 (the bench measures the happy path).
    bj::value Call(const std::string& method, const bj::object& params) const {
        auto res = client_.Post(hook_ + method, Dump(params), "application/json");
        if (!res) {
            Die(method + ": " + res.error().detail);
        }
        if (res->status != 200) {
            Die(method + ": HTTP " + std::to_string(res->status) + " " + res->body);
        }
        auto v = dispatch::json::Parse(res->body);
        if (!v) {
            Die(method + ": not JSON");
        }
        return *v;
    }

    // The same call without parsing the answer: the client's JSON work stays out of the figure.
    void CallRaw(const std::string& method, std::string body) const {
        auto res = client_.Post(hook_ + method, std::move(body), "application/json");
        if (!res || res->status != 200) {
            Die(method + ": " + (res ? "HTTP " + std::to_string(res->status) + " " + res->body : res.error().detail));
        }
    }

private:
    dispatch::http::Client& client_;
    std::string hook_;
};

struct Rate {
    double per_wall_s = 0;  // calls per second of elapsed time (depends on the client and on other load)
    double per_cpu_s = 0;   // calls per CPU second b24emu used: its throughput on one core
};

// Runs `call(thread, i)` from `threads` threads until `seconds` pass (or `total` calls are made when non-zero),
// watching the CPU time of the emulator process `pid`.
template <class Call>
Rate Drive(pid_t pid, int threads, double seconds, long total, const Call& call) {
    std::atomic<long> next{0};
    std::atomic<long> done{0};
    const double cpu0 = CpuSeconds(pid);
    const auto t0 = std::chrono::steady_clock::now();
    const auto deadline = t0 + std::chrono::duration<double>(seconds);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (;;) {
                const long i = next.fetch_add(1);
                if (total > 0 ? i >= total : std::chrono::steady_clock::now() >= deadline) {
                    return;
                }
                call(t, i);
                done.fetch_add(1);
            }
        });
    }
    for (auto& th : pool) {
        th.join();
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = CpuSeconds(pid) - cpu0;
    const auto n = static_cast<double>(done.load());
    return Rate{n / elapsed, cpu > 0 ? n / cpu : 0};
}

}  // namespace

int main() {
    using dispatch::testing::BinaryPath;
    const long items = EnvLong("DISPATCH_BENCH_EMU_ITEMS", 3000);
    const int threads = static_cast<int>(EnvLong("DISPATCH_BENCH_EMU_THREADS", 2));
    const double seconds = static_cast<double>(EnvLong("DISPATCH_BENCH_EMU_SECONDS", 3));

    dispatch::testing::TempDir dir;
    dispatch::testing::ChildProcess emu;
    std::string error;
    dispatch::testing::EmuEndpoints endpoints;
    if (!dispatch::testing::StartB24emu(
            emu,
            B24EMU_BIN,
            {.start = "2026-03-02T06:00:00Z", .seed = "7", .limits = false, .handler_ca = false},
            dir.File("b24emu.log"),
            endpoints,
            error)) {
        Die("cannot start b24emu: " + error);
    }
    dispatch::http::ClientOptions options;
    options.ca_file = BinaryPath("certs/ca.pem");
    options.max_idle_per_host = static_cast<std::size_t>(threads) + 1;
    dispatch::http::Client client(options);
    const Portal portal(client, endpoints.webhook_url);

    // A help-desk smart process like the provisioned one: funnels, stages, a template list, a deadline, a level.
    const auto type = portal.Call("crm.type.add",
                                  bj::object{{"fields",
                                              bj::object{{"title", "IT request"},
                                                         {"isCategoriesEnabled", "Y"},
                                                         {"isStagesEnabled", "Y"},
                                                         {"isObserversEnabled", "Y"}}}});
    const auto type_id = type.at("result").at("type").at("id").as_int64();
    const auto e = type.at("result").at("type").at("entityTypeId").as_int64();
    const auto entity = "CRM_" + std::to_string(type_id);
    bj::array options_list;
    for (const char* v : {"1C", "Hardware", "Access", "Software", "Web"}) {
        options_list.push_back(bj::object{{"value", v}});
    }
    const auto tmpl = portal.Call("userfieldconfig.add",
                                  bj::object{{"moduleId", "crm"},
                                             {"field",
                                              bj::object{{"entityId", entity},
                                                         {"fieldName", "UF_" + entity + "_TEMPLATE"},
                                                         {"userTypeId", "enumeration"},
                                                         {"enum", options_list}}}});
    std::vector<std::int64_t> template_ids;
    for (const auto& o : tmpl.at("result").at("field").at("enum").as_array()) {
        template_ids.push_back(*dispatch::json::ToInt(o.at("id")));
    }
    for (const auto& [name, kind] : {std::pair{"SLA_DEADLINE", "datetime"}, {"LEVEL", "integer"}}) {
        portal.Call(
            "userfieldconfig.add",
            bj::object{
                {"moduleId", "crm"},
                {"field",
                 bj::object{{"entityId", entity}, {"fieldName", "UF_" + entity + "_" + name}, {"userTypeId", kind}}}});
    }
    const auto cats = portal.Call("crm.category.list", bj::object{{"entityTypeId", e}});
    const auto cat = cats.at("result").at("categories").at(0).at("id").as_int64();
    const auto stages = portal.Call(
        "crm.status.list",
        bj::object{
            {"filter", bj::object{{"ENTITY_ID", "DYNAMIC_" + std::to_string(e) + "_STAGE_" + std::to_string(cat)}}}});
    std::vector<std::string> stage_ids;
    for (const auto& s : stages.at("result").as_array()) {
        stage_ids.emplace_back(s.at("STATUS_ID").as_string());
    }
    const std::string uf = "ufCrm" + std::to_string(type_id);
    const std::int64_t people[] = {11, 12, 13, 14, 21, 22, 23, 24, 25};

    const pid_t pid = emu.Pid();
    const Rate add_rate = Drive(pid, threads, 0, items, [&](int, long i) {
        bj::object fields{{"title", fmt::format("Printer on floor {} is down", i % 9)},
                          {"stageId", stage_ids[static_cast<std::size_t>(i) % stage_ids.size()]},
                          {"assignedById", people[i % 9]},
                          {uf + "Template", template_ids[static_cast<std::size_t>(i) % template_ids.size()]},
                          {uf + "SlaDeadline", fmt::format("2026-03-0{}T1{}:00:00+03:00", 2 + i % 5, i % 10)},
                          {uf + "Level", i % 3}};
        portal.CallRaw("crm.item.add", Dump(bj::object{{"entityTypeId", e}, {"fields", std::move(fields)}}));
    });
    std::cerr << fmt::format("seeded {} items at {:.0f}/s\n", items, add_rate.per_wall_s);

    const bj::array select{
        "id", "title", "stageId", "categoryId", "assignedById", "updatedTime", uf + "Template", uf + "SlaDeadline"};
    std::vector<long> cursor(static_cast<std::size_t>(threads), 0);
    auto page = [&](int t, long) {
        auto& c = cursor[static_cast<std::size_t>(t)];
        portal.CallRaw("crm.item.list",
                       Dump(bj::object{{"entityTypeId", e},
                                       {"select", select},
                                       {"filter", bj::object{{">id", c}}},
                                       {"order", bj::object{{"id", "ASC"}}},
                                       {"start", -1}}));
        c = (c + 50) % items;
    };
    Drive(pid, threads, 0, 200, page);  // warm-up: connections, caches
    const Rate list_rate = Drive(pid, threads, seconds, 0, page);

    const Rate counted_rate = Drive(pid, threads, seconds, 0, [&](int, long i) {
        portal.CallRaw("crm.item.list",
                       Dump(bj::object{{"entityTypeId", e},
                                       {"select", select},
                                       {"filter",
                                        bj::object{{"stageId", stage_ids[static_cast<std::size_t>(i) % 3]},
                                                   {">=updatedTime", "2026-03-01T00:00:00+03:00"}}},
                                       {"order", bj::object{{"updatedTime", "DESC"}}},
                                       {"start", (i % 4) * 50}}));
    });

    // The headline figures are per core-second of the emulator (the target is "5,000 calls per second on one
    // core", and this machine is shared); the wall-clock rates of this run follow with a _wall suffix.
    const std::pair<const char*, Rate> figures[] = {
        {"crm_item_add", add_rate}, {"crm_item_list", list_rate}, {"crm_item_list_counted", counted_rate}};
    for (const auto& [name, rate] : figures) {
        std::cout << fmt::format("bench emu.{}_per_s {:.0f} 1/s\n", name, rate.per_cpu_s);
    }
    for (const auto& [name, rate] : figures) {
        std::cout << fmt::format("bench emu.{}_wall_per_s {:.0f} 1/s\n", name, rate.per_wall_s);
    }
    std::cout.flush();
    client.CloseIdle();
    if (emu.Stop(SIGTERM, 10s) != 0) {
        Die("b24emu did not stop cleanly (see its log)");
    }
    return 0;
}
