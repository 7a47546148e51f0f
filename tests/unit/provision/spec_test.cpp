#include "provision/spec.hpp"

#include <fstream>
#include <functional>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "support/test_support.hpp"

namespace dispatch::provision {
namespace {

namespace bj = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

const std::string kSpecPath = dispatch::testing::SourcePath("workplace/helpdesk.json");
const std::string kSchemaPath = dispatch::testing::SourcePath("schemas/workplace.schema.json");

// Each rule test starts from the shipped spec and breaks one thing, so the shipped file stays the reference.
class SpecRulesTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto schema = json::Schema::LoadFile(kSchemaPath);
        ASSERT_THAT(schema, IsOk());
        schema_.emplace(std::move(*schema));
        auto doc = json::ParseFile(kSpecPath);
        ASSERT_THAT(doc, IsOk());
        doc_ = std::move(*doc);
    }

    bj::object& Root() { return doc_.as_object(); }
    bj::object& Process(std::size_t i) { return Root().at("smart_processes").as_array().at(i).as_object(); }
    bj::object& Funnel(std::size_t i) { return Process(0).at("funnels").as_array().at(i).as_object(); }
    bj::object& Stage(std::size_t funnel, std::size_t i) {
        return Funnel(funnel).at("stages").as_array().at(i).as_object();
    }
    bj::object& Field(std::size_t i) { return Process(0).at("fields").as_array().at(i).as_object(); }
    bj::object& Robot(std::size_t i) { return Root().at("robots").as_array().at(i).as_object(); }

    // The error detail of building the (modified) document; fails the test when it builds.
    std::string ErrorOf() {
        auto spec = BuildWorkplaceSpec(doc_, *schema_);
        EXPECT_THAT(spec, HasErrc(CoreErrc::kInvalid));
        return spec ? std::string() : spec.error().detail;
    }

    std::optional<json::Schema> schema_;
    bj::value doc_;
};

TEST(WorkplaceSpec, ShippedHelpdeskLoads) {
    const auto spec = LoadWorkplaceSpec(kSpecPath, kSchemaPath);

    ASSERT_THAT(spec, IsOk());
    EXPECT_EQ(spec->workplace.title, "IT: HelpDesk");
    EXPECT_EQ(spec->workplace.code, "it_helpdesk");
    ASSERT_NE(spec->ProcessFor(ProcessPurpose::kRequests), nullptr);
    ASSERT_NE(spec->ProcessFor(ProcessPurpose::kKpi), nullptr);
    EXPECT_EQ(spec->ProcessFor(ProcessPurpose::kKpi)->title, "HelpDesk KPI");
    EXPECT_THAT(spec->robots, SizeIs(4));
    EXPECT_THAT(spec->events, SizeIs(3));
}

TEST(WorkplaceSpec, RequestProcessHasTheThreeFunnelsAndLineOneIsDefault) {
    const auto spec = LoadWorkplaceSpec(kSpecPath, kSchemaPath);
    ASSERT_THAT(spec, IsOk());
    const auto& requests = *spec->ProcessFor(ProcessPurpose::kRequests);

    EXPECT_EQ(requests.title, "IT request");
    ASSERT_THAT(requests.funnels, SizeIs(3));
    EXPECT_EQ(requests.funnels[0].name.Get("en"), "Line 1");
    EXPECT_EQ(requests.funnels[1].name.Get("en"), "Line 2");
    EXPECT_EQ(requests.funnels[2].name.Get("en"), "Change requests");
    ASSERT_NE(requests.DefaultFunnel(), nullptr);
    EXPECT_EQ(requests.DefaultFunnel()->code, "line1");
}

TEST(WorkplaceSpec, EveryFunnelHasEachRoleAndOneSuccessStage) {
    const auto spec = LoadWorkplaceSpec(kSpecPath, kSchemaPath);
    ASSERT_THAT(spec, IsOk());

    for (const auto& funnel : spec->ProcessFor(ProcessPurpose::kRequests)->funnels) {
        for (const auto role : {StageRole::kNew,
                                StageRole::kQueued,
                                StageRole::kInProgress,
                                StageRole::kWaiting,
                                StageRole::kReview,
                                StageRole::kDone,
                                StageRole::kRejected}) {
            EXPECT_NE(funnel.StageWithRole(role), nullptr) << funnel.code << " " << ToString(role);
        }
        const auto successes = std::count_if(funnel.stages.begin(), funnel.stages.end(), [](const StageSpec& s) {
            return s.semantics == StageSemantics::kSuccess;
        });
        EXPECT_EQ(successes, 1) << funnel.code;
        // NEW, SUCCESS and FAIL reuse the stages Bitrix24 creates with every funnel.
        EXPECT_EQ(funnel.StageWithRole(StageRole::kNew)->code, "NEW");
        EXPECT_EQ(funnel.StageWithRole(StageRole::kDone)->code, "SUCCESS");
        EXPECT_EQ(funnel.StageWithRole(StageRole::kRejected)->code, "FAIL");
    }
}

