// OAuth server, event delivery and robots (CONTRACT §1.2, §10, §11, §13.3).
#include "emulator/company.hpp"
#include "emulator/persistence.hpp"
#include "unit/emulator/emulator_fixture.hpp"

namespace dispatch::emulator::testing {
namespace {

TEST_F(EmulatorTest, CodeExchangeGivesHourLongTokenThatExpiresOnTheEmulatorClock) {
    const auto tokens = Tokens();
    const auto access = std::string(tokens.at("access_token").as_string());

    auto before = App("user.current", {}, access);
    clock_.Advance(kHourMs);
    auto after = App("user.current", {}, access);

    EXPECT_EQ(tokens.at("expires_in").as_int64(), 3600);
    EXPECT_EQ(tokens.at("client_endpoint").as_string(), "https://127.0.0.1:9/rest/");
    EXPECT_EQ(before.status, 200);
    EXPECT_EQ(after.status, 401);
    EXPECT_EQ(after.Error(), "expired_token");
}

TEST_F(EmulatorTest, RefreshRotatesAndStaleRefreshTokenIsInvalidGrant) {
    const auto tokens = Tokens();
    auto refresh = [&](const bj::value& rt) {
        return Parse(emu_->Token(bj::object{{"grant_type", "refresh_token"},
                                            {"client_id", emu_->ClientId()},
                                            {"client_secret", emu_->ClientSecret()},
                                            {"refresh_token", rt}}));
    };

    auto first = refresh(tokens.at("refresh_token"));
    auto stale = refresh(tokens.at("refresh_token"));

    ASSERT_EQ(first.status, 200);
    EXPECT_NE(first.body.at("refresh_token"), tokens.at("refresh_token"));
    EXPECT_EQ(App("user.current", {}, std::string(first.body.at("access_token").as_string())).status, 200);
    EXPECT_EQ(stale.status, 400);
    EXPECT_EQ(stale.body.at("error").as_string(), "invalid_grant");
}

TEST_F(EmulatorTest, WrongClientSecretIsInvalidClient) {
    auto r = Parse(emu_->Token(bj::object{{"grant_type", "refresh_token"},
                                          {"client_id", emu_->ClientId()},
                                          {"client_secret", "nope"},
                                          {"refresh_token", "x"}}));

    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body.at("error").as_string(), "invalid_client");
}

TEST_F(EmulatorTest, InjectedTokenExpiryGivesExpiredToken) {
    const auto access = std::string(Tokens().at("access_token").as_string());

    Parse(emu_->Admin().Handle("POST", "faults", bj::object{{"expire_tokens", true}}));

    EXPECT_EQ(App("user.current", {}, access).Error(), "expired_token");
}

TEST_F(EmulatorTest, ExpiredTokensArePurgedButStillAnswerExpiredToken) {
    const auto tokens = Tokens();
    const auto access = std::string(tokens.at("access_token").as_string());
    auto count = [&] {
        std::lock_guard lock(emu_->GetPortal().Mutex());
        const auto& st = emu_->GetPortal().State();
        return std::tuple{st.access_tokens.size(), st.refresh_tokens.size(), st.auth_codes.size()};
    };
    ASSERT_EQ(std::get<0>(count()), 1u);

    clock_.Advance(kHourMs + kMinuteMs);
    auto after = App("user.current", {}, access);  // a token check sweeps what has expired

    EXPECT_EQ(after.status, 401);
    EXPECT_EQ(after.Error(), "expired_token");
    EXPECT_EQ(std::get<0>(count()), 0u);
    EXPECT_EQ(std::get<1>(count()), 1u);  // the refresh token lives 180 days
    EXPECT_EQ(App("user.current", {}, std::string(access.size(), 'a')).Error(), "NO_AUTH_FOUND");

    clock_.Advance(kRefreshTokenLifetimeMs);
    App("user.current", {}, access);

    EXPECT_EQ(std::get<1>(count()), 0u);
}

TEST_F(EmulatorTest, RotatedRefreshTokensAndUsedCodesAreNotKept) {
    auto tokens = Tokens();
    for (int i = 0; i < 5; ++i) {
        auto r = Parse(emu_->Token(bj::object{{"grant_type", "refresh_token"},
                                              {"client_id", emu_->ClientId()},
                                              {"client_secret", emu_->ClientSecret()},
                                              {"refresh_token", tokens.at("refresh_token")}}));
        ASSERT_EQ(r.status, 200);
        tokens = r.body.as_object();
    }
    Parse(emu_->Admin().Handle("POST", "oauth/code", bj::object{{"user_id", 2}}));  // never exchanged
    clock_.Advance(kAuthCodeLifetimeMs + kMinuteMs);

    App("user.current", {}, std::string(tokens.at("access_token").as_string()));

    std::lock_guard lock(emu_->GetPortal().Mutex());
    const auto& st = emu_->GetPortal().State();
    EXPECT_EQ(st.refresh_tokens.size(), 1u);
    EXPECT_EQ(st.refresh_tokens.count(std::string(tokens.at("refresh_token").as_string())), 1u);
    EXPECT_TRUE(st.auth_codes.empty());
    EXPECT_EQ(st.access_tokens.size(), 6u);  // an access token stays valid its hour even after a refresh
}

TEST_F(EmulatorTest, EventTokensDoNotPileUpOverALongRun) {
    const auto [id, e] = MakeType();
    const auto token = std::string(Tokens().at("access_token").as_string());
    App("event.bind", bj::object{{"event", "ONCRMDYNAMICITEMADD"}, {"handler", "https://h/ev"}}, token);
    Parse(emu_->Admin().Handle("POST", "limits", bj::object{{"enabled", false}}));

    for (int hour = 0; hour < 48; ++hour) {
        Hook("crm.item.add", bj::object{{"entityTypeId", e}, {"fields", bj::object{}}});
        clock_.Advance(kHourMs);
    }
    Hook("user.current");
    Delivered();

    std::lock_guard lock(emu_->GetPortal().Mutex());
    EXPECT_LE(emu_->GetPortal().State().access_tokens.size(), 2u);  // 48 event tokens issued, the live ones kept
}

class EventTest : public EmulatorTest {
protected:
    void SetUp() override {
        std::tie(type_id_, e_) = MakeType();
        token_ = std::string(Tokens().at("access_token").as_string());
        auto bind =
            App("event.bind", bj::object{{"event", "ONCRMDYNAMICITEMUPDATE"}, {"handler", "https://h/ev"}}, token_);
        ASSERT_EQ(bind.status, 200) << json::Dump(bind.body);
        App("event.bind",
            bj::object{{"event", "ONCRMDYNAMICITEMADD_" + std::to_string(e_)}, {"handler", "https://h/add"}},
            token_);
        Delivered();
    }
    std::int64_t type_id_ = 0;
    std::int64_t e_ = 0;
    std::string token_;
};

TEST_F(EventTest, ItemAddIsPostedOnceWithDocumentedBody) {
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{{"title", "x"}}}});

    const auto sent = Delivered();

    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].first, "https://h/add");
    const auto& body = sent[0].second;
    EXPECT_EQ(body.at("event").as_string(), "ONCRMDYNAMICITEMADD_" + std::to_string(e_));
    EXPECT_EQ(body.at("data").at("FIELDS").at("ID").as_string(), "1");
    EXPECT_EQ(body.at("data").at("FIELDS").at("ENTITY_TYPE_ID").as_string(), std::to_string(e_));
    EXPECT_EQ(body.at("ts").as_string(), std::to_string(clock_.Now() / 1000));
    const auto& auth = body.at("auth");
    for (const char* key : {"access_token",
                            "expires_in",
                            "scope",
                            "domain",
                            "server_endpoint",
                            "status",
                            "client_endpoint",
                            "member_id",
                            "application_token"}) {
        EXPECT_TRUE(auth.as_object().contains(key)) << key;
    }
    EXPECT_TRUE(Delivered().empty());  // at most once
}

