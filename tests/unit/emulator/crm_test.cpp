// Smart processes, funnels, stages, fields and items (CONTRACT §4–§9, §13.2).
#include "emulator/item_fields.hpp"
#include "unit/emulator/emulator_fixture.hpp"

namespace dispatch::emulator::testing {
namespace {

TEST_F(EmulatorTest, NewTypeGetsDefaultFunnelWithFiveStagesAndOneSuccess) {
    const auto [id, e] = MakeType();

    auto cats = Hook("crm.category.list", bj::object{{"entityTypeId", e}});
    ASSERT_EQ(cats.Result().at("categories").as_array().size(), 1u);
    const auto& c = cats.Result().at("categories").at(0);
    EXPECT_EQ(c.at("isDefault").as_string(), "Y");
    const auto dir = "DYNAMIC_" + std::to_string(e) + "_STAGE_" + std::to_string(c.at("id").as_int64());
    auto stages = Hook("crm.status.list",
                       bj::object{{"filter", bj::object{{"ENTITY_ID", dir}}}, {"order", bj::object{{"SORT", "ASC"}}}});

    ASSERT_EQ(stages.Result().as_array().size(), 5u);
    EXPECT_NE(id, e);
    EXPECT_EQ(stages.Result().at(0).at("SORT").as_string(), "10");  // numbers as strings
    EXPECT_TRUE(stages.Result().at(0).at("SEMANTICS").is_null());
    EXPECT_EQ(stages.Result().at(3).at("SEMANTICS").as_string(), "S");
    EXPECT_EQ(stages.Result().at(4).at("SEMANTICS").as_string(), "F");
}

TEST_F(EmulatorTest, EntityTypeIdOutsideAllowedRangesIsRejected) {
    auto r = Hook("crm.type.add", bj::object{{"fields", bj::object{{"title", "x"}, {"entityTypeId", 1031}}}});

    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Error(), "INVALID_ARG_VALUE");
}

TEST_F(EmulatorTest, TypeGetUnknownIsErrorZero) {
    auto r = Hook("crm.type.get", bj::object{{"id", 999}});

    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body.at("error").as_int64(), 0);
}

TEST_F(EmulatorTest, NonEmptyTypeAndFunnelCannotBeDeleted) {
    const auto [id, e] = MakeType();
    auto cat = Hook("crm.category.add", bj::object{{"entityTypeId", e}, {"fields", bj::object{{"name", "Line 2"}}}});
    const auto cat_id = cat.Result().at("category").at("id").as_int64();
    Hook("crm.item.add", bj::object{{"entityTypeId", e}, {"fields", bj::object{{"categoryId", cat_id}}}});

    auto del_type = Hook("crm.type.delete", bj::object{{"id", id}});
    auto del_cat = Hook("crm.category.delete", bj::object{{"entityTypeId", e}, {"id", cat_id}});

    EXPECT_EQ(del_type.Error(), "BX_ERROR");
    EXPECT_EQ(del_cat.Error(), "BX_ERROR");
}

TEST_F(EmulatorTest, StatusAddPrefixesCodeAndRejectsSecondSuccess) {
    const auto [id, e] = MakeType();
    const auto c = Hook("crm.category.list", bj::object{{"entityTypeId", e}}).Result().at("categories").at(0);
    const auto cat = c.at("id").as_int64();
    const auto dir = "DYNAMIC_" + std::to_string(e) + "_STAGE_" + std::to_string(cat);

    auto added =
        Hook("crm.status.add",
             bj::object{{"fields",
                         bj::object{{"ENTITY_ID", dir}, {"STATUS_ID", "WAITING"}, {"NAME", "Waiting"}, {"SORT", 25}}}});
    auto second_success = Hook(
        "crm.status.add",
        bj::object{
            {"fields",
             bj::object{
                 {"ENTITY_ID", dir}, {"STATUS_ID", "DONE2"}, {"NAME", "Done"}, {"SORT", 45}, {"SEMANTICS", "S"}}}});
    auto got = Hook("crm.status.get", bj::object{{"id", added.Result()}});

    ASSERT_EQ(added.status, 200);
    EXPECT_EQ(got.Result().at("STATUS_ID").as_string(),
              "DT" + std::to_string(e) + "_" + std::to_string(cat) + ":WAITING");
    EXPECT_EQ(second_success.status, 400);
    EXPECT_EQ(second_success.Error(), "");
}

