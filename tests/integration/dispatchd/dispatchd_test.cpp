// dispatchd and b24emu as real processes on loopback (real TLS, a real SQLite file), the flows switched off so the
// inbox keeps what arrived: the portal installs the app,
// dispatchd checks the install with the portal's OAuth server, reads app.info through its portal client, takes
// the portal's events into the inbox, and /metrics tells the numbers. The emulator runs on a manual clock; its
// delivery worker sends what is due at once, so nothing here waits for time to pass, only for I/O.

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "core/clock.hpp"
#include "core/errc.hpp"
#include "core/form.hpp"
#include "core/json.hpp"
#include "http/client.hpp"
#include "store/errc.hpp"
#include "store/store.hpp"
#include "support/b24emu.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"
#include "support/tls_peer.hpp"

namespace dispatch {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;
using testing::BinaryPath;
using ::testing::HasSubstr;
using testing::WaitFor;

// The value of the first series of `name` whose labels include every `labels` pair; nullopt when absent.
std::optional<double> Metric(const std::string& text,
                             std::string_view name,
                             const std::vector<std::pair<std::string, std::string>>& labels = {}) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) {
            continue;
        }
        const char next = line.size() > name.size() ? line[name.size()] : '\0';
        if (next != '{' && next != ' ') {
            continue;  // a longer name with the same prefix
        }
        const std::size_t space = line.rfind(' ');
        const std::string series = line.substr(0, space);
        bool all = true;
        for (const auto& [k, v] : labels) {
            all = all && series.find(k + "=\"" + v + "\"") != std::string::npos;
        }
        if (all) {
            return std::stod(line.substr(space + 1));
        }
    }
    return std::nullopt;
}

class DispatchdTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string error;
        testing::EmuEndpoints emu;
        ASSERT_TRUE(testing::StartB24emu(
            emu_, B24EMU_BIN, {.start = "2026-03-02T09:00:00+03:00", .seed = "9"}, dir_.File("b24emu.log"), emu, error))
            << error;
        emu_base_ = emu.base_url;
        emu_admin_ = emu.admin_url;
        webhook_ = emu.webhook_url;
        client_id_ = emu.client_id;
        client_secret_ = emu.client_secret;
        auto state = client_.Get(emu_admin_ + "state");
        ASSERT_TRUE(state && state->status == 200);
        member_id_ = json::StringAt(*json::Parse(state->body), "member_id").value_or("");
        ASSERT_FALSE(member_id_.empty());

        db_path_ = dir_.File("dispatch.db");
        InstallCertificate("server");
        std::ofstream(dir_.File("config.json"))
            << R"({"listen": "127.0.0.1:0", "tls": {"cert": ")" << dir_.File("cert.pem") << R"(", "key": ")"
            << dir_.File("key.pem") << R"("},
            "database": {"sqlite": {"path": ")"
            << db_path_ << R"("}},
            "b24": {"oauth": {"client_id": ")"
            << client_id_ << R"(", "client_secret_env": "EMU_APP_SECRET", "oauth_server": ")" << emu_base_
            << R"("}, "ca_file": ")" << BinaryPath("certs/ca.pem") << R"("},
            "flows": {"enabled": false}})";
        StartDaemon();
    }

    // Copies the generated test pair `name` (scripts/gen-test-certs.sh) over the files the config names, as a
    // certificate renewal does.
    void InstallCertificate(const std::string& name) {
        for (const char* ext : {".pem", ".key"}) {
            std::filesystem::copy_file(BinaryPath("certs/" + name + ext),
                                       dir_.File(std::string(ext == std::string(".pem") ? "cert" : "key") + ".pem"),
                                       std::filesystem::copy_options::overwrite_existing);
        }
    }

    void StartDaemon() {
        std::string error;
        ASSERT_TRUE(daemon_.Start({DISPATCHD_BIN, "--config", dir_.File("config.json")},
                                  {"EMU_APP_SECRET=" + client_secret_},
                                  dir_.File("dispatchd.log"),
                                  20s,
                                  error))
            << error;
        auto line = json::Parse(daemon_.FirstLine());
        ASSERT_TRUE(line) << daemon_.FirstLine();
        base_ = "https://" + std::string(line->at("listen").as_string());
    }

    void TearDown() override {
        client_.CloseIdle();
        if (HasFailure()) {
            for (const char* name : {"dispatchd.log", "b24emu.log"}) {
                std::ifstream log(dir_.File(name));
                std::cerr << "--- " << name << " ---\n" << log.rdbuf() << "\n";
            }
        }
    }

    bj::value Admin(const std::string& path, const std::string& body) {
        auto res = client_.Post(emu_admin_ + path, body, "application/json");
        EXPECT_TRUE(res && res->status == 200) << path << ": " << (res ? res->body : res.error().detail);
        auto parsed = res ? json::Parse(res->body) : Result<bj::value>(Fail(CoreErrc::kParse, "no answer"));
        return parsed ? *parsed : bj::value();
    }

    std::string Scrape() {
        auto res = client_.Get(base_ + "/metrics");
        return res && res->status == 200 ? res->body : std::string();
    }

    ::testing::AssertionResult WaitForMetric(std::string_view name,
                                             const std::vector<std::pair<std::string, std::string>>& labels,
                                             double at_least) {
        return WaitFor([&] { return Metric(Scrape(), name, labels).value_or(-1) >= at_least; },
                       30s,
                       std::string(name) + " >= " + std::to_string(at_least));
    }

    // The portal installs the app into dispatchd (POST /b24/install through its delivery worker).
    void Install() {
        Admin("app/install", R"({"handler": ")" + base_ + R"(/b24/install"})");
        ASSERT_TRUE(WaitForMetric("dispatch_intake_accepted_total", {{"route", "install"}}, 1));
        // The app.info read that follows the install goes through dispatchd's client of this portal.
        ASSERT_TRUE(WaitForMetric("dispatch_b24_calls_total", {{"method", "app.info"}}, 1));
    }

    // The auth block the emulator delivered with its first delivery of `kind`.
    bj::object Delivered(std::string_view kind) {
        auto res = client_.Get(emu_admin_ + "events");
        EXPECT_TRUE(res && res->status == 200);
        auto log = json::Parse(res->body);
        for (const auto& d : log->as_array()) {
            if (json::StringAt(d, "kind") == kind) {
                auto body = form::Parse(json::StringAt(d, "body").value_or(""));
                EXPECT_TRUE(body.has_value());
                return body->at("auth").as_object();
            }
        }
        ADD_FAILURE() << "no " << kind << " delivery in " << res->body;
        return {};
    }

    std::unique_ptr<store::Store> StopAndOpenStore() {
        client_.CloseIdle();
        EXPECT_EQ(daemon_.Stop(SIGTERM, 15s), 0);
        store::SqliteOptions options;
        options.path = db_path_;
        auto opened = store::OpenSqliteStore(options, clock_);
        EXPECT_THAT(opened, IsOk());
        return opened ? std::move(*opened) : nullptr;
    }

    testing::TempDir dir_;
    testing::ChildProcess emu_;
    testing::ChildProcess daemon_;
    std::string emu_base_, emu_admin_, webhook_, client_id_, client_secret_, member_id_;
    std::string db_path_;
    std::string base_;
    ManualClock clock_{0};
    http::Client client_{http::ClientOptions{.ca_file = BinaryPath("certs/ca.pem")}};
};

TEST_F(DispatchdTest, TheInstallIsCheckedWithTheOAuthServerAndTheRotatedPairStored) {
    Install();
    const bj::object sent = Delivered("install");

    auto db = StopAndOpenStore();

    ASSERT_NE(db, nullptr);
    const auto portal = db->Portals().FindByMemberId(member_id_);
    ASSERT_THAT(portal, IsOk());
    EXPECT_EQ(portal->client_endpoint, emu_base_ + "/rest/");
    EXPECT_EQ(portal->application_token, json::StringAt(bj::value(sent), "application_token").value_or("?"));
    const auto token = db->Tokens().Get(member_id_);
    ASSERT_THAT(token, IsOk());
    // The check spent the delivered refresh token; what is stored is the pair the OAuth server gave in exchange.
    EXPECT_NE(token->refresh_token, json::StringAt(bj::value(sent), "refresh_token").value_or(""));
    EXPECT_FALSE(token->refresh_token.empty());
    EXPECT_EQ(token->version, 1);
}

