#include "b24/batch.hpp"

#include <gtest/gtest.h>

#include "b24/errc.hpp"
#include "core/json.hpp"
#include "support/test_support.hpp"

namespace dispatch::b24 {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

value ParseOrDie(std::string_view text) {
    auto parsed = json::Parse(text);
    EXPECT_TRUE(parsed.has_value()) << text;
    return parsed ? *parsed : value{};
}

std::vector<BatchCall> IndependentCalls(int n) {
    std::vector<BatchCall> calls;
    for (int i = 0; i < n; ++i) {
        calls.push_back({"c" + std::to_string(i), "crm.item.get", {{"entityTypeId", 1038}, {"id", i + 1}}});
    }
    return calls;
}

TEST(EncodeQuery, NestedParamsUseBracketKeys) {
    const object params{{"entityTypeId", 1038},
                        {"select", array{"id", "stageId"}},
                        {"filter", object{{">id", 5}, {"@stageId", array{"DT1038_14:NEW", "DT1038_14:WORK"}}}},
                        {"order", object{{"id", "ASC"}}}};

    EXPECT_EQ(EncodeQuery(params),
              "entityTypeId=1038&select[0]=id&select[1]=stageId&filter[%3Eid]=5"
              "&filter[%40stageId][0]=DT1038_14%3ANEW&filter[%40stageId][1]=DT1038_14%3AWORK&order[id]=ASC");
}

TEST(EncodeQuery, ValuesArePercentEncoded) {
    const object params{
        {"fields", object{{"COMMENT", "SLA breached: 20 min & more = bad/ugly?"}, {"TITLE", "Принтер"}}}};

    EXPECT_EQ(EncodeQuery(params),
              "fields[COMMENT]=SLA%20breached%3A%2020%20min%20%26%20more%20%3D%20bad%2Fugly%3F"
              "&fields[TITLE]=%D0%9F%D1%80%D0%B8%D0%BD%D1%82%D0%B5%D1%80");
}

TEST(EncodeQuery, ScalarsFollowHttpBuildQuery) {
    const object params{
        {"yes", true}, {"no", false}, {"nothing", nullptr}, {"empty", array{}}, {"pi", 1.5}, {"neg", -7}};

    EXPECT_EQ(EncodeQuery(params), "yes=1&no=0&pi=1.5&neg=-7");
}

TEST(EncodeQuery, BackReferencesStayUnencoded) {
    const object params{{"ID", Ref("me", {"UF_DEPARTMENT", "0"})}, {"text", "$result[x] is not alone"}};

    EXPECT_EQ(EncodeQuery(params), "ID=$result[me][UF_DEPARTMENT][0]&text=%24result%5Bx%5D%20is%20not%20alone");
}

TEST(Ref, BuildsAndRecognisesReferences) {
    EXPECT_EQ(Ref("item"), "$result[item]");
    EXPECT_EQ(Ref("item", {"item", "id"}), "$result[item][item][id]");
    EXPECT_TRUE(IsRef("$result[item][item][id]"));
    EXPECT_FALSE(IsRef("$result[item] trailing"));
    EXPECT_FALSE(IsRef("$result[]"));
    EXPECT_FALSE(IsRef("result[item]"));
}

TEST(Ref, RefsInFindsTheKeysAtAnyDepth) {
    const object params{{"id", Ref("a", {"item", "id"})},
                        {"fields", object{{"list", array{"x", Ref("b")}}, {"text", "after $result[c][id] too"}}},
                        {"plain", 5}};

    EXPECT_EQ(RefsIn(value(params)), (std::set<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(RefsIn(value(object{{"id", 1}})).empty());
}

TEST(BatchBuilder, ParamsHoldCmdStringsInOrderAndHalt) {
    BatchBuilder batch(/*halt=*/true);
    ASSERT_THAT(batch.Add("item", "crm.item.get", {{"entityTypeId", 1038}, {"id", 57}}), IsOk());
    ASSERT_THAT(batch.Add("history",
                          "crm.stagehistory.list",
                          {{"entityTypeId", 1038}, {"filter", object{{"OWNER_ID", Ref("item", {"item", "id"})}}}}),
                IsOk());
    ASSERT_THAT(batch.Add("types", "crm.type.list"), IsOk());

    const object params = batch.Params();

    EXPECT_EQ(json::Dump(params),
              R"({"halt":1,"cmd":{"item":"crm.item.get?entityTypeId=1038&id=57",)"
              R"("history":"crm.stagehistory.list?entityTypeId=1038&filter[OWNER_ID]=$result[item][item][id]",)"
              R"("types":"crm.type.list"}})");
}

TEST(BatchBuilder, RefusesTheFiftyFirstCall) {
    BatchBuilder batch;
    for (int i = 0; i < 50; ++i) {
        ASSERT_THAT(batch.Add("c" + std::to_string(i), "crm.item.get", {{"id", i}}), IsOk());
    }

    EXPECT_THAT(batch.Add("c50", "crm.item.get"), HasErrc(Errc::kBatchTooLong));
    EXPECT_EQ(batch.Size(), 50u);
}

TEST(BatchBuilder, RefusesBadKeysAndMethods) {
    BatchBuilder batch;
    ASSERT_THAT(batch.Add("a", "crm.item.get"), IsOk());

    EXPECT_THAT(batch.Add("a", "crm.item.get"), HasErrc(Errc::kInvalidArgument));
    EXPECT_THAT(batch.Add("b[0]", "crm.item.get"), HasErrc(Errc::kInvalidArgument));
    EXPECT_THAT(batch.Add("", "crm.item.get"), HasErrc(Errc::kInvalidArgument));
    EXPECT_THAT(batch.Add("c", "crm.item.get?id=1"), HasErrc(Errc::kInvalidArgument));
    EXPECT_THAT(batch.Add("d", "batch"), HasErrc(Errc::kInvalidArgument));  // nested batch is forbidden
}

TEST(SplitIntoBatches, OneHundredTwentyCallsBecomeFiftyFiftyTwenty) {
    auto batches = SplitIntoBatches(IndependentCalls(120));

    ASSERT_THAT(batches, IsOk());
    ASSERT_EQ(batches->size(), 3u);
    EXPECT_EQ((*batches)[0].Size(), 50u);
    EXPECT_EQ((*batches)[1].Size(), 50u);
    EXPECT_EQ((*batches)[2].Size(), 20u);
    EXPECT_EQ((*batches)[0].Calls().front().key, "c0");
    EXPECT_EQ((*batches)[1].Calls().front().key, "c50");
    EXPECT_EQ((*batches)[2].Calls().back().key, "c119");
}

TEST(SplitIntoBatches, ExactlyFiftyIsOneBatchAndNoneIsNone) {
    auto fifty = SplitIntoBatches(IndependentCalls(50));
    auto none = SplitIntoBatches({});

    ASSERT_THAT(fifty, IsOk());
    EXPECT_EQ(fifty->size(), 1u);
    ASSERT_THAT(none, IsOk());
    EXPECT_TRUE(none->empty());
}

TEST(SplitIntoBatches, RefusesAReferenceAcrossBatches) {
    auto calls = IndependentCalls(51);
    calls.back().params["id"] = Ref("c0", {"item", "id"});  // c0 is in the first batch, c50 in the second

    EXPECT_THAT(SplitIntoBatches(std::move(calls)), HasErrc(Errc::kInvalidArgument));
}

TEST(SplitIntoBatches, AllowsAReferenceWithinTheSameBatch) {
    auto calls = IndependentCalls(3);
    calls[2].params["id"] = Ref("c0", {"item", "id"});

    EXPECT_THAT(SplitIntoBatches(std::move(calls)), IsOk());
}

TEST(ParseBatchResult, SplitsResultsErrorsTotalsAndNexts) {
    BatchBuilder batch;
    ASSERT_THAT(batch.Add("me", "user.current"), IsOk());
    ASSERT_THAT(batch.Add("deps", "department.get"), IsOk());
    ASSERT_THAT(batch.Add("bad", "crm.item.get", {{"entityTypeId", 1038}, {"id", 999}}), IsOk());
    const value result = ParseOrDie(R"({
        "result": {"me": {"ID": "7"}, "deps": [{"ID": "3", "NAME": "Support L1"}]},
        "result_error": {"bad": {"error": "NOT_FOUND", "error_description": "Item not found"}},
        "result_total": {"deps": "120"},
        "result_next": {"deps": 50},
        "result_time": {}
    })");

    auto parsed = ParseBatchResult(batch, result);

    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(parsed->ErrorCount(), 1u);
    auto me = parsed->Get("me");
    ASSERT_THAT(me, IsOk());
    EXPECT_EQ(json::IntAt(*me, "ID"), 7);
    EXPECT_EQ(parsed->by_key.at("deps").total, 120);
    EXPECT_EQ(parsed->by_key.at("deps").next, 50);
    EXPECT_THAT(parsed->Get("bad"), HasErrc(Errc::kNotFound));
    EXPECT_THAT(parsed->Get("nobody"), HasErrc(Errc::kInvalidArgument));
}

TEST(ParseBatchResult, AcceptsEmptyMapsSerialisedAsArrays) {
    BatchBuilder batch;
    ASSERT_THAT(batch.Add("del", "crm.item.delete", {{"entityTypeId", 1038}, {"id", 5}}), IsOk());
    const value result =
        ParseOrDie(R"({"result": {"del": []}, "result_error": [], "result_total": [], "result_next": []})");

    auto parsed = ParseBatchResult(batch, result);

    ASSERT_THAT(parsed, IsOk());
    EXPECT_THAT(parsed->Get("del"), IsOk());
    EXPECT_EQ(parsed->ErrorCount(), 0u);
}

TEST(ParseBatchResult, NumericKeysMayComeBackAsAList) {
    BatchBuilder batch;
    ASSERT_THAT(batch.Add("0", "crm.item.get"), IsOk());
    ASSERT_THAT(batch.Add("1", "crm.item.get"), IsOk());
    const value result = ParseOrDie(R"({"result": [{"item": {"id": 1}}, {"item": {"id": "2"}}], "result_error": []})");

    auto parsed = ParseBatchResult(batch, result);

    ASSERT_THAT(parsed, IsOk());
    auto second = parsed->Get("1");
    ASSERT_THAT(second, IsOk());
    EXPECT_EQ(json::IntAt(second->at("item"), "id"), 2);
}

TEST(ParseBatchResult, HaltedCallsAreReportedAsNotExecuted) {
    BatchBuilder batch(/*halt=*/true);
    ASSERT_THAT(batch.Add("a", "crm.item.get"), IsOk());
    ASSERT_THAT(batch.Add("b", "crm.item.get"), IsOk());
    const value result = ParseOrDie(R"({"result": [], "result_error": {"a": {"error": "", "error_description":
        "Access denied"}}})");

    auto parsed = ParseBatchResult(batch, result);

    ASSERT_THAT(parsed, IsOk());
    EXPECT_THAT(parsed->Get("a"), HasErrc(Errc::kAccessDenied));
    EXPECT_THAT(parsed->Get("b"), HasErrc(Errc::kApiError));
}

TEST(ParseBatchResult, RejectsAShapeThatIsNotABatchAnswer) {
    BatchBuilder batch;

    EXPECT_THAT(ParseBatchResult(batch, value("nope")), HasErrc(Errc::kBadResponse));
    EXPECT_THAT(ParseBatchResult(batch, ParseOrDie(R"({"result": 5})")), HasErrc(Errc::kBadResponse));
}

}  // namespace
}  // namespace dispatch::b24