TEST_F(EmulatorTest, SystemStageNeedsForcedToDelete) {
    const auto [id, e] = MakeType();
    const auto cat = Hook("crm.category.list", bj::object{{"entityTypeId", e}}).Result().at("categories").at(0);
    const auto dir = "DYNAMIC_" + std::to_string(e) + "_STAGE_" + std::to_string(cat.at("id").as_int64());
    const auto fail_stage =
        Hook("crm.status.list", bj::object{{"filter", bj::object{{"ENTITY_ID", dir}, {"SEMANTICS", "F"}}}})
            .Result()
            .at(0);

    auto r = Hook("crm.status.delete", bj::object{{"id", fail_stage.at("ID")}});

    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.Error().find("FORCED"), std::string::npos);
}

TEST_F(EmulatorTest, UserFieldNeedsTypeIdNotEntityTypeId) {
    const auto [id, e] = MakeType();
    const auto wrong = "CRM_" + std::to_string(e);

    auto r = Hook(
        "userfieldconfig.add",
        bj::object{
            {"moduleId", "crm"},
            {"field", bj::object{{"entityId", wrong}, {"fieldName", "UF_" + wrong + "_X"}, {"userTypeId", "string"}}}});

    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Error(), "");
    EXPECT_EQ(r.body.at("error_description").as_string(), "You cannot create custom fields");
}

TEST(UfNames, ConvertAsDocumented) {
    EXPECT_EQ(UfCamelName("UF_CRM_10_DIGIT"), "ufCrm10Digit");
    EXPECT_EQ(UfCamelName("UF_CRM_21_SLA_DEADLINE"), "ufCrm21SlaDeadline");
    EXPECT_EQ(UfCamelName("UF_CRM_3_1747309727"), "ufCrm3_1747309727");
    EXPECT_EQ(UfCamelName("UF_CRM_3_DIGIT10"), "ufCrm_3_DIGIT10");
    EXPECT_EQ(UfCamelName("UF_CRM_1747309879"), "ufCrm_1747309879");
}

class ItemTest : public EmulatorTest {
protected:
    void SetUp() override {
        // These tests make more calls than one burst allows; the bucket has its own tests.
        Parse(emu_->Admin().Handle("POST", "limits", bj::object{{"enabled", false}}));
        std::tie(type_id_, e_) = MakeType();
        const auto t = std::to_string(type_id_);
        auto level = Hook("userfieldconfig.add",
                          bj::object{{"moduleId", "crm"},
                                     {"field",
                                      bj::object{{"entityId", "CRM_" + t},
                                                 {"fieldName", "UF_CRM_" + t + "_LEVEL"},
                                                 {"userTypeId", "integer"}}}});
        ASSERT_EQ(level.status, 200) << json::Dump(level.body);
        auto due = Hook("userfieldconfig.add",
                        bj::object{{"moduleId", "crm"},
                                   {"field",
                                    bj::object{{"entityId", "CRM_" + t},
                                               {"fieldName", "UF_CRM_" + t + "_SLA_DEADLINE"},
                                               {"userTypeId", "datetime"}}}});
        ASSERT_EQ(due.status, 200);
        level_ = "ufCrm" + t + "Level";
        deadline_ = "ufCrm" + t + "SlaDeadline";
    }

