// crm.item.list and crm.stagehistory.list answer the same whichever internal path serves them (the id-ordered walk
// for `order id`, the general filter-and-sort otherwise), and the item fields the flows read (CONTRACT §2.5, §8).
#include "unit/emulator/emulator_fixture.hpp"

namespace dispatch::emulator::testing {
namespace {

class ListTest : public EmulatorTest {
protected:
    void SetUp() override {
        Parse(emu_->Admin().Handle("POST", "limits", bj::object{{"enabled", false}}));
        std::tie(type_id_, e_) = MakeType();
        for (int i = 1; i <= 120; ++i) {
            auto r =
                Hook("crm.item.add",
                     bj::object{{"entityTypeId", e_}, {"fields", bj::object{{"assignedById", i % 3 == 0 ? 12 : 13}}}});
            ASSERT_EQ(r.status, 200);
        }
    }

    std::vector<std::int64_t> Ids(const Reply& r) {
        std::vector<std::int64_t> out;
        for (const auto& item : r.Result().at("items").as_array()) {
            out.push_back(item.at("id").as_int64());
        }
        return out;
    }

    Reply List(bj::object params) {
        params["entityTypeId"] = e_;
        params["select"] = bj::array{"id"};
        return Hook("crm.item.list", std::move(params));
    }

    std::int64_t type_id_ = 0;
    std::int64_t e_ = 0;
};

TEST_F(ListTest, FastTraversalByIdVisitsEveryItemOnce) {
    std::vector<std::int64_t> seen;
    std::int64_t last = 0;
    for (int page = 0; page < 10; ++page) {
        auto r = List(
            bj::object{{"order", bj::object{{"id", "ASC"}}}, {"filter", bj::object{{">id", last}}}, {"start", -1}});
        ASSERT_EQ(r.status, 200);
        EXPECT_EQ(r.body.at("total").as_int64(), 0);
        EXPECT_FALSE(r.body.as_object().contains("next"));
        const auto ids = Ids(r);
        seen.insert(seen.end(), ids.begin(), ids.end());
        if (ids.size() < 50) {
            break;
        }
        last = ids.back();
    }

    ASSERT_EQ(seen.size(), 120u);
    for (std::size_t i = 0; i < seen.size(); ++i) {
        EXPECT_EQ(seen[i], static_cast<std::int64_t>(i) + 1);
    }
}

TEST_F(ListTest, IdBoundsCombineWithOtherConditionsAndCount) {
    auto r = List(bj::object{{"order", bj::object{{"id", "DESC"}}},
                             {"filter", bj::object{{">=id", 10}, {"<id", 40}, {"assignedById", 12}}}});

    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body.at("total").as_int64(), 10);  // 12, 15, ..., 39
    const auto ids = Ids(r);
    ASSERT_EQ(ids.size(), 10u);
    EXPECT_EQ(ids.front(), 39);
    EXPECT_EQ(ids.back(), 12);
}

TEST_F(ListTest, PagesOfAnIdOrderAgreeWithTheGeneralPath) {
    // The same set ordered by id (walk) and by createdTime then id (sort): every item has the same createdTime.
    auto walk = List(bj::object{{"order", bj::object{{"id", "ASC"}}}, {"start", 50}});
    auto sorted = List(bj::object{{"order", bj::object{{"createdTime", "ASC"}}}, {"start", 50}});

    EXPECT_EQ(walk.body.at("total").as_int64(), 120);
    EXPECT_EQ(walk.body.at("next").as_int64(), 100);
    EXPECT_EQ(Ids(walk), Ids(sorted));
    EXPECT_EQ(walk.body.at("next"), sorted.body.at("next"));
}

TEST_F(ListTest, EmptyAndSingleIdRanges) {
    auto none = List(bj::object{{"filter", bj::object{{">id", 120}}}});
    auto inverted = List(bj::object{{"filter", bj::object{{">id", 50}, {"<id", 40}}}});
    auto one = List(bj::object{{"filter", bj::object{{"id", 77}}}});
    auto or_group = List(bj::object{
        {"filter",
         bj::object{{"0", bj::object{{"logic", "OR"}, {"0", bj::object{{"id", 3}}}, {"1", bj::object{{"id", 5}}}}}}}});

    EXPECT_EQ(none.body.at("total").as_int64(), 0);
    EXPECT_EQ(inverted.body.at("total").as_int64(), 0);
    EXPECT_EQ(Ids(one), std::vector<std::int64_t>{77});
    EXPECT_EQ(Ids(or_group), (std::vector<std::int64_t>{3, 5}));
}

TEST_F(ListTest, StageHistoryPerItemAfterLastSeenId) {
    const auto item = Hook("crm.item.get", bj::object{{"entityTypeId", e_}, {"id", 7}}).Result().at("item");
    const auto prefix = "DT" + std::to_string(e_) + "_" + std::to_string(item.at("categoryId").as_int64());
    for (const char* stage : {"PREPARATION", "CLIENT", "SUCCESS"}) {
        for (int id : {7, 8}) {
            Hook("crm.item.update",
                 bj::object{
                     {"entityTypeId", e_}, {"id", id}, {"fields", bj::object{{"stageId", prefix + ":" + stage}}}});
        }
    }
    auto all =
        Hook("crm.stagehistory.list",
             bj::object{
                 {"entityTypeId", e_}, {"filter", bj::object{{"OWNER_ID", 7}}}, {"order", bj::object{{"ID", "ASC"}}}});
    ASSERT_EQ(all.Result().at("items").as_array().size(), 4u);  // created + three moves
    const auto second_id = all.Result().at("items").at(1).at("ID").as_int64();

    // The flows' call: this item's rows after the last one seen, oldest first (as batch sends it: all strings).
    auto after = Hook("crm.stagehistory.list",
                      bj::object{{"entityTypeId", std::to_string(e_)},
                                 {"filter", bj::object{{"OWNER_ID", "7"}, {">ID", std::to_string(second_id)}}},
                                 {"order", bj::object{{"ID", "ASC"}}}});

    ASSERT_EQ(after.status, 200) << json::Dump(after.body);
    const auto& rows = after.Result().at("items").as_array();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(after.body.at("total").as_int64(), 2);
    EXPECT_EQ(rows[0].at("OWNER_ID").as_int64(), 7);
    EXPECT_GT(rows[0].at("ID").as_int64(), second_id);
    EXPECT_LT(rows[0].at("ID").as_int64(), rows[1].at("ID").as_int64());
    EXPECT_EQ(rows[0].at("STAGE_ID").as_string(), prefix + ":CLIENT");
    EXPECT_EQ(rows[0].at("TYPE_ID").as_int64(), 2);
    EXPECT_EQ(rows[1].at("STAGE_ID").as_string(), prefix + ":SUCCESS");
    EXPECT_EQ(rows[1].at("TYPE_ID").as_int64(), 3);
    EXPECT_EQ(rows[1].at("STAGE_SEMANTIC_ID").as_string(), "S");
    EXPECT_EQ(rows[1].at("CREATED_TIME").as_string(), "2026-01-12T10:00:00+03:00");
}

TEST_F(ListTest, StageHistoryRefusesFieldsItDoesNotHave) {
    auto r = Hook("crm.stagehistory.list", bj::object{{"entityTypeId", e_}, {"filter", bj::object{{"ITEM_ID", 7}}}});

    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Error(), "INVALID_ARG_VALUE");
}

