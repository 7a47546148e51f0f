// The SLA flows end to end: b24emu (the portal, on a manual clock) and dispatchd (on a manual clock) as real
// processes over real HTTPS with a real SQLite file; the workplace provisioned by `dispatchctl provision apply`;
// people act through the emulator's admin API as the requester, dispatchers and specialists would; the test moves
// both clocks and waits for the system to settle, then reads the outcome through Bitrix24 REST (the item, its
// fields), the emulator's notification/comment logs and request log, and dispatchd's ticket API.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "core/json.hpp"
#include "core/time_format.hpp"
#include "http/client.hpp"
#include "support/b24emu.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"

namespace dispatch {
namespace {

namespace bj = boost::json;
using testing::BinaryPath;
using testing::ChildProcess;
using ::testing::HasSubstr;
using testing::Slurp;
using testing::SourcePath;
using testing::TempDir;

constexpr std::int64_t kRequester = 101;
constexpr const char* kStart = "2026-03-02T06:00:00Z";  // Monday 09:00 Moscow
constexpr const char* kApiToken = "flows-test-api-token";

TimeMs At(const char* iso) { return ParseIso8601(iso).value(); }

bj::value ParseOrText(const std::string& body) {
    auto parsed = json::Parse(body);
    return parsed ? std::move(*parsed) : bj::value(body);
}

class Flows : public ::testing::Test {
protected:
    void SetUp() override { StartAll(0.0); }
    void TearDown() override {
        if (HasFailure()) {
            // What the service saw, for the failure report.
            std::string log = Slurp(dir_.File("dispatchd.log"));
            std::cerr << "---- dispatchd.log (tail) ----\n" << log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
            std::string events = json::Dump(Get(admin_ + "events"));
            std::cerr << "---- b24emu events (tail) ----\n"
                      << events.substr(events.size() > 4000 ? events.size() - 4000 : 0) << "\n";
        }
    }

    void StartAll(double drop_events) {
        if (emu_.Running() || service_proc_.Running()) {
            service_proc_.Stop(SIGTERM, std::chrono::seconds(10));
            emu_.Stop(SIGTERM, std::chrono::seconds(10));
            ++run_;
            enums_.clear();
            categories_.clear();
        }
        std::string error;
        testing::EmuEndpoints emu;
        ASSERT_TRUE(testing::StartB24emu(
            emu_, B24EMU_BIN, {.start = kStart, .seed = "7", .limits = false}, dir_.File("b24emu.log"), emu, error))
            << error;
        admin_ = emu.admin_url;
        base_ = emu.base_url;
        const std::string client_secret = emu.client_secret;
        if (!base_.empty() && base_.back() == '/') {
            base_.pop_back();
        }
        if (drop_events > 0) {
            ASSERT_EQ(Admin("faults", bj::object{{"drop_events", drop_events}}).at("status").as_int64(), 200);
        }

        bj::object config = testing::FlowsServiceConfig(emu, dir_.File(fmt::format("dispatch{}.db", run_)), kStart);
        config["flows"] = bj::object{{"api_token_env", "DISPATCH_API_TOKEN"}};
        {
            std::ofstream out(dir_.File("config.json"));
            out << json::Dump(config);
        }
        env_ = {"DISPATCH_HOOK_KEY=0123456789abcdef0123456789abcdef",
                "DISPATCH_CLIENT_SECRET=" + client_secret,
                std::string("DISPATCH_API_TOKEN=") + kApiToken};
        StartService(kStart);

        // The portal installs the app into dispatchd, then the admin provisions the workplace.
        ASSERT_EQ(Admin("app/install", bj::object{{"handler", service_ + "/b24/install"}}).at("status").as_int64(),
                  200);
        Admin("events/flush", bj::object{});
        ASSERT_TRUE(testing::WaitFor([&] { return !MemberId().empty(); }, std::chrono::seconds(10), "install"));
        member_ = MemberId();
        ProvisionApply();
        LoadIds();
    }

    void StartService(const std::string& start) {
        // The restarted service resumes on the portal's clock: a manual clock starts where it is told.
        std::ifstream in(dir_.File("config.json"));
        std::string text((std::istreambuf_iterator<char>(in)), {});
        auto config = json::Parse(text).value();
        config.as_object()["clock"] = bj::object{{"mode", "manual"}, {"start", start}};
        {
            std::ofstream out(dir_.File("config.json"));
            out << json::Dump(config);
        }
        std::string error;
        ASSERT_TRUE(service_proc_.Start({DISPATCHD_BIN, "--config", dir_.File("config.json")},
                                        env_,
                                        dir_.File("dispatchd.log"),
                                        std::chrono::seconds(20),
                                        error))
            << error;
        auto line = json::Parse(service_proc_.FirstLine()).value();
        service_ = "https://" + json::StringAt(line, "listen").value();
    }

    std::string MemberId() {
        auto state = Get(admin_ + "state");
        return json::StringAt(state, "member_id").value_or("");
    }

    // dispatchctl with `args`, run to its end with the service's environment (the API token among it).
    testing::Finished Ctl(const std::vector<std::string>& args) {
        std::vector<std::string> argv{DISPATCHCTL_BIN};
        argv.insert(argv.end(), args.begin(), args.end());
        auto ran = testing::RunToEnd(argv, env_, dir_.Path().string());
        EXPECT_FALSE(ran.timed_out) << "dispatchctl did not finish";
        return ran;
    }

    void ProvisionApply() {
        const auto ran = Ctl({"provision",
                              "apply",
                              "--portal",
                              dir_.File("config.json"),
                              "--member",
                              member_,
                              "--spec",
                              SourcePath("workplace/helpdesk.json"),
                              "--schema",
                              SourcePath("schemas/workplace.schema.json"),
                              "--public-url",
                              service_,
                              "--ca",
                              BinaryPath("certs/ca.pem")});
        ASSERT_EQ(ran.exit, 0) << ran.out << ran.err;
    }

