#include "provision/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "b24/batch.hpp"
#include "b24/errc.hpp"
#include "core/json.hpp"
#include "support/test_support.hpp"

namespace dispatch::provision {
namespace {

namespace bj = boost::json;
using ::testing::HasSubstr;

const std::string kSpecPath = dispatch::testing::SourcePath("workplace/helpdesk.json");
const std::string kSchemaPath = dispatch::testing::SourcePath("schemas/workplace.schema.json");

class PlanTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto spec = LoadWorkplaceSpec(kSpecPath, kSchemaPath);
        ASSERT_THAT(spec, IsOk());
        spec_ = std::move(*spec);
        options_.app_context = true;
        options_.public_url = "https://dispatch.example.com";
    }

    // The portal exactly as a finished apply leaves it: ids assigned in spec order from 100.
    PortalSnapshot Provisioned() {
        PortalSnapshot snap;
        snap.base_read = true;
        std::int64_t next = 100;
        PortalSolution solution;
        solution.id = next++;
        solution.title = spec_.workplace.title;
        std::int64_t entity_type_id = 1030;
        for (const auto& process : spec_.smart_processes) {
            PortalType type;
            type.id = next++;
            type.entity_type_id = entity_type_id;
            entity_type_id += 2;
            type.title = process.title;
            type.code = process.code;
            for (const auto& [name, value] : process.features.Managed()) {
                type.flags[std::string(name)] = value;
            }
            solution.type_ids.push_back(type.id);
            snap.fields_read.insert(type.id);
            if (!process.funnels.empty()) {
                snap.categories_read.insert(type.entity_type_id);
            }
            for (const auto& funnel : process.funnels) {
                PortalCategory c;
                c.id = next++;
                c.entity_type_id = type.entity_type_id;
                c.name = funnel.name.Get(spec_.language);
                c.sort = funnel.sort;
                c.is_default = funnel.is_default;
                snap.categories.push_back(c);
                snap.stages_read.insert(c.id);
                for (const auto& stage : funnel.stages) {
                    PortalStage s;
                    s.id = next++;
                    s.entity_id = StageEntityId(type.entity_type_id, c.id);
                    s.status_id = StagePrefix(type.entity_type_id, c.id) + ":" + stage.code;
                    s.name = stage.name.Get(spec_.language);
                    s.sort = stage.sort;
                    s.color = stage.color;
                    s.semantics = stage.semantics;
                    s.category_id = c.id;
                    snap.stages.push_back(s);
                }
            }
            for (const auto& field : process.fields) {
                PortalField f;
                f.id = next++;
                f.entity_id = UfEntityId(type.id);
                f.field_name = field.UfName(type.id);
                f.user_type_id = std::string(ToString(field.type));
                f.multiple = field.multiple;
                f.mandatory = field.mandatory;
                f.show_filter = field.show_filter ? "E" : "N";
                f.searchable = field.searchable;
                f.sort = field.sort;
                for (const auto& kv : field.settings) {
                    // Read back as strings, as userfieldconfig does.
                    f.settings[kv.key()] = kv.value().is_string() ? kv.value() : bj::value(json::Dump(kv.value()));
                }
                for (const auto& [language, text] : field.label.by_language) {
                    f.edit_form_label[language] = text;
                }
                if (field.help) {
                    for (const auto& [language, text] : field.help->by_language) {
                        f.help_message[language] = text;
                    }
                }
                for (const auto& item : field.items) {
                    PortalEnumItem e;
                    e.id = next++;
                    e.value = item.value;
                    e.sort = item.sort;
                    e.xml_id = item.xml_id;
                    e.def = field.default_item == item.xml_id;
                    f.enums.push_back(e);
                }
                snap.fields.push_back(f);
            }
            snap.types.push_back(type);
        }
        snap.solutions.push_back(solution);
        for (const auto& binding : spec_.events) {
            snap.bindings.push_back(PortalBinding{binding.event, options_.public_url + binding.handler});
        }
        for (const auto& robot : spec_.robots) {
            snap.robots.push_back(robot.code);
        }
        return snap;
    }

    Plan PlanFor(const PortalSnapshot& snap, const Layout* stored = nullptr) {
        return MakePlan(spec_, snap, stored, options_);
    }

    static const PlanEntry* Find(const Plan& plan, ObjectKind kind, std::string_view path) {
        for (const auto& e : plan.entries) {
            if (e.kind == kind && e.path == path) {
                return &e;
            }
        }
        return nullptr;
    }

