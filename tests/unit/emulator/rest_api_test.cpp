// Transport, envelope, auth, limits, faults and batch of the emulated /rest/ (CONTRACT §2, §3, §13.1).
#include "unit/emulator/emulator_fixture.hpp"

namespace dispatch::emulator::testing {
namespace {

TEST_F(EmulatorTest, SuccessEnvelopeCarriesResultAndTime) {
    auto r = Hook("crm.type.list");

    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.Result().at("types").is_array());
    EXPECT_EQ(r.body.at("total").as_int64(), 0);
    const auto& time = r.body.at("time");
    for (const char* key : {"start", "finish", "duration", "processing", "date_start", "date_finish"}) {
        EXPECT_TRUE(time.as_object().contains(key)) << key;
    }
    EXPECT_EQ(time.at("date_start").as_string(), "2026-01-12T10:00:00+03:00");
}

TEST_F(EmulatorTest, WrongWebhookSecretIsNoAuthFound) {
    RestRequest req;
    req.method = "crm.type.list";
    req.webhook_user = 1;
    req.webhook_secret = "wrong";

    auto r = Parse(emu_->Rest().Handle(std::move(req)));

    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.Error(), "NO_AUTH_FOUND");
}

TEST_F(EmulatorTest, UnknownMethodIs404MethodNotFound) {
    auto r = Hook("crm.nothing.here");

    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.Error(), "ERROR_METHOD_NOT_FOUND");
}

TEST_F(EmulatorTest, PlainHttpIsRejected) {
    RestRequest req;
    req.method = "crm.type.list";
    req.https = false;

    auto r = Parse(emu_->Rest().Handle(std::move(req)));

    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Error(), "INVALID_REQUEST");
}

TEST_F(EmulatorTest, BurstOfSixtyGetsTenQueryLimitExceeded) {
    int ok = 0;
    int limited = 0;
    for (int i = 0; i < 60; ++i) {
        auto r = Hook("user.current");
        if (r.status == 200) {
            ++ok;
        } else if (r.status == 503 && r.Error() == "QUERY_LIMIT_EXCEEDED") {
            ++limited;
        }
    }

    EXPECT_EQ(ok, 50);
    EXPECT_EQ(limited, 10);
}

TEST_F(EmulatorTest, BucketDrainsTwoPerSecondOfEmulatorTime) {
    for (int i = 0; i < 50; ++i) {
        ASSERT_EQ(Hook("user.current").status, 200);
    }
    ASSERT_EQ(Hook("user.current").status, 503);

    clock_.Advance(1000);

    EXPECT_EQ(Hook("user.current").status, 200);
    EXPECT_EQ(Hook("user.current").status, 200);
    EXPECT_EQ(Hook("user.current").status, 503);
}

TEST_F(EmulatorTest, BucketIsPerSourceIp) {
    for (int i = 0; i < 50; ++i) {
        ASSERT_EQ(Hook("user.current", {}, "127.0.0.1").status, 200);
    }

    EXPECT_EQ(Hook("user.current", {}, "127.0.0.1").status, 503);
    EXPECT_EQ(Hook("user.current", {}, "127.0.0.2").status, 200);
}

TEST_F(EmulatorTest, InjectedOperationTimeLimitAnswersNextCallsThen429Clears) {
    Parse(emu_->Admin().Handle(
        "POST",
        "faults",
        bj::object{
            {"fail",
             bj::object{
                 {"method", "crm.item.list"}, {"times", 2}, {"status", 429}, {"error", "OPERATION_TIME_LIMIT"}}}}));
    const auto [id, e] = MakeType();

    auto first = Hook("crm.item.list", bj::object{{"entityTypeId", e}});
    auto second = Hook("crm.item.list", bj::object{{"entityTypeId", e}});
    auto third = Hook("crm.item.list", bj::object{{"entityTypeId", e}});

    EXPECT_EQ(first.status, 429);
    EXPECT_EQ(first.Error(), "OPERATION_TIME_LIMIT");
    EXPECT_EQ(second.status, 429);
    EXPECT_EQ(third.status, 200);
}