    // Ids as the portal has them, read through REST like any client.
    void LoadIds() {
        auto types = Act(1, "crm.type.list", bj::object{});
        for (const auto& t : types.at("types").as_array()) {
            if (json::StringAt(t, "code").value_or("") == "it_request") {
                etid_ = json::IntAt(t, "entityTypeId").value();
                type_id_ = json::IntAt(t, "id").value();
            }
        }
        ASSERT_GT(etid_, 0) << "provisioning created no it_request type";
        auto fields =
            Act(1,
                "userfieldconfig.list",
                bj::object{{"moduleId", "crm"}, {"filter", bj::object{{"entityId", fmt::format("CRM_{}", type_id_)}}}});
        for (const auto& f : fields.at("fields").as_array()) {
            const std::string name = json::StringAt(f, "fieldName").value_or("");
            const bj::value* items = json::Find(f, "enum");
            if (items == nullptr || !items->is_array()) {
                continue;
            }
            for (const auto& item : items->as_array()) {
                enums_[name][json::StringAt(item, "xmlId").value_or("")] = json::IntAt(item, "id").value_or(0);
            }
        }
        auto categories = Act(1, "crm.category.list", bj::object{{"entityTypeId", etid_}});
        for (const auto& c : categories.at("categories").as_array()) {
            categories_[json::StringAt(c, "code").value_or(json::StringAt(c, "name").value_or(""))] =
                json::IntAt(c, "id").value();
        }
    }

    // Provisioning names a funnel's category in the spec's language and b24emu reports no code, so a funnel is found
    // by the name the spec gives it; nullopt when the portal has no such category.
    std::optional<std::int64_t> FunnelCategory(const std::string& funnel_code) {
        auto spec = json::Parse(Slurp(SourcePath("workplace/helpdesk.json")));
        if (!spec) {
            ADD_FAILURE() << "workplace/helpdesk.json does not parse";
            return std::nullopt;
        }
        const std::string language = json::StringAt(*spec, "language").value_or("en");
        for (const auto& process : spec->at("smart_processes").as_array()) {
            if (json::StringAt(process, "code").value_or("") != "it_request") {
                continue;
            }
            for (const auto& funnel : process.at("funnels").as_array()) {
                if (json::StringAt(funnel, "code").value_or("") != funnel_code) {
                    continue;
                }
                const bj::value* names = json::Find(funnel, "name");
                const auto name = names != nullptr ? json::StringAt(*names, language) : std::nullopt;
                const auto it = name ? categories_.find(*name) : categories_.end();
                if (it != categories_.end()) {
                    return it->second;
                }
            }
        }
        return std::nullopt;
    }

    std::string Uf(const std::string& code) const { return fmt::format("UF_CRM_{}_{}", type_id_, code); }
    std::string Camel(const std::string& code) const { return Camel(type_id_, code); }
    static std::string Camel(std::int64_t type_id, const std::string& code) {
        // UF_CRM_21_SLA_STATE → ufCrm21SlaState
        std::string out = fmt::format("ufCrm{}", type_id);
        bool upper = true;
        for (char c : code) {
            if (c == '_') {
                upper = true;
                continue;
            }
            out.push_back(upper ? c : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
            upper = false;
        }
        return out;
    }
    std::int64_t Enum(const std::string& code, const std::string& xml) { return enums_[Uf(code)][xml]; }

    // Every call carries dispatchd's API token; the emulator ignores it.
    static http::Headers Auth() { return {{"Authorization", std::string("Bearer ") + kApiToken}}; }
    bj::value Get(const std::string& url) {
        auto r = client_.Get(url, Auth());
        EXPECT_TRUE(r) << url;
        if (!r) {
            return nullptr;
        }
        return ParseOrText(r->body);
    }
    bj::object Admin(const std::string& path, const bj::object& body) {
        auto r = client_.Post(admin_ + path, json::Dump(body), "application/json");
        EXPECT_TRUE(r) << path;
        bj::object out{{"status", r ? r->status : 0}};
        if (r) {
            out["body"] = ParseOrText(r->body);
        }
        return out;
    }
    // A REST call as `user` (through the admin API), its `result`.
    bj::value Act(std::int64_t user, const std::string& method, const bj::object& params) {
        // /_emu/act answers {"status": <what the portal answered>, "body": <its envelope>}.
        auto r = Admin("act", bj::object{{"user_id", user}, {"method", method}, {"params", params}});
        const bj::value& answer = r.at("body");
        EXPECT_EQ(json::IntAt(answer, "status").value_or(0), 200) << method << " " << json::Dump(answer);
        const bj::value* envelope = json::Find(answer, "body");
        const bj::value* result = envelope != nullptr ? json::Find(*envelope, "result") : nullptr;
        return result != nullptr ? *result : answer;
    }

    std::int64_t File(const std::string& title,
                      const std::string& template_xml,
                      const std::string& priority_xml,
                      std::int64_t requester = kRequester) {
        bj::object fields{{"title", title}};
        if (!template_xml.empty()) {
            fields[Camel("TEMPLATE")] = Enum("TEMPLATE", template_xml);
        }
        fields[Camel("PRIORITY")] = Enum("PRIORITY", priority_xml);
        auto r = Act(requester, "crm.item.add", bj::object{{"entityTypeId", etid_}, {"fields", fields}});
        return json::IntAt(r.at("item"), "id").value();
    }
    bj::object Item(std::int64_t id) {
        return Act(1, "crm.item.get", bj::object{{"entityTypeId", etid_}, {"id", id}}).at("item").as_object();
    }
    void Move(std::int64_t user, std::int64_t id, const std::string& stage_code) {
        auto item = Item(id);
        const std::int64_t category = json::IntAt(item, "categoryId").value();
        const std::string stage = fmt::format("DT{}_{}:{}", etid_, category, stage_code);
        Act(user,
            "crm.item.update",
            bj::object{{"entityTypeId", etid_},
                       {"id", id},
                       {"fields", bj::object{{"stageId", stage}, {"categoryId", category}}}});
    }
    void Assign(std::int64_t user, std::int64_t id, std::int64_t to) {
        Act(user,
            "crm.item.update",
            bj::object{{"entityTypeId", etid_}, {"id", id}, {"fields", bj::object{{"assignedById", to}}}});
    }

    // Both clocks to `iso`, then wait until the portal has delivered its events and the service is idle.
    void AdvanceTo(TimeMs t) {
        ASSERT_EQ(Admin("clock", bj::object{{"set_ms", t}}).at("status").as_int64(), 200);
        auto r = client_.Post(
            service_ + "/_admin/clock", json::Dump(bj::object{{"now", FormatIso8601(t)}}), "application/json", Auth());
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
        Settle();
    }
    void Settle() {
        int quiet = 0;
        // Bounded in real time: the Bitrix24 client backs off in real seconds after 503s (a portal's budget runs on
        // the wall clock whatever the simulated date).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (quiet < 3 && std::chrono::steady_clock::now() < deadline) {
            Admin("events/flush", bj::object{});
            auto status = Get(service_ + "/_admin/flows");
            const bool idle = json::Find(status, "idle") != nullptr && status.at("idle").as_bool();
            quiet = idle ? quiet + 1 : 0;
            if (!idle) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));  // real work in another process
            }
        }
        ASSERT_EQ(quiet, 3) << "dispatchd never settled";
    }

    bj::value Sla(std::int64_t id) {
        return Get(fmt::format("{}/api/v1/portals/{}/tickets/{}/sla", service_, member_, id));
    }
    // The portal answers the next `times` calls of `method` with HTTP 400 and `error`.
    void Refuse(const std::string& method, const std::string& error, int times) {
        auto faults = Admin("faults",
                            bj::object{{"fail",
                                        bj::object{{"method", method},
                                                   {"status", 400},
                                                   {"error", error},
                                                   {"error_description", "refused by the test"},
                                                   {"times", times}}}});
        ASSERT_EQ(faults.at("status").as_int64(), 200) << json::Dump(faults);
    }
    // GET /_admin/{queue}/dead of this portal: its rows (none when the answer has none).
    bj::array DeadLetters(const std::string& queue) {
        const bj::value dead = Get(fmt::format("{}/_admin/{}/dead?member_id={}", service_, queue, member_));
        const bj::value* rows = json::Find(dead, "dead");
        return rows != nullptr && rows->is_array() ? rows->as_array() : bj::array{};
    }
    // POST /_admin/{queue}/revive of this portal (`query`: "&ids=..."): the status and the body.
    std::pair<int, bj::value> Revive(const std::string& queue, const std::string& query = "") {
        auto r = client_.Post(fmt::format("{}/_admin/{}/revive?member_id={}{}", service_, queue, member_, query),
                              "",
                              "text/plain",
                              Auth());
        EXPECT_TRUE(r);
        return r ? std::pair{r->status, ParseOrText(r->body)} : std::pair{0, bj::value()};
    }
    int Count(const bj::value& list, const std::function<bool(const bj::value&)>& pred) {
        int n = 0;
        if (list.is_array()) {
            for (const auto& v : list.as_array()) {
                n += pred(v) ? 1 : 0;
            }
        }
        return n;
    }

    int run_ = 0;  // a second StartAll in one test gets a fresh database
    TempDir dir_;
    ChildProcess emu_;
    ChildProcess service_proc_;
    std::vector<std::string> env_;
    http::Client client_{http::ClientOptions{.ca_file = BinaryPath("certs/ca.pem")}};
    std::string admin_, base_, service_, member_;
    std::int64_t etid_ = 0, type_id_ = 0;
    std::map<std::string, std::map<std::string, std::int64_t>> enums_;
    std::map<std::string, std::int64_t> categories_;
};