TEST_F(ListTest, ItemCarriesTheFieldsTheFlowsRead) {
    const auto t = std::to_string(type_id_);
    auto field = Hook("userfieldconfig.add",
                      bj::object{{"moduleId", "crm"},
                                 {"field",
                                  bj::object{{"entityId", "CRM_" + t},
                                             {"fieldName", "UF_CRM_" + t + "_TEMPLATE"},
                                             {"userTypeId", "enumeration"},
                                             {"enum",
                                              bj::array{bj::object{{"value", "1C"}, {"xmlId", "1c"}},
                                                        bj::object{{"value", "Hardware"}}}}}}});
    ASSERT_EQ(field.status, 200) << json::Dump(field.body);
    const auto option = json::ToInt(field.Result().at("field").at("enum").at(0).at("id")).value();
    clock_.Advance(90 * kSecondMs);

    auto added = Hook("crm.item.add",
                      bj::object{{"entityTypeId", e_}, {"fields", bj::object{{"ufCrm" + t + "Template", option}}}});
    auto got = Hook("crm.item.get", bj::object{{"entityTypeId", e_}, {"id", added.Result().at("item").at("id")}});

    ASSERT_EQ(got.status, 200);
    const auto& item = got.Result().at("item");
    EXPECT_EQ(item.at("ufCrm" + t + "Template").as_int64(), option);  // a field added after items were listed
    EXPECT_TRUE(item.at("stageId").is_string());
    EXPECT_TRUE(item.at("categoryId").is_int64());
    EXPECT_EQ(item.at("assignedById").as_int64(), 1);
    EXPECT_EQ(item.at("createdBy").as_int64(), 1);
    EXPECT_EQ(item.at("createdTime").as_string(), "2026-01-12T10:01:30+03:00");
    EXPECT_EQ(item.at("updatedTime").as_string(), "2026-01-12T10:01:30+03:00");
}

TEST_F(ListTest, TimesAreWholeSecondsLikeThePortalStoresThem) {
    clock_.Advance(1234);  // 10:00:01.234

    auto added = Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{}}});
    const auto created = std::string(added.Result().at("item").at("createdTime").as_string());
    auto same = List(bj::object{{"filter", bj::object{{">=createdTime", created}}}});

    EXPECT_EQ(created, "2026-01-12T10:00:01+03:00");
    EXPECT_EQ(Ids(same), std::vector<std::int64_t>{121});
}

}  // namespace
}  // namespace dispatch::emulator::testing
