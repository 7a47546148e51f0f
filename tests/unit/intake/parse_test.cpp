#include "intake/parse.hpp"

#include "intake/errc.hpp"
#include "support/test_support.hpp"

namespace dispatch::intake {
namespace {

// CONTRACT §10.3, as it arrives on the wire (brackets percent-encoded in some keys, raw in others).
constexpr std::string_view kUpdateBody =
    "event=ONCRMDYNAMICITEMUPDATE&event_handler_id=12&data%5BFIELDS%5D%5BID%5D=57"
    "&data[FIELDS][ENTITY_TYPE_ID]=1038&ts=1767945600&auth[access_token]=acc&auth[expires_in]=3600"
    "&auth[scope]=crm&auth[domain]=example.bitrix24.com&auth[server_endpoint]=https%3A%2F%2Foauth.bitrix.info%2Frest%2F"
    "&auth[status]=L&auth[client_endpoint]=https%3A%2F%2Fexample.bitrix24.com%2Frest%2F&auth[member_id]=m1"
    "&auth[refresh_token]=ref&auth[application_token]=apptok";

TEST(ParseEvent, ReadsAnItemUpdateForm) {
    const auto ev = ParseEvent("application/x-www-form-urlencoded", kUpdateBody);

    ASSERT_THAT(ev, IsOk());
    EXPECT_EQ(ev->name, "ONCRMDYNAMICITEMUPDATE");
    EXPECT_EQ(ev->kind, EventKind::kItemUpdate);
    EXPECT_EQ(ev->item_id, 57);
    EXPECT_EQ(ev->entity_type_id, 1038);
    EXPECT_EQ(ev->ts, 1767945600);
    EXPECT_EQ(ev->auth.member_id, "m1");
    EXPECT_EQ(ev->auth.application_token, "apptok");
    EXPECT_EQ(ev->auth.client_endpoint, "https://example.bitrix24.com/rest/");
}

TEST(ParseEvent, StoredCopyHoldsNoTokens) {
    const auto ev = ParseEvent("application/x-www-form-urlencoded", kUpdateBody);

    ASSERT_THAT(ev, IsOk());
    const auto& auth = ev->sanitized.at("auth").as_object();
    EXPECT_FALSE(auth.contains("access_token"));
    EXPECT_FALSE(auth.contains("refresh_token"));
    EXPECT_FALSE(auth.contains("application_token"));
    EXPECT_EQ(auth.at("member_id").as_string(), "m1");
}

TEST(ParseEvent, AcceptsTheJsonViewAndPerTypeSuffix) {
    const auto ev = ParseEvent("application/json; charset=utf-8",
                               R"({"event":"onCrmDynamicItemAdd_1038","data":{"FIELDS":{"ID":5}},"ts":"1",
                                   "auth":{"member_id":"m1","application_token":"t"}})");

    ASSERT_THAT(ev, IsOk());
    EXPECT_EQ(ev->name, "ONCRMDYNAMICITEMADD");
    EXPECT_EQ(ev->kind, EventKind::kItemAdd);
    EXPECT_EQ(ev->entity_type_id, 1038);
    EXPECT_EQ(ev->item_id, 5);
}

TEST(ParseEvent, RefusesWhatItCannotTrustOrUse) {
    EXPECT_THAT(ParseEvent("application/json", "{not json"), HasErrc(Errc::kMalformedBody));
    EXPECT_THAT(ParseEvent("", "a=%zz"), HasErrc(Errc::kMalformedBody));
    EXPECT_THAT(ParseEvent("", "event=ONCRMDEALADD&auth[member_id]=m&auth[application_token]=t"),
                HasErrc(Errc::kUnsupportedEvent));
    EXPECT_THAT(ParseEvent("", "event=ONCRMDYNAMICITEMADD&data[FIELDS][ID]=5&data[FIELDS][ENTITY_TYPE_ID]=1038"
                               "&auth[member_id]=m"),
                HasErrc(Errc::kMissingField));
    EXPECT_THAT(ParseEvent("", "event=ONCRMDYNAMICITEMADD&data[FIELDS][ID]=x&data[FIELDS][ENTITY_TYPE_ID]=1038"
                               "&auth[member_id]=m&auth[application_token]=t"),
                HasErrc(Errc::kMissingField));
    EXPECT_THAT(ParseEvent("", "event=ONCRMDYNAMICITEMADD_1040&data[FIELDS][ID]=5&data[FIELDS][ENTITY_TYPE_ID]=1038"
                               "&auth[member_id]=m&auth[application_token]=t"),
                HasErrc(Errc::kMalformedBody));
}

TEST(ParseEvent, AppUninstallNeedsNoItem) {
    const auto ev = ParseEvent("", "event=ONAPPUNINSTALL&data[CLEAN]=1&auth[member_id]=m&auth[application_token]=t");

    ASSERT_THAT(ev, IsOk());
    EXPECT_EQ(ev->kind, EventKind::kAppUninstall);
    EXPECT_EQ(ev->item_id, 0);
}

TEST(DedupKey, SameDeliveryTwiceGivesSameKeyAndAnotherItemDoesNot) {
    const auto a = ParseEvent("", kUpdateBody);
    const auto b = ParseEvent("", kUpdateBody);
    auto c = ParseEvent("", kUpdateBody);
    ASSERT_TRUE(a && b && c);
    c->item_id = 58;

    EXPECT_EQ(DedupKey(*a), DedupKey(*b));
    EXPECT_NE(DedupKey(*a), DedupKey(*c));
}

TEST(DedupKey, TwoChangesInOneSecondWithDifferentBodiesAreNotDuplicates) {
    // ts has second precision: a person's move right after our own write-back arrives with the same ts. Only the
    // body (here the delivery's token) tells them apart; merging them would lose the person's change.
    const auto first = ParseEvent("", std::string(kUpdateBody) + "&auth[access_token]=one");
    const auto second = ParseEvent("", std::string(kUpdateBody) + "&auth[access_token]=two");
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->ts, second->ts);
    EXPECT_NE(DedupKey(*first), DedupKey(*second));
}

