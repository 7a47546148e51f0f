#include "b24/methods.hpp"

#include <gtest/gtest.h>

#include "core/json.hpp"
#include "core/metrics.hpp"
#include "fake_transport.hpp"
#include "support/test_support.hpp"

namespace dispatch::b24 {
namespace {

using boost::json::array;
using boost::json::object;
using testing::ApiError;
using testing::BodyOf;
using testing::ClockSleeper;
using testing::FakeTransport;
using testing::JsonResponse;
using testing::MethodOf;
using testing::Ok;

TEST(UfCamelName, LettersOnlyTailDropsUnderscoresAndCapitalises) {
    EXPECT_EQ(UfCamelName("UF_CRM_21_SLA_DEADLINE"), "ufCrm21SlaDeadline");
    EXPECT_EQ(UfCamelName("UF_CRM_10_DIGIT"), "ufCrm10Digit");
}

TEST(UfCamelName, DigitsOnlyTailKeepsTheUnderscore) {
    EXPECT_EQ(UfCamelName("UF_CRM_3_1747309727"), "ufCrm3_1747309727");
}

TEST(UfCamelName, MixedTailOrNoTypeNumberUsesTheSimplifiedRule) {
    EXPECT_EQ(UfCamelName("UF_CRM_3_DIGIT10"), "ufCrm_3_DIGIT10");
    EXPECT_EQ(UfCamelName("UF_CRM_1747309879"), "ufCrm_1747309879");
}

TEST(UfCamelName, OtherNamesAreUnchanged) {
    EXPECT_EQ(UfCamelName("stageId"), "stageId");
    EXPECT_EQ(UfCamelName("UF_DEPARTMENT"), "UF_DEPARTMENT");
}

TEST(ParseStageHistoryRow, ReadsIdsSentAsStrings) {
    const auto row = json::Parse(R"({"ID":"11","TYPE_ID":"2","OWNER_ID":"57","CREATED_TIME":"2026-01-12T10:40:02+03:00",
        "CATEGORY_ID":"14","STAGE_SEMANTIC_ID":"P","STAGE_ID":"DT1038_14:PREPARATION"})");
    ASSERT_THAT(row, IsOk());

    auto parsed = ParseStageHistoryRow(*row);

    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(parsed->id, 11);
    EXPECT_EQ(parsed->type_id, 2);
    EXPECT_EQ(parsed->owner_id, 57);
    EXPECT_EQ(parsed->category_id, 14);
    EXPECT_EQ(parsed->stage_id, "DT1038_14:PREPARATION");
}

TEST(ParseStageHistoryRow, RejectsARowWithoutIds) {
    EXPECT_THAT(ParseStageHistoryRow(object{{"STAGE_ID", "X"}}), HasErrc(Errc::kBadResponse));
}

class MethodsTest : public ::testing::Test {
protected:
    MethodsTest() {
        ClientSettings settings;
        settings.portal = "portal.test";
        settings.webhook_url = "https://portal.test/rest/1/secret/";
        client_ = std::make_unique<Client>(
            settings,
            ClientDeps{.transport = transport_, .clock = clock_, .sleeper = sleeper_, .registry = &registry_});
    }