TEST_F(Flows, TemplatesRouteAndSlaFieldsAreWrittenBack) {
    const auto c1 = File("1C: cannot post the March invoice", "1C", "NORMAL");
    const auto hw = File("Printer jammed", "HARDWARE", "HIGH");
    AdvanceTo(At("2026-03-02T06:01:00Z"));

    auto item = Item(c1);
    EXPECT_EQ(json::IntAt(item, "assignedById"), 25) << json::Dump(item);  // 1C → the 1C specialist
    EXPECT_THAT(std::vector<std::int64_t>({12, 13, 14}),
                ::testing::Contains(json::IntAt(Item(hw), "assignedById").value_or(0)));
    // Reaction 4 business hours from 09:00 Moscow: 13:00 Moscow.
    auto due = ParseIso8601(json::StringAt(item, Camel("SLA_REACTION_DUE")).value_or(""));
    ASSERT_TRUE(due) << json::Dump(item);
    EXPECT_EQ(*due, At("2026-03-02T10:00:00Z"));
    EXPECT_EQ(json::IntAt(item, Camel("SLA_STATE")), Enum("SLA_STATE", "RUNNING"));
    auto notes = Get(admin_ + "notifications");
    EXPECT_GE(Count(notes, [](const bj::value& n) { return json::IntAt(n, "to_user").value_or(0) == 25; }), 1)
        << json::Dump(notes);

    // The echo of our own writes changes nothing: settling again sends nothing more.
    auto before = Get(admin_ + "requests");
    AdvanceTo(At("2026-03-02T06:02:00Z"));
    auto after = Get(admin_ + "requests");
    auto writes = [](const bj::value& log) {
        int n = 0;
        for (const auto& r : log.is_array() ? log.as_array() : bj::array{}) {
            const std::string m = json::StringAt(r, "method").value_or("");
            n += (m == "crm.item.update" || m == "batch") ? 1 : 0;
        }
        return n;
    };
    EXPECT_EQ(writes(before), writes(after));
}

TEST_F(Flows, RequestWithoutTemplateIsClosedAndTheRequesterIsTold) {
    const auto id = File("Something is wrong", "", "NORMAL");
    AdvanceTo(At("2026-03-02T06:01:00Z"));
    auto item = Item(id);
    EXPECT_THAT(json::StringAt(item, "stageId").value_or(""), HasSubstr(":FAIL"));
    auto comments = Get(admin_ + "comments");
    EXPECT_THAT(json::Dump(comments), HasSubstr("шаблон"));
    auto notes = Get(admin_ + "notifications");
    EXPECT_EQ(Count(notes, [](const bj::value& n) { return json::IntAt(n, "to_user").value_or(0) == kRequester; }), 1)
        << json::Dump(notes);
}

