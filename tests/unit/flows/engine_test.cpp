// The pure part of the flows: an item as Bitrix24 shows it + the stored ticket → one commit. Scenarios on the seed
// policy (workplace/sla.json) and a hand-made layout shaped like a provisioned portal's.
#include "flows/engine.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/json.hpp"
#include "core/time_format.hpp"
#include "flows/diff.hpp"
#include "flows/item_view.hpp"
#include "sla/policy_load.hpp"
#include "support/test_support.hpp"

namespace dispatch::flows {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kEtid = 1038;
constexpr std::int64_t kRequester = 100;

TimeMs At(const char* iso) { return ParseIso8601(iso).value(); }

provision::FunnelIds Funnel(std::string code, std::int64_t category, bool is_default) {
    provision::FunnelIds f;
    f.code = code;
    f.category_id = category;
    f.is_default = is_default;
    const std::pair<const char*, provision::StageRole> stages[] = {{"NEW", provision::StageRole::kNew},
                                                                   {"QUEUED", provision::StageRole::kQueued},
                                                                   {"IN_PROGRESS", provision::StageRole::kInProgress},
                                                                   {"WAITING", provision::StageRole::kWaiting},
                                                                   {"REVIEW", provision::StageRole::kReview},
                                                                   {"SUCCESS", provision::StageRole::kDone},
                                                                   {"FAIL", provision::StageRole::kRejected}};
    std::int64_t id = category * 100;
    for (const auto& [code_suffix, role] : stages) {
        provision::StageIds s;
        s.code = code_suffix;
        s.role = role;
        s.status_id = fmt::format("DT{}_{}:{}", kEtid, category, code_suffix);
        s.id = ++id;
        f.stages.push_back(s);
    }
    return f;
}

provision::FieldIds Field(std::string code, std::vector<std::string> items = {}) {
    provision::FieldIds f;
    f.code = code;
    f.uf_name = "UF_CRM_21_" + code;
    std::int64_t id = 500 + static_cast<std::int64_t>(code.size()) * 10;
    for (const auto& x : items) {
        f.enum_ids[x] = ++id;
    }
    return f;
}

provision::ProcessIds Layout() {
    provision::ProcessIds p;
    p.code = "it_request";
    p.type_id = 21;
    p.entity_type_id = kEtid;
    p.funnels = {Funnel("line1", 10, true), Funnel("line2", 11, false), Funnel("changes", 12, false)};
    p.fields = {Field("TEMPLATE", {"1C", "HARDWARE", "ACCESS", "SOFTWARE", "WEB", "OTHER"}),
                Field("PRIORITY", {"URGENT", "HIGH", "NORMAL", "LOW"}),
                Field("SLA_REACTION_DUE"),
                Field("SLA_RESOLUTION_DUE"),
                Field("SLA_STATE", {"RUNNING", "WARNING", "BREACHED", "PAUSED", "MET", "NOT_COUNTED"}),
                Field("SLA_ESCALATION_LEVEL"),
                Field("SLA_LINE", {"LINE1", "LINE2"}),
                Field("SLA_RETURNS"),
                Field("SLA_REACTION_MINUTES"),
                Field("SLA_RESOLUTION_MINUTES"),
                Field("SLA_REACTION_ON_TIME"),
                Field("SLA_RESOLUTION_ON_TIME"),
                Field("SLA_AUTO_ACCEPTED")};
    return p;
}

class FlowsEngine : public ::testing::Test {
protected:
    void SetUp() override {
        auto config = sla::LoadSlaConfig(testing::SourcePath("workplace/sla.json"),
                                         testing::SourcePath("schemas/sla.schema.json"));
        ASSERT_THAT(config, IsOk());
        policy_ = config->policy;
        auto calendars = sla::CompileCalendars(config->calendars, 2025, 2027);
        ASSERT_THAT(calendars, IsOk());
        calendars_ = std::move(*calendars);
        engine_ = std::make_unique<Engine>(policy_, calendars_);
        key_.member_id = "m1";
        key_.entity_type_id = kEtid;
        key_.item_id = 7;
    }

