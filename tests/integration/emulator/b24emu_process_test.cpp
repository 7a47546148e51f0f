// Contract tests against the real b24emu process over HTTPS (CONTRACT §4–§7, §9, §10, §12, §13): started as the
// flows tests and the demo start it (`--clock manual --limits off --seed N --handler-ca`), driven through the
// admin webhook, an OAuth token of the local app and /_emu/, with a real HTTPS handler receiving its events.
#include <signal.h>

#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <regex>
#include <vector>

#include "core/form.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "support/b24emu.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"

namespace dispatch {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;
using testing::BinaryPath;

constexpr const char* kStart = "2026-03-02T06:00:00Z";  // Monday 09:00 in the portal zone (+03:00)

struct Answer {
    int status = 0;
    bj::value body;
    const bj::value& Result() const { return body.at("result"); }
    std::string Error() const { return json::ToString(body.at("error")).value_or("?"); }
    std::string Description() const { return json::StringAt(body, "error_description").value_or(""); }
};

class B24emuProcess : public ::testing::Test {
protected:
    void SetUp() override {
        http::ServerOptions tls;
        tls.listen = "127.0.0.1:0";
        tls.cert_file = BinaryPath("certs/server.pem");
        tls.key_file = BinaryPath("certs/server.key");
        http::Router router;
        router.Add("POST", "/*", [this](http::Request&& req, http::Respond respond) {
            {
                std::lock_guard lock(mu_);
                received_.push_back(std::move(req));
            }
            respond(http::Response::Text(200, "ok"));
        });
        handler_ = std::make_unique<http::Server>(tls, std::move(router));
        ASSERT_THAT(handler_->Start(), IsOk());
        handler_url_ = "https://127.0.0.1:" + std::to_string(handler_->Port());
        StartEmulator({});
    }

    void TearDown() override {
        if (HasFailure()) {
            std::ifstream log(dir_.File("b24emu.log"));
            std::cerr << "--- b24emu.log ---\n" << log.rdbuf() << "\n";
        }
        client_.CloseIdle();
    }

    void StartEmulator(const std::vector<std::string>& extra, const std::string& seed = "11") {
        std::string error;
        testing::EmuEndpoints emu;
        ASSERT_TRUE(testing::StartB24emu(emu_,
                                         B24EMU_BIN,
                                         {.start = kStart, .seed = seed, .limits = false, .extra = extra},
                                         dir_.File("b24emu.log"),
                                         emu,
                                         error))
            << error;
        base_ = emu.base_url;
        hook_ = emu.webhook_url;
        admin_ = emu.admin_url;
        client_id_ = emu.client_id;
        client_secret_ = emu.client_secret;
    }

    void StopEmulator() {
        client_.CloseIdle();
        ASSERT_EQ(emu_.Stop(SIGTERM, 10s), 0);
    }

    Answer Parse(const Result<http::Response>& res) {
        EXPECT_THAT(res, IsOk());
        if (!res) {
            return {};
        }
        auto v = json::Parse(res->body);
        EXPECT_TRUE(v.has_value()) << res->body;
        return Answer{res->status, v ? *v : bj::value()};
    }

    // A REST call through the admin's incoming webhook, parameters as a JSON body.
    Answer Call(const std::string& method, const bj::object& params = {}) {
        return Parse(client_.Post(hook_ + method, json::Dump(params), "application/json"));
    }
    // A REST call of the local app with an OAuth access token.
    Answer App(const std::string& method, bj::object params, const std::string& token) {
        params["auth"] = token;
        return Parse(client_.Post(base_ + "/rest/" + method + ".json", json::Dump(params), "application/json"));
    }
    Answer Admin(const std::string& path, const bj::object& body = {}) {
        return Parse(client_.Post(admin_ + path, json::Dump(body), "application/json"));
    }
    bj::value AdminGet(const std::string& path) { return Parse(client_.Get(admin_ + path)).body; }
    // A REST call as `user` through /_emu/act: what the portal answered, unwrapped.
    Answer Act(std::int64_t user, const std::string& method, const bj::object& params) {
        auto r = Admin("act", bj::object{{"user_id", user}, {"method", method}, {"params", params}});
        EXPECT_EQ(r.status, 200);
        return Answer{static_cast<int>(r.body.at("status").as_int64()), r.body.at("body")};
    }

    // An access token of `user` for the local app, through the code exchange.
    bj::object Tokens(std::int64_t user) {
        auto code = Admin("oauth/code", bj::object{{"user_id", user}});
        auto r = Parse(client_.Get(base_ + "/oauth/token/?grant_type=authorization_code&client_id=" + client_id_ +
                                   "&client_secret=" + client_secret_ +
                                   "&code=" + std::string(code.body.at("code").as_string())));
        EXPECT_EQ(r.status, 200) << json::Dump(r.body);
        return r.body.as_object();
    }

    // {type id, entityTypeId, default category id}
    std::tuple<std::int64_t, std::int64_t, std::int64_t> MakeType(const std::string& title, bool categories = true) {
        auto r = Call("crm.type.add",
                      bj::object{{"fields",
                                  bj::object{{"title", title},
                                             {"isCategoriesEnabled", categories ? "Y" : "N"},
                                             {"isStagesEnabled", "Y"}}}});
        EXPECT_EQ(r.status, 200) << json::Dump(r.body);
        const auto& t = r.Result().at("type");
        const auto e = t.at("entityTypeId").as_int64();
        auto cats = Call("crm.category.list", bj::object{{"entityTypeId", e}});
        return {t.at("id").as_int64(), e, cats.Result().at("categories").at(0).at("id").as_int64()};
    }

    static std::string Dir(std::int64_t e, std::int64_t c) {
        return "DYNAMIC_" + std::to_string(e) + "_STAGE_" + std::to_string(c);
    }
    static std::string Stage(std::int64_t e, std::int64_t c, const std::string& code) {
        return "DT" + std::to_string(e) + "_" + std::to_string(c) + ":" + code;
    }