TEST_F(Flows, FinishedRowsLeaveAfterTheRetentionAndTheLedgerStays) {
    const auto id = File("Something is wrong", "", "NORMAL");  // closed at once: events and actions, all done
    AdvanceTo(At("2026-03-02T06:01:00Z"));
    const bj::value before = Sla(id);
    const std::size_t ledger = before.at("ledger").as_array().size();
    const std::size_t actions = before.at("actions").as_array().size();
    ASSERT_GT(actions, 0U) << json::Dump(before);

    // The same database under a retention of one day.
    ASSERT_GT(service_proc_.Stop(SIGTERM, std::chrono::seconds(10)), -1);
    {
        auto config = json::Parse(Slurp(dir_.File("config.json"))).value();
        config.as_object()["flows"].as_object()["retention_days"] = 1;
        std::ofstream(dir_.File("config.json")) << json::Dump(config);
    }
    StartService("2026-03-02T06:01:00Z");
    Settle();
    EXPECT_EQ(Sla(id).at("actions").as_array().size(), actions) << "finished minutes ago: kept";

    // A day and an hour later the hourly job finds them a day old.
    AdvanceTo(At("2026-03-03T07:05:00Z"));
    const bj::value after = Sla(id);
    EXPECT_EQ(after.at("ledger").as_array().size(), ledger) << "the ledger is never purged";
    EXPECT_LT(after.at("actions").as_array().size(), actions) << json::Dump(after);
    auto metrics = client_.Get(service_ + "/metrics", Auth());
    ASSERT_TRUE(metrics);
    for (const char* queue : {"inbox", "outbox"}) {
        const std::string series = fmt::format("dispatch_retention_deleted_rows{{queue=\"{}\"}} ", queue);
        const auto at = metrics->body.find(series);
        ASSERT_NE(at, std::string::npos) << series << "\n" << metrics->body;
        EXPECT_GT(std::stod(metrics->body.substr(at + series.size())), 0.0) << series;
    }
}

TEST_F(Flows, UrgentRequestUntouchedEscalatesToLine2ThenToTheHead) {
    const auto id = File("Server room is hot", "HARDWARE", "URGENT");
    AdvanceTo(At("2026-03-02T06:01:00Z"));
    AdvanceTo(At("2026-03-02T06:25:00Z"));  // 20 minutes of reaction passed at 06:20Z

    const auto line2 = FunnelCategory("line2");
    ASSERT_TRUE(line2) << "no line-2 category on the portal";
    auto item = Item(id);
    EXPECT_EQ(json::IntAt(item, "categoryId"), *line2) << json::Dump(item);
    EXPECT_THAT(json::StringAt(item, "stageId").value_or(""),
                ::testing::StartsWith(fmt::format("DT{}_{}:", etid_, *line2)));
    EXPECT_EQ(json::IntAt(item, "assignedById"), 21);  // the line-2 dispatcher
    EXPECT_EQ(json::IntAt(item, Camel("SLA_ESCALATION_LEVEL")), 1);
    EXPECT_EQ(json::IntAt(item, Camel("SLA_LINE")), Enum("SLA_LINE", "LINE2"));

    AdvanceTo(At("2026-03-02T07:25:00Z"));  // level 2: breach + 60 minutes → the head of IT
    auto notes = json::Dump(Get(admin_ + "notifications"));
    EXPECT_THAT(notes, HasSubstr("escalation level 2"));
    auto sla = Sla(id);
    int escalated = 0;
    for (const auto& row : sla.at("ledger").as_array()) {
        if (json::StringAt(row, "kind") == "escalated") {
            ++escalated;
        }
    }
    EXPECT_EQ(escalated, 2) << json::Dump(sla);
}

TEST_F(Flows, ReviewIgnoredIsAutoAcceptedAfterThreeBusinessDaysAndReturnsAreCounted) {
    const auto id = File("New mouse please", "HARDWARE", "NORMAL");
    AdvanceTo(At("2026-03-02T06:01:00Z"));
    const auto specialist = json::IntAt(Item(id), "assignedById").value();
    Move(specialist, id, "IN_PROGRESS");
    AdvanceTo(At("2026-03-02T06:30:00Z"));
    Move(specialist, id, "REVIEW");
    AdvanceTo(At("2026-03-02T07:00:00Z"));
    Move(kRequester, id, "IN_PROGRESS");  // the requester returns it
    AdvanceTo(At("2026-03-02T07:10:00Z"));
    EXPECT_EQ(json::IntAt(Item(id), Camel("SLA_RETURNS")), 1) << json::Dump(Sla(id)) << json::Dump(Item(id));
    Move(specialist, id, "REVIEW");
    AdvanceTo(At("2026-03-02T08:00:00Z"));  // Monday 11:00 Moscow

    // 3 business days of line 1 → Thursday 11:00 Moscow; reminder a day before.
    AdvanceTo(At("2026-03-04T09:00:00Z"));
    EXPECT_THAT(json::Dump(Get(admin_ + "notifications")), HasSubstr("waiting for your review")) << json::Dump(Sla(id));
    AdvanceTo(At("2026-03-05T09:00:00Z"));
    auto item = Item(id);
    EXPECT_THAT(json::StringAt(item, "stageId").value_or(""), HasSubstr(":SUCCESS"))
        << json::Dump(Sla(id).at("next_timer"));
    EXPECT_EQ(json::StringAt(item, Camel("SLA_AUTO_ACCEPTED")).value_or(""), "Y");
}

TEST_F(Flows, KilledServiceFiresLateTimersAtTheirTrueInstantsAndSendsNothingTwice) {
    const auto id = File("VPN down", "ACCESS", "URGENT");
    AdvanceTo(At("2026-03-02T06:01:00Z"));
    ASSERT_GT(service_proc_.Stop(SIGKILL, std::chrono::seconds(5)), -1);

    // Down for an hour: the reaction deadline (06:20Z) passes unseen.
    ASSERT_EQ(Admin("clock", bj::object{{"set_ms", At("2026-03-02T07:00:00Z")}}).at("status").as_int64(), 200);
    StartService("2026-03-02T07:00:00Z");
    Settle();

    auto sla = Sla(id);
    bool found = false;
    for (const auto& row : sla.at("ledger").as_array()) {
        if (json::StringAt(row, "kind") == "escalated") {
            found = true;
            EXPECT_EQ(ParseIso8601(json::StringAt(row, "at").value()).value(), At("2026-03-02T06:20:00Z"));
        }
    }
    EXPECT_TRUE(found) << json::Dump(sla);
    EXPECT_EQ(json::IntAt(Item(id), "assignedById"), 21);
    // One escalation comment, however often the work was redone.
    auto comments = Get(admin_ + "comments");
    EXPECT_EQ(Count(comments,
                    [](const bj::value& c) { return json::Dump(c).find("escalation level 1") != std::string::npos; }),
              1)
        << json::Dump(comments);
}

