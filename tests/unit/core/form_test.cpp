#include "core/form.hpp"

#include "core/errc.hpp"
#include "core/json.hpp"
#include "support/test_support.hpp"

namespace dispatch::form {
namespace {

TEST(FormParse, BuildsNestedObjectsFromBracketKeys) {
    const auto parsed = Parse(
        "event=ONCRMDYNAMICITEMUPDATE&data%5BFIELDS%5D%5BID%5D=57&data[FIELDS][ENTITY_TYPE_ID]=1038"
        "&auth[domain]=acme.bitrix24.ru&ts=1767945600");

    ASSERT_THAT(parsed, IsOk());
    const boost::json::value v = *parsed;
    EXPECT_EQ(v.at("event").as_string(), "ONCRMDYNAMICITEMUPDATE");
    EXPECT_EQ(v.at("data").at("FIELDS").at("ID").as_string(), "57");
    EXPECT_EQ(v.at("data").at("FIELDS").at("ENTITY_TYPE_ID").as_string(), "1038");
    EXPECT_EQ(v.at("auth").at("domain").as_string(), "acme.bitrix24.ru");
}

TEST(FormParse, IndexedKeysBecomeArrays) {
    const auto parsed = Parse("document_id[1]=B&document_id[0]=crm&document_id[2]=DYNAMIC_1038_57&tags[]=x&tags[]=y");

    ASSERT_THAT(parsed, IsOk());
    const boost::json::value v = *parsed;
    ASSERT_TRUE(v.at("document_id").is_array());
    EXPECT_EQ(v.at("document_id").as_array().at(0).as_string(), "crm");
    EXPECT_EQ(v.at("document_id").as_array().at(2).as_string(), "DYNAMIC_1038_57");
    EXPECT_EQ(v.at("tags").as_array().size(), 2u);
}

TEST(FormParse, LastDuplicateWins) {
    const auto parsed = Parse("auth[application_token]=good&auth[application_token]=forged");

    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(boost::json::value(*parsed).at("auth").at("application_token").as_string(), "forged");
}

TEST(FormParse, DecodesPlusAsSpace) {
    const auto parsed = Parse("properties[reason]=SLA+breached%21");

    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(boost::json::value(*parsed).at("properties").at("reason").as_string(), "SLA breached!");
}

TEST(FormParse, RejectsMalformedInput) {
    EXPECT_THAT(Parse("a=%zz"), HasErrc(CoreErrc::kParse));
    EXPECT_THAT(Parse("a[b=1"), HasErrc(CoreErrc::kParse));
    EXPECT_THAT(Parse("[x]=1"), HasErrc(CoreErrc::kParse));
}

TEST(FormEncode, RoundTripsNestedParameters) {
    const boost::json::value params = {{"entityTypeId", 1038},
                                       {"filter", {{">id", 5}, {"@stageId", boost::json::array{"A", "B"}}}},
                                       {"select", boost::json::array{"id", "ufCrm5_Template"}}};

    const std::string encoded = Encode(params);
    const auto back = Parse(encoded);

    EXPECT_EQ(encoded.substr(0, 18), "entityTypeId=1038&");
    ASSERT_THAT(back, IsOk());
    const boost::json::value v = *back;
    EXPECT_EQ(v.at("filter").at(">id").as_string(), "5");
    EXPECT_EQ(v.at("filter").at("@stageId").as_array().at(1).as_string(), "B");
    EXPECT_EQ(v.at("select").as_array().at(1).as_string(), "ufCrm5_Template");
}

}  // namespace
}  // namespace dispatch::form