TEST_F(EventTest, NoOpUpdateRaisesNothingAndRealUpdateRaisesOnce) {
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{{"title", "x"}}}});
    Delivered();

    Hook("crm.item.update", bj::object{{"entityTypeId", e_}, {"id", 1}, {"fields", bj::object{{"title", "x"}}}});
    const auto after_noop = Delivered();
    Hook("crm.item.update", bj::object{{"entityTypeId", e_}, {"id", 1}, {"fields", bj::object{{"title", "y"}}}});
    const auto after_change = Delivered();

    EXPECT_TRUE(after_noop.empty());
    ASSERT_EQ(after_change.size(), 1u);
    EXPECT_EQ(after_change[0].second.at("event").as_string(), "ONCRMDYNAMICITEMUPDATE");
}

TEST_F(EventTest, AutomationChangesCarryNoTokens) {
    Parse(emu_->Admin().Handle("POST",
                               "act",
                               bj::object{{"user_id", 12},
                                          {"automation", true},
                                          {"method", "crm.item.add"},
                                          {"params", bj::object{{"entityTypeId", e_}, {"fields", bj::object{}}}}}));

    const auto sent = Delivered();

    ASSERT_EQ(sent.size(), 1u);
    EXPECT_FALSE(sent[0].second.at("auth").as_object().contains("access_token"));
    EXPECT_TRUE(sent[0].second.at("auth").as_object().contains("application_token"));
}

TEST_F(EventTest, DroppedAndDelayedDeliveriesFollowFaults) {
    Parse(emu_->Admin().Handle("POST", "faults", bj::object{{"event_delay_ms", 5000}}));
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{}}});

    const auto early = Delivered();
    clock_.Advance(5000);
    const auto due = Delivered();
    Parse(emu_->Admin().Handle("POST", "faults", bj::object{{"drop_events", 1}, {"event_delay_ms", 0}}));
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{}}});
    const auto dropped = Delivered();

    EXPECT_TRUE(early.empty());
    EXPECT_EQ(due.size(), 1u);
    EXPECT_TRUE(dropped.empty());
}