TEST_F(DispatchdTest, AForgedInstallIsRefusedAndStoresNothing) {
    const std::string forged = "auth[access_token]=a&auth[refresh_token]=made-up&auth[member_id]=" + member_id_ +
                               "&auth[domain]=evil.example&auth[application_token]=evil"
                               "&auth[client_endpoint]=https%3A%2F%2Fevil.example%2Frest%2F";

    auto res = client_.Post(base_ + "/b24/install", forged, "application/x-www-form-urlencoded");

    ASSERT_THAT(res, IsOk());
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(Metric(Scrape(), "dispatch_install_checks_total", {{"outcome", "refused"}}), 1.0);
    auto db = StopAndOpenStore();
    EXPECT_THAT(db->Portals().FindByMemberId(member_id_), HasErrc(store::Errc::kNotFound));
    const auto depth = db->Inbox().Depth();
    ASSERT_THAT(depth, IsOk());
    EXPECT_EQ(depth->pending, 0);
}

TEST_F(DispatchdTest, MetricsTellTheInboxTheCommitsAndThePortalCalls) {
    // The portal refuses the first app.info: the client retries it, and the refusal fills its bucket, so the
    // retry also waits for the bucket (about 3 s of the portal's drain rate).
    Admin("faults", R"({"fail": {"method": "app.info", "times": 1, "status": 503, "error": "QUERY_LIMIT_EXCEEDED"}})");
    Install();
    ASSERT_TRUE(WaitForMetric("dispatch_b24_calls_total", {{"method", "app.info"}}, 2));
    for (const char* event : {"ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE"}) {
        Admin("act",
              R"({"user_id": 1, "method": "event.bind", "params": {"event": ")" + std::string(event) +
                  R"(", "handler": ")" + base_ + R"(/b24/events"}})");
    }
    auto type = client_.Post(webhook_ + "crm.type.add", R"({"fields": {"title": "IT request"}})", "application/json");
    ASSERT_TRUE(type && type->status == 200);
    const auto entity_type_id = json::IntAt(json::Parse(type->body)->at("result").at("type"), "entityTypeId");
    ASSERT_TRUE(entity_type_id);
    for (int i = 0; i < 3; ++i) {
        Admin("act",
              R"({"user_id": 101, "method": "crm.item.add", "params": {"entityTypeId": )" +
                  std::to_string(*entity_type_id) + R"(, "fields": {"title": "Printer )" + std::to_string(i) +
                  R"("}}})");
    }
    ASSERT_TRUE(WaitForMetric("dispatch_intake_accepted_total", {{"route", "events"}}, 3));
    // A replayed delivery is a duplicate (acknowledged, stored once); a forged one is refused.
    auto events = json::Parse(client_.Get(emu_admin_ + "events")->body);
    std::string replay;
    for (const auto& d : events->as_array()) {
        if (json::StringAt(d, "kind") == "event") {
            replay = json::StringAt(d, "body").value_or("");
        }
    }
    ASSERT_FALSE(replay.empty());
    auto again = client_.Post(base_ + "/b24/events", replay, "application/x-www-form-urlencoded");
    auto forged = client_.Post(base_ + "/b24/events",
                               "event=ONCRMDYNAMICITEMUPDATE&data[FIELDS][ID]=1&data[FIELDS][ENTITY_TYPE_ID]=" +
                                   std::to_string(*entity_type_id) + "&auth[member_id]=" + member_id_ +
                                   "&auth[application_token]=forged",
                               "application/x-www-form-urlencoded");
    ASSERT_TRUE(again && forged);
    EXPECT_EQ(again->status, 200);
    EXPECT_EQ(forged->status, 401);

    const std::string m = Scrape();

    // Inbox: the install row and three item events, none processed yet.
    EXPECT_EQ(Metric(m, "dispatch_inbox_depth", {{"state", "pending"}}), 4.0) << m;
    EXPECT_EQ(Metric(m, "dispatch_inbox_depth", {{"state", "claimed"}}), 0.0);
    EXPECT_EQ(Metric(m, "dispatch_inbox_depth", {{"state", "dead"}}), 0.0);
    // Group commit: five appends (install, three events, the replay), one of them a duplicate.
    EXPECT_EQ(Metric(m, "dispatch_inbox_commit_appends"), 5.0);
    EXPECT_EQ(Metric(m, "dispatch_inbox_commit_duplicates"), 1.0);
    const double transactions = Metric(m, "dispatch_inbox_commit_transactions").value_or(0);
    EXPECT_GE(transactions, 1.0);
    EXPECT_LE(transactions, 5.0);
    EXPECT_GE(Metric(m, "dispatch_inbox_commit_largest_batch").value_or(0), 1.0);
    // Intake and HTTP.
    EXPECT_EQ(Metric(m, "dispatch_intake_accepted_total", {{"route", "events"}}), 4.0);
    EXPECT_EQ(Metric(m, "dispatch_intake_refused_total", {{"route", "events"}, {"reason", "bad application token"}}),
              1.0);
    EXPECT_EQ(Metric(m, "dispatch_http_requests_total", {{"route", "/b24/events"}, {"status", "200"}}), 4.0);
    EXPECT_EQ(Metric(m, "dispatch_http_requests_total", {{"route", "/b24/events"}, {"status", "401"}}), 1.0);
    EXPECT_EQ(Metric(m, "dispatch_install_checks_total", {{"outcome", "verified"}}), 1.0);
    // REST: app.info sent twice (refused once with 503, retried), after one wait for the bucket.
    const std::vector<std::pair<std::string, std::string>> portal{{"portal", member_id_}};
    EXPECT_EQ(Metric(m, "dispatch_b24_calls_total", {{"portal", member_id_}, {"method", "app.info"}}), 2.0);
    EXPECT_EQ(Metric(m,
                     "dispatch_b24_errors_total",
                     {{"portal", member_id_}, {"method", "app.info"}, {"code", "query_limit_exceeded"}}),
              1.0);
    EXPECT_EQ(Metric(m, "dispatch_b24_retries_total", {{"portal", member_id_}, {"code", "query_limit_exceeded"}}), 1.0);
    EXPECT_GE(Metric(m, "dispatch_b24_bucket_waits_total", portal).value_or(0), 1.0);
    EXPECT_GT(Metric(m, "dispatch_b24_bucket_wait_ms_total", portal).value_or(0), 0.0);
}