    static std::vector<std::string> Methods(const Plan& plan) {
        std::vector<std::string> out;
        for (const auto& op : plan.ops) {
            out.push_back(op.method);
        }
        return out;
    }

    static std::size_t CountMethod(const Plan& plan, std::string_view method) {
        const auto methods = Methods(plan);
        return static_cast<std::size_t>(std::count(methods.begin(), methods.end(), method));
    }

    PortalStage* Stage(PortalSnapshot& snap, std::string_view code, std::size_t funnel_index = 0) {
        const auto* type = snap.TypeByCode("it_request");
        const auto categories = snap.CategoriesOf(type->entity_type_id);
        const auto id = categories.at(funnel_index)->id;
        for (auto& s : snap.stages) {
            if (s.category_id == id && s.Code() == code) {
                return &s;
            }
        }
        return nullptr;
    }

    WorkplaceSpec spec_;
    PlanOptions options_;
};

TEST_F(PlanTest, NothingReadYetAsksForTheBaseReadsOnly) {
    const PortalSnapshot empty;

    const auto plan = PlanFor(empty);

    EXPECT_FALSE(plan.Complete());
    EXPECT_FALSE(plan.HasWrites());
    EXPECT_EQ(
        Methods(plan),
        (std::vector<std::string>{"crm.automatedsolution.list", "crm.type.list", "event.get", "bizproc.robot.list"}));
}

TEST_F(PlanTest, WebhookModeDoesNotReadBindingsOrRobots) {
    options_.app_context = false;
    const PortalSnapshot empty;

    const auto plan = PlanFor(empty);

    EXPECT_EQ(Methods(plan), (std::vector<std::string>{"crm.automatedsolution.list", "crm.type.list"}));
}

TEST_F(PlanTest, EmptyPortalCreatesTypesWorkplaceAndFunnelsInOneRoundWithBackReferences) {
    PortalSnapshot snap;
    snap.base_read = true;

    const auto plan = PlanFor(snap);

    ASSERT_TRUE(plan.Complete());
    EXPECT_TRUE(plan.HasChanges());
    EXPECT_EQ(CountMethod(plan, "crm.automatedsolution.add"), 1u);
    EXPECT_EQ(CountMethod(plan, "crm.type.add"), 2u);
    EXPECT_EQ(CountMethod(plan, "crm.automatedsolution.update"), 1u);  // the binding, after the types
    EXPECT_EQ(CountMethod(plan, "crm.category.add"), 2u);  // line2 and changes; line1 is the new default funnel
    EXPECT_EQ(CountMethod(plan, "crm.status.list"), 3u);   // the default stages of all three funnels
    EXPECT_EQ(CountMethod(plan, "event.bind"), 3u);
    EXPECT_EQ(CountMethod(plan, "userfieldconfig.add"), 0u);  // CRM_{id} is not a whole back-reference
    EXPECT_EQ(CountMethod(plan, "bizproc.robot.add"), 0u);    // DYNAMIC_{entityTypeId} neither
    // Dependency order: workplace, types, binding, funnels.
    const auto methods = Methods(plan);
    const auto pos = [&](std::string_view m) { return std::find(methods.begin(), methods.end(), m) - methods.begin(); };
    EXPECT_LT(pos("crm.automatedsolution.add"), pos("crm.type.add"));
    EXPECT_LT(pos("crm.type.add"), pos("crm.automatedsolution.update"));
    EXPECT_LT(pos("crm.automatedsolution.update"), pos("crm.category.add"));
    // Every back-reference points to an earlier call of the plan.
    std::set<std::string> seen;
    for (const auto& op : plan.ops) {
        for (const auto& ref : op.refs) {
            EXPECT_EQ(seen.count(ref), 1u) << op.method << " refers to " << ref;
        }
        seen.insert(op.key);
    }
    const auto* stage = Find(plan, ObjectKind::kStage, "it_request/line2/QUEUED");
    ASSERT_NE(stage, nullptr);
    EXPECT_EQ(stage->action, Action::kCreate);
    EXPECT_TRUE(stage->deferred);
    const auto* field = Find(plan, ObjectKind::kField, "helpdesk_kpi/KPI_KEY");
    ASSERT_NE(field, nullptr);
    EXPECT_EQ(field->action, Action::kCreate);
    EXPECT_TRUE(field->deferred);
}