TEST(ParseRobotCall, ReadsTheDocumentedBody) {
    const auto call = ParseRobotCall(
        "", "workflow_id=wf1&code=sla_escalate&document_id[0]=crm"
            "&document_id[1]=Bitrix%5CCrm%5CIntegration%5CBizProc%5CDocument%5CDynamic&document_id[2]=DYNAMIC_1038_57"
            "&document_type[2]=DYNAMIC_1038&event_token=tok%7C1&properties[targetLine]=2"
            "&properties[reason]=SLA+breached&use_subscription=Y&ts=1767945600&auth[member_id]=m1"
            "&auth[application_token]=apptok");

    ASSERT_THAT(call, IsOk());
    EXPECT_EQ(call->code, "sla_escalate");
    EXPECT_EQ(call->entity_type_id, 1038);
    EXPECT_EQ(call->item_id, 57);
    EXPECT_EQ(call->event_token, "tok|1");
    EXPECT_TRUE(call->use_subscription);
    EXPECT_EQ(call->properties.at("reason").as_string(), "SLA breached");
    EXPECT_FALSE(call->sanitized.contains("event_token"));
}

TEST(ParseRobotCall, RefusesADealDocument) {
    const auto call = ParseRobotCall("", "code=x&document_id[0]=crm&document_id[1]=D&document_id[2]=DEAL_12"
                                         "&event_token=t&auth[member_id]=m&auth[application_token]=a");

    EXPECT_THAT(call, HasErrc(Errc::kMalformedBody));
}

TEST(ParseInstall, NeedsTokensAndPortal) {
    const auto ok = ParseInstall("", "auth[access_token]=a&auth[refresh_token]=r&auth[member_id]=m"
                                     "&auth[domain]=acme.bitrix24.ru&auth[application_token]=app&auth[expires_in]=3600");
    const auto missing = ParseInstall("", "auth[member_id]=m&auth[domain]=acme.bitrix24.ru");

    ASSERT_THAT(ok, IsOk());
    EXPECT_EQ(ok->auth.refresh_token, "r");
    EXPECT_EQ(ok->auth.expires_in, 3600);
    EXPECT_THAT(missing, HasErrc(Errc::kMissingField));
}

TEST(ParseHookCall, MergesQueryAndBody) {
    const auto call = ParseHookCall("member_id=m1&secret=s3", "application/x-www-form-urlencoded",
                                    "entity_type_id=1038&item_id=77&reason=stage");

    ASSERT_THAT(call, IsOk());
    EXPECT_EQ(call->member_id, "m1");
    EXPECT_EQ(call->item_id, 77);
    EXPECT_THAT(ParseHookCall("member_id=m1", "", ""), HasErrc(Errc::kMissingField));
}

TEST(HttpStatus, MapsEachRefusal) {
    EXPECT_EQ(HttpStatus(Errc::kMalformedBody), 400u);
    EXPECT_EQ(HttpStatus(Errc::kBadToken), 401u);
    EXPECT_EQ(HttpStatus(Errc::kUnknownPortal), 401u);
    EXPECT_EQ(HttpStatus(Errc::kTooLarge), 413u);
    EXPECT_EQ(HttpStatus(Errc::kStoreUnavailable), 503u);
}

}  // namespace
}  // namespace dispatch::intake
