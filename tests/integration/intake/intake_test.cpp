// dispatchd's intake as Bitrix24 sees it: a real process, real TLS, a real SQLite file. What it acknowledges must
// be on disk; what it refuses must leave no trace.

#include <signal.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <fstream>
#include <iostream>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "http/client.hpp"
#include "store/store.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"

namespace dispatch {
namespace {

using namespace std::chrono_literals;
using testing::BinaryPath;

constexpr const char* kInstall =
    "auth[access_token]=acc1&auth[refresh_token]=ref1&auth[member_id]=m1&auth[domain]=acme.bitrix24.ru"
    "&auth[application_token]=apptok&auth[expires_in]=3600&auth[client_endpoint]=https%3A%2F%2Facme.bitrix24.ru%2Frest%"
    "2F";

std::string EventBody(int item, std::string_view token, std::string_view member = "m1") {
    return "event=ONCRMDYNAMICITEMUPDATE&event_handler_id=3&data[FIELDS][ID]=" + std::to_string(item) +
           "&data[FIELDS][ENTITY_TYPE_ID]=1038&ts=1767945600&auth[domain]=acme.bitrix24.ru&auth[member_id]=" +
           std::string(member) + "&auth[application_token]=" + std::string(token);
}

class IntakeTest : public ::testing::Test {
protected:
    void SetUp() override {
        db_path_ = dir_.File("dispatch.db");
        std::ofstream(dir_.File("config.json"))
            << R"({"listen": "127.0.0.1:0", "tls": {"cert": ")" << BinaryPath("certs/server.pem") << R"(", "key": ")"
            << BinaryPath("certs/server.key") << R"("},
            "database": {"sqlite": {"path": ")"
            << db_path_ << R"("}},
            "limits": {"max_body_bytes": 4096, "read_timeout_ms": 300, "handshake_timeout_ms": 300},
            "hook_key_env": "DISPATCH_TEST_HOOK_KEY", "flows": {"enabled": false}})";
        StartDaemon();
    }

    void StartDaemon() {
        std::string error;
        ASSERT_TRUE(daemon_.Start({DISPATCHD_BIN, "--config", dir_.File("config.json")},
                                  {"DISPATCH_TEST_HOOK_KEY=hook-key"},
                                  dir_.File("dispatchd.log"),
                                  20s,
                                  error))
            << error;
        auto line = json::Parse(daemon_.FirstLine());
        ASSERT_TRUE(line) << daemon_.FirstLine();
        const std::string listen(line->at("listen").as_string());
        base_ = "https://" + listen;
        port_ = std::stoi(listen.substr(listen.rfind(':') + 1));
    }

    void TearDown() override {
        if (HasFailure()) {
            std::ifstream log(dir_.File("dispatchd.log"));
            std::cerr << "--- dispatchd.log ---\n" << log.rdbuf() << "\n";
        }
    }

    Result<http::Response> Post(std::string_view path, std::string body) {
        return client_.Post(base_ + std::string(path), std::move(body), "application/x-www-form-urlencoded");
    }

    std::unique_ptr<store::Store> OpenStore() {
        store::SqliteOptions options;
        options.path = db_path_;
        auto opened = store::OpenSqliteStore(options, clock_);
        EXPECT_TRUE(opened) << (opened ? "" : opened.error().detail);
        return opened ? std::move(*opened) : nullptr;
    }

    std::int64_t InboxRows() {
        auto db = OpenStore();
        auto depth = db->Inbox().Depth();
        return depth ? depth->pending + depth->claimed + depth->dead : -1;
    }

    testing::TempDir dir_;
    std::string db_path_;
    testing::ChildProcess daemon_;
    std::string base_;
    int port_ = 0;
    ManualClock clock_{0};
    http::Client client_{http::ClientOptions{.ca_file = BinaryPath("certs/ca.pem")}};
};

TEST_F(IntakeTest, InstallStoresThePortalAndItsTokens) {
    const auto res = Post("/b24/install", kInstall);
    ASSERT_TRUE(res && res->status == 200);
    ASSERT_EQ(daemon_.Stop(SIGTERM, 10s), 0);

    auto db = OpenStore();
    const auto portal = db->Portals().FindByMemberId("m1");
    const auto token = db->Tokens().Get("m1");

    ASSERT_TRUE(portal);
    EXPECT_EQ(portal->domain, "acme.bitrix24.ru");
    EXPECT_EQ(portal->client_endpoint, "https://acme.bitrix24.ru/rest/");
    ASSERT_TRUE(token);
    EXPECT_EQ(token->refresh_token, "ref1");
    EXPECT_EQ(token->access_token, "acc1");
}

TEST_F(IntakeTest, AnEventWithTheRightTokenLandsInTheInbox) {
    ASSERT_EQ(Post("/b24/install", kInstall)->status, 200);

    const auto res = Post("/b24/events", EventBody(57, "apptok"));
    const auto again = Post("/b24/events", EventBody(57, "apptok"));

    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(again->status, 200);  // a duplicate is acknowledged (it is already safe) but stored once
    ASSERT_EQ(daemon_.Stop(SIGTERM, 10s), 0);
    auto db = OpenStore();
    auto claimed = db->Inbox().Claim(10, SystemClock().Now() + kHourMs, 1000);
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 2u);  // the install row and one event
    EXPECT_EQ((*claimed)[1].event.item_id, 57);
    EXPECT_EQ((*claimed)[1].event.entity_type_id, 1038);
    EXPECT_EQ((*claimed)[1].event.payload.find("apptok"), std::string::npos);
}