TEST_F(PlanTest, TheNewTypesDefaultFunnelIsReshapedWithoutStrays) {
    PortalSnapshot snap;
    snap.base_read = true;
    PortalType type;
    type.id = 21;
    type.entity_type_id = 1038;
    type.code = "it_request";
    type.title = "IT request";
    snap.types.push_back(type);
    PortalCategory general;
    general.id = 7;
    general.entity_type_id = 1038;
    general.name = "General";
    general.sort = 500;
    general.is_default = true;
    snap.categories.push_back(general);
    snap.categories_read.insert(1038);
    snap.stages_read.insert(7);
    snap.fields_read.insert(21);
    snap.fresh_categories.insert(7);  // created by this apply: holds nothing
    const char* defaults[][3] = {
        {"NEW", "", "Y"}, {"PREPARATION", "", "N"}, {"CLIENT", "", "N"}, {"SUCCESS", "S", "Y"}, {"FAIL", "F", "Y"}};
    std::int64_t sort = 10;
    std::int64_t id = 30;
    for (const auto& d : defaults) {
        PortalStage s;
        s.id = id++;
        s.entity_id = StageEntityId(1038, 7);
        s.status_id = std::string("DT1038_7:") + d[0];
        s.name = d[0];
        s.sort = sort;
        sort += 10;
        s.semantics = std::string(d[1]) == "S"   ? StageSemantics::kSuccess
                      : std::string(d[1]) == "F" ? StageSemantics::kFailure
                                                 : StageSemantics::kProcess;
        s.system = std::string(d[2]) == "Y";
        s.category_id = 7;
        snap.stages.push_back(s);
    }

    const auto plan = PlanFor(snap);

    ASSERT_TRUE(plan.Complete());
    const auto* funnel = Find(plan, ObjectKind::kFunnel, "it_request/line1");
    ASSERT_NE(funnel, nullptr);
    EXPECT_EQ(funnel->action, Action::kUpdate);
    EXPECT_EQ(funnel->portal_id, 7);
    EXPECT_EQ(Find(plan, ObjectKind::kStage, "it_request/line1/PREPARATION")->action, Action::kDelete);
    EXPECT_EQ(Find(plan, ObjectKind::kStage, "it_request/line1/CLIENT")->action, Action::kDelete);
    EXPECT_EQ(Find(plan, ObjectKind::kStage, "it_request/line1/SUCCESS")->action, Action::kUpdate);
    EXPECT_EQ(Find(plan, ObjectKind::kStage, "it_request/line1/QUEUED")->action, Action::kCreate);
    EXPECT_EQ(CountMethod(plan, "crm.item.list"), 0u);  // a fresh funnel needs no item count
    // Within the funnel: updates, then additions, then deletions.
    std::vector<std::string> stage_methods;
    for (const auto& m : Methods(plan)) {
        if (m.rfind("crm.status.", 0) == 0) {
            stage_methods.push_back(m);
        }
    }
    const auto first_add = std::find(stage_methods.begin(), stage_methods.end(), "crm.status.add");
    const auto last_update = std::find(stage_methods.rbegin(), stage_methods.rend(), "crm.status.update");
    const auto first_delete = std::find(stage_methods.begin(), stage_methods.end(), "crm.status.delete");
    ASSERT_NE(first_add, stage_methods.end());
    EXPECT_LT(stage_methods.rend() - last_update - 1, first_add - stage_methods.begin());
    EXPECT_LT(first_add, first_delete);
    EXPECT_EQ(CountMethod(plan, "crm.status.add"), 4u);
    EXPECT_EQ(CountMethod(plan, "crm.status.delete"), 2u);
    // The stages of line2 and changes wait for their funnels.
    EXPECT_TRUE(Find(plan, ObjectKind::kStage, "it_request/line2/NEW")->deferred);
    EXPECT_EQ(CountMethod(plan, "crm.category.add"), 2u);
}

