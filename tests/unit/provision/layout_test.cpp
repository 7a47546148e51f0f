#include "provision/layout.hpp"

#include "core/errc.hpp"
#include "core/json.hpp"
#include "support/test_support.hpp"

namespace dispatch::provision {
namespace {

namespace bj = boost::json;
using ::testing::HasSubstr;

// Two processes, the first with two funnels and an enumeration field, as provisioning stores them.
Layout SampleLayout() {
    Layout layout;
    layout.workplace_id = 7;

    ProcessIds requests;
    requests.code = "it_request";
    requests.type_id = 21;
    requests.entity_type_id = 1038;

    FunnelIds line1;
    line1.code = "line1";
    line1.category_id = 12;
    line1.is_default = true;
    StageIds s_new;
    s_new.code = "NEW";
    s_new.role = StageRole::kNew;
    s_new.status_id = "DT1038_12:NEW";
    s_new.id = 101;
    StageIds s_review;
    s_review.code = "REVIEW";
    s_review.role = StageRole::kReview;
    s_review.status_id = "DT1038_12:REVIEW";
    s_review.id = 105;
    line1.stages = {s_new, s_review};

    FunnelIds line2;
    line2.code = "line2";
    line2.category_id = 14;
    StageIds s2_new;
    s2_new.code = "NEW";
    s2_new.role = StageRole::kNew;
    s2_new.status_id = "DT1038_14:NEW";
    s2_new.id = 201;
    line2.stages = {s2_new};
    requests.funnels = {line1, line2};

    FieldIds priority;
    priority.code = "PRIORITY";
    priority.uf_name = "UF_CRM_21_PRIORITY";
    priority.id = 7311;
    priority.enum_ids = {{"URGENT", 4101}, {"NORMAL", 4105}};
    requests.fields = {priority};

    ProcessIds kpi;
    kpi.code = "helpdesk_kpi";
    kpi.type_id = 22;
    kpi.entity_type_id = 1040;

    layout.processes = {requests, kpi};
    return layout;
}

TEST(Layout, FindersResolveStageByStatusIdWithItsFunnel) {
    const auto layout = SampleLayout();
    const auto* process = layout.ByEntityTypeId(1038);
    ASSERT_NE(process, nullptr);

    const FunnelIds* funnel = nullptr;
    const auto* stage = process->StageByStatusId("DT1038_14:NEW", &funnel);

    ASSERT_NE(stage, nullptr);
    EXPECT_EQ(stage->id, 201);
    ASSERT_NE(funnel, nullptr);
    EXPECT_EQ(funnel->code, "line2");
}

TEST(Layout, UnknownStageGivesNullAndClearsTheFunnel) {
    const auto layout = SampleLayout();
    const auto* process = layout.FindProcess("it_request");
    ASSERT_NE(process, nullptr);
    const FunnelIds* funnel = &process->funnels.front();

    EXPECT_EQ(process->StageByStatusId("DT1038_12:MADE_BY_HAND", &funnel), nullptr);
    EXPECT_EQ(funnel, nullptr);
    EXPECT_EQ(process->StageByStatusId("DT1038_12:MADE_BY_HAND"), nullptr);
}

TEST(Layout, StatusIdForPicksTheRoleInTheNamedFunnel) {
    const auto layout = SampleLayout();
    const auto* process = layout.FindProcess("it_request");
    ASSERT_NE(process, nullptr);

    EXPECT_EQ(process->StatusIdFor("line1", StageRole::kReview), "DT1038_12:REVIEW");
    EXPECT_EQ(process->StatusIdFor("line2", StageRole::kNew), "DT1038_14:NEW");
    EXPECT_EQ(process->StatusIdFor("line2", StageRole::kReview), "");
    EXPECT_EQ(process->StatusIdFor("nope", StageRole::kNew), "");
}

TEST(Layout, FunnelByCategoryAndFieldLookups) {
    const auto layout = SampleLayout();
    const auto* process = layout.FindProcess("it_request");
    ASSERT_NE(process, nullptr);

    ASSERT_NE(process->FunnelByCategory(14), nullptr);
    EXPECT_EQ(process->FunnelByCategory(14)->code, "line2");
    EXPECT_EQ(process->FunnelByCategory(99), nullptr);
    ASSERT_NE(process->FindField("PRIORITY"), nullptr);
    EXPECT_EQ(process->FindField("PRIORITY")->uf_name, "UF_CRM_21_PRIORITY");
    EXPECT_EQ(process->FindField("TEMPLATE"), nullptr);
    EXPECT_EQ(layout.FindProcess("helpdesk_kpi")->entity_type_id, 1040);
    EXPECT_EQ(layout.ByEntityTypeId(1), nullptr);
}

TEST(Layout, EnumerationIdsMapBothWays) {
    const auto layout = SampleLayout();
    const auto* process = layout.FindProcess("it_request");
    ASSERT_NE(process, nullptr);

    EXPECT_EQ(process->EnumId("PRIORITY", "URGENT"), 4101);
    EXPECT_EQ(process->EnumXmlId("PRIORITY", 4105), "NORMAL");
    EXPECT_EQ(process->EnumId("PRIORITY", "LOW"), 0);
    EXPECT_EQ(process->EnumXmlId("PRIORITY", 1), "");
    EXPECT_EQ(process->EnumId("TEMPLATE", "1C"), 0);
}

TEST(Layout, JsonRoundTripKeepsEveryId) {
    const auto layout = SampleLayout();

    const auto text = json::Dump(layout.ToJson());
    const auto parsed = json::Parse(text);
    ASSERT_THAT(parsed, IsOk());
    const auto back = Layout::FromJson(*parsed);

    ASSERT_THAT(back, IsOk());
    EXPECT_EQ(json::Dump(back->ToJson()), text);
    EXPECT_EQ(back->workplace_id, 7);
    ASSERT_EQ(back->processes.size(), 2u);
    const auto& p = back->processes[0];
    EXPECT_EQ(p.type_id, 21);
    EXPECT_EQ(p.entity_type_id, 1038);
    ASSERT_EQ(p.funnels.size(), 2u);
    EXPECT_TRUE(p.funnels[0].is_default);
    EXPECT_FALSE(p.funnels[1].is_default);
    ASSERT_EQ(p.funnels[0].stages.size(), 2u);
    EXPECT_EQ(p.funnels[0].stages[1].role, StageRole::kReview);
    EXPECT_EQ(p.funnels[0].stages[1].status_id, "DT1038_12:REVIEW");
    EXPECT_EQ(p.funnels[0].stages[1].id, 105);
    EXPECT_EQ(p.EnumId("PRIORITY", "NORMAL"), 4105);
}

TEST(Layout, FromJsonAcceptsIdsWrittenAsStrings) {
    const auto doc = json::Parse(R"({"version":1,"workplace_id":"7","processes":[{"code":"p","type_id":"21",
        "entity_type_id":1038,"funnels":[],"fields":[{"code":"F","uf_name":"UF_CRM_21_F","id":"9",
        "enum_ids":{"A":"3"}}]}]})");
    ASSERT_THAT(doc, IsOk());

    const auto layout = Layout::FromJson(*doc);

    ASSERT_THAT(layout, IsOk());
    EXPECT_EQ(layout->workplace_id, 7);
    EXPECT_EQ(layout->processes[0].type_id, 21);
    EXPECT_EQ(layout->processes[0].EnumId("F", "A"), 3);
}

