// Provisioning against b24emu as a real process over HTTPS: what a fresh apply creates (read back through the REST
// API, not from our own records), that a second apply sends no write, that hand edits show as drift and are
// repaired, that an apply cut off by a failure or a 503 storm completes on the next run without duplicates, and
// that the default funnel is reshaped in place without stray stages.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "b24/methods.hpp"
#include "core/errc.hpp"
#include "core/json.hpp"
#include "emu_portal.hpp"
#include "provision/provisioner.hpp"
#include "support/test_support.hpp"

namespace dispatch::provision {
namespace {

namespace bj = boost::json;
using testing::EmuClient;
using ::testing::HasSubstr;

constexpr std::string_view kPublicUrl = "https://dispatch.test";

const std::set<std::string> kReadMethods = {"crm.automatedsolution.list",
                                            "crm.type.list",
                                            "event.get",
                                            "bizproc.robot.list",
                                            "crm.category.list",
                                            "crm.status.list",
                                            "userfieldconfig.list",
                                            "crm.item.list"};

class ProvisionTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto spec = LoadWorkplaceSpec(dispatch::testing::SourcePath("workplace/helpdesk.json"),
                                      dispatch::testing::SourcePath("schemas/workplace.schema.json"));
        ASSERT_THAT(spec, IsOk());
        spec_ = std::move(*spec);
        std::string error;
        ASSERT_TRUE(emu_.Start(B24EMU_BIN, dir_.File("b24emu.log"), error)) << error;
    }

    ProvisionOptions Options(bool apply, bool app_context, bool prune = false) {
        ProvisionOptions options;
        options.apply = apply;
        options.plan.app_context = app_context;
        options.plan.public_url = std::string(kPublicUrl);
        options.plan.prune = prune;
        options.progress = [this](const std::string& line) { progress_.push_back(line); };
        options.save_layout = [this](const Layout& layout) -> Result<void> {
            layout_text_ = json::Dump(layout.ToJson());
            ++saves_;
            return {};
        };
        return options;
    }

    // One run with the layout the previous runs stored (as dispatchctl does with the store).
    Result<ProvisionOutcome> Run(EmuClient& client, const ProvisionOptions& options) {
        std::optional<Layout> stored;
        if (!layout_text_.empty()) {
            auto parsed = Layout::FromJson(*json::Parse(layout_text_));
            EXPECT_THAT(parsed, IsOk());
            if (parsed) {
                stored = std::move(*parsed);
            }
        }
        return Provision(client.Get(), spec_, stored ? &*stored : nullptr, options);
    }

    Result<ProvisionOutcome> Apply(EmuClient& client, bool prune = false) {
        return Run(client, Options(true, client_mode_ == EmuClient::Mode::kOAuth, prune));
    }
    Result<ProvisionOutcome> PlanOnly(EmuClient& client) {
        return Run(client, Options(false, client_mode_ == EmuClient::Mode::kOAuth));
    }

    // ---- reading the portal back through REST (the admin's incoming webhook) ----------------------------------

    std::vector<bj::object> Types(b24::Client& reader) {
        auto types = b24::TypeList(reader);
        EXPECT_THAT(types, IsOk());
        return types ? *types : std::vector<bj::object>{};
    }

    const bj::object* TypeWithCode(const std::vector<bj::object>& types, std::string_view code) {
        const bj::object* found = nullptr;
        int count = 0;
        for (const auto& t : types) {
            if (json::StringAt(bj::value(t), "code") == code) {
                found = &t;
                ++count;
            }
        }
        EXPECT_LE(count, 1) << "duplicate types with code " << code;
        return found;
    }

    std::vector<bj::object> Categories(b24::Client& reader, std::int64_t entity_type_id) {
        auto categories = b24::CategoryList(reader, entity_type_id);
        EXPECT_THAT(categories, IsOk());
        return categories ? *categories : std::vector<bj::object>{};
    }

