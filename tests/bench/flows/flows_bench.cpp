// The SLA flows end to end as a benchmark: b24emu (`--limits off`, manual clock) and dispatchd (manual clock,
// `"rate_limit": false`) as real processes over HTTPS with a real SQLite file, the workplace provisioned by
// `dispatchctl provision apply`, people acting through the emulator's /_emu/act — the harness of
// tests/integration/flows. Each phase runs at its own emulator instant, so the emulator's request and event logs
// (stamped with the portal clock) tell which phase a call or an event belongs to. Prints for scripts/bench.sh:
//   bench flows.item_events_per_s <v> 1/s            300 NORMAL HARDWARE requests filed while the portal holds
//                                                    their events back; then the clocks move, the events go out and
//                                                    the wall time until dispatchd is idle is taken; delivered item
//                                                    events (the echoes of dispatchd's own writes included) / s
//   bench flows.rest_calls_per_item_event <v> calls  REST calls dispatchd made with its OAuth token (a batch is one)
//                                                    while those 300 were filed, taken IN_PROGRESS and to REVIEW by
//                                                    their assignees and accepted (SUCCESS) by the requester, over
//                                                    the item events delivered to it meanwhile (target <= 1.2)
//   bench flows.breach_action_latency_p99_ms <v> ms  50 URGENT HARDWARE requests filed at one instant, settled;
//                                                    both clocks then jump 25 minutes (the 20-minute reaction
//                                                    deadline passes); real ms from the jump until each item's
//                                                    escalation (its move to the line-2 funnel) is visible on the
//                                                    portal, p99 over the 50 (target <= 1000)
// Everything else goes to stderr; a failed setup exits 1 with the reason and the tail of dispatchd's log.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/form.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "emulator/item_fields.hpp"
#include "http/client.hpp"
#include "support/b24emu.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"

