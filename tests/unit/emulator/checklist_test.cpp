// The CONTRACT §13 checklist items no other test covers: scopes, system errors by injection, item write rules,
// failed deliveries, robot validation, offline events, triggers, timeline and notification errors.
#include "unit/emulator/emulator_fixture.hpp"

namespace dispatch::emulator::testing {
namespace {

class ChecklistTest : public EmulatorTest {
protected:
    void SetUp() override {
        Parse(emu_->Admin().Handle("POST", "limits", bj::object{{"enabled", false}}));
        std::tie(type_id_, e_) = MakeType();
        token_ = std::string(Tokens().at("access_token").as_string());
    }

    Reply As(std::int64_t user, const std::string& method, const bj::object& params) {
        auto r = Parse(
            emu_->Admin().Handle("POST", "act", bj::object{{"user_id", user}, {"method", method}, {"params", params}}));
        return Reply{static_cast<int>(r.body.at("status").as_int64()), r.body.at("body")};
    }

    std::string Stage(const std::string& code) {
        const auto item = Hook("crm.item.get", bj::object{{"entityTypeId", e_}, {"id", 1}}).Result().at("item");
        return "DT" + std::to_string(e_) + "_" + std::to_string(item.at("categoryId").as_int64()) + ":" + code;
    }

    std::int64_t type_id_ = 0;
    std::int64_t e_ = 0;
    std::string token_;
};

// §13.1: missing scope → 403 insufficient_scope.
TEST_F(ChecklistTest, MethodOutsideTheGrantedScopeIsInsufficientScope) {
    Parse(emu_->Admin().Handle("POST", "app", bj::object{{"scope", "crm"}}));

    auto user = App("user.current", {}, token_);
    auto crm = App("crm.type.list", {}, token_);

    EXPECT_EQ(user.status, 403);
    EXPECT_EQ(user.Error(), "insufficient_scope");
    EXPECT_EQ(crm.status, 200);
}

// §13.1: the time block of a success carries operating and operating_reset_at.
TEST_F(ChecklistTest, SuccessTimeBlockCarriesOperatingFields) {
    auto r = Hook("user.current");

    EXPECT_TRUE(r.body.at("time").as_object().contains("operating"));
    EXPECT_TRUE(r.body.at("time").at("operating_reset_at").is_int64());
}

// §13.4 "any": system-level errors the emulator has no reason to produce by itself are injected and answered with
// the documented status and code.
TEST_F(ChecklistTest, InjectedSystemErrorsKeepTheirStatusAndCode) {
    const std::vector<std::pair<int, std::string>> catalogue{{403, "INVALID_CREDENTIALS"},
                                                             {403, "user_access_error"},
                                                             {403, "ACCESS_DENIED"},
                                                             {403, "allowed_only_intranet_user"},
                                                             {503, "OVERLOAD_LIMIT"},
                                                             {500, "INTERNAL_SERVER_ERROR"},
                                                             {500, "PORTAL_DELETED"},
                                                             {400, "CREATE_DYNAMIC_ITEM_RESTRICTED"},
                                                             {400, "LIMIT_EXCEEDED"}};
    for (const auto& [status, code] : catalogue) {
        Parse(emu_->Admin().Handle(
            "POST",
            "faults",
            bj::object{{"fail", bj::object{{"method", "crm.item.add"}, {"status", status}, {"error", code}}}}));

        auto r = Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{}}});

        EXPECT_EQ(r.status, status) << code;
        EXPECT_EQ(r.Error(), code);
    }
    EXPECT_EQ(Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{}}}).status, 200);
}

// §13.2 items: unknown keys are ignored; movedTime/movedBy/previousStageId change only with the stage.
TEST_F(ChecklistTest, UnknownKeysAreIgnoredAndMoveFieldsChangeOnlyWithTheStage) {
    auto added = Hook("crm.item.add",
                      bj::object{{"entityTypeId", e_}, {"fields", bj::object{{"title", "x"}, {"noSuchField", 1}}}});
    clock_.Advance(kMinuteMs);

    auto renamed =
        As(12, "crm.item.update", bj::object{{"entityTypeId", e_}, {"id", 1}, {"fields", bj::object{{"title", "y"}}}});

    ASSERT_EQ(added.status, 200);
    EXPECT_FALSE(added.Result().at("item").as_object().contains("noSuchField"));
    const auto& item = renamed.Result().at("item");
    EXPECT_EQ(item.at("updatedBy").as_int64(), 12);
    EXPECT_EQ(item.at("updatedTime").as_string(), "2026-01-12T10:01:00+03:00");
    EXPECT_EQ(item.at("movedBy").as_int64(), 1);
    EXPECT_EQ(item.at("movedTime").as_string(), "2026-01-12T10:00:00+03:00");
    EXPECT_TRUE(item.at("previousStageId").is_null());
}