    std::vector<bj::object> Stages(b24::Client& reader, std::int64_t entity_type_id, std::int64_t category_id) {
        b24::ListQuery query;
        query.filter = {{"ENTITY_ID", fmt::format("DYNAMIC_{}_STAGE_{}", entity_type_id, category_id)}};
        query.order = {{"SORT", "ASC"}};
        auto stages = b24::StatusList(reader, query);
        EXPECT_THAT(stages, IsOk());
        return stages ? *stages : std::vector<bj::object>{};
    }

    std::vector<bj::object> Fields(b24::Client& reader, std::int64_t type_id) {
        b24::ListQuery query;
        query.filter = {{"entityId", fmt::format("CRM_{}", type_id)}};
        auto fields = b24::UserFieldConfigList(reader, "crm", query);
        EXPECT_THAT(fields, IsOk());
        return fields ? *fields : std::vector<bj::object>{};
    }

    static std::string Code(const bj::object& stage) {
        const auto id = json::StringAt(bj::value(stage), "STATUS_ID").value_or("");
        return id.substr(id.find(':') + 1);
    }

    // Everything the spec declares is in the portal, once, with no stray stage in our funnels.
    void ExpectPortalMatchesSpec(b24::Client& reader) {
        const auto types = Types(reader);
        std::vector<std::int64_t> our_type_ids;
        for (const auto& process : spec_.smart_processes) {
            SCOPED_TRACE(process.code);
            const auto* type = TypeWithCode(types, process.code);
            ASSERT_NE(type, nullptr);
            const bj::value tv(*type);
            EXPECT_EQ(json::StringAt(tv, "title"), process.title);
            for (const auto& [flag, value] : process.features.Managed()) {
                EXPECT_EQ(json::StringAt(tv, flag), value ? "Y" : "N") << flag;
            }
            const auto type_id = *json::IntAt(tv, "id");
            const auto e = *json::IntAt(tv, "entityTypeId");
            our_type_ids.push_back(type_id);
            if (!process.funnels.empty()) {
                const auto categories = Categories(reader, e);
                ASSERT_EQ(categories.size(), process.funnels.size());
                for (const auto& funnel : process.funnels) {
                    SCOPED_TRACE(funnel.code);
                    const auto c = std::find_if(categories.begin(), categories.end(), [&](const bj::object& c) {
                        return json::StringAt(bj::value(c), "name") == funnel.name.Get(spec_.language);
                    });
                    ASSERT_NE(c, categories.end());
                    EXPECT_EQ(json::StringAt(bj::value(*c), "isDefault"), funnel.is_default ? "Y" : "N");
                    EXPECT_EQ(json::IntAt(bj::value(*c), "sort"), funnel.sort);
                    const auto stages = Stages(reader, e, *json::IntAt(bj::value(*c), "id"));
                    std::vector<std::string> codes;
                    for (const auto& s : stages) {
                        codes.push_back(Code(s));
                    }
                    std::vector<std::string> want;
                    for (const auto& s : funnel.stages) {
                        want.push_back(s.code);
                    }
                    EXPECT_EQ(codes, want);  // in SORT order, no strays
                    for (const auto& s : stages) {
                        const auto* spec_stage = funnel.FindStage(Code(s));
                        ASSERT_NE(spec_stage, nullptr);
                        EXPECT_EQ(json::StringAt(bj::value(s), "NAME"), spec_stage->name.Get(spec_.language));
                        EXPECT_EQ(json::StringAt(bj::value(s), "COLOR"), spec_stage->color);
                    }
                }
            }
            const auto fields = Fields(reader, type_id);
            EXPECT_EQ(fields.size(), process.fields.size());
            for (const auto& field : process.fields) {
                const auto f = std::find_if(fields.begin(), fields.end(), [&](const bj::object& f) {
                    return json::StringAt(bj::value(f), "fieldName") == field.UfName(type_id);
                });
                ASSERT_NE(f, fields.end()) << field.code;
                EXPECT_EQ(json::StringAt(bj::value(*f), "userTypeId"), std::string(ToString(field.type)));
                if (field.type == FieldType::kEnumeration) {
                    std::set<std::string> xml_ids;
                    for (const auto& item : f->at("enum").as_array()) {
                        xml_ids.insert(json::StringAt(item, "xmlId").value_or(""));
                    }
                    EXPECT_EQ(xml_ids.size(), field.items.size()) << field.code;
                    for (const auto& item : field.items) {
                        EXPECT_EQ(xml_ids.count(item.xml_id), 1u) << field.code << " " << item.xml_id;
                    }
                }
            }
        }
        auto solutions = reader.Call("crm.automatedsolution.list", {});
        ASSERT_THAT(solutions, IsOk());
        int ours = 0;
        for (const auto& s : solutions->at("automatedSolutions").as_array()) {
            if (json::StringAt(s, "title") == spec_.workplace.title) {
                ++ours;
                std::set<std::int64_t> linked;
                for (const auto& id : s.at("typeIds").as_array()) {
                    linked.insert(*json::ToInt(id));
                }
                for (const auto id : our_type_ids) {
                    EXPECT_EQ(linked.count(id), 1u) << "type " << id << " not in the workplace";
                }
            }
        }
        EXPECT_EQ(ours, 1);
    }