TEST(WorkplaceSpec, FieldsCarryStableCodesAndEnumKeys) {
    const auto spec = LoadWorkplaceSpec(kSpecPath, kSchemaPath);
    ASSERT_THAT(spec, IsOk());
    const auto& requests = *spec->ProcessFor(ProcessPurpose::kRequests);

    const auto* templ = requests.FindField(field_codes::kTemplate);
    ASSERT_NE(templ, nullptr);
    EXPECT_EQ(templ->type, FieldType::kEnumeration);
    EXPECT_THAT(templ->items, SizeIs(6));
    EXPECT_NE(templ->FindItem("1C"), nullptr);
    EXPECT_FALSE(templ->default_item.has_value());  // no template means auto-close, so nothing is preselected
    const auto* priority = requests.FindField(field_codes::kPriority);
    ASSERT_NE(priority, nullptr);
    EXPECT_EQ(priority->default_item, "NORMAL");
    const auto* state = requests.FindField(field_codes::kSlaState);
    ASSERT_NE(state, nullptr);
    EXPECT_EQ(state->written_by, FieldWriter::kService);
    EXPECT_EQ(state->UfName(21), "UF_CRM_21_SLA_STATE");
}

TEST(WorkplaceSpec, FeaturesAreListedUnderBitrixNames) {
    const auto spec = LoadWorkplaceSpec(kSpecPath, kSchemaPath);
    ASSERT_THAT(spec, IsOk());

    const auto managed = spec->ProcessFor(ProcessPurpose::kRequests)->features.Managed();

    EXPECT_THAT(managed, ::testing::Contains(std::pair<std::string_view, bool>{"isCategoriesEnabled", true}));
    EXPECT_THAT(managed, ::testing::Contains(std::pair<std::string_view, bool>{"isAutomationEnabled", true}));
    EXPECT_THAT(managed, ::testing::Contains(std::pair<std::string_view, bool>{"isClientEnabled", false}));
    // Flags the KPI process leaves out are not managed at all.
    const auto kpi = spec->ProcessFor(ProcessPurpose::kKpi)->features.Managed();
    EXPECT_THAT(kpi, Not(::testing::Contains(::testing::Key("isDocumentsEnabled"))));
}

TEST(WorkplaceSpec, RobotsPointAtTheirHandlersAndStages) {
    const auto spec = LoadWorkplaceSpec(kSpecPath, kSchemaPath);
    ASSERT_THAT(spec, IsOk());

    const auto* intake = spec->FindRobot("dispatch_intake");
    ASSERT_NE(intake, nullptr);
    EXPECT_EQ(intake->handler, "/b24/robots/dispatch_intake");
    EXPECT_THAT(intake->used_in, SizeIs(3));
    const auto* escalate = spec->FindRobot("dispatch_escalate");
    ASSERT_NE(escalate, nullptr);
    ASSERT_THAT(escalate->properties, SizeIs(2));
    EXPECT_EQ(escalate->properties[0].type, RobotPropertyType::kSelect);
    EXPECT_THAT(escalate->properties[0].options, SizeIs(2));
}

TEST(WorkplaceSpec, CardLayoutIsDeclaredButNeverApplied) {
    const auto spec = LoadWorkplaceSpec(kSpecPath, kSchemaPath);
    ASSERT_THAT(spec, IsOk());

    const auto& layout = spec->ProcessFor(ProcessPurpose::kRequests)->card_layout;

    ASSERT_TRUE(layout.has_value());
    EXPECT_THAT(layout->sections, Not(::testing::IsEmpty()));
}

TEST(WorkplaceSpec, LocalizedTextFallsBackToEnglish) {
    const LocalizedText text{{{"en", "Done"}, {"ru", "Выполнена"}}};

    EXPECT_EQ(text.Get("ru"), "Выполнена");
    EXPECT_EQ(text.Get("de"), "Done");
}