    // Stages of a funnel by SORT: {STATUS_ID → row}.
    std::vector<bj::object> Stages(std::int64_t e, std::int64_t c) {
        auto r =
            Call("crm.status.list",
                 bj::object{{"filter", bj::object{{"ENTITY_ID", Dir(e, c)}}}, {"order", bj::object{{"SORT", "ASC"}}}});
        EXPECT_EQ(r.status, 200);
        std::vector<bj::object> out;
        for (const auto& s : r.Result().as_array()) {
            out.push_back(s.as_object());
        }
        return out;
    }
    std::string StageRowId(std::int64_t e, std::int64_t c, const std::string& code) {
        for (const auto& s : Stages(e, c)) {
            if (s.at("STATUS_ID").as_string() == Stage(e, c, code)) {
                return std::string(s.at("ID").as_string());
            }
        }
        ADD_FAILURE() << "no stage " << code;
        return "";
    }

    // Delivers what is due, then the bodies the handler got at `path`, parsed, oldest first.
    std::vector<bj::object> Received(const std::string& path) {
        Admin("events/flush");
        std::lock_guard lock(mu_);
        std::vector<bj::object> out;
        for (const auto& r : received_) {
            if (r.path == path) {
                auto body = form::Parse(r.body);
                EXPECT_THAT(body, IsOk());
                out.push_back(body ? *body : bj::object{});
            }
        }
        return out;
    }