    // Bindings and robots (application context only).
    void ExpectAppObjects(b24::Client& app) {
        auto bindings = app.Call("event.get", {});
        ASSERT_THAT(bindings, IsOk());
        for (const auto& event : spec_.events) {
            int count = 0;
            for (const auto& b : bindings->as_array()) {
                if (json::StringAt(b, "event") == event.event &&
                    json::StringAt(b, "handler") == std::string(kPublicUrl) + event.handler) {
                    ++count;
                }
            }
            EXPECT_EQ(count, 1) << event.event;
        }
        auto robots = app.Call("bizproc.robot.list", {});
        ASSERT_THAT(robots, IsOk());
        std::set<std::string> codes;
        for (const auto& r : robots->as_array()) {
            codes.insert(json::ToString(r).value_or(""));
        }
        for (const auto& robot : spec_.robots) {
            EXPECT_EQ(codes.count(robot.code), 1u) << robot.code;
        }
    }

    bj::object StateOfInterest() {
        const auto state = emu_.AdminGet("state");
        bj::object out;
        for (const char* key :
             {"seq", "solutions", "types", "categories", "stages", "user_fields", "bindings", "robots"}) {
            if (const auto* v = json::Find(state, key)) {
                out[key] = *v;
            }
        }
        return out;
    }

    std::int64_t EntityTypeId(b24::Client& reader, std::string_view code) {
        const auto types = Types(reader);
        const auto* t = TypeWithCode(types, code);
        return t != nullptr ? json::IntAt(bj::value(*t), "entityTypeId").value_or(0) : 0;
    }

    std::int64_t TypeId(b24::Client& reader, std::string_view code) {
        const auto types = Types(reader);
        const auto* t = TypeWithCode(types, code);
        return t != nullptr ? json::IntAt(bj::value(*t), "id").value_or(0) : 0;
    }

    // The category of a funnel by its name (the test knows the names; the code under test never relies on them).
    bj::object Category(b24::Client& reader, std::int64_t e, std::string_view name) {
        for (const auto& c : Categories(reader, e)) {
            if (json::StringAt(bj::value(c), "name") == name) {
                return c;
            }
        }
        ADD_FAILURE() << "no funnel " << name;
        return {};
    }

    const PlanEntry* Entry(const Plan& plan, ObjectKind kind, std::string_view path) {
        for (const auto& e : plan.entries) {
            if (e.kind == kind && e.path == path) {
                return &e;
            }
        }
        return nullptr;
    }

    dispatch::testing::TempDir dir_;
    dispatch::testing::EmuPortal emu_;
    WorkplaceSpec spec_;
    EmuClient::Mode client_mode_ = EmuClient::Mode::kOAuth;
    std::string layout_text_;
    int saves_ = 0;
    std::vector<std::string> progress_;
};

