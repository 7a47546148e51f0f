// The stats API and the dashboard routes, dispatched through a real http::Router with FoldResults from small
// ledgers folded by the real engine, a ManualClock for "now", and an offload queue the test drains by hand.

#include "web/routes.hpp"

#include <gtest/gtest.h>

#include <deque>

#include "core/errc.hpp"
#include "core/json.hpp"
#include "support/test_support.hpp"
#include "support/tickets.hpp"

namespace dispatch::web {
namespace {

using sla::Priority;
using sla::StageRole;
using stats::testing::Msk;
using stats::testing::Ticket;

http::Request Get(std::string target, http::Headers headers = {}) {
    http::Request r;
    r.method = "GET";
    r.target = target;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string::npos ? "" : target.substr(q + 1);
    r.headers = std::move(headers);
    return r;
}

class RoutesTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::vector<Ticket> t;
        t.emplace_back(1, "2026-03-02 10:00", Priority::kNormal, "Hardware");
        t.back().Take("2026-03-02 10:30", 12).Move("2026-03-02 14:00", StageRole::kReview);
        t.emplace_back(2, "2026-03-03 09:00", Priority::kUrgent, "Access");
        t.back().Take("2026-03-03 09:10", 21, 2);
        t.emplace_back(3, "2026-04-01 11:00", Priority::kNormal, "");
        t.back().AutoClose("2026-04-01 11:00");
        tickets_ = std::move(t);
    }

    void Build(Options options = {}, bool queued = false) {
        FoldSource source = [this](std::string_view member_id, TimeMs now) -> Result<std::vector<sla::FoldResult>> {
            ++source_calls_;
            source_now_ = now;
            if (member_id == "broken") {
                return Fail(CoreErrc::kIo, "database is locked");
            }
            if (member_id != "m1") {
                return Fail(CoreErrc::kNotFound, "no such portal");
            }
            return stats::testing::FoldAll(*policy_, calendars_, tickets_, "2026-04-02 12:00");
        };
        if (queued) {
            router_.SetOffload([this](std::function<void()> work) {
                queue_.push_back(std::move(work));
                return true;
            });
        }
        Routes routes(source, policy_, clock_, stats::Zone::Locate("Europe/Moscow").value(), options);
        routes.Register(router_);
    }

    std::optional<http::Response> Call(http::Request request) {
        std::optional<http::Response> out;
        router_.Dispatch(std::move(request), [&out](http::Response&& r) { out = std::move(r); });
        while (!queue_.empty()) {
            auto work = std::move(queue_.front());
            queue_.pop_front();
            work();
        }
        return out;
    }

    // The `error` of a 400/404 body.
    static std::string ErrorOf(const http::Response& r) {
        const auto doc = json::Parse(r.body);
        return doc && doc->is_object() && doc->as_object().contains("error")
                   ? std::string(doc->at("error").as_string())
                   : std::string("<no error field: ") + r.body + ">";
    }

    std::shared_ptr<const sla::Policy> policy_ = std::make_shared<const sla::Policy>(stats::testing::TestPolicy());
    sla::CalendarSet calendars_ = stats::testing::TestCalendars();
    std::vector<Ticket> tickets_;
    ManualClock clock_{Msk("2026-04-02 12:00")};
    http::Router router_;
    std::deque<std::function<void()>> queue_;
    int source_calls_ = 0;
    TimeMs source_now_ = 0;
};

TEST_F(RoutesTest, StatsAsJsonGroupedByMonth) {
    Build();

    const auto res = Call(Get("/api/v1/portals/m1/stats?from=2026-03&to=2026-04&group_by=month"));

    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->content_type, "application/json");
    EXPECT_EQ(res->Header("Cache-Control"), "no-store");
    const auto doc = json::Parse(res->body);
    ASSERT_THAT(doc, IsOk());
    const auto& rows = doc->at("rows").as_array();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].at("period").as_string(), "2026-03");
    EXPECT_EQ(rows[0].at("kpis").at("created").as_int64(), 2);
    EXPECT_EQ(rows[1].at("kpis").at("auto_closed").as_int64(), 1);
    EXPECT_EQ(doc->at("totals").at("created").as_int64(), 3);
    EXPECT_EQ(doc->at("totals").at("reaction").at("met").as_int64(), 2);  // 30 of 120 and 10 of 20 minutes
    EXPECT_EQ(doc->at("now").as_string(), "2026-04-02T12:00:00+03:00");
    EXPECT_FALSE(doc->at("glossary").as_array().empty());
    EXPECT_EQ(source_now_, clock_.Now());
}