// §13.2 filters: boolean UFs filter with 1/0 only.
TEST_F(ChecklistTest, BooleanUserFieldFiltersWithOneAndZero) {
    const auto t = std::to_string(type_id_);
    ASSERT_EQ(Hook("userfieldconfig.add",
                   bj::object{{"moduleId", "crm"},
                              {"field",
                               bj::object{{"entityId", "CRM_" + t},
                                          {"fieldName", "UF_CRM_" + t + "_VIP"},
                                          {"userTypeId", "boolean"}}}})
                  .status,
              200);
    const auto vip = "ufCrm" + t + "Vip";
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{{vip, "Y"}}}});
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{{vip, "N"}}}});
    auto count = [&](bj::value v) {
        return Hook("crm.item.list", bj::object{{"entityTypeId", e_}, {"filter", bj::object{{vip, v}}}})
            .body.at("total")
            .as_int64();
    };

    EXPECT_EQ(count(1), 1);
    EXPECT_EQ(count("0"), 1);
    EXPECT_EQ(count("Y"), 0);
    EXPECT_EQ(Hook("crm.item.get", bj::object{{"entityTypeId", e_}, {"id", 1}}).Result().at("item").at(vip).as_string(),
              "Y");
}

// §13.2 / §13.4 crm.type.*: `100`, ACCESS_DENIED for non-admins, [] on delete, NOT_FOUND texts for items.
TEST_F(ChecklistTest, TypeMethodErrorsAndEmptyMapOnDelete) {
    auto no_fields = Hook("crm.type.add");
    auto not_admin = As(12, "crm.type.add", bj::object{{"fields", bj::object{{"title", "Mine"}}}});
    auto spare = Hook("crm.type.add", bj::object{{"fields", bj::object{{"title", "Spare"}}}});
    auto deleted = Hook("crm.type.delete", bj::object{{"id", spare.Result().at("type").at("id")}});
    auto no_type = Hook("crm.item.get", bj::object{{"entityTypeId", 4242}, {"id", 1}});

    EXPECT_EQ(no_fields.status, 400);
    EXPECT_EQ(no_fields.Error(), "100");
    EXPECT_EQ(not_admin.status, 400);
    EXPECT_EQ(not_admin.Error(), "ACCESS_DENIED");
    EXPECT_TRUE(deleted.Result().is_array());
    EXPECT_TRUE(deleted.Result().as_array().empty());
    EXPECT_EQ(no_type.body.at("error_description").as_string(), "Smart process not found");
}

// §13.2 / §13.4 crm.category.*: a new funnel gets its five stages; `0` for a missing name; admins only.
TEST_F(ChecklistTest, CategoryAddSeedsStagesAndRefusesBadCalls) {
    auto added = Hook("crm.category.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{{"name", "Line 2"}}}});
    const auto c = added.Result().at("category").at("id").as_int64();
    auto stages =
        Hook("crm.status.list",
             bj::object{{"filter",
                         bj::object{{"ENTITY_ID", "DYNAMIC_" + std::to_string(e_) + "_STAGE_" + std::to_string(c)}}}});
    auto blank = Hook("crm.category.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{{"name", "  "}}}});
    auto not_admin =
        As(12, "crm.category.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{{"name", "X"}}}});

    ASSERT_EQ(stages.Result().as_array().size(), 5u);
    EXPECT_EQ(blank.status, 400);
    EXPECT_EQ(blank.body.at("error").as_int64(), 0);
    EXPECT_EQ(not_admin.Error(), "ACCESS_DENIED");
}

// §13.4 crm.automatedsolution.*: a bad filter field is INVALID_ARG_VALUE.
TEST_F(ChecklistTest, AutomatedSolutionListRefusesUnknownFilterFields) {
    auto r = Hook("crm.automatedsolution.list", bj::object{{"filter", bj::object{{"code", "x"}}}});

    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Error(), "INVALID_ARG_VALUE");
}

// §13.3: a failed delivery is logged once and never retried.
TEST_F(ChecklistTest, FailedDeliveryIsNotRetried) {
    App("event.bind", bj::object{{"event", "ONCRMDYNAMICITEMADD"}, {"handler", "https://h/ev"}}, token_);
    int posts = 0;
    emu_->Events().SetSender([&](const std::string&, const std::string&) {
        ++posts;
        return Result<int>(500);
    });
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{}}});

    emu_->Events().DeliverDue();
    emu_->Events().DeliverDue();
    const auto log = Parse(emu_->Admin().Handle("GET", "events", bj::value())).body;

    EXPECT_EQ(posts, 1);
    ASSERT_EQ(log.as_array().size(), 1u);
    EXPECT_EQ(log.at(0).at("outcome").as_string(), "failed");
    EXPECT_EQ(log.at(0).at("status").as_int64(), 500);
}