TEST_F(Flows, EscalationLandsThroughA503StormAndAnExpiredToken) {
    const auto id = File("Mail server down", "WEB", "URGENT");
    AdvanceTo(At("2026-03-02T06:01:00Z"));
    // The portal refuses the next calls with QUERY_LIMIT_EXCEEDED and forgets every access token it issued.
    auto faults = Admin("faults",
                        bj::object{{"expire_tokens", true},
                                   {"fail",
                                    bj::object{{"method", "*"},
                                               {"status", 503},
                                               {"error", "QUERY_LIMIT_EXCEEDED"},
                                               {"error_description", "Too many requests"},
                                               {"times", 6}}}});
    ASSERT_EQ(faults.at("status").as_int64(), 200) << json::Dump(faults);
    AdvanceTo(At("2026-03-02T06:25:00Z"));
    // Retries back off on the service clock: give them the minutes they ask for.
    for (int minute = 26; minute <= 40; minute += 2) {
        AdvanceTo(At(fmt::format("2026-03-02T06:{:02}:00Z", minute).c_str()));
    }
    auto item = Item(id);
    EXPECT_EQ(json::IntAt(item, "assignedById"), 21) << json::Dump(Sla(id));
    EXPECT_EQ(json::IntAt(item, Camel("SLA_ESCALATION_LEVEL")), 1);
    const bj::value comments = Get(admin_ + "comments");
    EXPECT_EQ(Count(comments,
                    [](const bj::value& c) { return json::Dump(c).find("escalation level 1") != std::string::npos; }),
              1)
        << json::Dump(comments);
    const bj::value requests = Get(admin_ + "requests");
    EXPECT_GE(Count(requests,
                    [](const bj::value& r) {
                        const std::string d = json::Dump(r);
                        return d.find("QUERY_LIMIT_EXCEEDED") != std::string::npos ||
                               d.find("503") != std::string::npos;
                    }),
              1)
        << "the storm never reached the service";
}

TEST_F(Flows, AFailingEventIsTriedForHoursThenListedAsDeadAndRevivedOnceThePortalIsBack) {
    // The portal refuses every batch (the service's reads of items and their history) for longer than the retry
    // policy waits.
    Refuse("batch", "ERROR_CORE", 1000);
    const auto id = File("1C: cannot post the March invoice", "1C", "NORMAL");
    // The default policy: 20 tries, 1 s, 2 s, 4 s ... then 15 min apart, about two and a half hours in all. The
    // clock moves in 2-minute steps, each of which wakes the worker.
    const auto advance_to_minute = [&](int from, int to) {
        for (int minute = from; minute <= to; minute += 2) {
            AdvanceTo(At("2026-03-02T06:00:00Z") + minute * kMinuteMs);
        }
    };
    advance_to_minute(1, 121);
    EXPECT_TRUE(DeadLetters("inbox").empty()) << "still being tried after two hours";
    advance_to_minute(123, 211);
    const bj::array dead = DeadLetters("inbox");
    ASSERT_FALSE(dead.empty());
    for (const auto& row : dead) {
        EXPECT_EQ(json::IntAt(row, "item_id"), id) << json::Dump(row);
        EXPECT_EQ(json::IntAt(row, "tries"), 20) << json::Dump(row);
        EXPECT_THAT(json::StringAt(row, "last_error").value_or(""), HasSubstr("ERROR_CORE")) << json::Dump(row);
    }
    EXPECT_NE(json::IntAt(Item(id), "assignedById"), 25) << "nothing could be routed while the portal was down";

    ASSERT_EQ(Admin("faults", bj::object{{"clear", true}}).at("status").as_int64(), 200);
    const auto [status, revived] = Revive("inbox");
    ASSERT_EQ(status, 200) << json::Dump(revived);
    EXPECT_EQ(json::IntAt(revived, "revived"), static_cast<std::int64_t>(dead.size()));
    AdvanceTo(At("2026-03-02T09:33:00Z"));

    EXPECT_EQ(json::IntAt(Item(id), "assignedById"), 25) << "1C goes to the 1C specialist, late but routed";
    EXPECT_TRUE(DeadLetters("inbox").empty());
    EXPECT_EQ(Revive("inbox", "&ids=1,x").first, 400);
}

// True once a socket of the local `port` holds bytes its process has not read: b24emu, stopped, has been sent a
// request (from /proc/net/tcp: "sl local rem st tx_queue:rx_queue ...", addresses and queues in hex).
bool UnreadBytesAtPort(int port) {
    std::ifstream in("/proc/net/tcp");
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string sl, local, remote, st, queues;
        fields >> sl >> local >> remote >> st >> queues;
        const auto colon = local.rfind(':');
        const auto split = queues.find(':');
        if (colon == std::string::npos || split == std::string::npos) {
            continue;
        }
        if (std::stoi(local.substr(colon + 1), nullptr, 16) == port &&
            std::stoul(queues.substr(split + 1), nullptr, 16) > 0) {
            return true;
        }
    }
    return false;
}

// Reconciliation lists the portal's items over REST, and a portal may take its time. With one io thread, dispatchd
// still answers while such an admin call waits on a portal that does not answer at all (b24emu stopped): the call
// runs on the offload, so Bitrix24's events are acknowledged meanwhile.
TEST_F(Flows, AnAdminCallWaitingOnThePortalDoesNotHoldUpTheIoThread) {
    const std::string token = json::StringAt(Get(admin_ + "state").at("app"), "application_token").value_or("");
    ASSERT_FALSE(token.empty());
    service_proc_.Stop(SIGTERM, std::chrono::seconds(10));
    {
        auto config = json::Parse(Slurp(dir_.File("config.json"))).value();
        config.as_object()["threads"] = 1;
        std::ofstream(dir_.File("config.json")) << json::Dump(config);
    }
    StartService(kStart);
    const auto port_at = admin_.find(':', admin_.find("//") + 2);
    const int emu_port = std::stoi(admin_.substr(port_at + 1));

    ASSERT_EQ(::kill(emu_.Pid(), SIGSTOP), 0);
    struct Resume {
        pid_t pid;
        ~Resume() { ::kill(pid, SIGCONT); }
    } resume{emu_.Pid()};
    std::optional<http::Response> reconciled;  // read after the join
    std::atomic<bool> answered{false};
    std::thread admin([&] {
        http::Client client(http::ClientOptions{.ca_file = BinaryPath("certs/ca.pem")});
        auto r = client.Post(service_ + "/_admin/flows/reconcile?member_id=" + member_, "", "application/json", Auth());
        if (r) {
            reconciled = std::move(*r);
        }
        answered = true;
    });
    ASSERT_TRUE(testing::WaitFor(
        [&] { return UnreadBytesAtPort(emu_port); }, std::chrono::seconds(10), "dispatchd calling the stopped portal"));

    // The reconciliation now waits on the portal; an event and a health check are answered all the same.
    http::Client client(
        http::ClientOptions{.ca_file = BinaryPath("certs/ca.pem"), .request_timeout = std::chrono::seconds(10)});
    const std::string body = fmt::format(
        "event=ONCRMDYNAMICITEMUPDATE&data[FIELDS][ID]=999999&data[FIELDS][ENTITY_TYPE_ID]={}&ts=1772431200"
        "&auth[domain]=portal.example&auth[member_id]={}&auth[application_token]={}",
        etid_,
        member_,
        token);
    auto event = client.Post(service_ + "/b24/events", body, "application/x-www-form-urlencoded");
    auto health = client.Get(service_ + "/healthz");
    EXPECT_FALSE(answered.load()) << "the reconciliation finished without the portal";

    ::kill(emu_.Pid(), SIGCONT);
    admin.join();
    ASSERT_TRUE(event) << event.error().detail;
    EXPECT_EQ(event->status, 200) << event->body;
    ASSERT_TRUE(health) << health.error().detail;
    EXPECT_EQ(health->status, 200);
    ASSERT_TRUE(reconciled);
    EXPECT_EQ(reconciled->status, 200) << reconciled->body;
}