TEST_F(ProvisionTest, FreshApplyCreatesEverythingAsReadBackThroughRest) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    EmuClient reader(emu_, EmuClient::Mode::kWebhook);

    auto outcome = Apply(app);

    ASSERT_THAT(outcome, IsOk());
    EXPECT_TRUE(outcome->plan.HasChanges());
    EXPECT_TRUE(outcome->remaining.ops.empty());
    EXPECT_FALSE(outcome->remaining.HasChanges());
    ExpectPortalMatchesSpec(reader.Get());
    ExpectAppObjects(app.Get());
    // The stored layout holds the ids the portal assigned.
    ASSERT_FALSE(layout_text_.empty());
    auto layout = Layout::FromJson(*json::Parse(layout_text_));
    ASSERT_THAT(layout, IsOk());
    const auto* requests = layout->FindProcess("it_request");
    ASSERT_NE(requests, nullptr);
    EXPECT_EQ(requests->entity_type_id, EntityTypeId(reader.Get(), "it_request"));
    EXPECT_EQ(requests->type_id, TypeId(reader.Get(), "it_request"));
    ASSERT_EQ(requests->funnels.size(), 3u);
    const auto line2 = Category(reader.Get(), requests->entity_type_id, "Line 2");
    EXPECT_EQ(requests->FindFunnel("line2")->category_id, json::IntAt(bj::value(line2), "id"));
    EXPECT_EQ(requests->StatusIdFor("line2", StageRole::kWaiting),
              fmt::format("DT{}_{}:WAITING", requests->entity_type_id, *json::IntAt(bj::value(line2), "id")));
    EXPECT_NE(requests->EnumId("TEMPLATE", "1C"), 0);
    EXPECT_EQ(requests->FindField("SLA_STATE")->uf_name, fmt::format("UF_CRM_{}_SLA_STATE", requests->type_id));
    EXPECT_NE(layout->workplace_id, 0);
    EXPECT_NE(layout->FindProcess("helpdesk_kpi"), nullptr);
    // A progress line per request, each naming what it did.
    EXPECT_FALSE(progress_.empty());
    EXPECT_THAT(progress_.back(), HasSubstr("write"));
}

TEST_F(ProvisionTest, SecondApplyMakesNoWriteCall) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    ASSERT_THAT(Apply(app), IsOk());
    const auto before = StateOfInterest();
    const auto logged_before = emu_.Requests().size();
    app.Recorder().Take();

    auto second = Apply(app);

    ASSERT_THAT(second, IsOk());
    EXPECT_EQ(second->write_calls, 0);
    EXPECT_FALSE(second->plan.HasChanges());
    // The emulator's log: only reads (batches of reads) were served.
    const auto log = emu_.Requests();
    ASSERT_GT(log.size(), logged_before);
    for (std::size_t i = logged_before; i < log.size(); ++i) {
        const auto method = json::StringAt(log[i], "method").value_or("");
        EXPECT_TRUE(method == "batch" || kReadMethods.count(method) != 0) << method;
        EXPECT_EQ(json::IntAt(log[i], "status"), 200);
    }
    // What those batches carried, as sent on the wire.
    for (const auto& sent : app.Recorder().Take()) {
        for (const auto& call : sent.calls) {
            EXPECT_EQ(kReadMethods.count(call), 1u) << call;
        }
    }
    // And the portal is exactly as it was: no object changed, no id was taken.
    EXPECT_EQ(json::Dump(StateOfInterest()), json::Dump(before));
}