TEST_F(PlanTest, AFullyProvisionedPortalIsUnchangedAndNeedsNoCall) {
    const auto snap = Provisioned();

    const auto plan = PlanFor(snap);

    ASSERT_TRUE(plan.Complete());
    EXPECT_FALSE(plan.HasChanges());
    EXPECT_TRUE(plan.ops.empty());
    for (const auto& e : plan.entries) {
        EXPECT_EQ(e.action, Action::kUnchanged) << ToString(e.kind) << " " << e.path << " " << e.note;
    }
    const auto* requests = plan.layout.FindProcess("it_request");
    ASSERT_NE(requests, nullptr);
    EXPECT_EQ(requests->funnels.size(), 3u);
    EXPECT_EQ(requests->funnels[0].stages.size(), 7u);
    EXPECT_EQ(requests->fields.size(), spec_.FindProcess("it_request")->fields.size());
    EXPECT_NE(requests->EnumId("PRIORITY", "URGENT"), 0);
    EXPECT_EQ(requests->StatusIdFor("line2", StageRole::kReview).substr(0, 2), "DT");
}

TEST_F(PlanTest, ARenamedStageIsAnUpdateWithoutLayoutAndDriftWithIt) {
    auto snap = Provisioned();
    const Layout recorded = PlanFor(snap).layout;
    Stage(snap, "QUEUED")->name = "Queue";

    const auto without = PlanFor(snap);
    const auto with = PlanFor(snap, &recorded);

    EXPECT_EQ(Find(without, ObjectKind::kStage, "it_request/line1/QUEUED")->action, Action::kUpdate);
    const auto* drift = Find(with, ObjectKind::kStage, "it_request/line1/QUEUED");
    EXPECT_EQ(drift->action, Action::kDrift);
    EXPECT_THAT(drift->note, HasSubstr("Queue"));
    ASSERT_EQ(with.ops.size(), 1u);
    EXPECT_EQ(with.ops[0].method, "crm.status.update");
    EXPECT_EQ(json::StringAt(with.ops[0].params.at("fields"), "NAME"), "Awaiting execution");
}

TEST_F(PlanTest, AFieldDeletedByHandIsDriftAndRecreated) {
    auto snap = Provisioned();
    const Layout recorded = PlanFor(snap).layout;
    const auto* type = snap.TypeByCode("it_request");
    snap.RemoveField(snap.FieldByName(fmt::format("UF_CRM_{}_SLA_STATE", type->id))->id);

    const auto plan = PlanFor(snap, &recorded);

    const auto* entry = Find(plan, ObjectKind::kField, "it_request/SLA_STATE");
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->action, Action::kDrift);
    ASSERT_EQ(plan.ops.size(), 1u);
    EXPECT_EQ(plan.ops[0].method, "userfieldconfig.add");
    const auto& field = plan.ops[0].params.at("field").as_object();
    EXPECT_EQ(json::StringAt(bj::value(field), "entityId"), UfEntityId(type->id));
    EXPECT_EQ(field.at("enum").as_array().size(), 6u);
}

TEST_F(PlanTest, AStrayStageIsCountedFirstThenKeptWhenItHoldsItems) {
    auto snap = Provisioned();
    auto extra = *Stage(snap, "QUEUED");
    extra.id = 9001;
    extra.status_id = extra.status_id.substr(0, extra.status_id.find(':')) + ":EXTRA";
    extra.name = "Extra";
    snap.stages.push_back(extra);

    const auto counting = PlanFor(snap);

    EXPECT_FALSE(counting.Complete());
    ASSERT_EQ(counting.ops.size(), 1u);
    EXPECT_EQ(counting.ops[0].method, "crm.item.list");
    EXPECT_EQ(counting.ops[0].count_key, StageCountKey(extra.status_id));

    snap.item_counts[StageCountKey(extra.status_id)] = 3;
    const auto holding = PlanFor(snap);
    const auto* kept = Find(holding, ObjectKind::kStage, "it_request/line1/EXTRA");
    ASSERT_NE(kept, nullptr);
    EXPECT_EQ(kept->action, Action::kKeep);
    EXPECT_THAT(kept->note, HasSubstr("3 items"));
    EXPECT_TRUE(holding.ops.empty());
    EXPECT_FALSE(holding.HasChanges());

    snap.item_counts[StageCountKey(extra.status_id)] = 0;
    const auto empty = PlanFor(snap);
    EXPECT_EQ(Find(empty, ObjectKind::kStage, "it_request/line1/EXTRA")->action, Action::kDelete);
    ASSERT_EQ(empty.ops.size(), 1u);
    EXPECT_EQ(empty.ops[0].method, "crm.status.delete");
    EXPECT_EQ(empty.ops[0].object_id, 9001);
}