// workplace/sla.json describes 2026 only. Started in late November, dispatchd says that 2027's public holidays are
// missing, and /metrics tells how far each calendar is covered, for an alert that fires before New Year.
TEST_F(Flows, ANearYearWithoutItsProductionCalendarIsLoggedAndExported) {
    service_proc_.Stop(SIGTERM, std::chrono::seconds(10));
    StartService("2026-11-24T09:00:00Z");

    const std::string log = Slurp(dir_.File("dispatchd.log"));
    EXPECT_THAT(log, HasSubstr("production calendar missing"));
    EXPECT_THAT(log, HasSubstr("calendar=line1 year=2027 covered=2026"));
    EXPECT_THAT(log, HasSubstr("calendar=line2 year=2027 covered=2026"));
    EXPECT_THAT(log, ::testing::Not(HasSubstr("calendar=24x7 year=")));
    auto metrics = client_.Get(service_ + "/metrics", Auth());
    ASSERT_TRUE(metrics && metrics->status == 200);
    // 2027-01-01T00:00:00Z
    EXPECT_THAT(metrics->body,
                HasSubstr("dispatch_sla_production_calendar_until_seconds{calendar=\"line1\"} 1798761600"));
    EXPECT_THAT(metrics->body, ::testing::Not(HasSubstr("calendar=\"24x7\"")));
}

// A closed month's statistics are history: restarted three years later, dispatchd reports March 2026 as it did
// then (its business calendars reach back far enough to fold those tickets again).
TEST_F(Flows, AMonthsStatisticsStayTheSameWhenTheServiceRestartsYearsLater) {
    const auto id = File("Printer jam", "HARDWARE", "NORMAL");
    AdvanceTo(At("2026-03-02T07:00:00Z"));
    const std::int64_t assignee = json::IntAt(Item(id), "assignedById").value_or(0);
    ASSERT_NE(assignee, 0);
    Move(assignee, id, "IN_PROGRESS");
    AdvanceTo(At("2026-03-02T09:00:00Z"));
    Move(assignee, id, "REVIEW");
    AdvanceTo(At("2026-03-02T10:00:00Z"));
    Move(kRequester, id, "SUCCESS");
    Settle();
    const auto march = [&] {
        bj::value stats = Get(fmt::format("{}/api/v1/portals/{}/stats?from=2026-03&to=2026-03", service_, member_));
        EXPECT_TRUE(stats.is_object()) << json::Dump(stats);
        return stats.is_object() ? json::Dump(stats.at("totals")) : std::string();
    };
    const std::string then = march();
    ASSERT_THAT(then, HasSubstr(R"("closed":1)"));
    ASSERT_THAT(then, HasSubstr(R"("reaction":{"business":{"count":1,"median":60)"));

    service_proc_.Stop(SIGTERM, std::chrono::seconds(10));
    StartService("2029-03-02T06:00:00Z");

    EXPECT_EQ(march(), then);
}

// A service started in spring and left running: the daily check says in November that 2027 is missing.
TEST_F(Flows, AServiceLeftRunningIsToldInNovemberThatNextYearsProductionCalendarIsMissing) {
    EXPECT_THAT(Slurp(dir_.File("dispatchd.log")), ::testing::Not(HasSubstr("production calendar missing")));
    AdvanceTo(At("2026-10-31T06:00:00Z"));
    EXPECT_THAT(Slurp(dir_.File("dispatchd.log")), ::testing::Not(HasSubstr("production calendar missing")));

    AdvanceTo(At("2026-11-02T06:00:00Z"));

    EXPECT_THAT(Slurp(dir_.File("dispatchd.log")), HasSubstr("calendar=line1 year=2027 covered=2026"));
}