TEST_F(ProvisionTest, RenamedStageAndDeletedFieldShowAsDriftAndApplyRepairsThem) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    EmuClient reader(emu_, EmuClient::Mode::kWebhook);
    ASSERT_THAT(Apply(app), IsOk());
    const auto e = EntityTypeId(reader.Get(), "it_request");
    const auto type_id = TypeId(reader.Get(), "it_request");
    const auto line1 = Category(reader.Get(), e, "Line 1");
    const auto stages = Stages(reader.Get(), e, *json::IntAt(bj::value(line1), "id"));
    const auto queued =
        std::find_if(stages.begin(), stages.end(), [](const bj::object& s) { return Code(s) == "QUEUED"; });
    ASSERT_NE(queued, stages.end());
    const auto fields = Fields(reader.Get(), type_id);
    const auto sla_state = std::find_if(fields.begin(), fields.end(), [&](const bj::object& f) {
        return json::StringAt(bj::value(f), "fieldName") == fmt::format("UF_CRM_{}_SLA_STATE", type_id);
    });
    ASSERT_NE(sla_state, fields.end());
    // By hand, in the portal's UI.
    emu_.Act("crm.status.update",
             {{"id", *json::IntAt(bj::value(*queued), "ID")}, {"fields", bj::object{{"NAME", "Queue"}}}});
    emu_.Act("userfieldconfig.delete", {{"moduleId", "crm"}, {"id", *json::IntAt(bj::value(*sla_state), "id")}});

    auto plan = PlanOnly(app);

    ASSERT_THAT(plan, IsOk());
    const auto* stage = Entry(plan->plan, ObjectKind::kStage, "it_request/line1/QUEUED");
    ASSERT_NE(stage, nullptr);
    EXPECT_EQ(stage->action, Action::kDrift);
    EXPECT_THAT(stage->note, HasSubstr("'Queue'"));
    const auto* field = Entry(plan->plan, ObjectKind::kField, "it_request/SLA_STATE");
    ASSERT_NE(field, nullptr);
    EXPECT_EQ(field->action, Action::kDrift);
    EXPECT_EQ(plan->plan.Count(Action::kDrift), 2u);
    EXPECT_EQ(plan->write_calls, 0);

    auto repaired = Apply(app);

    ASSERT_THAT(repaired, IsOk());
    EXPECT_EQ(repaired->write_calls, 2);
    ExpectPortalMatchesSpec(reader.Get());
    auto after = PlanOnly(app);
    ASSERT_THAT(after, IsOk());
    EXPECT_FALSE(after->plan.HasChanges());
    // The layout follows the recreated field.
    auto layout = Layout::FromJson(*json::Parse(layout_text_));
    ASSERT_THAT(layout, IsOk());
    EXPECT_NE(layout->FindProcess("it_request")->FindField("SLA_STATE")->id, *json::IntAt(bj::value(*sla_state), "id"));
}

TEST_F(ProvisionTest, FailureInjectedMidwayStopsWithTheCallAndAReRunCompletesWithoutDuplicates) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    EmuClient reader(emu_, EmuClient::Mode::kWebhook);
    emu_.FailNext("userfieldconfig.add", 1, 400, "", "Fail to create new user field");

    auto cut = Apply(app);

    ASSERT_FALSE(cut.has_value());
    EXPECT_THAT(cut.error().detail, HasSubstr("call userfieldconfig.add for field"));
    EXPECT_THAT(cut.error().detail, HasSubstr("already done:"));
    EXPECT_THAT(cut.error().detail, HasSubstr("stage:"));  // the stages were done before the fields
    EXPECT_GT(saves_, 0);                                  // and what exists was recorded
    auto layout = Layout::FromJson(*json::Parse(layout_text_));
    ASSERT_THAT(layout, IsOk());
    EXPECT_NE(layout->workplace_id, 0);
    for (const auto* code : {"it_request", "helpdesk_kpi"}) {
        const auto* process = layout->FindProcess(code);
        ASSERT_NE(process, nullptr) << code;
        EXPECT_EQ(process->type_id, TypeId(reader.Get(), code)) << code;
    }
    EXPECT_EQ(layout->FindProcess("it_request")->funnels.size(), 3u);

    auto rerun = Apply(app);

    ASSERT_THAT(rerun, IsOk());
    ExpectPortalMatchesSpec(reader.Get());  // every object once: no twin type, funnel, stage or field
    ExpectAppObjects(app.Get());
}

TEST_F(ProvisionTest, FailureBeforeANewTypeIsReadBackKeepsTheStoredLayout) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    EmuClient reader(emu_, EmuClient::Mode::kWebhook);
    ASSERT_THAT(Apply(app), IsOk());
    const auto kpi_type_id = TypeId(reader.Get(), "helpdesk_kpi");
    // Deleted by hand: the next apply creates it again, and its funnels are read in the same batch, after the
    // workplace is linked to it. That link fails, so the run stops before it has read what the new type holds.
    emu_.Act("crm.type.delete", {{"id", TypeId(reader.Get(), "it_request")}});
    emu_.FailNext("crm.automatedsolution.update", 1, 400, "ACCESS_DENIED", "Access denied");

    auto cut = Apply(app);

    ASSERT_FALSE(cut.has_value());
    EXPECT_THAT(cut.error().detail, HasSubstr("crm.automatedsolution.update"));
    // What the earlier run recorded is still there for the next one to start from.
    auto layout = Layout::FromJson(*json::Parse(layout_text_));
    ASSERT_THAT(layout, IsOk());
    EXPECT_NE(layout->workplace_id, 0);
    ASSERT_NE(layout->FindProcess("helpdesk_kpi"), nullptr);
    EXPECT_EQ(layout->FindProcess("helpdesk_kpi")->type_id, kpi_type_id);

    auto rerun = Apply(app);

    ASSERT_THAT(rerun, IsOk());
    ExpectPortalMatchesSpec(reader.Get());
}