// The CN of the certificate a new TLS connection to `base` (https://host:port) is served; "" when the handshake
// fails. The chain is checked against the test CA, the host name is not: the renewal below swaps in a certificate
// made for another name, so that the test can tell the two apart.
std::string ServedCommonName(const std::string& base) {
    namespace net = boost::asio;
    const std::string host_port = base.substr(base.find("//") + 2);
    const std::size_t colon = host_port.rfind(':');
    net::io_context ioc;
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.load_verify_file(BinaryPath("certs/ca.pem"));
    net::ssl::stream<net::ip::tcp::socket> stream(ioc, ctx);
    stream.set_verify_mode(net::ssl::verify_peer);
    boost::system::error_code ec;
    stream.next_layer().connect({net::ip::make_address(host_port.substr(0, colon)),
                                 static_cast<unsigned short>(std::stoi(host_port.substr(colon + 1)))},
                                ec);
    if (!ec) {
        stream.handshake(net::ssl::stream_base::client, ec);
    }
    return ec ? std::string() : testing::PeerCommonName(stream.native_handle());
}

TEST_F(DispatchdTest, SighupReloadsTheCertificateAndABrokenOneLeavesTheServedOneInPlace) {
    ASSERT_EQ(ServedCommonName(base_), "localhost");

    { std::ofstream(dir_.File("cert.pem"), std::ios::trunc) << "half a renewal\n"; }
    ASSERT_EQ(::kill(daemon_.Pid(), SIGHUP), 0);
    ASSERT_TRUE(WaitForMetric("dispatch_http_tls_reloads_total", {{"result", "failed"}}, 1));
    EXPECT_EQ(ServedCommonName(base_), "localhost");

    InstallCertificate("wrong-host");  // a renewed pair, told apart by its name
    ASSERT_EQ(::kill(daemon_.Pid(), SIGHUP), 0);
    EXPECT_TRUE(
        WaitFor([&] { return ServedCommonName(base_) == "wrong-host.invalid"; }, 30s, "the renewed certificate"));

    InstallCertificate("server");
    ASSERT_EQ(::kill(daemon_.Pid(), SIGHUP), 0);
    ASSERT_TRUE(WaitForMetric("dispatch_http_tls_reloads_total", {{"result", "ok"}}, 2));
    const std::string m = Scrape();
    EXPECT_EQ(Metric(m, "dispatch_http_tls_reloads_total", {{"result", "failed"}}), 1.0);
    EXPECT_GT(Metric(m, "dispatch_http_tls_certificate_not_after_seconds").value_or(0), 4.0e9)
        << "the test certificates are valid for a century";
    EXPECT_EQ(ServedCommonName(base_), "localhost");
    EXPECT_EQ(daemon_.Stop(SIGTERM, 15s), 0) << "SIGHUP does not stop the service; SIGTERM still does";
}