    testing::TempDir dir_;
    testing::ChildProcess emu_;
    http::Client client_{{.ca_file = BinaryPath("certs/ca.pem")}};
    std::unique_ptr<http::Server> handler_;
    std::string handler_url_;
    std::string base_;
    std::string hook_;
    std::string admin_;
    std::string client_id_;
    std::string client_secret_;
    std::mutex mu_;
    std::vector<http::Request> received_;
};

// --- crm.automatedsolution.* (CONTRACT §4) ---

TEST_F(B24emuProcess, AutomatedSolutionLifecycle) {
    auto [t1, e1, c1] = MakeType("IT request");
    auto [t2, e2, c2] = MakeType("Change request");

    auto desk = Call("crm.automatedsolution.add", bj::object{{"fields", bj::object{{"title", "IT: HelpDesk"}}}});
    auto untitled = Call("crm.automatedsolution.add", bj::object{{"fields", bj::object{{"typeIds", bj::array{t1}}}}});
    auto unknown_type = Call("crm.automatedsolution.add",
                             bj::object{{"fields", bj::object{{"title", "X"}, {"typeIds", bj::array{e1}}}}});
    ASSERT_EQ(desk.status, 200) << json::Dump(desk.body);
    const auto desk_id = desk.Result().at("automatedSolution").at("id").as_int64();
    auto linked = Call("crm.automatedsolution.update",
                       bj::object{{"id", desk_id}, {"fields", bj::object{{"typeIds", bj::array{t1, t2}}}}});
    auto other = Call("crm.automatedsolution.add",
                      bj::object{{"fields", bj::object{{"title", "Facilities"}, {"typeIds", bj::array{t2}}}}});
    const auto other_id = other.Result().at("automatedSolution").at("id").as_int64();
    auto desk_now = Call("crm.automatedsolution.get", bj::object{{"id", desk_id}});
    auto renamed = Call("crm.automatedsolution.update",
                        bj::object{{"id", desk_id}, {"fields", bj::object{{"title", "IT: Service desk"}}}});
    auto found = Call("crm.automatedsolution.list",
                      bj::object{{"filter", bj::object{{"%title", "service"}}}, {"order", bj::object{{"id", "DESC"}}}});
    auto all = Call("crm.automatedsolution.list", bj::object{{"order", bj::object{{"title", "ASC"}}}});
    auto bound = Call("crm.automatedsolution.delete", bj::object{{"id", other_id}});
    Call("crm.automatedsolution.update",
         bj::object{{"id", other_id}, {"fields", bj::object{{"typeIds", bj::array{}}}}});
    auto deleted = Call("crm.automatedsolution.delete", bj::object{{"id", other_id}});
    auto gone = Call("crm.automatedsolution.get", bj::object{{"id", other_id}});
    auto as_user = Act(12, "crm.automatedsolution.add", bj::object{{"fields", bj::object{{"title", "Mine"}}}});

    EXPECT_TRUE(desk.Result().at("automatedSolution").at("typeIds").as_array().empty());
    EXPECT_EQ(untitled.status, 400);
    EXPECT_EQ(untitled.Error(), "BX_EMPTY_REQUIRED");
    EXPECT_EQ(unknown_type.Error(), "INVALID_ARG_VALUE");  // typeIds are type ids, not entityTypeIds (§14.9)
    EXPECT_EQ(linked.Result().at("automatedSolution").at("typeIds"), (bj::array{t1, t2}));
    // Linking a smart process moves it out of its previous workplace.
    EXPECT_EQ(desk_now.Result().at("automatedSolution").at("typeIds"), (bj::array{t1}));
    EXPECT_EQ(renamed.Result().at("automatedSolution").at("typeIds"), (bj::array{t1}));  // omitted keys unchanged
    ASSERT_EQ(found.Result().at("automatedSolutions").as_array().size(), 1u);
    EXPECT_EQ(found.Result().at("automatedSolutions").at(0).at("title").as_string(), "IT: Service desk");
    EXPECT_EQ(found.body.at("total").as_int64(), 1);
    EXPECT_EQ(all.body.at("total").as_int64(), 2);
    EXPECT_EQ(all.Result().at("automatedSolutions").at(0).at("title").as_string(), "Facilities");
    EXPECT_EQ(bound.status, 400);
    EXPECT_EQ(bound.Error(), "HAS_BOUND_TYPES");
    EXPECT_EQ(deleted.status, 200);
    EXPECT_TRUE(deleted.Result().is_null());
    EXPECT_EQ(gone.status, 400);
    EXPECT_EQ(gone.Error(), "NOT_FOUND");
    EXPECT_EQ(as_user.status, 400);
    EXPECT_EQ(as_user.Error(), "ACCESS_DENIED");
}

// --- userfieldconfig.* (CONTRACT §9) ---

TEST_F(B24emuProcess, UserFieldConfigLifecycle) {
    auto [type_id, e, c] = MakeType("IT request");
    const auto entity = "CRM_" + std::to_string(type_id);
    auto added = Call("userfieldconfig.add",
                      bj::object{{"moduleId", "crm"},
                                 {"field",
                                  bj::object{{"entityId", entity},
                                             {"fieldName", "UF_" + entity + "_PRIORITY"},
                                             {"userTypeId", "enumeration"},
                                             {"sort", 200},
                                             {"editFormLabel", bj::object{{"en", "Priority"}}},
                                             {"enum",
                                              bj::array{bj::object{{"value", "Urgent"}, {"xmlId", "urgent"}},
                                                        bj::object{{"value", "Normal"}, {"def", "Y"}}}}}}});
    auto text = Call(
        "userfieldconfig.add",
        bj::object{
            {"moduleId", "crm"},
            {"field",
             bj::object{{"entityId", entity}, {"fieldName", "UF_" + entity + "_NOTE"}, {"userTypeId", "string"}}}});
    auto duplicate = Call(
        "userfieldconfig.add",
        bj::object{
            {"moduleId", "crm"},
            {"field",
             bj::object{{"entityId", entity}, {"fieldName", "UF_" + entity + "_NOTE"}, {"userTypeId", "string"}}}});
    ASSERT_EQ(added.status, 200) << json::Dump(added.body);
    const auto& field = added.Result().at("field");
    const auto id = std::string(field.at("id").as_string());  // numbers come back as strings
    const auto urgent = std::string(field.at("enum").at(0).at("id").as_string());
    const auto normal = std::string(field.at("enum").at(1).at("id").as_string());

    auto got = Call("userfieldconfig.get", bj::object{{"moduleId", "crm"}, {"id", id}});
    auto updated = Call("userfieldconfig.update",
                        bj::object{{"moduleId", "crm"},
                                   {"id", id},
                                   {"field",
                                    bj::object{{"userTypeId", "enumeration"},
                                               {"sort", 150},
                                               {"mandatory", "Y"},
                                               {"multiple", "Y"},
                                               {"enum",
                                                bj::array{bj::object{{"id", urgent}, {"value", "Urgent!"}},
                                                          bj::object{{"id", normal}, {"del", "Y"}},
                                                          bj::object{{"value", "Low"}}}}}}});
    auto enum_without_type =
        Call("userfieldconfig.update",
             bj::object{{"moduleId", "crm"},
                        {"id", id},
                        {"field", bj::object{{"enum", bj::array{bj::object{{"value", "Ignored"}}}}}}});
    auto listed = Call(
        "userfieldconfig.list",
        bj::object{
            {"moduleId", "crm"}, {"filter", bj::object{{"entityId", entity}}}, {"order", bj::object{{"sort", "ASC"}}}});
    auto nested = Call(
        "userfieldconfig.list",
        bj::object{{"moduleId", "crm"}, {"filter", bj::object{{"0", bj::object{{"logic", "OR"}, {"sort", 100}}}}}});
    const auto text_id = std::string(text.Result().at("field").at("id").as_string());
    auto deleted = Call("userfieldconfig.delete", bj::object{{"moduleId", "crm"}, {"id", text_id}});
    auto after_delete = Call("userfieldconfig.get", bj::object{{"moduleId", "crm"}, {"id", text_id}});
    auto update_missing = Call("userfieldconfig.update",
                               bj::object{{"moduleId", "crm"}, {"id", 999999}, {"field", bj::object{{"sort", 1}}}});
    auto delete_missing = Call("userfieldconfig.delete", bj::object{{"moduleId", "crm"}, {"id", 999999}});
    auto no_module = Call("userfieldconfig.list", bj::object{});
    auto types = Call("userfieldconfig.getTypes", bj::object{{"moduleId", "crm"}});

    EXPECT_EQ(field.at("fieldName").as_string(), "UF_" + entity + "_PRIORITY");
    EXPECT_EQ(field.at("sort").as_string(), "200");
    EXPECT_EQ(field.at("editFormLabel").at("en").as_string(), "Priority");
    EXPECT_EQ(field.at("enum").at(0).at("xmlId").as_string(), "urgent");
    EXPECT_FALSE(field.at("enum").at(1).at("xmlId").as_string().empty());  // generated when omitted
    EXPECT_EQ(duplicate.status, 400);
    EXPECT_EQ(duplicate.Error(), "");
    EXPECT_NE(duplicate.Description().find("already exists"), std::string::npos);
    EXPECT_EQ(got.Result().at("field"), field);
    const auto& u = updated.Result().at("field");
    EXPECT_EQ(u.at("sort").as_string(), "150");
    EXPECT_EQ(u.at("mandatory").as_string(), "Y");
    EXPECT_EQ(u.at("multiple").as_string(), "N");  // immutable, silently not applied
    ASSERT_EQ(u.at("enum").as_array().size(), 2u);
    EXPECT_EQ(u.at("enum").at(0).at("value").as_string(), "Urgent!");
    EXPECT_EQ(u.at("enum").at(0).at("id").as_string(), urgent);
    EXPECT_EQ(u.at("enum").at(1).at("value").as_string(), "Low");
    EXPECT_EQ(enum_without_type.Result().at("field").at("enum").as_array().size(), 2u);
    EXPECT_EQ(listed.body.at("total").as_int64(), 2);
    EXPECT_EQ(listed.Result().at("fields").at(0).at("fieldName").as_string(), "UF_" + entity + "_NOTE");  // sort 100
    EXPECT_EQ(nested.status, 400);
    EXPECT_EQ(nested.Error(), "");
    EXPECT_EQ(deleted.status, 200);
    EXPECT_TRUE(deleted.Result().is_null());
    EXPECT_TRUE(after_delete.Result().at("field").is_null());
    EXPECT_EQ(update_missing.Error(), "");
    EXPECT_EQ(update_missing.Description(), "You cannot change the settings of the user field");
    EXPECT_EQ(delete_missing.Description(), "You cannot delete the user field");
    EXPECT_EQ(no_module.status, 400);
    EXPECT_EQ(no_module.Error(), "");
    EXPECT_TRUE(types.Result().at("types").as_object().contains("enumeration"));
}

// --- crm.category.* (CONTRACT §6) ---

TEST_F(B24emuProcess, CategoryLifecycle) {
    auto [type_id, e, general] = MakeType("IT request");
    auto line2 = Call("crm.category.add",
                      bj::object{{"entityTypeId", e}, {"fields", bj::object{{"name", "Line 2"}, {"sort", 200}}}});
    ASSERT_EQ(line2.status, 200) << json::Dump(line2.body);
    const auto l2 = line2.Result().at("category").at("id").as_int64();

    auto renamed = Call(
        "crm.category.update",
        bj::object{{"entityTypeId", e}, {"id", l2}, {"fields", bj::object{{"name", "Line 2 (infra)"}, {"sort", -5}}}});
    auto made_default = Call("crm.category.update",
                             bj::object{{"entityTypeId", e}, {"id", l2}, {"fields", bj::object{{"isDefault", "Y"}}}});
    auto general_now = Call("crm.category.get", bj::object{{"entityTypeId", e}, {"id", general}});
    auto listed = Call("crm.category.list", bj::object{{"entityTypeId", e}});
    auto delete_default = Call("crm.category.delete", bj::object{{"entityTypeId", e}, {"id", l2}});
    Call("crm.category.update",
         bj::object{{"entityTypeId", e}, {"id", general}, {"fields", bj::object{{"isDefault", "Y"}}}});
    auto item = Call("crm.item.add", bj::object{{"entityTypeId", e}, {"fields", bj::object{{"categoryId", l2}}}});
    auto non_empty = Call("crm.category.delete", bj::object{{"entityTypeId", e}, {"id", l2}});
    Call("crm.item.delete", bj::object{{"entityTypeId", e}, {"id", item.Result().at("item").at("id")}});
    auto deleted = Call("crm.category.delete", bj::object{{"entityTypeId", e}, {"id", l2}});
    auto gone = Call("crm.category.get", bj::object{{"entityTypeId", e}, {"id", l2}});
    auto unknown_type = Call("crm.category.list", bj::object{{"entityTypeId", e + 2}});
    auto [t2, e2, c2] = MakeType("No funnels", false);
    auto disabled = Call("crm.category.add", bj::object{{"entityTypeId", e2}, {"fields", bj::object{{"name", "X"}}}});

    EXPECT_EQ(Stages(e, l2).size(), 0u);  // the funnel's stages went with it
    EXPECT_EQ(line2.Result().at("category").at("isDefault").as_string(), "N");
    EXPECT_EQ(renamed.Result().at("category").at("name").as_string(), "Line 2 (infra)");
    EXPECT_EQ(renamed.Result().at("category").at("sort").as_int64(), 0);  // negatives become 0
    EXPECT_EQ(made_default.Result().at("category").at("isDefault").as_string(), "Y");
    EXPECT_EQ(general_now.Result().at("category").at("isDefault").as_string(), "N");  // the flag moved
    ASSERT_EQ(listed.Result().at("categories").as_array().size(), 2u);
    EXPECT_EQ(listed.body.at("total").as_int64(), 2);
    EXPECT_FALSE(listed.body.as_object().contains("next"));
    EXPECT_EQ(listed.Result().at("categories").at(0).at("id").as_int64(), l2);  // by sort
    EXPECT_EQ(delete_default.Error(), "BX_ERROR");
    EXPECT_EQ(delete_default.Description(), "This funnel is the default funnel");
    EXPECT_EQ(non_empty.status, 400);
    EXPECT_EQ(non_empty.Error(), "BX_ERROR");
    EXPECT_EQ(non_empty.Description(), "Elements related to the funnel found");
    EXPECT_EQ(deleted.status, 200);
    EXPECT_EQ(gone.Error(), "NOT_FOUND");
    EXPECT_EQ(unknown_type.Error(), "NOT_FOUND");
    EXPECT_EQ(disabled.Error(), "ENTITY_TYPE_NOT_SUPPORTED");
}

// --- crm.status.* (CONTRACT §7): reshaping the default stages the way provisioning does ---

TEST_F(B24emuProcess, StatusReshapesDefaultStages) {
    auto [type_id, e, c] = MakeType("IT request");
    const auto dir = Dir(e, c);
    auto add = [&](const char* code, const char* name, int sort, const char* semantics = "") {
        bj::object fields{{"ENTITY_ID", dir}, {"STATUS_ID", code}, {"NAME", name}, {"SORT", sort}};
        if (*semantics != '\0') {
            fields["SEMANTICS"] = semantics;
        }
        return Call("crm.status.add", bj::object{{"fields", fields}});
    };

    auto renamed = Call("crm.status.update",
                        bj::object{{"id", StageRowId(e, c, "NEW")},
                                   {"fields", bj::object{{"NAME", "New request"}, {"COLOR", "#00A2E8"}}}});
    Call("crm.status.update",
         bj::object{{"id", StageRowId(e, c, "PREPARATION")}, {"fields", bj::object{{"NAME", "Awaiting execution"}}}});
    auto in_work = add("IN_WORK", "In progress", 25);
    add("WAITING", "Waiting for requester", 33);
    add("REVIEW", "Awaiting review", 36);
    auto after_success = add("LATE", "Too late", 45);
    auto second_success = add("DONE2", "Done again", 38, "S");
    auto duplicate = add("WAITING", "Waiting", 34);
    auto drop_client = Call("crm.status.delete", bj::object{{"id", StageRowId(e, c, "CLIENT")}});
    add("REJECTED", "Rejected", 60, "F");
    auto fail_unforced = Call("crm.status.delete", bj::object{{"id", StageRowId(e, c, "FAIL")}});
    auto fail_forced = Call("crm.status.delete",
                            bj::object{{"id", StageRowId(e, c, "FAIL")}, {"params", bj::object{{"FORCED", "Y"}}}});
    auto last_failure = Call("crm.status.delete", bj::object{{"id", StageRowId(e, c, "REJECTED")}});
    const auto item = Call("crm.item.add", bj::object{{"entityTypeId", e}, {"fields", bj::object{}}});
    Call("crm.item.update",
         bj::object{{"entityTypeId", e},
                    {"id", item.Result().at("item").at("id")},
                    {"fields", bj::object{{"stageId", Stage(e, c, "IN_WORK")}}}});
    auto occupied = Call("crm.status.delete", bj::object{{"id", in_work.Result()}});
    auto missing = Call("crm.status.get", bj::object{{"id", 999999}});
    auto invalid = Call("crm.status.get", bj::object{{"id", 0}});
    auto items = Call("crm.status.entity.items", bj::object{{"entityId", dir}});

    EXPECT_EQ(renamed.status, 200);
    EXPECT_TRUE(renamed.Result().as_bool());
    EXPECT_TRUE(in_work.Result().is_int64());  // crm.status.add answers the new row id
    EXPECT_EQ(after_success.status, 400);
    EXPECT_EQ(second_success.status, 400);
    EXPECT_EQ(second_success.Error(), "");
    EXPECT_EQ(duplicate.Error(), "ERROR_CORE");
    EXPECT_TRUE(drop_client.Result().as_bool());
    EXPECT_EQ(fail_unforced.status, 400);
    EXPECT_NE(fail_unforced.Error().find("FORCED"), std::string::npos);  // the sentence is the code
    EXPECT_TRUE(fail_forced.Result().as_bool());
    EXPECT_EQ(last_failure.Error(), "Error on deleting status.");  // a funnel keeps one failure stage
    EXPECT_EQ(occupied.Error(), "There are active items in this status.");
    EXPECT_EQ(missing.Error(), "Status is not found.");
    EXPECT_EQ(invalid.Error(), "Invalid identifier.");
    EXPECT_EQ(item.Result().at("item").at("stageId").as_string(), Stage(e, c, "NEW"));  // the first stage

    std::vector<std::string> codes;
    for (const auto& s : Stages(e, c)) {
        codes.emplace_back(s.at("STATUS_ID").as_string());
        EXPECT_TRUE(s.at("SORT").is_string());
        EXPECT_EQ(s.at("ENTITY_ID").as_string(), dir);
    }
    EXPECT_EQ(codes,
              (std::vector<std::string>{Stage(e, c, "NEW"),
                                        Stage(e, c, "PREPARATION"),
                                        Stage(e, c, "IN_WORK"),
                                        Stage(e, c, "WAITING"),
                                        Stage(e, c, "REVIEW"),
                                        Stage(e, c, "SUCCESS"),
                                        Stage(e, c, "REJECTED")}));
    const auto stages = Stages(e, c);
    EXPECT_EQ(stages[0].at("NAME").as_string(), "New request");
    EXPECT_EQ(stages[0].at("SYSTEM").as_string(), "Y");
    EXPECT_EQ(stages[0].at("NAME_INIT").as_string(), "New");
    EXPECT_EQ(stages[2].at("SYSTEM").as_string(), "N");
    EXPECT_TRUE(stages[2].at("SEMANTICS").is_null());
    EXPECT_EQ(stages[5].at("SEMANTICS").as_string(), "S");
    EXPECT_EQ(stages[6].at("SEMANTICS").as_string(), "F");
    ASSERT_EQ(items.Result().as_array().size(), 7u);
    EXPECT_EQ(items.Result().at(1).at("NAME").as_string(), "Awaiting execution");
}

// --- im.notify.* (CONTRACT §12.2), read back through /_emu/notifications ---

TEST_F(B24emuProcess, NotificationsAreReadBackThroughTheAdminApi) {
    const auto token = std::string(Tokens(11).at("access_token").as_string());

    auto first =
        Call("im.notify.system.add", bj::object{{"USER_ID", 12}, {"MESSAGE", " SLA breached "}, {"TAG", "sla-5"}});
    auto replaced =
        Call("im.notify.system.add", bj::object{{"USER_ID", 12}, {"MESSAGE", "SLA breached twice"}, {"TAG", "sla-5"}});
    auto personal = App("im.notify.personal.add", bj::object{{"USER_ID", 13}, {"MESSAGE", "Please review #5"}}, token);
    auto no_user = Call("im.notify.system.add", bj::object{{"MESSAGE", "x"}});
    auto no_message = Call("im.notify.personal.add", bj::object{{"USER_ID", 12}, {"MESSAGE", "   "}});
    auto big_attach = Call("im.notify.system.add",
                           bj::object{{"USER_ID", 12}, {"MESSAGE", "x"}, {"ATTACH", std::string(60001, 'a')}});
    const auto notes = AdminGet("notifications");

    EXPECT_TRUE(first.Result().is_int64());
    EXPECT_TRUE(personal.Result().is_int64());
    EXPECT_EQ(no_user.status, 400);
    EXPECT_EQ(no_user.Error(), "USER_ID_EMPTY");
    EXPECT_EQ(no_message.Error(), "MESSAGE_EMPTY");
    EXPECT_EQ(big_attach.Error(), "ATTACH_OVERSIZE");
    ASSERT_EQ(notes.as_array().size(), 2u);  // the same tag replaced the first one
    const auto& sys = notes.at(0);
    EXPECT_EQ(sys.at("id"), replaced.Result());
    EXPECT_EQ(sys.at("kind").as_string(), "system");
    EXPECT_EQ(sys.at("to_user").as_int64(), 12);
    EXPECT_EQ(sys.at("message").as_string(), "SLA breached twice");
    EXPECT_EQ(sys.at("tag").as_string(), "sla-5");
    EXPECT_EQ(sys.at("created").as_string(), "2026-03-02T09:00:00+03:00");
    const auto& mine = notes.at(1);
    EXPECT_EQ(mine.at("kind").as_string(), "personal");
    EXPECT_EQ(mine.at("from_user").as_int64(), 11);  // the token's user sends personal notifications
    EXPECT_EQ(mine.at("to_user").as_int64(), 13);
    EXPECT_EQ(mine.at("message").as_string(), "Please review #5");
}

// --- what the SLA flows read (CONTRACT §8, §8.6), the way they read it: one batch per ticket ---

TEST_F(B24emuProcess, FlowsBatchReadsItemAndItsNewHistoryRows) {
    auto [type_id, e, c] = MakeType("IT request");
    const auto t = std::to_string(type_id);
    auto tmpl = Call("userfieldconfig.add",
                     bj::object{{"moduleId", "crm"},
                                {"field",
                                 bj::object{{"entityId", "CRM_" + t},
                                            {"fieldName", "UF_CRM_" + t + "_TEMPLATE"},
                                            {"userTypeId", "enumeration"},
                                            {"enum", bj::array{bj::object{{"value", "1C"}}}}}}});
    const auto one_c = json::ToInt(tmpl.Result().at("field").at("enum").at(0).at("id")).value();
    auto added = Act(21,
                     "crm.item.add",
                     bj::object{{"entityTypeId", e},
                                {"fields", bj::object{{"title", "1C is slow"}, {"ufCrm" + t + "Template", one_c}}}});
    ASSERT_EQ(added.status, 200) << json::Dump(added.body);
    const auto id = added.Result().at("item").at("id").as_int64();
    Admin("clock", bj::object{{"advance_ms", 5 * 60'000}});
    Admin("assign", bj::object{{"user_id", 11}, {"entityTypeId", e}, {"id", id}, {"assignedById", 25}});
    Admin("move",
          bj::object{{"user_id", 25}, {"entityTypeId", e}, {"id", id}, {"stageId", Stage(e, c, "PREPARATION")}});
    const auto first =
        Call("crm.stagehistory.list", bj::object{{"entityTypeId", e}, {"filter", bj::object{{"OWNER_ID", id}}}});
    const auto created_row = first.Result().at("items").at(0).at("ID").as_int64();
    Admin("clock", bj::object{{"advance_ms", 60'000}});
    Admin("move", bj::object{{"user_id", 25}, {"entityTypeId", e}, {"id", id}, {"stageId", Stage(e, c, "SUCCESS")}});

    const auto ids = std::to_string(e) + "&id=" + std::to_string(id);
    auto batch = Call("batch",
                      bj::object{{"halt", 0},
                                 {"cmd",
                                  bj::object{{"i0", "crm.item.get?entityTypeId=" + ids},
                                             {"h0",
                                              "crm.stagehistory.list?entityTypeId=" + std::to_string(e) +
                                                  "&filter[OWNER_ID]=" + std::to_string(id) + "&filter[%3EID]=" +
                                                  std::to_string(created_row) + "&order[ID]=ASC"}}}});

    ASSERT_EQ(batch.status, 200) << json::Dump(batch.body);
    const auto& item = batch.Result().at("result").at("i0").at("item");
    EXPECT_EQ(item.at("id").as_int64(), id);
    EXPECT_EQ(item.at("stageId").as_string(), Stage(e, c, "SUCCESS"));
    EXPECT_EQ(item.at("previousStageId").as_string(), Stage(e, c, "PREPARATION"));
    EXPECT_EQ(item.at("categoryId").as_int64(), c);
    EXPECT_EQ(item.at("assignedById").as_int64(), 25);
    EXPECT_EQ(item.at("createdBy").as_int64(), 21);
    EXPECT_EQ(item.at("createdTime").as_string(), "2026-03-02T09:00:00+03:00");
    EXPECT_EQ(item.at("updatedTime").as_string(), "2026-03-02T09:06:00+03:00");
    EXPECT_EQ(item.at("movedTime").as_string(), "2026-03-02T09:06:00+03:00");
    EXPECT_EQ(item.at("movedBy").as_int64(), 25);
    EXPECT_EQ(item.at("ufCrm" + t + "Template").as_int64(), one_c);
    const auto& rows = batch.Result().at("result").at("h0").at("items").as_array();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].at("STAGE_ID").as_string(), Stage(e, c, "PREPARATION"));
    EXPECT_EQ(rows[0].at("CREATED_TIME").as_string(), "2026-03-02T09:05:00+03:00");
    EXPECT_EQ(rows[1].at("STAGE_ID").as_string(), Stage(e, c, "SUCCESS"));
    EXPECT_EQ(rows[1].at("TYPE_ID").as_int64(), 3);
    EXPECT_EQ(batch.Result().at("result_total").at("h0").as_int64(), 2);
}

// --- events (CONTRACT §10, §13.3): admin-API changes and the app's own REST writes both come back ---

TEST_F(B24emuProcess, EventsFollowAdminChangesAndTheAppsOwnWrites) {
    auto [type_id, e, c] = MakeType("IT request");
    const auto token = std::string(Tokens(1).at("access_token").as_string());
    for (const char* event : {"ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE"}) {
        auto bound = App("event.bind", bj::object{{"event", event}, {"handler", handler_url_ + "/events"}}, token);
        ASSERT_EQ(bound.status, 200) << json::Dump(bound.body);
    }
    const auto app_token = std::string(AdminGet("state").at("app").at("application_token").as_string());

    const auto added =
        Act(12, "crm.item.add", bj::object{{"entityTypeId", e}, {"fields", bj::object{{"title", "VPN"}}}});
    const auto id = added.Result().at("item").at("id").as_int64();
    Admin("move", bj::object{{"user_id", 11}, {"entityTypeId", e}, {"id", id}, {"stageId", Stage(e, c, "CLIENT")}});
    Admin("assign", bj::object{{"user_id", 11}, {"entityTypeId", e}, {"id", id}, {"assignedById", 13}});
    auto own = App("crm.item.update",
                   bj::object{{"entityTypeId", e}, {"id", id}, {"fields", bj::object{{"title", "VPN (SLA: 4h)"}}}},
                   token);
    auto noop = App("crm.item.update",
                    bj::object{{"entityTypeId", e}, {"id", id}, {"fields", bj::object{{"title", "VPN (SLA: 4h)"}}}},
                    token);
    Admin("comment", bj::object{{"user_id", 13}, {"entityTypeId", e}, {"id", id}, {"text", "On it"}});
    Act(12, "crm.item.delete", bj::object{{"entityTypeId", e}, {"id", id}});

    ASSERT_EQ(own.status, 200);
    ASSERT_EQ(noop.status, 200);
    ASSERT_TRUE(testing::WaitFor([&] { return Received("/events").size() >= 5; }, 10s, "five events"));
    const auto events = Received("/events");
    ASSERT_EQ(events.size(), 5u);  // add, move, assign, the app's own update, delete; no-op and comment raise none
    const std::vector<std::pair<std::string, std::string>> expected{{"ONCRMDYNAMICITEMADD", "12"},
                                                                    {"ONCRMDYNAMICITEMUPDATE", "11"},
                                                                    {"ONCRMDYNAMICITEMUPDATE", "11"},
                                                                    {"ONCRMDYNAMICITEMUPDATE", "1"},
                                                                    {"ONCRMDYNAMICITEMDELETE", "12"}};
    for (std::size_t i = 0; i < events.size(); ++i) {
        const auto& ev = events[i];
        EXPECT_EQ(ev.at("event").as_string(), expected[i].first) << i;
        EXPECT_EQ(ev.at("data").at("FIELDS").at("ID").as_string(), std::to_string(id));
        EXPECT_EQ(ev.at("data").at("FIELDS").at("ENTITY_TYPE_ID").as_string(), std::to_string(e));
        EXPECT_EQ(ev.at("ts").as_string(), std::to_string(ParseIso8601(kStart).value() / 1000));
        const auto& auth = ev.at("auth");
        EXPECT_EQ(auth.at("user_id").as_string(), expected[i].second) << i;
        EXPECT_EQ(auth.at("application_token").as_string(), app_token);
        EXPECT_EQ(auth.at("client_endpoint").as_string(), base_ + "/rest/");
        EXPECT_FALSE(auth.as_object().contains("refresh_token"));  // §14.3: not in item events
    }
    const auto comments = AdminGet("comments");
    ASSERT_EQ(comments.as_array().size(), 1u);
    EXPECT_EQ(comments.at(0).at("entity_type").as_string(), "dynamic_" + std::to_string(e));
    EXPECT_EQ(comments.at(0).at("comment").as_string(), "On it");
    EXPECT_EQ(comments.at(0).at("author_id").as_int64(), 13);
}

// --- a manual clock moves only through /_emu/clock; tokens and delayed events follow it ---

TEST_F(B24emuProcess, ManualClockMovesOnlyWhenTheTestSaysSo) {
    auto [type_id, e, c] = MakeType("IT request");
    const auto tokens = Tokens(1);
    const auto token = std::string(tokens.at("access_token").as_string());
    App("event.bind", bj::object{{"event", "ONCRMDYNAMICITEMADD"}, {"handler", handler_url_ + "/events"}}, token);
    const auto added = Call("crm.item.add", bj::object{{"entityTypeId", e}, {"fields", bj::object{}}});
    const auto id = added.Result().at("item").at("id").as_int64();

    auto advanced = Admin("clock", bj::object{{"advance_ms", 90 * 60'000}});
    Call("crm.item.update", bj::object{{"entityTypeId", e}, {"id", id}, {"fields", bj::object{{"title", "later"}}}});
    auto item = Call("crm.item.get", bj::object{{"entityTypeId", e}, {"id", id}}).Result().at("item");
    auto expired = App("user.current", {}, token);
    auto refreshed = Parse(client_.Get(base_ + "/oauth/token/?grant_type=refresh_token&client_id=" + client_id_ +
                                       "&client_secret=" + client_secret_ +
                                       "&refresh_token=" + std::string(tokens.at("refresh_token").as_string())));
    auto fresh = App("user.current", {}, std::string(refreshed.body.at("access_token").as_string()));
    auto set = Admin("clock", bj::object{{"set", "2026-03-03T06:00:00Z"}});
    auto rate = Admin("clock", bj::object{{"rate", 60}});

    Admin("faults", bj::object{{"event_delay_ms", 60'000}});
    const auto received_before = Received("/events").size();
    Call("crm.item.add", bj::object{{"entityTypeId", e}, {"fields", bj::object{}}});
    const auto early = Received("/events").size();
    Admin("clock", bj::object{{"advance_ms", 60'000}});
    ASSERT_TRUE(
        testing::WaitFor([&] { return Received("/events").size() == received_before + 1; }, 10s, "the delayed event"));

    EXPECT_EQ(added.Result().at("item").at("createdTime").as_string(), "2026-03-02T09:00:00+03:00");
    EXPECT_EQ(advanced.body.at("now").as_string(), "2026-03-02T10:30:00+03:00");
    EXPECT_EQ(item.at("updatedTime").as_string(), "2026-03-02T10:30:00+03:00");
    EXPECT_EQ(item.at("createdTime").as_string(), "2026-03-02T09:00:00+03:00");
    EXPECT_EQ(expired.status, 401);
    EXPECT_EQ(expired.Error(), "expired_token");
    EXPECT_EQ(refreshed.status, 200);
    EXPECT_EQ(refreshed.body.at("expires").as_int64(), ParseIso8601("2026-03-02T08:30:00Z").value() / 1000);
    EXPECT_EQ(fresh.status, 200);
    EXPECT_EQ(set.body.at("now_ms").as_int64(), ParseIso8601("2026-03-03T06:00:00Z").value());
    EXPECT_EQ(rate.status, 400);  // a manual clock has no rate
    EXPECT_EQ(early, received_before);
}

// --- dropped events (the flows tests drop 30%): a share, chosen deterministically by --seed ---

TEST_F(B24emuProcess, DroppedEventsAreAShareChosenBySeed) {
    auto run = [&] {
        auto [type_id, e, c] = MakeType("IT request");
        const auto token = std::string(Tokens(1).at("access_token").as_string());
        App("event.bind", bj::object{{"event", "ONCRMDYNAMICITEMADD"}, {"handler", handler_url_ + "/drops"}}, token);
        Admin("faults", bj::object{{"drop_events", 0.3}});
        for (int i = 0; i < 100; ++i) {
            Call("crm.item.add", bj::object{{"entityTypeId", e}, {"fields", bj::object{}}});
        }
        Admin("events/flush");
        std::vector<std::string> dropped;
        int delivered = 0;
        const auto log = AdminGet("events");
        for (const auto& d : log.as_array()) {
            if (d.at("kind").as_string() != "event") {
                continue;
            }
            const auto body = form::Parse(std::string(d.at("body").as_string())).value();
            const auto item = std::string(body.at("data").at("FIELDS").at("ID").as_string());
            if (d.at("outcome").as_string() == "dropped") {
                dropped.push_back(item);
            } else if (d.at("outcome").as_string() == "delivered") {
                ++delivered;
            }
        }
        return std::pair{dropped, delivered};
    };

    const auto [dropped, delivered] = run();
    const auto handler_got = Received("/drops").size();
    StopEmulator();
    StartEmulator({});
    const auto [again, delivered_again] = run();

    EXPECT_EQ(dropped.size() + static_cast<std::size_t>(delivered), 100u);
    EXPECT_GE(dropped.size(), 15u);
    EXPECT_LE(dropped.size(), 45u);
    EXPECT_EQ(handler_got, static_cast<std::size_t>(delivered));  // what was not dropped arrived, once
    EXPECT_EQ(again, dropped);                                    // same seed, same calls: the same events are lost
    EXPECT_EQ(delivered_again, delivered);
}

// --- the envelope on the wire (CONTRACT §2.2, limits.md) ---

TEST_F(B24emuProcess, WireTimeBlockIsPlainDecimalsAnd429SaysWhenToComeBack) {
    Admin("faults",
          bj::object{{"fail",
                      bj::object{{"method", "crm.item.list"},
                                 {"status", 429},
                                 {"error", "OPERATION_TIME_LIMIT"},
                                 {"reset_in_ms", 90'000}}}});
    auto [type_id, e, c] = MakeType("IT request");
    auto raw = client_.Post(hook_ + "crm.type.list", "{}", "application/json");
    ASSERT_THAT(raw, IsOk());

    auto limited = Call("crm.item.list", bj::object{{"entityTypeId", e}});
    auto then = Call("crm.item.list", bj::object{{"entityTypeId", e}});

    static const std::regex kExponent(R"([0-9][eE][-+]?[0-9])");
    EXPECT_FALSE(std::regex_search(raw->body, kExponent)) << raw->body;
    EXPECT_NE(raw->body.find("\"start\":" + std::to_string(ParseIso8601(kStart).value() / 1000) + ".0,"),
              std::string::npos)
        << raw->body;
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.Error(), "OPERATION_TIME_LIMIT");
    EXPECT_EQ(limited.body.at("time").at("operating_reset_at").as_int64(), ParseIso8601(kStart).value() / 1000 + 90);
    EXPECT_EQ(then.status, 200);
}

// --- --state: what the portal holds survives a restart ---

TEST_F(B24emuProcess, StateFileSurvivesARestart) {
    StopEmulator();
    const auto state = dir_.File("portal.json");
    StartEmulator({"--state", state});
    auto [type_id, e, c] = MakeType("IT request");
    Call("crm.item.add", bj::object{{"entityTypeId", e}, {"fields", bj::object{{"title", "Kept"}}}});
    const auto member = AdminGet("state").at("member_id");
    const auto secret_path = hook_.substr(base_.size());  // /rest/1/{secret}/ (the port changes)

    StopEmulator();
    StartEmulator({"--state", state});
    auto item = Call("crm.item.get", bj::object{{"entityTypeId", e}, {"id", 1}});

    EXPECT_EQ(hook_.substr(base_.size()), secret_path);
    EXPECT_EQ(AdminGet("state").at("member_id"), member);
    ASSERT_EQ(item.status, 200) << json::Dump(item.body);
    EXPECT_EQ(item.Result().at("item").at("title").as_string(), "Kept");
}

// --- --plan enterprise with limits on (CONTRACT §3, §14.25): the 250/5 bucket and the plan signal ---

TEST_F(B24emuProcess, EnterprisePlanHasTheLargerBucketAndSaysSo) {
    StopEmulator();
    StartEmulator({"--plan", "enterprise", "--limits", "on"});
    const auto token = std::string(Tokens(1).at("access_token").as_string());

    int ok = 0;
    int limited = 0;
    for (int i = 0; i < 260; ++i) {
        auto r = Call("user.current");
        if (r.status == 200) {
            ++ok;
        } else if (r.status == 503 && r.Error() == "QUERY_LIMIT_EXCEEDED") {
            ++limited;
        }
    }
    Admin("clock", bj::object{{"advance_ms", 1000}});  // the bucket drains on the emulator clock: 5 a second
    auto info = App("app.info", {}, token);

    EXPECT_EQ(ok, 250);
    EXPECT_EQ(limited, 10);
    EXPECT_EQ(info.status, 200) << json::Dump(info.body);
    EXPECT_EQ(info.Result().at("LICENSE_FAMILY").as_string(), "ent");
}

}  // namespace
}  // namespace dispatch