TEST_F(Flows, ActionsThePortalRefusedAreListedAndSentAgainWhenRevived) {
    Refuse("crm.item.update", "ACCESS_DENIED", 100);
    const auto id = File("1C: cannot post the March invoice", "1C", "NORMAL");
    AdvanceTo(At("2026-03-02T06:01:00Z"));

    const bj::array dead = DeadLetters("outbox");
    ASSERT_FALSE(dead.empty());
    for (const auto& row : dead) {
        EXPECT_EQ(json::StringAt(row, "method"), "crm.item.update") << json::Dump(row);
        EXPECT_EQ(json::IntAt(row, "tries"), 1) << "a refusal is not retried: " << json::Dump(row);
        EXPECT_THAT(json::StringAt(row, "last_error").value_or(""), HasSubstr("ACCESS_DENIED")) << json::Dump(row);
        EXPECT_FALSE(row.at("superseded").as_bool()) << "no later update of this ticket went out";
    }
    EXPECT_NE(json::IntAt(Item(id), "assignedById"), 25);
    auto metrics = client_.Get(service_ + "/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_THAT(metrics->body, HasSubstr(fmt::format("dispatch_outbox_depth{{state=\"dead\"}} {}", dead.size())))
        << "what an alert would watch";

    // What an operator runs: dispatchctl lists them, then revives them once the portal is fixed.
    const std::vector<std::string> admin{"--config",
                                         dir_.File("config.json"),
                                         "--url",
                                         service_,
                                         "--member",
                                         member_,
                                         "--ca",
                                         BinaryPath("certs/ca.pem")};
    std::vector<std::string> list{"dead", "list"};
    list.insert(list.end(), admin.begin(), admin.end());
    const auto listed = Ctl(list);
    ASSERT_EQ(listed.exit, 0) << listed.err;
    EXPECT_THAT(listed.out, HasSubstr(fmt::format("dead queue=inbox portal={} count=0", member_)));
    EXPECT_THAT(listed.out, HasSubstr(fmt::format("dead queue=outbox portal={} count={}", member_, dead.size())));
    EXPECT_THAT(listed.out, HasSubstr("method=crm.item.update"));
    EXPECT_THAT(listed.out, HasSubstr("superseded=false"));
    EXPECT_EQ(listed.out.find(kApiToken), std::string::npos);

    ASSERT_EQ(Admin("faults", bj::object{{"clear", true}}).at("status").as_int64(), 200);
    std::vector<std::string> revive{"dead", "revive", "--queue", "outbox"};
    revive.insert(revive.end(), admin.begin(), admin.end());
    const auto revived = Ctl(revive);
    ASSERT_EQ(revived.exit, 0) << revived.err;
    EXPECT_THAT(revived.out, HasSubstr(fmt::format("revived queue=outbox portal={} count={}", member_, dead.size())));
    AdvanceTo(At("2026-03-02T06:02:00Z"));

    EXPECT_EQ(json::IntAt(Item(id), "assignedById"), 25) << "1C goes to the 1C specialist once the portal lets us";
    EXPECT_TRUE(DeadLetters("outbox").empty());
}

// The same people doing the same things, once with every event delivered and once with 30% of them dropped by the
// portal: stage history and the reconciliation sweep must bring both to the same ledgers and fields.
TEST_F(Flows, DroppedEventsEndInTheSameLedgersAndFields) {
    auto play = [&]() {
        std::vector<std::int64_t> ids;
        const std::pair<const char*, const char*> requests[] = {{"1C", "NORMAL"},
                                                                {"HARDWARE", "HIGH"},
                                                                {"ACCESS", "NORMAL"},
                                                                {"SOFTWARE", "LOW"},
                                                                {"WEB", "NORMAL"},
                                                                {"", "NORMAL"}};
        for (const auto& [tpl, priority] : requests) {
            ids.push_back(File(fmt::format("request {}", ids.size() + 1), tpl, priority));
        }
        // Past the first reconciliation sweep (every 15 minutes from the install): requests whose creation event
        // was dropped are routed by then, so people find the same assignees in both plays.
        AdvanceTo(At("2026-03-02T06:20:00Z"));
        for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
            const std::int64_t assignee = json::IntAt(Item(ids[i]), "assignedById").value_or(0);
            Move(assignee, ids[i], "IN_PROGRESS");
        }
        AdvanceTo(At("2026-03-02T07:00:00Z"));
        Move(json::IntAt(Item(ids[1]), "assignedById").value(), ids[1], "WAITING");
        Move(json::IntAt(Item(ids[2]), "assignedById").value(), ids[2], "REVIEW");
        AdvanceTo(At("2026-03-02T08:00:00Z"));
        Move(kRequester, ids[2], "IN_PROGRESS");  // a return
        Move(json::IntAt(Item(ids[1]), "assignedById").value(), ids[1], "IN_PROGRESS");
        Move(json::IntAt(Item(ids[0]), "assignedById").value(), ids[0], "REVIEW");
        AdvanceTo(At("2026-03-02T09:00:00Z"));
        Move(kRequester, ids[0], "SUCCESS");
        AdvanceTo(At("2026-03-02T10:00:00Z"));
        auto r =
            client_.Post(service_ + "/_admin/flows/reconcile?member_id=" + member_, "", "application/json", Auth());
        EXPECT_TRUE(r && r->status == 200);
        Settle();

        std::map<std::int64_t, std::string> outcome;
        for (auto id : ids) {
            auto item = Item(id);
            std::string line = json::StringAt(item, "stageId").value_or("");
            line = line.substr(line.find(':'));
            for (const char* code : {"SLA_STATE",
                                     "SLA_RETURNS",
                                     "SLA_ESCALATION_LEVEL",
                                     "SLA_LINE",
                                     "SLA_REACTION_ON_TIME",
                                     "SLA_REACTION_MINUTES",
                                     "SLA_RESOLUTION_ON_TIME"}) {
                const bj::value* v = json::Find(item, Camel(code));
                line += fmt::format(" {}={}", code, v != nullptr ? json::Dump(*v) : "-");
            }
            // Stage moves carry their true instants from the stage history whatever was dropped; attribute changes
            // carry the instant the service learnt of them (Bitrix24 keeps no history of those), so only their kind
            // is compared. A warning may go out while a dropped event hides a reaction until the next sweep: a cost
            // of lost events, not a wrong outcome.
            const bj::value sla = Sla(id);
            line += " ledger:";
            for (const auto& row : sla.at("ledger").as_array()) {
                const std::string kind = json::StringAt(row, "kind").value_or("");
                if (kind == "warned") {
                    continue;
                }
                line += " " + kind;
                if (kind == "stage_moved" || kind == "created" || kind == "escalated") {
                    line += "@" + json::StringAt(row, "at").value_or("");
                }
            }
            outcome[id] = line;
        }
        return outcome;
    };
    const auto all = play();
    StartAll(0.3);
    const auto dropped = play();
    int lost = 0;
    const bj::value events = Get(admin_ + "events");
    for (const auto& e : events.as_array()) {
        lost += json::StringAt(e, "outcome").value_or("") == "dropped" ? 1 : 0;
    }
    EXPECT_GT(lost, 0) << "the emulator dropped nothing: the test proves nothing";
    for (const auto& [id, line] : all) {
        EXPECT_EQ(line, dropped.count(id) ? dropped.at(id) : std::string("(missing)")) << "item " << id;
    }
}