TEST_F(ProvisionTest, FailureBeforeTheFunnelsAreLinkedStillCompletesOnTheNextRunWithoutALayout) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    EmuClient reader(emu_, EmuClient::Mode::kWebhook);
    emu_.FailNext("crm.category.add", 1, 400, "ACCESS_DENIED", "Access denied");
    ProvisionOptions options = Options(true, true);
    options.save_layout = nullptr;  // as with an incoming webhook and no store: nothing remembers the ids

    auto cut = Provision(app.Get(), spec_, nullptr, options);
    ASSERT_FALSE(cut.has_value());
    EXPECT_THAT(cut.error().detail, HasSubstr("crm.category.add"));
    auto rerun = Provision(app.Get(), spec_, nullptr, options);

    ASSERT_THAT(rerun, IsOk());
    ExpectPortalMatchesSpec(reader.Get());
}

TEST_F(ProvisionTest, ServiceUnavailableStormIsRiddenOutWithinOneApply) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    EmuClient reader(emu_, EmuClient::Mode::kWebhook);
    emu_.FailNext("batch", 4, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests");

    auto outcome = Apply(app);

    ASSERT_THAT(outcome, IsOk());
    ExpectPortalMatchesSpec(reader.Get());
    int refused = 0;
    for (const auto& r : emu_.Requests()) {
        refused += json::IntAt(r, "status") == 503 ? 1 : 0;
    }
    EXPECT_EQ(refused, 4);
    EXPECT_GT(app.Slept(), 0);  // backed off (on the manual clocks) before each retry
}

TEST_F(ProvisionTest, StormLongerThanTheRetriesFailsMidwayAndTheNextRunCompletes) {
    b24::RetrySettings retry;
    retry.max_attempts = 3;
    EmuClient app(emu_, EmuClient::Mode::kOAuth, retry);
    EmuClient reader(emu_, EmuClient::Mode::kWebhook);
    auto options = Options(true, true);
    bool storm_started = false;
    // The storm starts once the first write request is through, so it hits the run in the middle.
    options.progress = [&](const std::string& line) {
        progress_.push_back(line);
        if (!storm_started && line.rfind("write", 0) == 0) {
            storm_started = true;
            emu_.FailNext("batch", 3, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests");
        }
    };

    auto failed = Provision(app.Get(), spec_, nullptr, options);

    ASSERT_TRUE(storm_started);
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code, make_error_code(b24::Errc::kQueryLimitExceeded));
    EXPECT_THAT(failed.error().detail, HasSubstr("batch request of"));
    EXPECT_THAT(failed.error().detail, HasSubstr("already done: workplace: 1 created; type: 2 created"));

    auto layout = Layout::FromJson(*json::Parse(layout_text_));  // what the first write request made
    ASSERT_THAT(layout, IsOk());
    EXPECT_NE(layout->FindProcess("it_request")->type_id, 0);
    auto rerun = Apply(app);

    ASSERT_THAT(rerun, IsOk());
    ExpectPortalMatchesSpec(reader.Get());
    ExpectAppObjects(app.Get());
}