    // An item as crm.item.get shows it.
    bj::object Item(const std::string& stage,
                    std::int64_t assigned,
                    const char* created,
                    const char* updated,
                    const std::string& template_xml,
                    const std::string& priority_xml = "NORMAL",
                    std::int64_t category = 10) {
        bj::object item{{"id", key_.item_id},
                        {"entityTypeId", kEtid},
                        {"stageId", fmt::format("DT{}_{}:{}", kEtid, category, stage)},
                        {"categoryId", category},
                        {"createdBy", kRequester},
                        {"assignedById", assigned},
                        {"createdTime", created},
                        {"updatedTime", updated}};
        item["ufCrm21Template"] =
            template_xml.empty() ? bj::value(nullptr) : bj::value(ids_.EnumId("TEMPLATE", template_xml));
        item["ufCrm21Priority"] = ids_.EnumId("PRIORITY", priority_xml);
        for (const auto& [name, value] : service_fields_) {
            item[name] = value;
        }
        return item;
    }

    b24::StageHistoryRow History(
        std::int64_t id, int type, const std::string& stage, const char* at, std::int64_t category = 10) {
        b24::StageHistoryRow row;
        row.id = id;
        row.type_id = type;
        row.owner_id = key_.item_id;
        row.created_time = at;
        row.category_id = category;
        row.stage_id = fmt::format("DT{}_{}:{}", kEtid, category, stage);
        return row;
    }

    Planned Plan(const Fetched* fetched, TimeMs now) {
        auto planned = engine_->Plan(key_, state_, fetched, ids_, now);
        EXPECT_THAT(planned, IsOk());
        return planned ? *planned : Planned{};
    }

    // What the store does with a commit, in memory; and what Bitrix24 then holds of our write-back.
    void Apply(const Planned& planned) {
        const auto& c = planned.commit;
        store::TicketSnapshot s = c.snapshot;
        s.version = c.expected_version + 1;
        state_.snapshot = s;
        for (auto row : c.append) {
            row.seq = static_cast<std::int64_t>(state_.ledger.size()) + 1;
            state_.ledger.push_back(row);
        }
        for (const auto& a : c.actions) {
            if (a.method == "crm.item.update") {
                auto params = json::Parse(a.params).value();
                for (const auto& [name, value] : params.at("fields").as_object()) {
                    if (std::string_view(name).rfind("ufCrm21Sla", 0) == 0) {
                        service_fields_[name] = value;
                    }
                }
            }
        }
    }

    static std::vector<std::string> Methods(const Planned& p) {
        std::vector<std::string> out;
        for (const auto& a : p.commit.actions) {
            out.push_back(a.method);
        }
        return out;
    }
    static const store::OutboxAction* Find(const Planned& p, std::string_view method, std::string_view key_part) {
        for (const auto& a : p.commit.actions) {
            if (a.method == method && a.idempotency_key.find(key_part) != std::string::npos) {
                return &a;
            }
        }
        return nullptr;
    }
    static bj::object Fields(const store::OutboxAction* a) {
        return json::Parse(a->params).value().at("fields").as_object();
    }