TEST(Layout, FromJsonNamesEveryBrokenPath) {
    const auto doc = json::Parse(R"({"version":1,"workplace_id":7,"processes":[{"code":"p","type_id":"x",
        "entity_type_id":1038,"funnels":[{"code":"f","category_id":3,"is_default":"yes","stages":[
        {"code":"NEW","role":"sleeping","status_id":"DT1038_3:NEW","id":1}]}],"fields":[]}]})");
    ASSERT_THAT(doc, IsOk());

    const auto layout = Layout::FromJson(*doc);

    ASSERT_THAT(layout, HasErrc(CoreErrc::kInvalid));
    EXPECT_THAT(layout.error().detail, HasSubstr("$.processes[0].type_id"));
    EXPECT_THAT(layout.error().detail, HasSubstr("$.processes[0].funnels[0].is_default"));
    EXPECT_THAT(layout.error().detail, HasSubstr("$.processes[0].funnels[0].stages[0].role"));
}

TEST(Layout, FromJsonRefusesAnUnknownVersionAndANonObject) {
    const auto future = json::Parse(R"({"version":2,"workplace_id":7,"processes":[]})");
    ASSERT_THAT(future, IsOk());

    EXPECT_THAT(Layout::FromJson(*future), HasErrc(CoreErrc::kUnsupported));
    EXPECT_THAT(Layout::FromJson(bj::value(42)), HasErrc(CoreErrc::kInvalid));
}

TEST(Layout, EmptyLayoutRoundTrips) {
    const Layout empty;

    const auto back = Layout::FromJson(empty.ToJson());

    ASSERT_THAT(back, IsOk());
    EXPECT_EQ(back->workplace_id, 0);
    EXPECT_TRUE(back->processes.empty());
}

}  // namespace
}  // namespace dispatch::provision