TEST(WorkplaceSpec, MissingFilesAreIoErrors) {
    EXPECT_THAT(LoadWorkplaceSpec("/nonexistent/helpdesk.json", kSchemaPath), HasErrc(CoreErrc::kIo));
    EXPECT_THAT(LoadWorkplaceSpec(kSpecPath, "/nonexistent/schema.json"), HasErrc(CoreErrc::kIo));
}

TEST(WorkplaceSpec, ErrorsNameTheFile) {
    dispatch::testing::TempDir dir;
    const auto path = dir.File("helpdesk.json");
    { std::ofstream(path) << R"({"version": 2})"; }

    const auto spec = LoadWorkplaceSpec(path, kSchemaPath);

    ASSERT_THAT(spec, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(spec.error().detail, HasSubstr(path + ": "));
    EXPECT_THAT(spec.error().detail, HasSubstr("$.version: must be 1"));
    EXPECT_THAT(spec.error().detail, HasSubstr("$: required property 'workplace' is missing"));
}

TEST_F(SpecRulesTest, SchemaErrorsCarryPaths) {
    Stage(0, 2)["colour"] = "#000000";
    Stage(1, 3)["role"] = "paused";
    Stage(2, 0)["color"] = "blue";
    Field(2)["items"] = bj::array{};

    const auto detail = ErrorOf();

    EXPECT_THAT(detail, HasSubstr("$.smart_processes[0].funnels[0].stages[2]: unknown property 'colour'"));
    EXPECT_THAT(detail, HasSubstr("$.smart_processes[0].funnels[1].stages[3].role: must be one of: new, queued"));
    EXPECT_THAT(detail, HasSubstr("$.smart_processes[0].funnels[2].stages[0].color: does not match pattern"));
    EXPECT_THAT(detail, HasSubstr("$.smart_processes[0].fields[2].items: no value is allowed here"));
}

TEST_F(SpecRulesTest, DuplicateCodesAreReportedWhereTheyRepeat) {
    Funnel(2)["code"] = "line1";
    Stage(0, 1)["code"] = "NEW";
    Field(3)["code"] = "SLA_REACTION_DUE";
    Robot(1)["code"] = "dispatch_intake";
    Robot(1)["handler"] = "/b24/robots/dispatch_intake";

    const auto detail = ErrorOf();

    EXPECT_THAT(detail, HasSubstr("$.smart_processes[0].funnels[2]: duplicate funnel code 'line1' (first at [0])"));
    EXPECT_THAT(detail, HasSubstr("$.smart_processes[0].funnels[0].stages[1]: duplicate stage code 'NEW'"));
    EXPECT_THAT(detail, HasSubstr("$.smart_processes[0].fields[3]: duplicate field code 'SLA_REACTION_DUE'"));
    EXPECT_THAT(detail, HasSubstr("$.robots[1]: duplicate robot code 'dispatch_intake'"));
}

TEST_F(SpecRulesTest, ExactlyOneSuccessStagePerFunnel) {
    Stage(1, 4)["role"] = "done";
    Stage(1, 4)["semantics"] = "success";

    EXPECT_THAT(ErrorOf(),
                HasSubstr("$.smart_processes[0].funnels[1].stages: a funnel needs exactly one success "
                          "stage, has 2"));
}

TEST_F(SpecRulesTest, RoleAndSemanticsMustAgree) {
    Stage(0, 6)["semantics"] = "process";

    const auto detail = ErrorOf();

    EXPECT_THAT(detail,
                HasSubstr("$.smart_processes[0].funnels[0].stages[6]: a 'rejected' stage must have "
                          "semantics 'failure', not 'process'"));
    EXPECT_THAT(detail, HasSubstr("$.smart_processes[0].funnels[0].stages: a funnel needs at least one failure stage"));
}

TEST_F(SpecRulesTest, ExactlyOneDefaultFunnel) {
    Funnel(1)["is_default"] = true;

    EXPECT_THAT(ErrorOf(), HasSubstr("$.smart_processes[0].funnels: exactly one funnel must be the default, 2 are"));

    Funnel(0)["is_default"] = false;
    Funnel(1)["is_default"] = false;
    EXPECT_THAT(ErrorOf(), HasSubstr("exactly one funnel must be the default, 0 are"));
}

TEST_F(SpecRulesTest, StagesSortInProgressThenSuccessThenFailure) {
    Stage(0, 5)["sort"] = 75;  // SUCCESS after FAIL (70)

    EXPECT_THAT(ErrorOf(),
                HasSubstr("$.smart_processes[0].funnels[0].stages[5]: success stage 'SUCCESS' (sort 75) "
                          "must sort before failure stage 'FAIL' (sort 70)"));
}

TEST_F(SpecRulesTest, NewStageMustSortFirst) {
    Stage(0, 0)["sort"] = 25;

    EXPECT_THAT(ErrorOf(), HasSubstr("$.smart_processes[0].funnels[0].stages[0]: the 'new' stage must sort first"));
}

TEST_F(SpecRulesTest, RobotsMustReferenceExistingProcessFunnelAndStage) {
    Robot(0)["used_in"].as_array()[0].as_object()["stage"] = "LIMBO";
    Robot(0)["used_in"].as_array()[1].as_object()["funnel"] = "line3";
    Robot(1)["process"] = "it_requests";
    Robot(2)["handler"] = "/b24/robots/escalate";

    const auto detail = ErrorOf();

    EXPECT_THAT(detail, HasSubstr("$.robots[0].used_in[0].stage: unknown stage 'LIMBO' in funnel 'line1'"));
    EXPECT_THAT(detail, HasSubstr("$.robots[0].used_in[1].funnel: unknown funnel 'line3' in 'it_request'"));
    EXPECT_THAT(detail, HasSubstr("$.robots[1].process: unknown smart process 'it_requests'"));
    EXPECT_THAT(detail, HasSubstr("$.robots[2].handler: must be /b24/robots/dispatch_escalate"));
}

TEST_F(SpecRulesTest, EnumDefaultMustBeAnItem) {
    Field(1)["default"] = "MEDIUM";

    EXPECT_THAT(ErrorOf(),
                HasSubstr("$.smart_processes[0].fields[1].default: default 'MEDIUM' is not one of the items' xml_id"));
}

TEST_F(SpecRulesTest, ServiceFieldsMustExistWithTheirTypes) {
    auto& fields = Process(0).at("fields").as_array();
    fields.erase(fields.begin() + 4);  // SLA_STATE
    Field(2)["type"] = "date";         // SLA_REACTION_DUE must be datetime

    const auto detail = ErrorOf();

    EXPECT_THAT(detail, HasSubstr("$.smart_processes[0].fields: the service needs field 'SLA_STATE' (enumeration)"));
    EXPECT_THAT(detail,
                HasSubstr("$.smart_processes[0].fields[2].type: field 'SLA_REACTION_DUE' must be datetime, "
                          "not date"));
}

TEST_F(SpecRulesTest, CardLayoutMayOnlyNameDeclaredFields) {
    Process(0)["card_layout"].as_object()["sections"].as_array()[1].as_object()["fields"].as_array().push_back(
        "SLA_DEADLINE");

    EXPECT_THAT(ErrorOf(),
                HasSubstr("$.smart_processes[0].card_layout.sections[1].fields[5]: unknown field 'SLA_DEADLINE'"));
}

TEST_F(SpecRulesTest, CardLayoutCannotClaimToBeApplied) {
    Process(0)["card_layout"].as_object()["applied"] = true;

    EXPECT_THAT(ErrorOf(), HasSubstr("$.smart_processes[0].card_layout.applied: must be false"));
}

TEST_F(SpecRulesTest, OneRequestsProcessIsRequired) {
    Process(1)["purpose"] = "requests";

    EXPECT_THAT(ErrorOf(),
                HasSubstr("$.smart_processes: exactly one smart process must have purpose 'requests', "
                          "2 do"));
}

TEST_F(SpecRulesTest, FunnelsNeedCategoriesAndStagesEnabled) {
    Process(0)["features"].as_object()["isCategoriesEnabled"] = false;

    EXPECT_THAT(ErrorOf(), HasSubstr("$.smart_processes[0].features: funnels need isCategoriesEnabled: true"));
}

TEST_F(SpecRulesTest, EveryRuleProblemIsReportedAtOnce) {
    Funnel(1)["is_default"] = true;
    Field(1)["default"] = "MEDIUM";
    Robot(0)["used_in"].as_array()[0].as_object()["stage"] = "LIMBO";

    const auto detail = ErrorOf();

    EXPECT_THAT(detail, HasSubstr("funnels: exactly one funnel must be the default"));
    EXPECT_THAT(detail, HasSubstr("fields[1].default"));
    EXPECT_THAT(detail, HasSubstr("used_in[0].stage"));
}

TEST_F(SpecRulesTest, UntouchedDocumentBuilds) {
    const auto spec = BuildWorkplaceSpec(doc_, *schema_);

    EXPECT_THAT(spec, IsOk());
    EXPECT_THAT(CheckWorkplaceRules(*spec), ::testing::IsEmpty());
}

}  // namespace
}  // namespace dispatch::provision