TEST_F(PlanTest, PruneMovesTheItemsOfAStrayStageToItsGroupsStageThenDeletesIt) {
    auto snap = Provisioned();
    auto extra = *Stage(snap, "QUEUED");
    extra.id = 9001;
    const auto prefix = extra.status_id.substr(0, extra.status_id.find(':'));
    extra.status_id = prefix + ":EXTRA";
    snap.stages.push_back(extra);
    const auto key = StageCountKey(extra.status_id);
    snap.item_counts[key] = 2;
    options_.prune = true;

    const auto reading = PlanFor(snap);
    ASSERT_EQ(reading.ops.size(), 1u);
    EXPECT_EQ(reading.ops[0].kind, OpKind::kListItemIds);
    ASSERT_THAT(ApplyResult(snap, reading.ops[0], *json::Parse(R"({"items":[{"id":5},{"id":6}]})"), 2), IsOk());

    const auto moving = PlanFor(snap);

    EXPECT_EQ(Find(moving, ObjectKind::kStage, "it_request/line1/EXTRA")->action, Action::kDelete);
    EXPECT_EQ(Methods(moving), (std::vector<std::string>{"crm.item.update", "crm.item.update", "crm.status.delete"}));
    EXPECT_EQ(json::StringAt(moving.ops[0].params.at("fields"), "stageId"), prefix + ":NEW");
    EXPECT_EQ(json::IntAt(moving.ops[0].params.at("fields"), "categoryId"), extra.category_id);
    // One item moved, then the batch stopped: the next plan moves the other one and deletes.
    ASSERT_THAT(ApplyResult(snap, moving.ops[0], bj::object{{"item", bj::object{}}}, std::nullopt), IsOk());
    EXPECT_EQ(Methods(PlanFor(snap)), (std::vector<std::string>{"crm.item.update", "crm.status.delete"}));
}

TEST_F(PlanTest, AStrayFieldIsKeptUnlessPrunedAndThenItsLossIsCounted) {
    auto snap = Provisioned();
    const auto* type = snap.TypeByCode("it_request");
    PortalField extra;
    extra.id = 9100;
    extra.entity_id = UfEntityId(type->id);
    extra.field_name = fmt::format("UF_CRM_{}_DEPARTMENT", type->id);
    extra.user_type_id = "string";
    snap.fields.push_back(extra);

    const auto kept = PlanFor(snap);
    EXPECT_EQ(Find(kept, ObjectKind::kField, "it_request/" + extra.field_name)->action, Action::kKeep);
    EXPECT_TRUE(kept.ops.empty());

    options_.prune = true;
    const auto counting = PlanFor(snap);
    ASSERT_EQ(counting.ops.size(), 1u);
    EXPECT_EQ(counting.ops[0].method, "crm.item.list");

    snap.item_counts[FieldCountKey(extra.field_name)] = 12;
    const auto pruning = PlanFor(snap);
    const auto* entry = Find(pruning, ObjectKind::kField, "it_request/" + extra.field_name);
    EXPECT_EQ(entry->action, Action::kDelete);
    EXPECT_THAT(entry->note, HasSubstr("12 items"));
    ASSERT_EQ(pruning.ops.size(), 1u);
    EXPECT_EQ(pruning.ops[0].method, "userfieldconfig.delete");
}

TEST_F(PlanTest, AFieldWhoseTypeChangedIsOnlyRecreatedWithPrune) {
    auto snap = Provisioned();
    const auto* type = snap.TypeByCode("it_request");
    auto* field = const_cast<PortalField*>(snap.FieldByName(fmt::format("UF_CRM_{}_SLA_RETURNS", type->id)));
    field->user_type_id = "string";

    const auto plan = PlanFor(snap);
    EXPECT_EQ(Find(plan, ObjectKind::kField, "it_request/SLA_RETURNS")->action, Action::kDrift);
    EXPECT_TRUE(plan.ops.empty());
    EXPECT_TRUE(plan.HasChanges());

    options_.prune = true;
    snap.item_counts[FieldCountKey(field->field_name)] = 0;
    const auto pruning = PlanFor(snap);
    EXPECT_EQ(Methods(pruning), (std::vector<std::string>{"userfieldconfig.delete", "userfieldconfig.add"}));
}