// §13.4 event.bind / event.offline.*: offline is refused with 403 ACCESS_DENIED.
TEST_F(ChecklistTest, OfflineEventsAreRefused) {
    auto bind = App("event.bind", bj::object{{"event", "ONCRMDYNAMICITEMADD"}, {"event_type", "offline"}}, token_);
    auto get = App("event.offline.get", {}, token_);

    EXPECT_EQ(bind.status, 403);
    EXPECT_EQ(bind.Error(), "ACCESS_DENIED");
    EXPECT_EQ(get.status, 403);
    EXPECT_EQ(get.Error(), "ACCESS_DENIED");
}

// §13.4 bizproc.robot.*: the documented validation codes.
TEST_F(ChecklistTest, RobotRegistrationErrors) {
    auto robot = [&](bj::object extra) {
        bj::object p{{"CODE", "sla_check"}, {"HANDLER", "https://h/robot"}, {"NAME", "SLA check"}};
        for (auto& kv : extra) {
            p[kv.key()] = kv.value();
        }
        return App("bizproc.robot.add", p, token_);
    };

    auto bad_code = robot(bj::object{{"CODE", "sla check!"}});
    auto no_name = robot(bj::object{{"NAME", ""}});
    auto ftp = robot(bj::object{{"HANDLER", "ftp://h/robot"}});
    auto no_url = robot(bj::object{{"HANDLER", "robot"}});
    auto bad_property = robot(bj::object{{"PROPERTIES", bj::object{{"1x", bj::object{{"Name", "x"}}}}}});
    auto ok = robot({});
    auto twice = robot({});
    auto update_missing =
        App("bizproc.robot.update", bj::object{{"CODE", "nope"}, {"FIELDS", bj::object{{"NAME", "x"}}}}, token_);
    auto delete_missing = App("bizproc.robot.delete", bj::object{{"CODE", "nope"}}, token_);
    auto listed = App("bizproc.robot.list", {}, token_);

    EXPECT_EQ(bad_code.Error(), "ERROR_ACTIVITY_VALIDATION_FAILURE");
    EXPECT_EQ(no_name.Error(), "ERROR_ACTIVITY_VALIDATION_FAILURE");
    EXPECT_EQ(ftp.Error(), "ERROR_UNSUPPORTED_PROTOCOL");
    EXPECT_EQ(no_url.Error(), "ERROR_WRONG_HANDLER_URL");
    EXPECT_EQ(bad_property.Error(), "ERROR_ACTIVITY_VALIDATION_FAILURE");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(twice.Error(), "ERROR_ACTIVITY_ALREADY_INSTALLED");
    EXPECT_EQ(update_missing.Error(), "ERROR_ACTIVITY_NOT_FOUND");
    EXPECT_EQ(delete_missing.Error(), "ERROR_ACTIVITY_NOT_FOUND");
    EXPECT_EQ(listed.Result(), (bj::array{"sla_check"}));
}