TEST_F(ProvisionTest, TheDefaultFunnelIsReshapedInPlaceWithoutStrays) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    EmuClient reader(emu_, EmuClient::Mode::kWebhook);
    // The type exists already with its default funnel "General" and the five default stages (created by hand
    // with our code, as a half-done earlier attempt would leave it).
    emu_.Act("crm.type.add",
             {{"fields",
               bj::object{{"title", "IT request"},
                          {"code", "it_request"},
                          {"isCategoriesEnabled", "Y"},
                          {"isStagesEnabled", "Y"}}}});
    const auto e = EntityTypeId(reader.Get(), "it_request");
    const auto general = Category(reader.Get(), e, "General");
    const auto general_id = *json::IntAt(bj::value(general), "id");
    std::map<std::string, std::int64_t> default_ids;
    for (const auto& s : Stages(reader.Get(), e, general_id)) {
        default_ids[Code(s)] = *json::IntAt(bj::value(s), "ID");
    }
    ASSERT_EQ(default_ids.size(), 5u);

    auto outcome = Apply(app);

    ASSERT_THAT(outcome, IsOk());
    const auto* funnel = Entry(outcome->plan, ObjectKind::kFunnel, "it_request/line1");
    ASSERT_NE(funnel, nullptr);
    EXPECT_EQ(funnel->action, Action::kUpdate);
    EXPECT_EQ(funnel->portal_id, general_id);
    ExpectPortalMatchesSpec(reader.Get());
    const auto line1 = Category(reader.Get(), e, "Line 1");
    EXPECT_EQ(json::IntAt(bj::value(line1), "id"), general_id);  // the same funnel, renamed
    std::map<std::string, std::int64_t> after;
    for (const auto& s : Stages(reader.Get(), e, general_id)) {
        after[Code(s)] = *json::IntAt(bj::value(s), "ID");
    }
    for (const auto* kept : {"NEW", "SUCCESS", "FAIL"}) {
        EXPECT_EQ(after.at(kept), default_ids.at(kept)) << kept << " was recreated instead of reshaped";
    }
    EXPECT_EQ(after.count("PREPARATION"), 0u);
    EXPECT_EQ(after.count("CLIENT"), 0u);
}

TEST_F(ProvisionTest, StrayStagesHoldingItemsAreKeptAndEmptyOnesDeleted) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    EmuClient reader(emu_, EmuClient::Mode::kWebhook);
    ASSERT_THAT(Apply(app), IsOk());
    const auto e = EntityTypeId(reader.Get(), "it_request");
    const auto line1_id = *json::IntAt(bj::value(Category(reader.Get(), e, "Line 1")), "id");
    const auto dir = fmt::format("DYNAMIC_{}_STAGE_{}", e, line1_id);
    for (const auto* code : {"HELD", "EMPTY"}) {
        emu_.Act("crm.status.add",
                 {{"fields", bj::object{{"ENTITY_ID", dir}, {"STATUS_ID", code}, {"NAME", code}, {"SORT", 45}}}});
    }
    emu_.Act(
        "crm.item.add",
        {{"entityTypeId", e},
         {"fields",
          bj::object{
              {"title", "Printer"}, {"categoryId", line1_id}, {"stageId", fmt::format("DT{}_{}:HELD", e, line1_id)}}}});

    auto plan = PlanOnly(app);
    ASSERT_THAT(plan, IsOk());
    EXPECT_EQ(Entry(plan->plan, ObjectKind::kStage, "it_request/line1/HELD")->action, Action::kKeep);
    EXPECT_THAT(Entry(plan->plan, ObjectKind::kStage, "it_request/line1/HELD")->note, HasSubstr("1 items"));
    EXPECT_EQ(Entry(plan->plan, ObjectKind::kStage, "it_request/line1/EMPTY")->action, Action::kDelete);

    auto outcome = Apply(app);

    ASSERT_THAT(outcome, IsOk());
    std::set<std::string> codes;
    for (const auto& s : Stages(reader.Get(), e, line1_id)) {
        codes.insert(Code(s));
    }
    EXPECT_EQ(codes.count("HELD"), 1u);
    EXPECT_EQ(codes.count("EMPTY"), 0u);

    auto pruned = Apply(app, /*prune=*/true);

    ASSERT_THAT(pruned, IsOk());
    EXPECT_EQ(Entry(pruned->plan, ObjectKind::kStage, "it_request/line1/HELD")->action, Action::kDelete);
    codes.clear();
    for (const auto& s : Stages(reader.Get(), e, line1_id)) {
        codes.insert(Code(s));
    }
    EXPECT_EQ(codes.count("HELD"), 0u);
    auto items = b24::ItemList(reader.Get(), e, {});
    ASSERT_THAT(items, IsOk());
    ASSERT_EQ(items->size(), 1u);
    EXPECT_EQ(json::StringAt(bj::value(items->front()), "stageId"), fmt::format("DT{}_{}:NEW", e, line1_id));
}