TEST_F(PlanTest, FunnelsMatchByRecordedIdBeforeName) {
    auto snap = Provisioned();
    const Layout recorded = PlanFor(snap).layout;
    const auto* type = snap.TypeByCode("it_request");
    auto categories = snap.CategoriesOf(type->entity_type_id);
    // Someone renamed "Line 2" to "Line 1 (old)": the id still says it is line2.
    const_cast<PortalCategory*>(categories[1])->name = "Line 1";

    const auto plan = PlanFor(snap, &recorded);

    const auto* line2 = Find(plan, ObjectKind::kFunnel, "it_request/line2");
    EXPECT_EQ(line2->action, Action::kDrift);
    EXPECT_EQ(line2->portal_id, categories[1]->id);
    EXPECT_EQ(Find(plan, ObjectKind::kFunnel, "it_request/line1")->action, Action::kUnchanged);
}

TEST_F(PlanTest, WithoutARecordedIdAFunnelIsFoundByNameAndSaysSo) {
    auto snap = Provisioned();

    const auto plan = PlanFor(snap);

    const auto* changes = Find(plan, ObjectKind::kFunnel, "it_request/changes");
    EXPECT_EQ(changes->action, Action::kUnchanged);
    EXPECT_THAT(changes->note, HasSubstr("by name"));
}

TEST_F(PlanTest, MissingBindingsAndRobotsAreCreatedInApplicationContext) {
    auto snap = Provisioned();
    snap.bindings.clear();
    snap.robots.erase(snap.robots.begin());

    const auto plan = PlanFor(snap);

    EXPECT_EQ(CountMethod(plan, "event.bind"), 3u);
    ASSERT_EQ(CountMethod(plan, "bizproc.robot.add"), 1u);
    const auto& robot = *std::find_if(
        plan.ops.begin(), plan.ops.end(), [](const PlannedOp& op) { return op.method == "bizproc.robot.add"; });
    EXPECT_EQ(json::StringAt(bj::value(robot.params), "HANDLER"),
              "https://dispatch.example.com" + spec_.robots.front().handler);
    const auto& doc = robot.params.at("DOCUMENT_TYPE").as_array();
    EXPECT_EQ(doc.at(2).as_string(), fmt::format("DYNAMIC_{}", snap.TypeByCode("it_request")->entity_type_id));
    const auto& bind =
        *std::find_if(plan.ops.begin(), plan.ops.end(), [](const PlannedOp& op) { return op.method == "event.bind"; });
    EXPECT_EQ(json::StringAt(bj::value(bind.params), "handler"), "https://dispatch.example.com/b24/events");
}

TEST_F(PlanTest, WebhookModeListsEventsAndRobotsAsManualWithTheOutgoingWebhookSettings) {
    options_.app_context = false;
    auto snap = Provisioned();
    snap.bindings.clear();
    snap.robots.clear();

    const auto plan = PlanFor(snap);

    EXPECT_TRUE(plan.ops.empty());
    EXPECT_EQ(plan.Count(Action::kManual), spec_.events.size() + spec_.robots.size());
    EXPECT_FALSE(plan.HasChanges());
    const bool webhook_advice = std::any_of(plan.advice.begin(), plan.advice.end(), [](const std::string& a) {
        return a.find("https://dispatch.example.com/b24/events") != std::string::npos &&
               a.find("ONCRMDYNAMICITEMUPDATE") != std::string::npos;
    });
    EXPECT_TRUE(webhook_advice);
}

TEST_F(PlanTest, TypeFlagsAndWorkplaceLinksAreRepaired) {
    auto snap = Provisioned();
    const Layout recorded = PlanFor(snap).layout;
    auto* type = const_cast<PortalType*>(snap.TypeByCode("it_request"));
    type->flags["isAutomationEnabled"] = false;
    snap.solutions[0].type_ids = {777};  // someone moved our types out; another type stays linked

    const auto plan = PlanFor(snap, &recorded);

    EXPECT_EQ(Find(plan, ObjectKind::kType, "it_request")->action, Action::kDrift);
    const auto update = std::find_if(plan.ops.begin(), plan.ops.end(), [](const PlannedOp& op) {
        return op.method == "crm.automatedsolution.update";
    });
    ASSERT_NE(update, plan.ops.end());
    const auto& ids = update->params.at("fields").at("typeIds").as_array();
    EXPECT_EQ(ids.size(), 3u);  // 777 kept, both of ours added
    EXPECT_EQ(ids.at(0).as_int64(), 777);
}