// §11.4 / §13.4 crm.automation.trigger*: app triggers move items where placed; errors carry "".
TEST_F(ChecklistTest, TriggersMoveItemsToTheStageTheyArePlacedOn) {
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{}}});
    App("event.bind", bj::object{{"event", "ONCRMDYNAMICITEMUPDATE"}, {"handler", "https://h/ev"}}, token_);
    Delivered();
    auto added =
        App("crm.automation.trigger.add", bj::object{{"CODE", "sla_breach"}, {"NAME", "SLA breached"}}, token_);
    auto renamed = App("crm.automation.trigger.add", bj::object{{"CODE", "sla_breach"}, {"NAME", "Breach"}}, token_);
    Parse(emu_->Admin().Handle(
        "POST", "triggers/place", bj::object{{"code", "sla_breach"}, {"stageId", Stage("CLIENT")}}));

    auto fired = App("crm.automation.trigger.execute",
                     bj::object{{"CODE", "sla_breach"}, {"OWNER_TYPE_ID", e_}, {"OWNER_ID", 1}},
                     token_);
    const auto events = Delivered();
    const auto item = Hook("crm.item.get", bj::object{{"entityTypeId", e_}, {"id", 1}}).Result().at("item");
    auto unknown_code = App(
        "crm.automation.trigger.execute", bj::object{{"CODE", "nope"}, {"OWNER_TYPE_ID", e_}, {"OWNER_ID", 1}}, token_);
    auto bad_type = App("crm.automation.trigger.execute",
                        bj::object{{"CODE", "sla_breach"}, {"OWNER_TYPE_ID", 4242}, {"OWNER_ID", 1}},
                        token_);
    auto bad_item = App("crm.automation.trigger.execute",
                        bj::object{{"CODE", "sla_breach"}, {"OWNER_TYPE_ID", e_}, {"OWNER_ID", 99}},
                        token_);
    auto listed = App("crm.automation.trigger.list", {}, token_);
    auto by_webhook = Hook("crm.automation.trigger.add", bj::object{{"CODE", "x"}, {"NAME", "x"}});
    auto deleted = App("crm.automation.trigger.delete", bj::object{{"CODE", "sla_breach"}}, token_);
    auto delete_again = App("crm.automation.trigger.delete", bj::object{{"CODE", "sla_breach"}}, token_);

    EXPECT_EQ(added.status, 200);
    EXPECT_EQ(renamed.status, 200);
    EXPECT_EQ(fired.status, 200);
    EXPECT_EQ(item.at("stageId").as_string(), Stage("CLIENT"));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_FALSE(events[0].second.at("auth").as_object().contains("access_token"));  // automation: no token
    EXPECT_EQ(unknown_code.Error(), "");
    EXPECT_EQ(unknown_code.body.at("error_description").as_string(), "Trigger with code nope is not registered.");
    EXPECT_EQ(bad_type.body.at("error_description").as_string(), "Incorrect parameter OWNER_TYPE_ID.");
    EXPECT_EQ(bad_item.body.at("error_description").as_string(), "Incorrect parameter OWNER_ID.");
    EXPECT_EQ(listed.Result(), (bj::array{bj::object{{"NAME", "Breach"}, {"CODE", "sla_breach"}}}));
    EXPECT_EQ(by_webhook.Error(), "ACCESS_DENIED");
    EXPECT_TRUE(deleted.Result().as_bool());
    EXPECT_EQ(delete_again.body.at("error_description").as_string(), "Trigger not found");
}

TEST_F(ChecklistTest, WebhookTriggerTakesADynamicTarget) {
    Hook("crm.item.add", bj::object{{"entityTypeId", e_}, {"fields", bj::object{}}});
    Parse(emu_->Admin().Handle("POST", "triggers/place", bj::object{{"code", "paid"}, {"stageId", Stage("SUCCESS")}}));
    const auto target = "DYNAMIC_" + std::to_string(e_) + "_1";

    auto fired = Hook("crm.automation.trigger", bj::object{{"target", target}, {"code", "paid"}});
    auto unset = Hook("crm.automation.trigger", bj::object{});
    auto format = Hook("crm.automation.trigger", bj::object{{"target", "DEAL"}});
    auto missing = Hook("crm.automation.trigger", bj::object{{"target", "DYNAMIC_" + std::to_string(e_) + "_9"}});

    EXPECT_TRUE(fired.Result().as_bool());
    EXPECT_EQ(
        Hook("crm.item.get", bj::object{{"entityTypeId", e_}, {"id", 1}}).Result().at("item").at("stageId").as_string(),
        Stage("SUCCESS"));
    EXPECT_EQ(unset.body.at("error_description").as_string(), "Target is not set.");
    EXPECT_EQ(format.body.at("error_description").as_string(), "Incorrect target format.");
    EXPECT_EQ(missing.body.at("error_description").as_string(), "Target is not found.");
}

// §13.4 crm.timeline.comment.add and im.notify.*: the remaining codes.
TEST_F(ChecklistTest, TimelineAndNotificationErrors) {
    auto no_fields = Hook("crm.timeline.comment.add");
    auto empty =
        Hook("crm.timeline.comment.add",
             bj::object{
                 {"fields",
                  bj::object{{"ENTITY_ID", 1}, {"ENTITY_TYPE", "dynamic_" + std::to_string(e_)}, {"COMMENT", "  "}}}});
    auto bad_attach =
        Hook("im.notify.system.add", bj::object{{"USER_ID", 12}, {"MESSAGE", "x"}, {"ATTACH", "not json"}});
    auto good_attach =
        Hook("im.notify.system.add", bj::object{{"USER_ID", 12}, {"MESSAGE", "x"}, {"ATTACH", R"([{"MESSAGE":"y"}])"}});

    EXPECT_EQ(no_fields.Error(), "100");
    EXPECT_EQ(empty.Error(), "INVALID_ARG_VALUE");
    EXPECT_EQ(bad_attach.status, 400);
    EXPECT_EQ(bad_attach.Error(), "ATTACH_ERROR");
    EXPECT_EQ(good_attach.status, 200);
}

}  // namespace
}  // namespace dispatch::emulator::testing