TEST_F(RoutesTest, StatsAsCsvWithAHeaderRow) {
    Build();

    const auto res = Call(Get("/api/v1/portals/m1/stats?from=2026-03&to=2026-03&group_by=line&format=csv"));

    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->content_type, "text/csv; charset=utf-8");
    EXPECT_EQ(res->Header("Content-Disposition"), "attachment; filename=\"stats-m1-2026-03-01-2026-03-31.csv\"");
    EXPECT_EQ(res->body.rfind("period,from,to,line,created,", 0), 0u);
    EXPECT_NE(res->body.find("\r\nall,2026-03-01T00:00:00+03:00,2026-04-01T00:00:00+03:00,1,1,"), std::string::npos);
    EXPECT_NE(res->body.find("\r\nall,2026-03-01T00:00:00+03:00,2026-04-01T00:00:00+03:00,2,1,"), std::string::npos);
}

TEST_F(RoutesTest, FiltersNarrowTheData) {
    Build();

    const auto line2 = Call(Get("/api/v1/portals/m1/stats?from=2026&line=2"));
    const auto none = Call(Get("/api/v1/portals/m1/stats?from=2026&template="));
    const auto urgent = Call(Get("/api/v1/portals/m1/stats?from=2026&priority=urgent&assignee=21"));

    ASSERT_TRUE(line2 && none && urgent);
    EXPECT_EQ(json::Parse(line2->body)->at("totals").at("created").as_int64(), 1);
    EXPECT_EQ(json::Parse(none->body)->at("totals").at("auto_closed").as_int64(), 1);
    EXPECT_EQ(json::Parse(none->body)->at("totals").at("created").as_int64(), 1);
    EXPECT_EQ(json::Parse(urgent->body)->at("totals").at("created").as_int64(), 1);
    EXPECT_EQ(json::Parse(urgent->body)->at("filter").at("priority").as_string(), "urgent");
}

TEST_F(RoutesTest, DefaultRangeIsThisYearUpToTodayByTheInjectedClock) {
    Build();

    const auto res = Call(Get("/api/v1/portals/m1/stats"));

    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    const auto doc = json::Parse(res->body);
    EXPECT_EQ(doc->at("from").as_string(), "2026-01-01T00:00:00+03:00");
    EXPECT_EQ(doc->at("to").as_string(), "2026-04-03T00:00:00+03:00");
    EXPECT_EQ(doc->at("group_by").at("period").as_string(), "all");
}

TEST_F(RoutesTest, DefaultRangeByYearIsTheLastFiveYearsUpToThisMonth) {
    Build();

    const auto years = Call(Get("/api/v1/portals/m1/stats?group_by=year,line"));
    const auto from_given = Call(Get("/api/v1/portals/m1/stats?group_by=year&from=2025"));

    ASSERT_TRUE(years);
    ASSERT_EQ(years->status, 200);
    const auto doc = json::Parse(years->body);
    EXPECT_EQ(doc->at("from").as_string(), "2022-01-01T00:00:00+03:00");
    EXPECT_EQ(doc->at("to").as_string(), "2026-05-01T00:00:00+03:00");
    ASSERT_TRUE(from_given);
    ASSERT_EQ(from_given->status, 200);
    EXPECT_EQ(json::Parse(from_given->body)->at("from").as_string(), "2025-01-01T00:00:00+03:00");
}

TEST_F(RoutesTest, BadParametersAre400WithAReasonAndNeverReachTheSource) {
    Build();
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"from=2026-13", "from:"},
        {"to=yesterday", "to:"},
        {"from=2026-04&to=2026-03", "range is empty"},
        {"from=1990&to=2026", "more than 240"},
        {"group_by=week", "group_by"},
        {"group_by=month,year", "group_by"},
        {"line=x", "line:"},
        {"line=-1", "line:"},
        {"line=%202", "line:"},
        {"assignee=21%20", "assignee:"},
        {"assignee=1.5", "assignee:"},
        {"priority=asap", "priority:"},
        {"format=xml", "format:"},
        {"from=2026&from=2025", "twice"},
        {"colour=red", "unknown parameter 'colour'"},
    };
    for (const auto& [query, reason] : cases) {
        const auto res = Call(Get("/api/v1/portals/m1/stats?" + query));
        ASSERT_TRUE(res) << query;
        EXPECT_EQ(res->status, 400) << query;
        EXPECT_EQ(res->content_type, "application/json") << query;
        EXPECT_NE(ErrorOf(*res).find(reason), std::string::npos) << query << " → " << ErrorOf(*res);
    }
    EXPECT_EQ(source_calls_, 0);
}