TEST_F(PlanTest, ApplyResultFoldsAnswersIntoTheSnapshot) {
    PortalSnapshot snap;
    PlannedOp types;
    types.kind = OpKind::kListTypes;
    ASSERT_THAT(ApplyResult(snap,
                            types,
                            *json::Parse(R"({"types":[{"id":"21","entityTypeId":1038,"code":"it_request",
        "title":"IT request","isCategoriesEnabled":"Y"}]})"),
                            std::nullopt),
                IsOk());
    PlannedOp category;
    category.kind = OpKind::kCategoryAdd;
    category.method = "crm.category.add";
    category.process = "it_request";
    category.funnel = "line2";
    ASSERT_THAT(ApplyResult(snap,
                            category,
                            *json::Parse(R"({"category":{"id":14,"entityTypeId":1038,"name":"Line 2","sort":200,
                                "isDefault":"N"}})"),
                            std::nullopt),
                IsOk());
    PlannedOp stages;
    stages.kind = OpKind::kListStages;
    ASSERT_THAT(ApplyResult(snap,
                            stages,
                            *json::Parse(R"([{"ID":"40","ENTITY_ID":"DYNAMIC_1038_STAGE_14","STATUS_ID":"DT1038_14:NEW",
                                "NAME":"New","SORT":"10","SEMANTICS":null,"SYSTEM":"Y","CATEGORY_ID":"14"},
                                {"ID":"41","ENTITY_ID":"DEAL_STAGE_14","STATUS_ID":"C14:NEW","CATEGORY_ID":"14"}])"),
                            std::nullopt),
                IsOk());
    PlannedOp add;
    add.kind = OpKind::kStageAdd;
    add.entity_type_id = 1038;
    add.category_id = 14;
    add.params = {{"fields",
                   bj::object{{"ENTITY_ID", "DYNAMIC_1038_STAGE_14"},
                              {"STATUS_ID", "QUEUED"},
                              {"NAME", "Queued"},
                              {"SORT", 20},
                              {"SEMANTICS", ""}}}};
    ASSERT_THAT(ApplyResult(snap, add, bj::value(42), std::nullopt), IsOk());

    EXPECT_TRUE(snap.base_read);
    EXPECT_EQ(snap.TypeByCode("it_request")->flags.at("isCategoriesEnabled"), true);
    EXPECT_EQ(snap.assigned_categories.at("it_request/line2"), 14);
    EXPECT_EQ(snap.fresh_categories.count(14), 1u);
    EXPECT_EQ(snap.stages_read.count(14), 1u);
    const auto funnel_stages = snap.StagesOf(1038, 14);
    ASSERT_EQ(funnel_stages.size(), 2u);  // the deal stage sharing the category id is not ours
    EXPECT_EQ(funnel_stages[1]->status_id, "DT1038_14:QUEUED");
    EXPECT_EQ(funnel_stages[1]->id, 42);
    EXPECT_EQ(funnel_stages[1]->name, "Queued");
    EXPECT_EQ(funnel_stages[1]->sort, 20);
    EXPECT_EQ(funnel_stages[1]->category_id, 14);
    EXPECT_EQ(funnel_stages[1]->semantics, StageSemantics::kProcess);
    EXPECT_FALSE(funnel_stages[1]->system);
    EXPECT_TRUE(funnel_stages[0]->system);
}

TEST_F(PlanTest, ApplyResultRefusesAnAnswerOfAnotherShape) {
    PortalSnapshot snap;
    PlannedOp op;
    op.kind = OpKind::kTypeAdd;
    op.method = "crm.type.add";

    EXPECT_THAT(ApplyResult(snap, op, *json::Parse(R"({"item":{}})"), std::nullopt), HasErrc(b24::Errc::kBadResponse));
}

TEST_F(PlanTest, FormatPlanListsChangesAndTheSummary) {
    auto snap = Provisioned();
    Stage(snap, "QUEUED")->name = "Queue";

    const auto text = FormatPlan(PlanFor(snap), false);

    EXPECT_THAT(text, HasSubstr("it_request/line1/QUEUED"));
    EXPECT_THAT(text, HasSubstr("update=1"));
    EXPECT_THAT(text, ::testing::Not(HasSubstr("it_request/line2/QUEUED")));  // unchanged: only when verbose
    EXPECT_THAT(FormatPlan(PlanFor(snap), true), HasSubstr("it_request/line2/QUEUED"));
}

}  // namespace
}  // namespace dispatch::provision