    sla::Policy policy_;
    sla::CalendarSet calendars_;
    std::unique_ptr<Engine> engine_;
    provision::ProcessIds ids_ = Layout();
    store::TicketKey key_;
    store::TicketState state_;
    bj::object service_fields_;
};

TEST_F(FlowsEngine, ReadsTheItemThroughTheLayout) {
    auto view =
        ReadItem(Item("IN_PROGRESS", 22, "2026-03-02T10:00:00+03:00", "2026-03-02T10:30:00+03:00", "WEB", "URGENT", 11),
                 ids_,
                 policy_);
    ASSERT_THAT(view, IsOk());
    EXPECT_EQ(view->role, sla::StageRole::kInProgress);
    EXPECT_EQ(view->line, 2);
    EXPECT_EQ(view->funnel, "line2");
    EXPECT_EQ(view->priority, sla::Priority::kUrgent);
    EXPECT_EQ(view->template_name, "Web");  // the policy's spelling, not the option's
    EXPECT_EQ(view->assignee, 22);
    EXPECT_EQ(view->created_time, At("2026-03-02T07:00:00Z"));

    // Assigned to its own author (Bitrix24's default) is nobody's yet.
    auto own =
        ReadItem(Item("NEW", kRequester, "2026-03-02T10:00:00+03:00", "2026-03-02T10:00:00+03:00", ""), ids_, policy_);
    ASSERT_THAT(own, IsOk());
    EXPECT_EQ(own->assignee, 0);
    EXPECT_EQ(own->template_name, "");

    EXPECT_FALSE(ReadItem(bj::object{{"id", 1}}, ids_, policy_));
}

TEST_F(FlowsEngine, NewTemplateRequestIsRoutedAndGetsItsDeadlines) {
    Fetched f;
    f.item = Item("NEW", kRequester, "2026-03-02T10:00:00+03:00", "2026-03-02T10:00:00+03:00", "1C");
    f.history = {History(1, 1, "NEW", "2026-03-02T10:00:00+03:00")};
    const Planned p = Plan(&f, At("2026-03-02T07:00:05Z"));

    ASSERT_EQ(p.commit.append.size(), 2u);
    EXPECT_EQ(p.commit.append[0].kind, "created");
    EXPECT_EQ(p.commit.append[1].kind, "routed");
    EXPECT_EQ(p.commit.expected_version, 0);
    EXPECT_EQ(p.commit.snapshot.last_history_id, 1);

    const auto* route = Find(p, "crm.item.update", "/route");
    ASSERT_NE(route, nullptr);
    EXPECT_EQ(json::ToInt(Fields(route).at("assignedById")), 25);  // 1C → the 1C specialist
    EXPECT_NE(Find(p, "im.notify.system.add", "notify/route/25"), nullptr);

    const auto* write = Find(p, "crm.item.update", "/fields/v1");
    ASSERT_NE(write, nullptr);
    const auto fields = Fields(write);
    // Reaction 4 business hours on line 1 (08:00-20:00 MSK): 10:00 → 14:00 MSK.
    EXPECT_EQ(ParseIso8601(fields.at("ufCrm21SlaReactionDue").as_string()).value(), At("2026-03-02T11:00:00Z"));
    EXPECT_EQ(json::ToInt(fields.at("ufCrm21SlaState")), ids_.EnumId("SLA_STATE", "RUNNING"));
    EXPECT_EQ(json::ToInt(fields.at("ufCrm21SlaLine")), ids_.EnumId("SLA_LINE", "LINE1"));
    EXPECT_FALSE(fields.contains("ufCrm21SlaReactionMinutes"));  // written when the clock stops

    ASSERT_TRUE(p.commit.arm.has_value());
    EXPECT_EQ(p.commit.arm->kind, "sla");
    EXPECT_EQ(p.commit.arm->subject, "m1/1038/7");
    EXPECT_EQ(p.commit.arm->due_at, At("2026-03-02T09:00:00Z"));  // the 50 % reaction warning, 12:00 MSK
}

TEST_F(FlowsEngine, ReplayingTheSameInputsQueuesTheSameKeys) {
    Fetched f;
    f.item = Item("NEW", kRequester, "2026-03-02T10:00:00+03:00", "2026-03-02T10:00:00+03:00", "HARDWARE");
    f.history = {History(1, 1, "NEW", "2026-03-02T10:00:00+03:00")};
    const Planned a = Plan(&f, At("2026-03-02T07:00:05Z"));
    const Planned b = Plan(&f, At("2026-03-02T07:00:09Z"));
    ASSERT_EQ(a.commit.actions.size(), b.commit.actions.size());
    for (std::size_t i = 0; i < a.commit.actions.size(); ++i) {
        EXPECT_EQ(a.commit.actions[i].idempotency_key, b.commit.actions[i].idempotency_key);
    }
}

TEST_F(FlowsEngine, RequestWithoutTemplateIsClosedWithAnExplanation) {
    Fetched f;
    f.item = Item("NEW", kRequester, "2026-03-02T10:00:00+03:00", "2026-03-02T10:00:00+03:00", "");
    f.history = {History(1, 1, "NEW", "2026-03-02T10:00:00+03:00")};
    const Planned p = Plan(&f, At("2026-03-02T07:00:05Z"));

    const auto* close = Find(p, "crm.item.update", "/auto_close/");
    ASSERT_NE(close, nullptr);
    EXPECT_EQ(Fields(close).at("stageId").as_string(), "DT1038_10:FAIL");
    EXPECT_EQ(json::ToInt(Fields(close).at("categoryId")), 10);
    const auto* comment = Find(p, "crm.timeline.comment.add", "");
    ASSERT_NE(comment, nullptr);
    EXPECT_THAT(comment->params, HasSubstr("dynamic_1038"));
    EXPECT_THAT(comment->params, HasSubstr(policy_.auto_close.comment.substr(0, 20)));
    EXPECT_NE(Find(p, "im.notify.system.add", "/100"), nullptr);  // the requester learns why
    const auto* write = Find(p, "crm.item.update", "/fields/");
    ASSERT_NE(write, nullptr);
    EXPECT_EQ(json::ToInt(Fields(write).at("ufCrm21SlaState")), ids_.EnumId("SLA_STATE", "NOT_COUNTED"));
    EXPECT_FALSE(p.commit.arm.has_value());
}

TEST_F(FlowsEngine, LateTimerEscalatesUrgentReactionToLine2AtTheTrueInstant) {
    Fetched f;
    f.item = Item("NEW", 12, "2026-03-02T10:00:00+03:00", "2026-03-02T10:00:00+03:00", "HARDWARE", "URGENT");
    f.history = {History(1, 1, "NEW", "2026-03-02T10:00:00+03:00")};
    Apply(Plan(&f, At("2026-03-02T07:00:05Z")));

    // The service was down: the timer fires at 10:47 MSK, 27 minutes after the 20-minute reaction breach.
    const Planned p = Plan(nullptr, At("2026-03-02T07:47:00Z"));
    const auto* move = Find(p, "crm.item.update", "/escalate/1/update");
    ASSERT_NE(move, nullptr) << p.commit.actions.size();
    const auto fields = Fields(move);
    EXPECT_EQ(fields.at("stageId").as_string(), "DT1038_11:NEW");
    EXPECT_EQ(json::ToInt(fields.at("categoryId")), 11);
    EXPECT_EQ(json::ToInt(fields.at("assignedById")), 21);  // the line-2 dispatcher
    EXPECT_NE(Find(p, "im.notify.system.add", "notify/escalate/11"), nullptr);
    EXPECT_NE(Find(p, "crm.timeline.comment.add", "/escalate/1/comment"), nullptr);

    bool recorded = false;
    for (const auto& row : p.commit.append) {
        if (row.kind == "escalated") {
            recorded = true;
            EXPECT_EQ(row.at, At("2026-03-02T07:20:00Z"));  // the deadline, not the detection
        }
        EXPECT_NE(row.kind, "warned");  // warnings of a breached clock are dropped: the escalation speaks
    }
    EXPECT_TRUE(recorded);
    const auto* write = Find(p, "crm.item.update", "/fields/");
    ASSERT_NE(write, nullptr);
    EXPECT_EQ(json::ToInt(Fields(write).at("ufCrm21SlaState")), ids_.EnumId("SLA_STATE", "BREACHED"));
    EXPECT_EQ(json::ToInt(Fields(write).at("ufCrm21SlaEscalationLevel")), 1);
}

TEST_F(FlowsEngine, OurOwnWriteBackComingBackChangesNothing) {
    Fetched first;
    first.item = Item("NEW", kRequester, "2026-03-02T10:00:00+03:00", "2026-03-02T10:00:00+03:00", "1C");
    first.history = {History(1, 1, "NEW", "2026-03-02T10:00:00+03:00")};
    Apply(Plan(&first, At("2026-03-02T07:00:05Z")));

    // Bitrix24 raises ONCRMDYNAMICITEMUPDATE for our routing and our field write-back.
    Fetched echo;
    echo.item = Item("NEW", 25, "2026-03-02T10:00:00+03:00", "2026-03-02T10:00:06+03:00", "1C");
    const Planned p = Plan(&echo, At("2026-03-02T07:00:07Z"));
    ASSERT_EQ(p.commit.append.size(), 1u);  // the assignment is a fact worth keeping
    EXPECT_EQ(p.commit.append[0].kind, "assigned");
    EXPECT_TRUE(p.commit.actions.empty()) << p.commit.actions.front().idempotency_key;
    Apply(p);

    const Planned again = Plan(&echo, At("2026-03-02T07:00:08Z"));
    EXPECT_TRUE(again.commit.append.empty());
    EXPECT_TRUE(again.commit.actions.empty());
}

TEST_F(FlowsEngine, AnEventBeforeOurWriteLeftQueuesNoSecondWrite) {
    Fetched first;
    first.item = Item("NEW", kRequester, "2026-03-02T10:00:00+03:00", "2026-03-02T10:00:00+03:00", "1C");
    first.history = {History(1, 1, "NEW", "2026-03-02T10:00:00+03:00")};
    const Planned p1 = Plan(&first, At("2026-03-02T07:00:05Z"));
    ASSERT_NE(Find(p1, "crm.item.update", "/fields/v1"), nullptr);
    // Store the commit but leave Bitrix24 as it was: the outbox has not sent the write yet.
    const bj::object before = service_fields_;
    Apply(p1);
    service_fields_ = before;

    // A second event for the same change (another binding, or the ADD and its _{entityTypeId} twin).
    const Planned p2 = Plan(&first, At("2026-03-02T07:00:06Z"));
    EXPECT_EQ(Find(p2, "crm.item.update", "/fields/"), nullptr);
    EXPECT_TRUE(p2.commit.append.empty());
}

TEST_F(FlowsEngine, StageHistoryGivesTrueInstantsAndReturnsAreCounted) {
    Fetched f;
    f.item = Item("NEW", kRequester, "2026-03-02T10:00:00+03:00", "2026-03-02T10:00:00+03:00", "HARDWARE");
    f.history = {History(1, 1, "NEW", "2026-03-02T10:00:00+03:00")};
    Apply(Plan(&f, At("2026-03-02T07:00:05Z")));

    // Events were dropped; one fetch later shows four moves, each with its own time.
    Fetched later;
    later.item = Item("IN_PROGRESS", 13, "2026-03-02T10:00:00+03:00", "2026-03-02T13:00:00+03:00", "HARDWARE");
    later.history = {History(5, 2, "IN_PROGRESS", "2026-03-02T10:30:00+03:00"),
                     History(6, 2, "REVIEW", "2026-03-02T11:30:00+03:00"),
                     History(7, 2, "IN_PROGRESS", "2026-03-02T13:00:00+03:00")};
    const Planned p = Plan(&later, At("2026-03-02T10:00:10Z"));
    std::vector<std::string> kinds;
    for (const auto& row : p.commit.append) {
        kinds.push_back(row.kind);
    }
    EXPECT_THAT(kinds, ::testing::ElementsAre("assigned", "stage_moved", "stage_moved", "stage_moved"));
    EXPECT_EQ(p.commit.append[1].at, At("2026-03-02T07:30:00Z"));
    EXPECT_EQ(p.commit.snapshot.last_history_id, 7);
    Apply(p);

    auto fold = engine_->FoldRows(key_.item_id, state_.ledger, At("2026-03-02T10:00:10Z"));
    ASSERT_THAT(fold, IsOk());
    EXPECT_EQ(fold->returns.size(), 1u);
    EXPECT_EQ(fold->resolution.cycle, 2);
    EXPECT_EQ(fold->reaction.state, sla::ClockState::kMet);
    EXPECT_EQ(service_fields_.at("ufCrm21SlaReturns").as_int64(), 1);
    EXPECT_EQ(service_fields_.at("ufCrm21SlaReactionOnTime").as_string(), "Y");
}

TEST_F(FlowsEngine, DeletedItemClosesItsTicket) {
    Fetched f;
    f.item = Item("NEW", 12, "2026-03-02T10:00:00+03:00", "2026-03-02T10:00:00+03:00", "HARDWARE");
    Apply(Plan(&f, At("2026-03-02T07:00:05Z")));

    Fetched gone;  // crm.item.get answered NOT_FOUND
    const Planned p = Plan(&gone, At("2026-03-02T08:00:00Z"));
    ASSERT_EQ(p.commit.append.size(), 1u);
    EXPECT_EQ(p.commit.append[0].kind, "deleted");
    EXPECT_TRUE(p.commit.snapshot.closed);
    EXPECT_TRUE(p.commit.disarm);
    EXPECT_TRUE(p.commit.actions.empty());

    // A delete of an item we never saw leaves nothing behind.
    state_ = {};
    EXPECT_TRUE(Plan(&gone, At("2026-03-02T08:00:00Z")).ignored);
}

TEST_F(FlowsEngine, LedgerRowsRoundTrip) {
    sla::Event e =
        sla::Event::Created(At("2026-03-02T07:00:00Z"), 3, sla::Priority::kHigh, "1C", sla::StageRole::kQueued, 2, 25);
    auto back = FromRow(ToRow(e));
    ASSERT_THAT(back, IsOk());
    EXPECT_EQ(back->kind, sla::EventKind::kCreated);
    EXPECT_EQ(back->seq, 3);
    EXPECT_EQ(back->priority, sla::Priority::kHigh);
    EXPECT_EQ(back->template_name, "1C");
    EXPECT_EQ(back->stage, sla::StageRole::kQueued);
    EXPECT_EQ(back->line, 2);
    EXPECT_EQ(back->assignee, 25);
    sla::Event r =
        sla::Event::Record(At("2026-03-02T07:20:00Z"), 9, sla::EventKind::kEscalated, sla::Metric::kReaction, 1, 2);
    auto rb = FromRow(ToRow(r));
    ASSERT_THAT(rb, IsOk());
    EXPECT_EQ(rb->metric, sla::Metric::kReaction);
    EXPECT_EQ(rb->threshold, 2);
    store::LedgerRow bad;
    bad.kind = "nonsense";
    EXPECT_FALSE(FromRow(bad));
}

TEST(FlowsSnapshot, FieldsWrittenBeforeTheSlimmerShapeStillParse) {
    Remembered want;
    want.role = sla::StageRole::kInProgress;
    want.line = 2;
    want.assignee = 21;
    want.priority = sla::Priority::kUrgent;
    want.template_name = "1C";
    want.requester = 101;
    want.funnel = "line2";
    want.written = bj::object{{"ufCrm21SlaLine", 5}};
    bj::object stored = ToJson(want);
    EXPECT_FALSE(stored.contains("category_id"));
    EXPECT_FALSE(stored.contains("service_fields"));
    // Snapshots stored by earlier builds carry these too; nothing reads them any more.
    stored["category_id"] = 7;
    stored["service_fields"] = bj::object{{"ufCrm21SlaLine", 4}};
    const Remembered r = RememberedFromJson(ParseOr(json::Dump(stored)));
    EXPECT_EQ(r.role, want.role);
    EXPECT_EQ(r.line, want.line);
    EXPECT_EQ(r.assignee, want.assignee);
    EXPECT_EQ(r.priority, want.priority);
    EXPECT_EQ(r.template_name, want.template_name);
    EXPECT_EQ(r.requester, want.requester);
    EXPECT_EQ(r.funnel, want.funnel);
    EXPECT_EQ(r.written, want.written);
}

TEST(FlowsSubject, PicksUsersDeterministically) {
    EXPECT_EQ(PickUser({12, 13, 14}, 7), 13);
    EXPECT_EQ(PickUser({12, 13, 14}, 9), 12);
    EXPECT_EQ(PickUser({}, 7), 0);
}

}  // namespace
}  // namespace dispatch::flows