TEST_F(EventTest, DuplicateBindAndUnknownEventAreRejected) {
    auto dup = App("event.bind", bj::object{{"event", "ONCRMDYNAMICITEMUPDATE"}, {"handler", "https://h/ev"}}, token_);
    auto unknown = App("event.bind", bj::object{{"event", "ONSOMETHINGELSE"}, {"handler", "https://h/ev"}}, token_);

    EXPECT_EQ(dup.Error(), "ERROR_HANDLER_ALREADY_EXIST");
    EXPECT_EQ(unknown.status, 400);
    EXPECT_EQ(unknown.Error(), "ERROR_EVENT_NOT_FOUND");
}

TEST_F(EventTest, RobotOnStageIsCalledAndAnsweredOnce) {
    auto add = App("bizproc.robot.add",
                   bj::object{{"CODE", "sla_escalate"},
                              {"HANDLER", "https://h/robot"},
                              {"NAME", "Escalate"},
                              {"PROPERTIES", bj::object{{"targetLine", bj::object{{"Name", "Line"}}}}}},
                   token_);
    ASSERT_EQ(add.status, 200) << json::Dump(add.body);
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{}}});
    const auto item = Hook("crm.item.get", bj::object{{"entityTypeId", e_}, {"id", 1}}).Result().at("item");
    const auto prefix = "DT" + std::to_string(e_) + "_" + std::to_string(item.at("categoryId").as_int64());
    Parse(emu_->Admin().Handle("POST",
                               "robots/place",
                               bj::object{{"code", "sla_escalate"},
                                          {"stageId", prefix + ":CLIENT"},
                                          {"properties", bj::object{{"targetLine", "2"}}}}));
    Delivered();

    Hook("crm.item.update",
         bj::object{{"entityTypeId", e_}, {"id", 1}, {"fields", bj::object{{"stageId", prefix + ":CLIENT"}}}});
    const auto sent = Delivered();

    const std::pair<std::string, bj::object>* robot = nullptr;
    for (const auto& s : sent) {
        if (s.first == "https://h/robot") {
            robot = &s;
        }
    }
    ASSERT_NE(robot, nullptr);
    const auto& body = robot->second;
    EXPECT_EQ(body.at("code").as_string(), "sla_escalate");
    EXPECT_EQ(body.at("document_id").at(2).as_string(), "DYNAMIC_" + std::to_string(e_) + "_1");
    EXPECT_EQ(body.at("properties").at("targetLine").as_string(), "2");
    const auto event_token = body.at("event_token");
    EXPECT_EQ(App("bizproc.event.send", bj::object{{"EVENT_TOKEN", event_token}}, token_).status, 200);
    auto again = App("bizproc.event.send", bj::object{{"EVENT_TOKEN", event_token}}, token_);
    EXPECT_EQ(again.status, 403);
    EXPECT_EQ(again.Error(), "ACCESS_DENIED");
}

TEST_F(EventTest, InstallCallbackCarriesTokenPair) {
    Parse(emu_->Admin().Handle("POST", "app/install", bj::object{{"handler", "https://h/install"}}));

    const auto sent = Delivered();

    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].second.at("event").as_string(), "ONAPPINSTALL");
    const auto& auth = sent[0].second.at("auth");
    EXPECT_TRUE(auth.as_object().contains("refresh_token"));
    EXPECT_EQ(App("user.current", {}, std::string(auth.at("access_token").as_string())).status, 200);
}

TEST_F(EventTest, StateSurvivesAJsonRoundTrip) {
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{{"title", "persist me"}}}});
    const auto dumped = [&] {
        std::lock_guard lock(emu_->GetPortal().Mutex());
        return StateToJson(emu_->GetPortal().State());
    }();

    auto loaded = StateFromJson(dumped);

    ASSERT_THAT(loaded, IsOk());
    EXPECT_EQ(StateToJson(*loaded), dumped);
    EXPECT_EQ(loaded->items.at(e_).at(1).values.at("title").as_string(), "persist me");
}

TEST(Company, SeedFileMatchesTheBuiltInCompany) {
    auto v = json::ParseFile(::dispatch::testing::SourcePath("tests/data/emulator/company.json"));
    ASSERT_THAT(v, IsOk());

    auto company = CompanyFromJson(*v);

    ASSERT_THAT(company, IsOk());
    EXPECT_EQ(CompanyToJson(*company), CompanyToJson(DefaultCompany()));
    for (std::int64_t id : {1, 2, 11, 12, 13, 14, 21, 22, 23, 24, 25}) {
        EXPECT_EQ(company->users.count(id), 1u) << id;
    }
    EXPECT_GE(company->users.size(), 140u);
}

}  // namespace
}  // namespace dispatch::emulator::testing