namespace {

namespace bj = boost::json;
using namespace dispatch;
using dispatch::testing::BinaryPath;
using dispatch::testing::ChildProcess;
using dispatch::testing::EmuEndpoints;
using dispatch::testing::SourcePath;
using dispatch::testing::StartB24emu;
using dispatch::testing::TempDir;
using Steady = std::chrono::steady_clock;

constexpr std::int64_t kRequester = 101;
constexpr const char* kStart = "2026-03-02T06:00:00Z";  // Monday 09:00 Moscow
constexpr int kItems = 300;
constexpr int kUrgent = 50;
constexpr std::size_t kRequestLogSize = 2000;  // b24emu keeps the last 2000 REST calls (rest_api.hpp)

struct SetupError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

double MsSince(Steady::time_point t0) { return std::chrono::duration<double, std::milli>(Steady::now() - t0).count(); }

std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class Bench {
public:
    void Run() {
        Start();
        const TimeMs t0 = ParseIso8601(kStart).value();

        // 1. 300 requests filed while the portal holds their events back, then released at once.
        Admin("faults", bj::object{{"event_delay_ms", 1000}});
        std::vector<std::int64_t> ids;
        for (int i = 0; i < kItems; ++i) {
            ids.push_back(File(fmt::format("Bench request {}", i), "HARDWARE", "NORMAL"));
        }
        Admin("faults", bj::object{{"event_delay_ms", 0}});
        const TimeMs t1 = t0 + 1000;
        const auto wall0 = Steady::now();
        SetClocks(t1);
        const double drain_ms = Settle(wall0);
        const auto events1 = ItemEvents(t1);
        const auto calls1 = RestCalls(t1);
        if (events1 < kItems) {
            throw SetupError(
                fmt::format("only {} item events reached dispatchd for {} filed requests", events1, kItems));
        }
        std::cerr << fmt::format(
            "bench_flows: filing: {} item events, {} REST calls, idle after {:.0f} ms\n", events1, calls1, drain_ms);
        std::cout << fmt::format("bench flows.item_events_per_s {:.1f} 1/s", events1 / (drain_ms / 1000.0))
                  << std::endl;

        // 2. The realistic mix: assignee takes it, assignee hands it to review, requester accepts.
        std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> who;  // id → (assignee, category)
        for (auto id : ids) {
            auto item = Item(id);
            who[id] = {json::IntAt(item, "assignedById").value_or(0), json::IntAt(item, "categoryId").value_or(0)};
            if (who[id].first == 0 || who[id].first == kRequester) {
                throw SetupError(fmt::format("item {} was not routed to a specialist: {}", id, json::Dump(item)));
            }
        }
        std::int64_t events = events1;
        std::int64_t calls = calls1;
        const std::vector<std::string> stages = {"IN_PROGRESS", "REVIEW", "SUCCESS"};
        for (std::size_t k = 0; k < stages.size(); ++k) {
            const TimeMs tk = t1 + 1000 * static_cast<TimeMs>(k + 1);
            SetClocks(tk);
            Settle(Steady::now());
            for (auto id : ids) {
                const auto& [assignee, category] = who[id];
                const std::int64_t user = stages[k] == "SUCCESS" ? kRequester : assignee;
                Act(user,
                    "crm.item.update",
                    bj::object{{"entityTypeId", etid_},
                               {"id", id},
                               {"fields",
                                bj::object{{"stageId", fmt::format("DT{}_{}:{}", etid_, category, stages[k])},
                                           {"categoryId", category}}}});
            }
            Settle(Steady::now());
            const auto e = ItemEvents(tk);
            const auto c = RestCalls(tk);
            std::cerr << fmt::format("bench_flows: {}: {} item events, {} REST calls\n", stages[k], e, c);
            events += e;
            calls += c;
        }
        std::int64_t closed = 0;
        for (auto id : ids) {
            closed += json::StringAt(Item(id), "stageId").value_or("").ends_with(":SUCCESS") ? 1 : 0;
        }
        std::cerr << fmt::format(
            "bench_flows: mix: {}/{} items closed, {} REST calls over {} item events\n", closed, kItems, calls, events);
        if (events == 0) {
            throw SetupError("no item events in the mix");
        }
        std::cout << fmt::format("bench flows.rest_calls_per_item_event {:.3f} calls",
                                 static_cast<double>(calls) / static_cast<double>(events))
                  << std::endl;

        // 3. 50 URGENT requests at one instant; the reaction deadline passes with one jump of both clocks.
        const TimeMs t5 = t1 + 4000;
        SetClocks(t5);
        Settle(Steady::now());
        std::vector<std::int64_t> urgent;
        for (int i = 0; i < kUrgent; ++i) {
            urgent.push_back(File(fmt::format("Bench urgent {}", i), "HARDWARE", "URGENT"));
        }
        Settle(Steady::now());
        std::map<std::int64_t, std::int64_t> category;
        for (const auto& [id, cat] : Categories(urgent)) {
            category[id] = cat;
        }
        if (category.size() != urgent.size()) {
            throw SetupError(fmt::format("listed {} of the {} urgent items", category.size(), urgent.size()));
        }
        std::map<std::int64_t, double> latency;
        const auto jump = Steady::now();
        SetClocks(t5 + 25 * 60 * 1000);
        while (latency.size() < urgent.size()) {
            if (MsSince(jump) > 60000) {
                throw SetupError(fmt::format(
                    "only {} of {} urgent items escalated within 60 s of the deadline", latency.size(), urgent.size()));
            }
            const auto seen = Categories(urgent);
            const double now_ms = MsSince(jump);
            for (const auto& [id, cat] : seen) {
                if (cat != category[id] && !latency.contains(id)) {
                    latency[id] = now_ms;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        std::vector<double> sorted;
        for (const auto& [id, ms] : latency) {
            sorted.push_back(ms);
        }
        std::sort(sorted.begin(), sorted.end());
        const auto rank = static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(sorted.size()))) - 1;
        std::cerr << fmt::format("bench_flows: escalation latency ms: min {:.0f} p50 {:.0f} max {:.0f}\n",
                                 sorted.front(),
                                 sorted[sorted.size() / 2],
                                 sorted.back());
        Settle(Steady::now());
        std::cout << fmt::format("bench flows.breach_action_latency_p99_ms {:.0f} ms", sorted[rank]) << std::endl;
    }

    std::string ServiceLogTail() const {
        const std::string log = Slurp(dir_.File("dispatchd.log"));
        return log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
    }

private:
    void Start() {
        std::string error;
        EmuEndpoints emu;
        if (!StartB24emu(emu_,
                         B24EMU_BIN,
                         {.start = kStart, .seed = "7", .limits = false},
                         dir_.File("b24emu.log"),
                         emu,
                         error)) {
            throw SetupError("b24emu did not start: " + error);
        }
        admin_ = emu.admin_url;
        base_ = emu.base_url;
        const std::string& client_secret = emu.client_secret;
        if (!base_.empty() && base_.back() == '/') {
            base_.pop_back();
        }

        bj::object config = dispatch::testing::FlowsServiceConfig(emu, dir_.File("dispatch.db"), kStart);
        config["b24"].as_object()["rate_limit"] = false;  // the bench measures the flows, not the portal's budget
        {
            std::ofstream out(dir_.File("config.json"));
            out << json::Dump(config);
        }
        const std::string hook_key = "0123456789abcdef0123456789abcdef";
        if (!service_proc_.Start({DISPATCHD_BIN, "--config", dir_.File("config.json")},
                                 {"DISPATCH_HOOK_KEY=" + hook_key, "DISPATCH_CLIENT_SECRET=" + client_secret},
                                 dir_.File("dispatchd.log"),
                                 std::chrono::seconds(20),
                                 error)) {
            throw SetupError("dispatchd did not start: " + error);
        }
        auto sline = json::Parse(service_proc_.FirstLine());
        if (!sline || !json::StringAt(*sline, "listen")) {
            throw SetupError("dispatchd printed no listen line: " + service_proc_.FirstLine());
        }
        service_ = "https://" + *json::StringAt(*sline, "listen");

        Admin("app/install", bj::object{{"handler", service_ + "/b24/install"}});
        Admin("events/flush", bj::object{});
        const auto deadline = Steady::now() + std::chrono::seconds(10);
        while ((member_ = json::StringAt(Get(admin_ + "state"), "member_id").value_or("")).empty()) {
            if (Steady::now() > deadline) {
                throw SetupError("the app was not installed into dispatchd within 10 s");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }

        const std::string out = dir_.File("provision.out");
        const std::string cmd = fmt::format(
            "DISPATCH_HOOK_KEY={} DISPATCH_CLIENT_SECRET={} {} provision apply --portal {} --member {} --spec {} "
            "--schema {} --public-url {} --ca {} >{} 2>&1",
            hook_key,
            client_secret,
            DISPATCHCTL_BIN,
            dir_.File("config.json"),
            member_,
            SourcePath("workplace/helpdesk.json"),
            SourcePath("schemas/workplace.schema.json"),
            service_,
            BinaryPath("certs/ca.pem"),
            out);
        if (std::system(cmd.c_str()) != 0) {
            throw SetupError("dispatchctl provision apply failed:\n" + Slurp(out));
        }
        LoadIds();
    }

    void LoadIds() {
        std::int64_t type_id = 0;
        const auto types = Act(1, "crm.type.list", bj::object{});
        for (const auto& t : types.at("types").as_array()) {
            if (json::StringAt(t, "code").value_or("") == "it_request") {
                etid_ = json::IntAt(t, "entityTypeId").value_or(0);
                type_id = json::IntAt(t, "id").value_or(0);
            }
        }
        if (etid_ == 0) {
            throw SetupError("provisioning created no it_request type");
        }
        uf_prefix_ = fmt::format("UF_CRM_{}_", type_id);
        auto fields =
            Act(1,
                "userfieldconfig.list",
                bj::object{{"moduleId", "crm"}, {"filter", bj::object{{"entityId", fmt::format("CRM_{}", type_id)}}}});
        for (const auto& f : fields.at("fields").as_array()) {
            const bj::value* items = json::Find(f, "enum");
            if (items == nullptr || !items->is_array()) {
                continue;
            }
            for (const auto& item : items->as_array()) {
                enums_[json::StringAt(f, "fieldName").value_or("")][json::StringAt(item, "xmlId").value_or("")] =
                    json::IntAt(item, "id").value_or(0);
            }
        }
    }

    std::int64_t File(const std::string& title, const std::string& template_xml, const std::string& priority_xml) {
        bj::object fields{{"title", title}};
        for (const auto& [code, xml] : {std::pair<std::string, std::string>{"TEMPLATE", template_xml},
                                        std::pair<std::string, std::string>{"PRIORITY", priority_xml}}) {
            const std::string uf = uf_prefix_ + code;
            const std::int64_t value = enums_[uf][xml];
            if (value == 0) {
                throw SetupError(fmt::format("no enum value {} in {}", xml, uf));
            }
            fields[emulator::UfCamelName(uf)] = value;
        }
        auto r = Act(kRequester, "crm.item.add", bj::object{{"entityTypeId", etid_}, {"fields", fields}});
        return json::IntAt(r.at("item"), "id").value_or(0);
    }

    bj::object Item(std::int64_t id) {
        const auto r = Act(1, "crm.item.get", bj::object{{"entityTypeId", etid_}, {"id", id}});
        return r.at("item").as_object();
    }

    // id → categoryId of the given items (consecutive ids, at most 50: one page).
    std::vector<std::pair<std::int64_t, std::int64_t>> Categories(const std::vector<std::int64_t>& ids) {
        const auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
        auto r = Act(1,
                     "crm.item.list",
                     bj::object{{"entityTypeId", etid_},
                                {"select", bj::array{"id", "categoryId"}},
                                {"order", bj::object{{"id", "ASC"}}},
                                {"filter", bj::object{{">=id", *lo}, {"<=id", *hi}}}});
        std::vector<std::pair<std::int64_t, std::int64_t>> out;
        for (const auto& item : r.at("items").as_array()) {
            out.emplace_back(json::IntAt(item, "id").value_or(0), json::IntAt(item, "categoryId").value_or(0));
        }
        return out;
    }

    bj::value Get(const std::string& url) {
        auto r = client_.Get(url);
        if (!r) {
            throw SetupError("GET " + url + ": " + r.error().detail);
        }
        if (r->status != 200) {
            throw SetupError(fmt::format("GET {}: HTTP {} {}", url, r->status, r->body));
        }
        auto parsed = json::Parse(r->body);
        if (!parsed) {
            throw SetupError("GET " + url + ": not JSON: " + r->body.substr(0, 200));
        }
        return std::move(*parsed);
    }

    bj::value Post(const std::string& url, const bj::object& body) {
        auto r = client_.Post(url, json::Dump(body), "application/json");
        if (!r) {
            throw SetupError("POST " + url + ": " + r.error().detail);
        }
        if (r->status != 200) {
            throw SetupError(fmt::format("POST {}: HTTP {} {}", url, r->status, r->body));
        }
        auto parsed = json::Parse(r->body);
        return parsed ? std::move(*parsed) : bj::value(r->body);
    }

    bj::value Admin(const std::string& path, const bj::object& body) { return Post(admin_ + path, body); }

    // A REST call as `user` through /_emu/act (not in the emulator's request log), its `result`.
    bj::value Act(std::int64_t user, const std::string& method, const bj::object& params) {
        auto answer = Admin("act", bj::object{{"user_id", user}, {"method", method}, {"params", params}});
        const bj::value* envelope = json::Find(answer, "body");
        const bj::value* result = envelope != nullptr ? json::Find(*envelope, "result") : nullptr;
        if (json::IntAt(answer, "status").value_or(0) != 200 || result == nullptr) {
            throw SetupError(fmt::format("{} as user {}: {}", method, user, json::Dump(answer)));
        }
        return *result;
    }

    void SetClocks(TimeMs t) {
        Admin("clock", bj::object{{"set_ms", t}});
        Post(service_ + "/_admin/clock", bj::object{{"now", FormatIso8601(t)}});
    }

    // Flushes the portal's events until dispatchd reports idle three times in a row; the real ms from `since`
    // until the first of those idle answers.
    double Settle(Steady::time_point since) {
        int quiet = 0;
        double idle_at = 0;
        const auto deadline = Steady::now() + std::chrono::seconds(300);
        while (quiet < 3) {
            if (Steady::now() > deadline) {
                throw SetupError("dispatchd never settled: " + json::Dump(Get(service_ + "/_admin/flows")));
            }
            Admin("events/flush", bj::object{});
            auto status = Get(service_ + "/_admin/flows");
            const bj::value* idle = json::Find(status, "idle");
            if (idle != nullptr && idle->is_bool() && idle->as_bool()) {
                if (quiet++ == 0) {
                    idle_at = MsSince(since);
                }
            } else {
                quiet = 0;
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
        }
        return idle_at;
    }

    // Item events (the tickets' entityTypeId) the portal delivered to dispatchd at portal instant `at`.
    std::int64_t ItemEvents(TimeMs at) {
        std::int64_t n = 0;
        std::int64_t lost = 0;
        std::map<std::string, std::int64_t> by_event;
        const std::string etid = std::to_string(etid_);
        const auto log = Get(admin_ + "events");
        for (const auto& e : log.as_array()) {
            if (json::StringAt(e, "kind").value_or("") != "event" || json::IntAt(e, "at_ms").value_or(-1) != at) {
                continue;
            }
            auto body = form::Parse(json::StringAt(e, "body").value_or(""));
            if (!body) {
                continue;
            }
            const bj::value v(std::move(*body));
            const bj::value* data = json::Find(v, "data");
            const bj::value* fields = data != nullptr ? json::Find(*data, "FIELDS") : nullptr;
            if (fields == nullptr || json::StringAt(*fields, "ENTITY_TYPE_ID").value_or("") != etid) {
                continue;
            }
            if (json::StringAt(e, "outcome").value_or("") == "delivered") {
                ++n;
                ++by_event[json::StringAt(e, "event").value_or("?")];
            } else {
                ++lost;
            }
        }
        if (lost > 0) {
            std::cerr << fmt::format("bench_flows: {} item events at {} were not delivered\n", lost, at);
        }
        for (const auto& [event, count] : by_event) {
            std::cerr << fmt::format("bench_flows:   {} x {}\n", count, event);
        }
        return n;
    }

    // REST calls made with an OAuth token (dispatchd; /_emu/act calls are not logged) at portal instant `at`.
    std::int64_t RestCalls(TimeMs at) {
        const auto log = Get(admin_ + "requests").as_array();
        if (log.size() >= kRequestLogSize && json::IntAt(log.front(), "at_ms").value_or(0) >= at) {
            throw SetupError("the emulator's request log overflowed within one phase; count in smaller phases");
        }
        std::int64_t n = 0;
        for (const auto& r : log) {
            n += (json::IntAt(r, "at_ms").value_or(-1) == at && json::StringAt(r, "auth").value_or("") == "oauth") ? 1
                                                                                                                   : 0;
        }
        return n;
    }

    TempDir dir_;
    ChildProcess emu_;
    ChildProcess service_proc_;
    http::Client client_{http::ClientOptions{.ca_file = BinaryPath("certs/ca.pem")}};
    std::string admin_, base_, service_, member_;
    std::int64_t etid_ = 0;
    std::string uf_prefix_;
    std::map<std::string, std::map<std::string, std::int64_t>> enums_;
};

}  // namespace

int main() {
    std::string tail;
    try {
        Bench bench;
        try {
            bench.Run();
            return 0;
        } catch (const std::exception&) {
            tail = bench.ServiceLogTail();
            throw;
        }
    } catch (const std::exception& e) {
        std::cerr << "bench_flows: setup failed: " << e.what() << "\n";
        if (!tail.empty()) {
            std::cerr << "---- dispatchd.log (tail) ----\n" << tail << "\n";
        }
        return 1;
    }
}