    ManualClock clock_{1'767'225'600'000};
    ClockSleeper sleeper_{clock_};
    FakeTransport transport_;
    metrics::Registry registry_;
    std::unique_ptr<Client> client_;
};

TEST_F(MethodsTest, ItemAddReturnsTheNewId) {
    transport_.SetHandler([](const HttpRequest&) { return Ok(object{{"item", object{{"id", "58"}}}}); });

    auto id = ItemAdd(*client_, 1038, {{"title", "Printer"}});

    ASSERT_THAT(id, IsOk());
    EXPECT_EQ(*id, 58);
    const auto request = transport_.Requests().at(0);
    EXPECT_EQ(MethodOf(request), "crm.item.add");
    EXPECT_EQ(json::StringAt(BodyOf(request).at("fields"), "title"), "Printer");
}

TEST_F(MethodsTest, ItemGetUnwrapsTheItemAndRejectsOtherShapes) {
    transport_.SetHandler([](const HttpRequest&) { return Ok(object{{"item", object{{"id", 57}}}}); });
    auto item = ItemGet(*client_, 1038, 57);
    ASSERT_THAT(item, IsOk());
    EXPECT_EQ(json::IntAt(*item, "id"), 57);

    transport_.SetHandler([](const HttpRequest&) { return Ok(array{}); });
    EXPECT_THAT(ItemGet(*client_, 1038, 57), HasErrc(Errc::kBadResponse));
}

TEST_F(MethodsTest, ItemListSendsSelectFilterOrder) {
    transport_.SetHandler([](const HttpRequest&) {
        return JsonResponse(200, object{{"result", object{{"items", array{object{{"id", 1}}}}}}, {"total", 1}});
    });
    ListQuery query;
    query.select = {"id", "stageId"};
    query.filter = {{">updatedTime", "2026-01-01T00:00:00+00:00"}};
    query.order = {{"id", "ASC"}};

    auto items = ItemList(*client_, 1038, query);

    ASSERT_THAT(items, IsOk());
    EXPECT_EQ(items->size(), 1u);
    const object body = BodyOf(transport_.Requests().at(0));
    EXPECT_EQ(body.at("select").as_array().size(), 2u);
    EXPECT_TRUE(body.at("filter").as_object().contains(">updatedTime"));
    EXPECT_EQ(json::StringAt(body.at("order"), "id"), "ASC");
}

TEST_F(MethodsTest, TimelineCommentTargetsTheDynamicType) {
    transport_.SetHandler([](const HttpRequest&) { return Ok(991); });

    auto id = TimelineCommentAdd(*client_, 1038, 57, "SLA breached");

    ASSERT_THAT(id, IsOk());
    EXPECT_EQ(*id, 991);
    const object fields = BodyOf(transport_.Requests().at(0)).at("fields").as_object();
    EXPECT_EQ(json::StringAt(fields, "ENTITY_TYPE"), "dynamic_1038");
    EXPECT_EQ(json::IntAt(fields, "ENTITY_ID"), 57);
}

TEST_F(MethodsTest, NotifyFalseMeansNotSentButNotFailed) {
    transport_.SetHandler([](const HttpRequest&) { return Ok(false); });

    auto id = NotifySystem(*client_, {.user_id = 7, .message = "Ticket 57 breached"});

    ASSERT_THAT(id, IsOk());
    EXPECT_EQ(*id, 0);
    EXPECT_EQ(MethodOf(transport_.Requests().at(0)), "im.notify.system.add");
}

TEST_F(MethodsTest, BizprocEventSendUsesUpperCaseParams) {
    transport_.SetHandler([](const HttpRequest&) { return Ok(true); });

    ASSERT_THAT(BizprocEventSend(*client_, "tok|1", {{"deadline", "2026-01-02"}}), IsOk());

    const object body = BodyOf(transport_.Requests().at(0));
    EXPECT_EQ(json::StringAt(body, "EVENT_TOKEN"), "tok|1");
    EXPECT_TRUE(body.contains("RETURN_VALUES"));
}

TEST_F(MethodsTest, EventBindTreatsAnExistingHandlerAsDone) {
    transport_.SetHandler(
        [](const HttpRequest&) { return ApiError(400, "ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!"); });

    EXPECT_THAT(EventBind(*client_, "ONCRMDYNAMICITEMUPDATE", "https://dispatch.test/b24/events"), IsOk());
}

TEST_F(MethodsTest, DirectoriesUnwrapTheirDocumentedKeys) {
    transport_.SetHandler([](const HttpRequest& request) {
        const std::string method = MethodOf(request);
        if (method == "crm.type.list") {
            return Ok(object{{"types", array{object{{"id", 3}, {"entityTypeId", 1038}}}}});
        }
        if (method == "crm.category.list") {
            return Ok(object{{"categories", array{object{{"id", 14}}, object{{"id", 15}}}}});
        }
        if (method == "crm.status.list") {
            return Ok(array{object{{"STATUS_ID", "DT1038_14:NEW"}}});
        }
        return Ok(object{{"fields", array{object{{"id", "9"}, {"fieldName", "UF_CRM_3_SLA"}}}}});
    });

    auto types = TypeList(*client_);
    auto categories = CategoryList(*client_, 1038);
    auto statuses = StatusList(*client_, {.filter = {{"ENTITY_ID", "DYNAMIC_1038_STAGE_14"}}});
    auto fields = UserFieldConfigList(*client_, "crm", {.filter = {{"entityId", "CRM_3"}}});

    ASSERT_THAT(types, IsOk());
    EXPECT_EQ(types->size(), 1u);
    ASSERT_THAT(categories, IsOk());
    EXPECT_EQ(categories->size(), 2u);
    ASSERT_THAT(statuses, IsOk());
    EXPECT_EQ(statuses->size(), 1u);
    ASSERT_THAT(fields, IsOk());
    EXPECT_EQ(fields->size(), 1u);
}

}  // namespace
}  // namespace dispatch::b24