// `dispatchd --check` before a restart on an edited file (as `nginx -t`): what a start would load, without opening
// the store or listening; a broken policy or certificate fails it with the reason.
TEST(DispatchdCheck, SaysWhatAStartWouldLoadAndFailsOnABrokenPolicyOrCertificate) {
    testing::TempDir dir;
    std::filesystem::copy_file(testing::SourcePath("workplace/sla.json"), dir.File("sla.json"));
    std::filesystem::copy_file(BinaryPath("certs/server.pem"), dir.File("cert.pem"));
    std::filesystem::copy_file(BinaryPath("certs/server.key"), dir.File("key.pem"));
    const bj::object config{
        {"listen", "127.0.0.1:0"},
        {"tls", bj::object{{"cert", dir.File("cert.pem")}, {"key", dir.File("key.pem")}}},
        {"database", bj::object{{"sqlite", bj::object{{"path", dir.File("dispatch.db")}}}}},
        {"workplace",
         bj::object{{"spec", testing::SourcePath("workplace/helpdesk.json")}, {"sla", dir.File("sla.json")}}},
        {"clock", bj::object{{"mode", "manual"}, {"start", "2026-11-24T09:00:00Z"}}}};
    std::ofstream(dir.File("config.json")) << json::Dump(config);
    const auto check = [&] {
        return testing::RunToEnd(
            {DISPATCHD_BIN, "--config", dir.File("config.json"), "--check"}, {}, dir.Path().string());
    };

    const auto good = check();
    EXPECT_EQ(good.exit, 0) << good.out << good.err;
    EXPECT_THAT(good.out, HasSubstr("check tls=ok"));
    EXPECT_THAT(good.out, HasSubstr("check sla=ok"));
    // sla.json describes 2026 only, and it is late November: a warning, not a failure.
    EXPECT_THAT(good.out, HasSubstr("check production_calendar=missing calendar=line1 year=2027 covered=2026"));
    EXPECT_THAT(good.out, HasSubstr("check result=ok"));
    EXPECT_FALSE(std::filesystem::exists(dir.File("dispatch.db")));  // the store was not opened

    auto sla = json::Parse(testing::Slurp(dir.File("sla.json"))).value();
    sla.at("targets").as_array()[0].as_object()["reaction"].as_object()["calendar"] = "line3";
    std::ofstream(dir.File("sla.json"), std::ios::trunc) << json::Dump(sla);
    { std::ofstream(dir.File("cert.pem"), std::ios::trunc) << "half a renewal\n"; }

    const auto broken = check();
    EXPECT_EQ(broken.exit, 1) << broken.out << broken.err;
    EXPECT_THAT(broken.out, HasSubstr("check tls=error"));
    EXPECT_THAT(broken.out, HasSubstr("cert.pem"));
    EXPECT_THAT(broken.out, HasSubstr("check sla=error"));
    EXPECT_THAT(broken.out, HasSubstr("$.targets[0].reaction.calendar: unknown calendar 'line3'"));
    EXPECT_THAT(broken.out, HasSubstr("check result=failed"));
}

}  // namespace
}  // namespace dispatch