TEST_F(RoutesTest, AMemberIdOutsideTheSafeAlphabetIs400) {
    Build();

    const auto res = Call(Get("/api/v1/portals/a%2Fb/stats"));

    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(source_calls_, 0);
}

TEST_F(RoutesTest, UnknownPortalIs404AndAFailingSourceIs503) {
    Build();

    const auto unknown = Call(Get("/api/v1/portals/m2/stats"));
    const auto broken = Call(Get("/api/v1/portals/broken/stats"));

    ASSERT_TRUE(unknown && broken);
    EXPECT_EQ(unknown->status, 404);
    EXPECT_EQ(ErrorOf(*unknown), "unknown portal");
    EXPECT_EQ(broken->status, 503);
    EXPECT_EQ(broken->body.find("locked"), std::string::npos);  // the detail stays in the log
}

TEST_F(RoutesTest, TheWorkRunsOnTheOffloadExecutor) {
    Build({}, /*queued=*/true);
    std::optional<http::Response> answered;

    router_.Dispatch(Get("/api/v1/portals/m1/stats?from=2026-03"),
                     [&answered](http::Response&& r) { answered = std::move(r); });

    EXPECT_FALSE(answered);  // nothing folded on the io thread
    EXPECT_EQ(source_calls_, 0);
    ASSERT_EQ(queue_.size(), 1u);
    queue_.front()();
    ASSERT_TRUE(answered);
    EXPECT_EQ(answered->status, 200);
    EXPECT_EQ(source_calls_, 1);
}

TEST_F(RoutesTest, DashboardPageWithItsSecurityHeaders) {
    Build();

    const auto res = Call(Get("/dashboard?member_id=m1"));

    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(res->content_type, "text/html; charset=utf-8");
    EXPECT_NE(res->body.find("dashboard/assets/chart.umd.js"), std::string::npos);
    EXPECT_NE(res->body.find("dashboard/assets/dashboard.js"), std::string::npos);
    EXPECT_NE(res->Header("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(res->Header("X-Content-Type-Options"), "nosniff");
    EXPECT_FALSE(res->Header("ETag").empty());
}

TEST_F(RoutesTest, DashboardRedirectsToTheDefaultPortal) {
    Options options;
    options.default_member_id = "m1";
    Build(options);

    const auto bare = Call(Get("/dashboard"));
    const auto chosen = Call(Get("/dashboard?member_id=other"));

    ASSERT_TRUE(bare && chosen);
    EXPECT_EQ(bare->status, 302);
    EXPECT_EQ(bare->Header("Location"), "dashboard?member_id=m1");
    EXPECT_EQ(chosen->status, 200);
}

TEST_F(RoutesTest, AssetsAreServedWithTheirTypesAndRevalidated) {
    Build();

    const auto js = Call(Get("/dashboard/assets/dashboard.js"));
    const auto css = Call(Get("/dashboard/assets/dashboard.css"));
    const auto chart = Call(Get("/dashboard/assets/chart.umd.js"));
    ASSERT_TRUE(js && css && chart);
    const auto again = Call(Get("/dashboard/assets/dashboard.js", {{"if-none-match", js->Header("ETag")}}));
    const auto missing = Call(Get("/dashboard/assets/secret.txt"));
    const auto page_as_asset = Call(Get("/dashboard/assets/index.html"));

    EXPECT_EQ(js->status, 200);
    EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
    EXPECT_NE(js->body.find("data-painted"), std::string::npos);
    EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
    EXPECT_EQ(chart->status, 200);
    EXPECT_EQ(chart->content_type, "text/javascript; charset=utf-8");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304);
    EXPECT_TRUE(again->body.empty());
    EXPECT_EQ(missing->status, 404);
    EXPECT_EQ(page_as_asset->status, 404);
    const auto names = Routes::AssetNames();
    for (const char* name : {"index.html", "dashboard.js", "dashboard.css", "chart.umd.js"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    }
}

}  // namespace
}  // namespace dispatch::web