TEST_F(EmulatorTest, BatchResolvesReferencesAndReportsErrorsPerCall) {
    auto r = Hook("batch",
                  bj::object{{"cmd",
                              bj::object{{"me", "user.get?ID=12"},
                                         {"dep", "department.get?ID=$result[me][0][UF_DEPARTMENT][0]"},
                                         {"bad", "crm.item.get?entityTypeId=999&id=1"}}}});

    ASSERT_EQ(r.status, 200);
    const auto& res = r.Result();
    EXPECT_EQ(res.at("result").at("dep").at(0).at("ID").as_string(), "3");
    EXPECT_EQ(res.at("result_error").at("bad").at("error").as_string(), "NOT_FOUND");
    EXPECT_EQ(res.at("result_total").at("me").as_int64(), 1);
    EXPECT_TRUE(res.at("result_next").is_array());  // empty PHP map → []
}

TEST_F(EmulatorTest, BatchHaltStopsAtFirstError) {
    auto r = Hook("batch",
                  bj::object{{"halt", 1}, {"cmd", bj::array{"crm.item.get?entityTypeId=999&id=1", "user.current"}}});

    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.Result().at("result").is_array());
    EXPECT_TRUE(r.Result().at("result").as_array().empty());
    EXPECT_EQ(r.Result().at("result_error").at(0).at("error").as_string(), "NOT_FOUND");
}

TEST_F(EmulatorTest, BatchOfFiftyOneIsRejected) {
    bj::array cmd;
    for (int i = 0; i < 51; ++i) {
        cmd.push_back(bj::value("user.current"));
    }

    auto r = Hook("batch", bj::object{{"cmd", cmd}});

    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Error(), "ERROR_BATCH_LENGTH_EXCEEDED");
}

TEST_F(EmulatorTest, NestedBatchIsNotAllowed) {
    auto r = Hook("batch", bj::object{{"cmd", bj::object{{"x", "batch?cmd[0]=user.current"}}}});

    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.Result().at("result_error").at("x").at("error").as_string(), "ERROR_BATCH_METHOD_NOT_ALLOWED");
}

TEST_F(EmulatorTest, AppOnlyMethodsRefuseWebhooks) {
    auto robot = Hook("bizproc.robot.add", bj::object{{"CODE", "x"}});
    auto bind = Hook("event.bind", bj::object{{"event", "ONCRMDYNAMICITEMADD"}, {"handler", "https://h/"}});

    EXPECT_EQ(robot.status, 400);
    EXPECT_EQ(robot.Error(), "ACCESS_DENIED");
    EXPECT_EQ(bind.status, 403);
    EXPECT_EQ(bind.Error(), "WRONG_AUTH_TYPE");
}

TEST_F(EmulatorTest, UserGetReturnsIdAsStringAndFiltersByDepartment) {
    auto r = Hook("user.get", bj::object{{"FILTER", bj::object{{"UF_DEPARTMENT", 3}}}});

    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body.at("total").as_int64(), 4);  // dispatcher 11 and specialists 12–14
    EXPECT_EQ(r.Result().at(0).at("ID").as_string(), "11");
    EXPECT_TRUE(r.Result().at(0).at("ACTIVE").is_bool());
}

TEST_F(EmulatorTest, UserGetPagesByFifty) {
    auto first = Hook("user.get");
    auto fast = Hook("user.get", bj::object{{"start", -1}});

    EXPECT_EQ(first.Result().as_array().size(), 50u);
    EXPECT_EQ(first.body.at("next").as_int64(), 50);
    EXPECT_EQ(first.body.at("total").as_int64(), 151);
    EXPECT_EQ(fast.body.at("total").as_int64(), 0);
    EXPECT_FALSE(fast.body.as_object().contains("next"));
}

}  // namespace
}  // namespace dispatch::emulator::testing