TEST_F(ProvisionTest, PruneDeletesAStrayFieldAndSaysWhatIsLost) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    EmuClient reader(emu_, EmuClient::Mode::kWebhook);
    ASSERT_THAT(Apply(app), IsOk());
    const auto e = EntityTypeId(reader.Get(), "it_request");
    const auto type_id = TypeId(reader.Get(), "it_request");
    const auto name = fmt::format("UF_CRM_{}_ROOM", type_id);
    emu_.Act(
        "userfieldconfig.add",
        {{"moduleId", "crm"},
         {"field",
          bj::object{{"entityId", fmt::format("CRM_{}", type_id)}, {"fieldName", name}, {"userTypeId", "string"}}}});
    emu_.Act("crm.item.add", {{"entityTypeId", e}, {"fields", bj::object{{"title", "A"}, {name, "3.14"}}}});
    emu_.Act("crm.item.add", {{"entityTypeId", e}, {"fields", bj::object{{"title", "B"}}}});

    auto kept = Apply(app);
    ASSERT_THAT(kept, IsOk());
    EXPECT_EQ(Entry(kept->plan, ObjectKind::kField, "it_request/" + name)->action, Action::kKeep);
    EXPECT_EQ(kept->write_calls, 0);

    auto pruned = Apply(app, /*prune=*/true);

    ASSERT_THAT(pruned, IsOk());
    const auto* entry = Entry(pruned->plan, ObjectKind::kField, "it_request/" + name);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->action, Action::kDelete);
    EXPECT_THAT(entry->note, HasSubstr("1 items"));
    const auto fields = Fields(reader.Get(), type_id);
    EXPECT_TRUE(std::none_of(fields.begin(), fields.end(), [&](const bj::object& f) {
        return json::StringAt(bj::value(f), "fieldName") == name;
    }));
}

TEST_F(ProvisionTest, WebhookModeProvisionsTheStructureAndLeavesEventsAndRobotsToTheAdmin) {
    client_mode_ = EmuClient::Mode::kWebhook;
    EmuClient hook(emu_, EmuClient::Mode::kWebhook);

    auto outcome = Apply(hook);

    ASSERT_THAT(outcome, IsOk());
    ExpectPortalMatchesSpec(hook.Get());
    EXPECT_EQ(outcome->plan.Count(Action::kManual), spec_.events.size() + spec_.robots.size());
    const bool webhook_advice =
        std::any_of(outcome->plan.advice.begin(), outcome->plan.advice.end(), [](const std::string& a) {
            return a.find("/b24/events") != std::string::npos;
        });
    EXPECT_TRUE(webhook_advice);
    for (const auto& sent : hook.Recorder().Take()) {
        EXPECT_NE(sent.method, "event.bind");
        for (const auto& call : sent.calls) {
            EXPECT_TRUE(call.rfind("event.", 0) != 0 && call.rfind("bizproc.", 0) != 0) << call;
        }
    }
    auto second = Apply(hook);
    ASSERT_THAT(second, IsOk());
    EXPECT_EQ(second->write_calls, 0);
}

TEST_F(ProvisionTest, ApplicationContextWithoutAPublicUrlIsRefusedBeforeAnyCall) {
    EmuClient app(emu_, EmuClient::Mode::kOAuth);
    auto options = Options(true, true);
    options.plan.public_url.clear();
    const auto logged = emu_.Requests().size();

    auto outcome = Provision(app.Get(), spec_, nullptr, options);

    EXPECT_THAT(outcome, HasErrc(CoreErrc::kInvalid));
    EXPECT_EQ(emu_.Requests().size(), logged);
}

}  // namespace
}  // namespace dispatch::provision