    Reply Add(bj::object fields) { return Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", fields}}); }

    std::int64_t type_id_ = 0;
    std::int64_t e_ = 0;
    std::string level_;
    std::string deadline_;
};

TEST_F(ItemTest, AddAppliesDefaultsAndCamelCaseUfNames) {
    auto r = Add(bj::object{{level_, "2"}});

    ASSERT_EQ(r.status, 200) << json::Dump(r.body);
    const auto& item = r.Result().at("item");
    EXPECT_EQ(item.at("id").as_int64(), 1);  // ids are ints in crm.item
    EXPECT_EQ(item.at("title").as_string(), "Service desk #1");
    EXPECT_EQ(item.at("assignedById").as_int64(), 1);
    EXPECT_EQ(item.at("opened").as_string(), "Y");
    EXPECT_NE(item.at("stageId").as_string().find(":NEW"), bj::string::npos);
    EXPECT_EQ(item.at(level_).as_int64(), 2);
}

TEST_F(ItemTest, OriginalUfNamesOnRequestAndResponse) {
    const auto upper = "UF_CRM_" + std::to_string(type_id_) + "_LEVEL";

    auto r = Hook("crm.item.add",
                  bj::object{{"entityTypeId", e_}, {"useOriginalUfNames", "Y"}, {"fields", bj::object{{upper, 3}}}});

    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.Result().at("item").at(upper).as_int64(), 3);
    EXPECT_FALSE(r.Result().at("item").as_object().contains(level_));
}

TEST_F(ItemTest, BadValueAndScalarIntoMultipleAreRejected) {
    auto bad_user = Add(bj::object{{"assignedById", 99999}});
    auto scalar = Add(bj::object{{"observers", 12}});

    EXPECT_EQ(bad_user.Error(), "CRM_FIELD_ERROR_VALUE_NOT_VALID");
    EXPECT_EQ(scalar.Error(), "100");
}

TEST_F(ItemTest, UnknownTypeAndItemAreNotFound400) {
    auto type = Hook("crm.item.get", bj::object{{"entityTypeId", 4242}, {"id", 1}});
    auto item = Hook("crm.item.get", bj::object{{"entityTypeId", e_}, {"id", 77}});

    EXPECT_EQ(type.status, 400);
    EXPECT_EQ(type.Error(), "NOT_FOUND");
    EXPECT_EQ(item.status, 400);
    EXPECT_EQ(item.body.at("error_description").as_string(), "Item not found");
}

TEST_F(ItemTest, FilterOperatorsAndNestedOr) {
    for (int i = 1; i <= 6; ++i) {
        Add(bj::object{{"title", "Ticket " + std::to_string(i)}, {level_, i}, {"assignedById", i % 2 ? 12 : 13}});
    }

    auto r = Hook("crm.item.list",
                  bj::object{{"entityTypeId", e_},
                             {"select", bj::array{"id", level_}},
                             {"filter",
                              bj::object{{">=" + level_, 2},
                                         {"!@id", bj::array{6}},
                                         {"0",
                                          bj::object{{"logic", "OR"},
                                                     {"0", bj::object{{"assignedById", 12}}},
                                                     {"1", bj::object{{"%title", "ket 4"}}}}}}},
                             {"order", bj::object{{"id", "DESC"}}}});

    ASSERT_EQ(r.status, 200) << json::Dump(r.body);
    const auto& items = r.Result().at("items").as_array();
    ASSERT_EQ(items.size(), 3u);  // 5 (user 12), 4 (title), 3 (user 12)
    EXPECT_EQ(items[0].at("id").as_int64(), 5);
    EXPECT_EQ(items[1].at("id").as_int64(), 4);
    EXPECT_EQ(items[2].at("id").as_int64(), 3);
    EXPECT_FALSE(items[0].as_object().contains("title"));  // select honoured
}

TEST_F(ItemTest, DatetimeFilterComparesInstantsAcrossOffsets) {
    Add(bj::object{{deadline_, "2026-01-12T14:00:00+03:00"}});
    Add(bj::object{{deadline_, "2026-01-12T16:00:00+03:00"}});

    auto r = Hook("crm.item.list",
                  bj::object{{"entityTypeId", e_}, {"filter", bj::object{{"<=" + deadline_, "2026-01-12T12:00:00Z"}}}});

    ASSERT_EQ(r.Result().at("items").as_array().size(), 1u);
    EXPECT_EQ(r.Result().at("items").at(0).at(deadline_).as_string(), "2026-01-12T14:00:00+03:00");
}

