// The dashboard as a person sees it: a real server process (dashboard_seed_server: web::Routes over HTTPS with a
// seeded help desk on the real policy), the stats API over the wire, and the page in headless Chromium. The page
// writes what it drew into data-* attributes; the expected figures come from folding the same seed in this process
// (stats::Compute), and, where the seed fixes them, from the seed itself. Screenshots land in the build folder
// (dashboard-screenshots/). The browser tests skip only when no Chromium is installed (scripts/setup.sh --browser).

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "core/json.hpp"
#include "core/time_format.hpp"
#include "http/client.hpp"
#include "seed.hpp"
#include "stats/glossary.hpp"
#include "stats/kpi.hpp"
#include "stats/render.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"
#include "web/routes.hpp"

namespace dispatch {
namespace {

using namespace std::chrono_literals;
using testing::BinaryPath;
using testing::SourcePath;

constexpr int kTickets = 400;
constexpr std::uint64_t kSeed = 7;
constexpr const char* kNow = "2026-04-01T12:00:00+03:00";
constexpr const char* kToken = "dashboard-test-token";

std::string FindChromium() {
    if (const char* env = std::getenv("DISPATCH_CHROMIUM"); env != nullptr && *env != '\0') {
        return env;
    }
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        for (const char* name : {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}) {
            const std::string candidate = dir + "/" + name;
            if (::access(candidate.c_str(), X_OK) == 0) {
                return candidate;
            }
        }
    }
    return {};
}

// Runs a program in its own process group with stdout and stderr to files; waits for it (I/O, with a deadline)
// and kills the group afterwards, so no helper process of the browser outlives the test. Returns the exit status,
// or -1 when it had to be killed.
int RunProgram(const std::vector<std::string>& argv,
               const std::string& out_path,
               const std::string& err_path,
               std::chrono::milliseconds timeout) {
    const pid_t pid = ::fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        FILE* out = std::freopen(out_path.c_str(), "w", stdout);
        FILE* err = std::freopen(err_path.c_str(), "w", stderr);
        (void)out;
        (void)err;
        testing::ExecInChild(argv, {});
    }
    ::setpgid(pid, pid);
    int status = 0;
    bool exited = false;
    const auto done = testing::WaitFor(
        [&] {
            exited = ::waitpid(pid, &status, WNOHANG) == pid;
            return exited;
        },
        timeout,
        "the browser to exit");
    ::kill(-pid, SIGKILL);
    if (!exited) {
        ::waitpid(pid, &status, 0);
        return -1;
    }
    (void)done;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The attributes of the first tag matching `tag_pattern` at or after `from` (e.g. `<main id="dashboard"`).
std::map<std::string, std::string> Attributes(const std::string& dom,
                                              const std::string& tag_start,
                                              std::size_t from = 0) {
    std::map<std::string, std::string> out;
    const std::size_t start = dom.find(tag_start, from);
    if (start == std::string::npos) {
        return out;
    }
    const std::size_t end = dom.find('>', start);
    const std::string tag = dom.substr(start, end - start);
    static const std::regex kAttr(R"re(([a-z][a-z0-9-]*)="([^"]*)")re");
    for (auto it = std::sregex_iterator(tag.begin(), tag.end(), kAttr); it != std::sregex_iterator(); ++it) {
        out[(*it)[1]] = (*it)[2];
    }
    return out;
}

std::string Num(std::int64_t v) { return std::to_string(v); }

// What the seed's ledgers say on their own, without folding: requests created per local month, those auto-closed
// (filed without a template) and those rejected otherwise (cancelled). The seed makes every event of a
// cancellation before kNow.
struct SeedCounts {
    std::map<std::string, std::int64_t> created;  // "2026-02" → count
    std::int64_t auto_closed = 0;
    std::int64_t cancelled = 0;
};

SeedCounts CountSeed(const dashboard::Seed& seed, const stats::Zone& zone) {
    SeedCounts out;
    for (const sla::Ledger& ledger : seed.ledgers) {
        const sla::LocalDate day = zone.ToLocal(ledger.Events().front().at).date;
        ++out.created[fmt::format("{:04}-{:02}", day.year, day.month)];
        bool auto_closed = false;
        bool rejected = false;
        for (const sla::Event& e : ledger.Events()) {
            auto_closed = auto_closed || e.kind == sla::EventKind::kAutoClosed;
            rejected = rejected || (e.kind == sla::EventKind::kStageMoved && e.stage == sla::StageRole::kRejected);
        }
        out.auto_closed += auto_closed ? 1 : 0;
        out.cancelled += rejected && !auto_closed ? 1 : 0;
    }
    return out;
}
std::string Num(const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string(); }

class DashboardTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        std::string error;
        server_ = new testing::ChildProcess();
        const bool started = server_->Start({DASHBOARD_SERVER_BIN,
                                             "--cert",
                                             BinaryPath("certs/server.pem"),
                                             "--key",
                                             BinaryPath("certs/server.key"),
                                             "--sla",
                                             SourcePath("workplace/sla.json"),
                                             "--schema",
                                             SourcePath("schemas/sla.schema.json"),
                                             "--tickets",
                                             std::to_string(kTickets),
                                             "--seed",
                                             std::to_string(kSeed),
                                             "--now",
                                             kNow,
                                             "--member",
                                             "m1",
                                             "--api-token",
                                             kToken},
                                            {},
                                            BinaryPath("dashboard-server.log"),
                                            30s,
                                            error);
        if (!started) {
            setup_error_ = "dashboard_seed_server did not start: " + error;
            return;
        }
        const auto line = json::Parse(server_->FirstLine());
        if (!line) {
            setup_error_ = "bad start line: " + server_->FirstLine();
            return;
        }
        base_ = "https://" + std::string(line->at("listen").as_string());
        auto seed = dashboard::MakeSeed(
            SourcePath("workplace/sla.json"), SourcePath("schemas/sla.schema.json"), kTickets, kSeed);
        if (!seed) {
            setup_error_ = "seed: " + seed.error().detail;
            return;
        }
        seed_ = new dashboard::Seed(std::move(*seed));
        auto folded = dashboard::FoldSeed(*seed_, ParseIso8601(kNow).value());
        if (!folded) {
            setup_error_ = "fold: " + folded.error().detail;
            return;
        }
        folded_ = new std::vector<sla::FoldResult>(std::move(*folded));
        std::filesystem::create_directories(BinaryPath("dashboard-screenshots"));
    }

    static void TearDownTestSuite() {
        if (server_ != nullptr) {
            server_->Stop(SIGTERM, 10s);
        }
        delete server_;
        delete folded_;
        delete seed_;
        server_ = nullptr;
        folded_ = nullptr;
        seed_ = nullptr;
    }

    void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

    static stats::Zone Zone() { return stats::Zone::Locate("Europe/Moscow").value(); }

    // What the page should show: the same query folded here.
    static stats::Report Expected(const std::string& from,
                                  const std::string& to,
                                  const std::string& group_by,
                                  std::optional<int> line = {}) {
        const stats::Zone zone = Zone();
        stats::Query q;
        q.from = stats::ParseRangeStart(from, zone).value();
        q.to = stats::ParseRangeEnd(to, zone).value();
        q.group_by = stats::ParseGroupBy(group_by).value();
        q.filter.line = line;
        q.now = ParseIso8601(kNow).value();
        return stats::Compute(*folded_, seed_->config.policy, zone, q).value();
    }

    // Loads the page in headless Chromium; returns the DOM after its scripts ran (or a screenshot when asked).
    // `fragment` carries the API token the way an admin's link does (#token=...); empty sends none.
    std::string Browse(const std::string& query,
                       const std::string& screenshot = {},
                       const std::string& fragment = std::string("#token=") + kToken) {
        const std::string chromium = FindChromium();
        if (chromium.empty()) {
            return {};
        }
        testing::TempDir profile;
        std::vector<std::string> argv{chromium,
                                      "--headless",
                                      "--no-sandbox",  // CI runs as root, where Chromium's sandbox cannot start
                                      "--disable-gpu",
                                      "--disable-dev-shm-usage",
                                      "--ignore-certificate-errors",  // the loopback test certificate
                                      "--user-data-dir=" + profile.Path().string(),
                                      "--no-first-run",
                                      "--no-default-browser-check",
                                      "--disable-extensions",
                                      "--disable-background-networking",
                                      "--disable-component-update",
                                      "--hide-scrollbars",
                                      "--window-size=1400,2400",
                                      "--virtual-time-budget=15000"};
        if (screenshot.empty()) {
            argv.emplace_back("--dump-dom");
        } else {
            argv.push_back("--screenshot=" + screenshot);
        }
        argv.push_back(base_ + "/dashboard?" + query + fragment);
        const int status = RunProgram(argv, profile.File("stdout"), profile.File("stderr"), 120s);
        EXPECT_EQ(status, 0) << ReadFile(profile.File("stderr")).substr(0, 2000);
        return ReadFile(profile.File("stdout"));
    }

    static inline testing::ChildProcess* server_ = nullptr;
    static inline dashboard::Seed* seed_ = nullptr;
    static inline std::vector<sla::FoldResult>* folded_ = nullptr;
    static inline std::string base_;
    static inline std::string setup_error_;
};

#define SKIP_WITHOUT_CHROMIUM()                                                                                \
    do {                                                                                                       \
        if (FindChromium().empty()) {                                                                          \
            GTEST_SKIP() << "no Chromium found (PATH or DISPATCH_CHROMIUM); install it with scripts/setup.sh " \
                            "--browser";                                                                       \
        }                                                                                                      \
    } while (false)

TEST_F(DashboardTest, ApiOverHttpsServesWhatTheFoldComputes) {
    http::Client client(http::ClientOptions{.ca_file = BinaryPath("certs/ca.pem")});
    const http::Headers auth{{"Authorization", std::string("Bearer ") + kToken}};

    const auto json = client.Get(base_ + "/api/v1/portals/m1/stats?from=2026-02&to=2026-03&group_by=month,line", auth);
    const auto csv =
        client.Get(base_ + "/api/v1/portals/m1/stats?from=2026-02&to=2026-03&group_by=assignee&format=csv", auth);
    const auto unknown = client.Get(base_ + "/api/v1/portals/m2/stats", auth);
    const auto bad = client.Get(base_ + "/api/v1/portals/m1/stats?group_by=week", auth);

    ASSERT_THAT(json, IsOk());
    ASSERT_EQ(json->status, 200);
    EXPECT_EQ(json->body, stats::RenderJson(Expected("2026-02", "2026-03", "month,line"), Zone()));
    // And against the seed itself, read from the response: every request was created in February or March.
    const SeedCounts seeded = CountSeed(*seed_, Zone());
    ASSERT_EQ(seeded.created.size(), 2u);
    const auto body = json::Parse(json->body);
    ASSERT_THAT(body, IsOk());
    const auto& totals = body->at("totals");
    EXPECT_EQ(totals.at("created").to_number<std::int64_t>(), kTickets);
    EXPECT_EQ(totals.at("auto_closed").to_number<std::int64_t>(), seeded.auto_closed);
    EXPECT_EQ(totals.at("cancelled").to_number<std::int64_t>(), seeded.cancelled);
    EXPECT_GT(seeded.auto_closed, 0);
    EXPECT_GT(seeded.cancelled, 0);
    std::map<std::string, std::int64_t> created_by_month;
    for (const auto& row : body->at("rows").as_array()) {
        created_by_month[std::string(row.at("period").as_string())] +=
            row.at("kpis").at("created").to_number<std::int64_t>();
    }
    EXPECT_EQ(created_by_month, seeded.created);
    // The CSV's rows (one per assignee, unassigned included) add up to every request too.
    std::istringstream lines(csv->body);
    std::string header_line;
    std::getline(lines, header_line);
    const auto split = [](const std::string& text) {
        std::vector<std::string> out;
        std::istringstream fields(text.substr(0, text.find('\r')));
        for (std::string f; std::getline(fields, f, ',');) {
            out.push_back(f);
        }
        return out;
    };
    const auto header = split(header_line);
    const auto created_col = std::find(header.begin(), header.end(), "created") - header.begin();
    ASSERT_LT(static_cast<std::size_t>(created_col), header.size()) << header_line;
    std::int64_t csv_created = 0;
    for (std::string l; std::getline(lines, l);) {
        csv_created += std::stoll(split(l).at(static_cast<std::size_t>(created_col)));
    }
    EXPECT_EQ(csv_created, kTickets);
    ASSERT_THAT(csv, IsOk());
    EXPECT_EQ(csv->status, 200);
    EXPECT_EQ(csv->body, stats::RenderCsv(Expected("2026-02", "2026-03", "assignee"), Zone()));
    ASSERT_THAT(unknown, IsOk());
    EXPECT_EQ(unknown->status, 404);
    ASSERT_THAT(bad, IsOk());
    EXPECT_EQ(bad->status, 400);
}

TEST_F(DashboardTest, TheApiRefusesAMissingOrWrongTokenButThePageIsPublic) {
    http::Client client(http::ClientOptions{.ca_file = BinaryPath("certs/ca.pem")});

    const auto none = client.Get(base_ + "/api/v1/portals/m1/stats");
    const auto wrong = client.Get(base_ + "/api/v1/portals/m1/stats", {{"Authorization", "Bearer guess"}});
    const auto basic = client.Get(base_ + "/api/v1/portals/m1/stats", {{"Authorization", kToken}});
    const auto page = client.Get(base_ + "/dashboard?member_id=m1");

    for (const auto* refused : {&none, &wrong, &basic}) {
        ASSERT_THAT(*refused, IsOk());
        EXPECT_EQ((*refused)->status, 401);
        EXPECT_EQ((*refused)->Header("www-authenticate"), "Bearer");
        EXPECT_NE((*refused)->body.find("bearer token"), std::string::npos) << (*refused)->body;
    }
    ASSERT_THAT(page, IsOk());
    EXPECT_EQ(page->status, 200);
}

TEST_F(DashboardTest, WithoutTheTokenThePageSaysHowToOpenIt) {
    SKIP_WITHOUT_CHROMIUM();

    const std::string dom = Browse("member_id=m1&view=month", {}, "");

    const auto main = Attributes(dom, "<main id=\"dashboard\"");
    ASSERT_EQ(main.count("data-state"), 1u) << dom.substr(0, 3000);
    EXPECT_EQ(main.at("data-state"), "error");
    EXPECT_NE(main.at("data-error").find("#token="), std::string::npos) << main.at("data-error");
}

TEST_F(DashboardTest, TheChartLibraryIsEmbedded) {
    EXPECT_TRUE(web::Routes::ChartLibraryEmbedded())
        << "src/web/node_modules/chart.js is missing: run scripts/setup.sh --web, then reconfigure";
}

TEST_F(DashboardTest, MonthViewDrawsTheNumbersOfTheApi) {
    SKIP_WITHOUT_CHROMIUM();
    const stats::Report expected = Expected("2026-02", "2026-03", "month");

    const std::string dom = Browse("member_id=m1&view=month&from=2026-02&to=2026-03");

    const auto main = Attributes(dom, "<main id=\"dashboard\"");
    ASSERT_EQ(main.count("data-state"), 1u) << dom.substr(0, 3000);
    ASSERT_EQ(main.at("data-state"), "ready") << (main.count("data-error") ? main.at("data-error") : "");
    EXPECT_EQ(main.at("data-view"), "month");
    EXPECT_EQ(main.at("data-rows"), "2");
    EXPECT_EQ(main.at("data-total-created"), Num(kTickets));
    EXPECT_EQ(main.at("data-total-closed"), Num(expected.totals.closed));
    EXPECT_EQ(main.at("data-total-auto-closed"), Num(expected.totals.auto_closed));
    EXPECT_EQ(main.at("data-total-returns"), Num(expected.totals.returns));
    EXPECT_EQ(main.at("data-reaction-on-time"), Num(expected.totals.reaction.on_time_percent));
    EXPECT_EQ(main.at("data-resolution-on-time"), Num(expected.totals.resolution.on_time_percent));
    EXPECT_EQ(main.at("data-open-now"), Num(expected.totals.open_at_end));
    std::int64_t load = 0;
    for (const auto& l : expected.load) {
        load += l.open;
    }
    EXPECT_EQ(load, expected.totals.open_at_end);  // the load splits the same count by assignee

    std::int64_t open_at_ends = 0;
    for (const auto& row : expected.rows) {
        open_at_ends += row.kpis.open_at_end;
    }
    const std::map<std::string, std::string> sums = {
        {"chart-dynamics", Num(kTickets)},
        {"chart-returns", Num(expected.totals.returns)},
        {"chart-load", Num(open_at_ends)},
        {"chart-arrivals", Num(kTickets)},
    };
    for (const char* id : {"chart-dynamics",
                           "chart-reaction",
                           "chart-resolution",
                           "chart-ontime",
                           "chart-returns",
                           "chart-load",
                           "chart-arrivals"}) {
        const std::size_t at = dom.find(std::string("id=\"") + id + "\"");
        ASSERT_NE(at, std::string::npos) << id;
        const auto figure = Attributes(dom, "<figure", dom.rfind("<figure", at));
        const auto canvas = Attributes(dom, "<canvas", at);
        EXPECT_EQ(figure.at("data-points"), std::string(id) == "chart-arrivals" ? "168" : "2") << id;
        if (sums.count(id) != 0) {
            EXPECT_EQ(figure.at("data-sum"), sums.at(id)) << id;
        }
        ASSERT_EQ(canvas.count("data-painted"), 1u) << id;
        EXPECT_GT(std::stoll(canvas.at("data-painted")), 2000) << id << ": the canvas is (nearly) blank";
    }
    // The glossary is the one served with the data.
    std::size_t terms = 0;
    for (std::size_t at = dom.find("<dt"); at != std::string::npos; at = dom.find("<dt", at + 1)) {
        ++terms;
    }
    EXPECT_EQ(terms, stats::Glossary().size());
}

TEST_F(DashboardTest, PerAssigneeViewWithALineFilter) {
    SKIP_WITHOUT_CHROMIUM();
    const stats::Report expected = Expected("2026-02", "2026-03", "assignee", 2);

    const std::string dom = Browse("member_id=m1&view=assignee&from=2026-02&to=2026-03&line=2");

    const auto main = Attributes(dom, "<main id=\"dashboard\"");
    ASSERT_EQ(main.count("data-state"), 1u);
    ASSERT_EQ(main.at("data-state"), "ready");
    EXPECT_EQ(main.at("data-view"), "assignee");
    EXPECT_EQ(main.at("data-rows"), Num(static_cast<std::int64_t>(expected.rows.size())));
    EXPECT_EQ(main.at("data-total-created"), Num(expected.totals.created));
    EXPECT_EQ(main.at("data-total-closed"), Num(expected.totals.closed));
    EXPECT_LT(expected.totals.created, kTickets);  // the filter did narrow it
    const auto dynamics = Attributes(dom, "<figure class=\"chart\" id=\"chart-dynamics\"");
    EXPECT_EQ(dynamics.at("data-sum"), Num(expected.totals.created));
}

TEST_F(DashboardTest, YearViewOverExplicitMonths) {
    SKIP_WITHOUT_CHROMIUM();
    const stats::Report expected = Expected("2026-01", "2026-03", "year");

    const std::string dom = Browse("member_id=m1&view=year&from=2026-01&to=2026-03");

    const auto main = Attributes(dom, "<main id=\"dashboard\"");
    ASSERT_EQ(main.count("data-state"), 1u);
    ASSERT_EQ(main.at("data-state"), "ready");
    EXPECT_EQ(main.at("data-rows"), "1");
    EXPECT_EQ(main.at("data-total-created"), Num(kTickets));
    EXPECT_EQ(main.at("data-total-returns"), Num(expected.totals.returns));
}

TEST_F(DashboardTest, YearViewWithoutARangeShowsTheLastFiveYears) {
    SKIP_WITHOUT_CHROMIUM();

    const std::string dom = Browse("member_id=m1&view=year");

    const auto main = Attributes(dom, "<main id=\"dashboard\"");
    ASSERT_EQ(main.count("data-state"), 1u);
    ASSERT_EQ(main.at("data-state"), "ready");
    EXPECT_EQ(main.at("data-rows"), "5");  // 2022 to 2026 by the server's clock (kNow)
    EXPECT_EQ(main.at("data-total-created"), Num(kTickets));
    EXPECT_NE(dom.find("2022-01-01 … 2026-05-01"), std::string::npos);
}

TEST_F(DashboardTest, AnUnknownPortalShowsTheError) {
    SKIP_WITHOUT_CHROMIUM();

    const std::string dom = Browse("member_id=nobody&view=month");

    const auto main = Attributes(dom, "<main id=\"dashboard\"");
    ASSERT_EQ(main.count("data-state"), 1u);
    EXPECT_EQ(main.at("data-state"), "error");
    EXPECT_NE(main.at("data-error").find("404"), std::string::npos);
}

TEST_F(DashboardTest, ScreenshotsAreSavedUnderTheBuildFolder) {
    SKIP_WITHOUT_CHROMIUM();
    const std::string month = BinaryPath("dashboard-screenshots/month.png");
    const std::string assignee = BinaryPath("dashboard-screenshots/assignee.png");
    std::filesystem::remove(month);
    std::filesystem::remove(assignee);

    Browse("member_id=m1&view=month&from=2026-02&to=2026-03", month);
    Browse("member_id=m1&view=assignee&from=2026-02&to=2026-03", assignee);

    for (const std::string& path : {month, assignee}) {
        const std::string png = ReadFile(path);
        ASSERT_GT(png.size(), 20'000u) << path;
        EXPECT_EQ(png.substr(1, 3), "PNG") << path;
    }
}

}  // namespace
}  // namespace dispatch
