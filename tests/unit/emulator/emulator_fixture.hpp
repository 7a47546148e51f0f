#pragma once
// An in-process emulator on a manual clock with a capturing event sender: no sockets, no worker thread.

#include <boost/json.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/form.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "emulator/emulator.hpp"
#include "support/test_support.hpp"

namespace dispatch::emulator::testing {

namespace bj = boost::json;

struct Reply {
    int status = 0;
    bj::value body;
    const bj::value& Result() const { return body.at("result"); }
    std::string Error() const { return json::ToString(body.at("error")).value_or("?"); }
};

class EmulatorTest : public ::testing::Test {
protected:
    EmulatorTest() : clock_(FromCivilUtc(2026, 1, 12, 7, 0, 0)), control_(clock_) {
        EmulatorOptions o;
        o.portal.seed = 42;
        o.portal.base_url = "https://127.0.0.1:9";
        o.start_event_worker = false;
        emu_ =
            std::make_unique<Emulator>(std::move(o), control_, [this](const std::string& url, const std::string& body) {
                std::lock_guard lock(mu_);
                sent_.emplace_back(url, body);
                return Result<int>(200);
            });
    }

    Reply Parse(const HttpReply& r) {
        auto v = json::Parse(r.body);
        EXPECT_TRUE(v.has_value()) << r.body;
        return Reply{r.status, v ? *v : bj::value()};
    }

    Reply Hook(const std::string& method, bj::object params = {}, const std::string& ip = "127.0.0.1") {
        RestRequest req;
        req.method = method;
        req.params = std::move(params);
        req.webhook_user = 1;
        req.webhook_secret = emu_->WebhookSecret();
        req.source_ip = ip;
        return Parse(emu_->Rest().Handle(std::move(req)));
    }

    Reply App(const std::string& method, bj::object params, const std::string& token) {
        RestRequest req;
        req.method = method;
        params["auth"] = token;
        req.params = std::move(params);
        return Parse(emu_->Rest().Handle(std::move(req)));
    }

    // A token pair for `user` through the documented code exchange.
    bj::object Tokens(std::int64_t user = 1) {
        const auto code = Parse(emu_->Admin().Handle("POST", "oauth/code", bj::object{{"user_id", user}}));
        auto r = Parse(emu_->Token(bj::object{{"grant_type", "authorization_code"},
                                              {"client_id", emu_->ClientId()},
                                              {"client_secret", emu_->ClientSecret()},
                                              {"code", code.body.at("code")}}));
        EXPECT_EQ(r.status, 200);
        return r.body.as_object();
    }

    // A smart process with funnels and stages; returns {type id, entityTypeId}.
    std::pair<std::int64_t, std::int64_t> MakeType(const std::string& title = "Service desk") {
        auto r = Hook("crm.type.add",
                      bj::object{{"fields",
                                  bj::object{{"title", title},
                                             {"isCategoriesEnabled", "Y"},
                                             {"isStagesEnabled", "Y"},
                                             {"isObserversEnabled", "Y"}}}});
        EXPECT_EQ(r.status, 200) << json::Dump(r.body);
        const auto& t = r.Result().at("type");
        return {t.at("id").as_int64(), t.at("entityTypeId").as_int64()};
    }

    std::vector<std::pair<std::string, bj::object>> Delivered() {
        emu_->Events().DeliverDue();
        std::lock_guard lock(mu_);
        std::vector<std::pair<std::string, bj::object>> out;
        for (const auto& [url, body] : sent_) {
            auto parsed = form::Parse(body);
            EXPECT_TRUE(parsed.has_value());
            out.emplace_back(url, parsed ? *parsed : bj::object{});
        }
        sent_.clear();
        return out;
    }

    ManualClock clock_;
    ClockControl control_;
    std::mutex mu_;
    std::vector<std::pair<std::string, std::string>> sent_;
    std::unique_ptr<Emulator> emu_;
};

}  // namespace dispatch::emulator::testing