TEST_F(IntakeTest, RefusedCallsAreAnsweredClearlyAndStoreNothing) {
    ASSERT_EQ(Post("/b24/install", kInstall)->status, 200);

    const auto forged = Post("/b24/events", EventBody(1, "forged"));
    const auto missing = Post("/b24/events",
                              "event=ONCRMDYNAMICITEMUPDATE&data[FIELDS][ID]=1"
                              "&data[FIELDS][ENTITY_TYPE_ID]=1038&auth[member_id]=m1");
    const auto unknown = Post("/b24/events", EventBody(1, "apptok", "nobody"));
    const auto malformed = Post("/b24/events", "event=ONCRMDYNAMICITEMUPDATE&data[FIELDS][ID]=%zz");
    const auto oversized = Post("/b24/events", EventBody(1, "apptok") + "&pad=" + std::string(8000, 'x'));
    const auto bad_hook = client_.Get(base_ + "/b24/hook?member_id=m1&secret=guess&entity_type_id=1038&item_id=1");

    for (const auto* r : {&forged, &missing, &unknown, &malformed, &oversized, &bad_hook}) {
        ASSERT_TRUE(*r) << r->error();
    }
    EXPECT_EQ(forged->status, 401);
    EXPECT_EQ(missing->status, 400);
    EXPECT_EQ(unknown->status, 401);
    EXPECT_EQ(malformed->status, 400);
    EXPECT_THAT(malformed->body, ::testing::HasSubstr("percent-escape"));
    EXPECT_EQ(oversized->status, 413);
    EXPECT_EQ(bad_hook->status, 401);
    ASSERT_EQ(daemon_.Stop(SIGTERM, 10s), 0);
    EXPECT_EQ(InboxRows(), 1);  // only the install
}

TEST_F(IntakeTest, ASlowClientIsCutOffAndStoresNothing) {
    namespace net = boost::asio;
    net::io_context ioc;
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.load_verify_file(BinaryPath("certs/ca.pem"));
    net::ssl::stream<net::ip::tcp::socket> stream(ioc, ctx);
    stream.next_layer().connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)});
    stream.handshake(net::ssl::stream_base::client);

    // Half a request, then silence: the server's 300 ms read timeout must close the connection.
    net::write(stream, net::buffer(std::string("POST /b24/events HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n")));
    const auto started = std::chrono::steady_clock::now();
    char buf[256];
    boost::system::error_code ec;
    stream.read_some(net::buffer(buf), ec);  // blocks until the server gives up on us

    EXPECT_TRUE(ec) << "the server kept a silent client";
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    ASSERT_EQ(daemon_.Stop(SIGTERM, 10s), 0);
    EXPECT_EQ(InboxRows(), 0);
}

TEST_F(IntakeTest, AnAcknowledgedEventSurvivesKillNineAndARestart) {
    ASSERT_EQ(Post("/b24/install", kInstall)->status, 200);

    const auto res = Post("/b24/events", EventBody(99, "apptok"));
    ASSERT_TRUE(res && res->status == 200);
    ::kill(daemon_.Pid(), SIGKILL);  // no shutdown path runs: only what was committed before the 200 remains
    daemon_.Stop(SIGKILL, 10s);
    client_.CloseIdle();
    StartDaemon();  // the same file, its WAL as the killed process left it

    const auto metrics = client_.Get(base_ + "/metrics");
    const auto after_restart = Post("/b24/events", EventBody(100, "apptok"));

    ASSERT_TRUE(metrics && metrics->status == 200);
    EXPECT_THAT(metrics->body, ::testing::HasSubstr("dispatch_inbox_depth{state=\"pending\"} 2\n"));
    ASSERT_TRUE(after_restart);
    EXPECT_EQ(after_restart->status, 200);  // the portal and its token survived too
    ASSERT_EQ(daemon_.Stop(SIGTERM, 10s), 0);
    auto db = OpenStore();
    auto claimed = db->Inbox().Claim(10, SystemClock().Now() + kHourMs, 1000);
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 3u);
    EXPECT_EQ((*claimed)[1].event.item_id, 99);
    EXPECT_EQ((*claimed)[2].event.item_id, 100);
}

TEST_F(IntakeTest, TheAutomationWebhookWithTheDerivedSecretIsAccepted) {
    ASSERT_EQ(Post("/b24/install", kInstall)->status, 200);
    // HMAC-SHA256(key "hook-key", "m1"), computed independently: echo -n m1 | openssl dgst -sha256 -hmac hook-key
    const std::string secret = "1b5e029a28075d3ce9f102e9326df5854964bd31c02c4d9f2307bf33a2455a97";
    const auto res =
        client_.Get(base_ + "/b24/hook?member_id=m1&secret=" + secret + "&entity_type_id=1038&item_id=5&reason=stage");

    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
}

}  // namespace
}  // namespace dispatch