// `dispatchctl stats export` on demand: one "HelpDesk KPI" item per period and scope, created once, holding what the
// statistics API computes; a second export writes nothing; after more work only what changed is updated.
TEST_F(Flows, KpiItemsAreWrittenBackOnDemandAndOnlyChangesAreWrittenAgain) {
    const auto c1 = File("1C: cannot post the March invoice", "1C", "NORMAL");
    const auto hw = File("Printer jammed", "HARDWARE", "HIGH");
    File("Something is wrong", "", "NORMAL");  // no template: auto-closed
    AdvanceTo(At("2026-03-02T06:01:00Z"));
    const auto specialist = json::IntAt(Item(hw), "assignedById").value();
    Move(specialist, hw, "IN_PROGRESS");
    AdvanceTo(At("2026-03-02T06:30:00Z"));
    Move(specialist, hw, "REVIEW");
    AdvanceTo(At("2026-03-02T07:00:00Z"));
    Move(kRequester, hw, "SUCCESS");
    AdvanceTo(At("2026-03-02T07:30:00Z"));

    std::int64_t kpi_type = 0, kpi_etid = 0;
    const bj::value types = Act(1, "crm.type.list", bj::object{});
    for (const auto& t : types.at("types").as_array()) {
        if (json::StringAt(t, "code").value_or("") == "helpdesk_kpi") {
            kpi_type = json::IntAt(t, "id").value();
            kpi_etid = json::IntAt(t, "entityTypeId").value();
        }
    }
    ASSERT_GT(kpi_etid, 0) << "provisioning created no KPI smart process";
    const auto field = [&](const std::string& code) { return Camel(kpi_type, code); };
    const auto kpi_items = [&] {
        std::map<std::string, bj::object> by_key;
        auto list =
            Act(1, "crm.item.list", bj::object{{"entityTypeId", kpi_etid}, {"select", bj::array{"id", "*", "uf_*"}}});
        for (const auto& item : list.at("items").as_array()) {
            by_key[json::StringAt(item, field("KPI_KEY")).value_or("")] = item.as_object();
        }
        return by_key;
    };
    const auto export_kpis = [&](const std::string& name) {
        const std::string out = dir_.File(name);
        // Only the API token: the portals' secrets stay with the service.
        const std::string cmd = std::string("env -u DISPATCH_HOOK_KEY -u DISPATCH_CLIENT_SECRET DISPATCH_API_TOKEN=") +
                                kApiToken + " " + DISPATCHCTL_BIN + " stats export --config " +
                                dir_.File("config.json") + " --url " + service_ + " --ca " +
                                BinaryPath("certs/ca.pem") + " --from 2026-03 --to 2026-03 >" + out + " 2>&1";
        EXPECT_EQ(std::system(cmd.c_str()), 0) << Slurp(out);
        Settle();
        return Slurp(out);
    };
    const auto writes = [&](const bj::value& log) {
        int n = 0;
        for (const auto& r : log.is_array() ? log.as_array() : bj::array{}) {
            const std::string m = json::StringAt(r, "method").value_or("");
            n += (m == "crm.item.add" || m == "crm.item.update" || m == "batch") ? 1 : 0;
        }
        return n;
    };
    const auto matches_stats = [&](const std::map<std::string, bj::object>& items) {
        auto stats =
            Get(fmt::format("{}/api/v1/portals/{}/stats?from=2026-03&to=2026-03&group_by=month", service_, member_));
        const bj::value& totals = stats.at("totals");
        ASSERT_EQ(items.count("month:2026-03:all"), 1u) << json::Dump(stats);
        const bj::object& all = items.at("month:2026-03:all");
        for (const auto& [code, key] : std::vector<std::pair<std::string, std::string>>{
                 {"KPI_CREATED", "created"}, {"KPI_CLOSED", "closed"}, {"KPI_AUTO_CLOSED", "auto_closed"}}) {
            EXPECT_EQ(json::IntAt(all, field(code)), json::IntAt(totals, key)) << code << " " << json::Dump(all);
        }
    };

    // Without the token the API refuses the export, and the command says which variable it lacks.
    auto refused = client_.Post(service_ + "/_admin/kpi/export?member_id=" + member_, "", "application/json");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 401);
    const std::string no_token = dir_.File("export0.out");
    EXPECT_NE(std::system(("env -u DISPATCH_API_TOKEN " + std::string(DISPATCHCTL_BIN) + " stats export --config " +
                           dir_.File("config.json") + " --url " + service_ + " >" + no_token + " 2>&1")
                              .c_str()),
              0);
    EXPECT_THAT(Slurp(no_token), HasSubstr("DISPATCH_API_TOKEN is not set")) << Slurp(no_token);

    const std::string first = export_kpis("export1.out");
    EXPECT_THAT(first, HasSubstr("written")) << first;
    EXPECT_THAT(first, ::testing::Not(HasSubstr("created=0 "))) << first;
    auto items = kpi_items();
    matches_stats(items);
    // The KPI writes as the service's outbox tracks them (what the command waited on): all sent, one per item.
    const auto progress = Get(fmt::format("{}/_admin/outbox?member_id={}&prefix={}/kpi/", service_, member_, member_));
    EXPECT_EQ(json::IntAt(progress, "pending").value_or(-1) + json::IntAt(progress, "leased").value_or(-1), 0)
        << json::Dump(progress);
    EXPECT_EQ(json::IntAt(progress, "done"), static_cast<std::int64_t>(items.size())) << json::Dump(progress);
    EXPECT_EQ(json::IntAt(items.at("month:2026-03:all"), field("KPI_CREATED")), 3);
    EXPECT_EQ(json::IntAt(items.at("month:2026-03:all"), field("KPI_AUTO_CLOSED")), 1);
    EXPECT_EQ(items.count("year:2026:all"), 1u);
    EXPECT_EQ(items.count(fmt::format("month:2026-03:assignee:{}", specialist)), 1u);
    EXPECT_EQ(items.count("month:2026-03:assignee:25"), 1u);  // the 1C specialist's open load

    const auto before = Get(admin_ + "requests");
    const std::string second = export_kpis("export2.out");
    EXPECT_THAT(second, HasSubstr("created=0 updated=0")) << second;
    EXPECT_EQ(writes(before), writes(Get(admin_ + "requests")));
    EXPECT_EQ(kpi_items().size(), items.size());

    Move(25, c1, "IN_PROGRESS");
    AdvanceTo(At("2026-03-02T08:00:00Z"));
    const std::string third = export_kpis("export3.out");
    EXPECT_THAT(third, HasSubstr("created=0 ")) << third;
    EXPECT_THAT(third, ::testing::Not(HasSubstr("updated=0 "))) << third;
    const auto after = kpi_items();
    EXPECT_EQ(after.size(), items.size());
    matches_stats(after);
}

}  // namespace
}  // namespace dispatch