TEST_F(ItemTest, BadFilterFieldIsInvalidArgValue) {
    auto r = Hook("crm.item.list", bj::object{{"entityTypeId", e_}, {"filter", bj::object{{"nope", 1}}}});
    auto o = Hook("crm.item.list", bj::object{{"entityTypeId", e_}, {"order", bj::object{{"id", "UP"}}}});

    EXPECT_EQ(r.Error(), "INVALID_ARG_VALUE");
    EXPECT_EQ(o.Error(), "INVALID_ARG_VALUE");
}

TEST_F(ItemTest, ListPagesOfFiftyWithNextAndTotal) {
    for (int i = 0; i < 55; ++i) {
        Add({});
    }

    auto first = Hook("crm.item.list", bj::object{{"entityTypeId", e_}, {"select", bj::array{"id"}}});
    auto second = Hook("crm.item.list", bj::object{{"entityTypeId", e_}, {"start", 50}});

    EXPECT_EQ(first.body.at("total").as_int64(), 55);
    EXPECT_EQ(first.body.at("next").as_int64(), 50);
    EXPECT_EQ(first.Result().at("items").as_array().size(), 50u);
    EXPECT_EQ(second.Result().at("items").as_array().size(), 5u);
    EXPECT_FALSE(second.body.as_object().contains("next"));
}

TEST_F(ItemTest, StageMoveUpdatesMovedFieldsAndHistory) {
    Add({});
    clock_.Advance(5 * kMinuteMs);
    const auto cat = Hook("crm.item.get", bj::object{{"entityTypeId", e_}, {"id", 1}}).Result().at("item");
    const auto prefix = "DT" + std::to_string(e_) + "_" + std::to_string(cat.at("categoryId").as_int64());

    auto r = Parse(emu_->Admin().Handle(
        "POST",
        "move",
        bj::object{{"user_id", 12}, {"entityTypeId", e_}, {"id", 1}, {"stageId", prefix + ":SUCCESS"}}));
    auto history =
        Hook("crm.stagehistory.list", bj::object{{"entityTypeId", e_}, {"filter", bj::object{{"OWNER_ID", 1}}}});

    ASSERT_EQ(r.body.at("status").as_int64(), 200) << json::Dump(r.body);
    const auto& item = r.body.at("body").at("result").at("item");
    EXPECT_EQ(item.at("movedBy").as_int64(), 12);
    EXPECT_EQ(item.at("previousStageId").as_string(), prefix + ":NEW");
    EXPECT_EQ(item.at("movedTime").as_string(), "2026-01-12T10:05:00+03:00");
    ASSERT_EQ(history.Result().at("items").as_array().size(), 2u);
    EXPECT_EQ(history.Result().at("items").at(1).at("TYPE_ID").as_int64(), 3);  // final stage
    EXPECT_EQ(history.Result().at("items").at(1).at("STAGE_SEMANTIC_ID").as_string(), "S");
}

TEST_F(ItemTest, DeleteReturnsEmptyArray) {
    Add({});

    auto r = Hook("crm.item.delete", bj::object{{"entityTypeId", e_}, {"id", 1}});

    EXPECT_TRUE(r.Result().is_array());
    EXPECT_TRUE(r.Result().as_array().empty());
}

TEST_F(ItemTest, TimelineCommentNeedsKnownOwnerType) {
    auto ok =
        Hook("crm.timeline.comment.add",
             bj::object{
                 {"fields",
                  bj::object{{"ENTITY_ID", 1}, {"ENTITY_TYPE", "DYNAMIC_" + std::to_string(e_)}, {"COMMENT", "hi"}}}});
    auto bad = Hook(
        "crm.timeline.comment.add",
        bj::object{
            {"fields",
             bj::object{{"ENTITY_ID", 1}, {"ENTITY_TYPE", "dynamic_" + std::to_string(type_id_)}, {"COMMENT", "hi"}}}});

    EXPECT_TRUE(ok.Result().is_int64());
    EXPECT_EQ(bad.Error(), "OWNER_NOT_FOUND");
}

}  // namespace
}  // namespace dispatch::emulator::testing
