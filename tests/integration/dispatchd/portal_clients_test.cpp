// PortalClients and the install check against the emulated portal over real HTTPS, with the tokens in a real
// SQLite file (WAL). The emulator, the clients and the store share one ManualClock; the clients' sleeper advances
// it, so no test waits for time to pass. "An hour later" is one Advance.

#include "app/portal_clients.hpp"

#include <atomic>
#include <boost/json.hpp>
#include <future>
#include <memory>
#include <thread>

#include "b24/errc.hpp"
#include "core/errc.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "emulator/server.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "intake/errc.hpp"
#include "store/errc.hpp"
#include "support/test_support.hpp"

namespace dispatch::app {
namespace {

namespace bj = boost::json;
using ::dispatch::testing::BinaryPath;
using namespace std::chrono_literals;

http::ClientOptions TestCa() {
    http::ClientOptions o;
    o.ca_file = BinaryPath("certs/ca.pem");
    return o;
}

class ClockSleeper final : public b24::Sleeper {
public:
    explicit ClockSleeper(ManualClock& clock) : clock_(clock) {}
    void SleepFor(TimeMs ms) override {
        if (ms > 0) {
            clock_.Advance(ms);
        }
    }

private:
    ManualClock& clock_;
};

class PortalClientsTest : public ::testing::Test {
protected:
    void SetUp() override {
        emulator::EmulatorOptions options;
        options.portal.seed = 21;
        options.start_event_worker = false;
        emu_ = std::make_unique<emulator::Emulator>(std::move(options), control_, emulator::HttpSender(admin_));
        http::Router router;
        emulator::AddEmulatorRoutes(router, *emu_);
        http::ServerOptions tls;
        tls.listen = "127.0.0.1:0";
        tls.cert_file = BinaryPath("certs/server.pem");
        tls.key_file = BinaryPath("certs/server.key");
        server_ = std::make_unique<http::Server>(tls, std::move(router));
        ASSERT_THAT(server_->Start(), IsOk());
        base_ = "https://127.0.0.1:" + std::to_string(server_->Port());
        {
            std::lock_guard lock(emu_->GetPortal().Mutex());
            emu_->GetPortal().SetBaseUrl(base_);
            member_id_ = emu_->GetPortal().State().member_id;
        }
        db_ = OpenStore();
        ASSERT_NE(db_, nullptr);
    }

    void TearDown() override {
        clients_.reset();
        admin_.CloseIdle();
        server_.reset();
        emu_.reset();
    }

    std::unique_ptr<store::Store> OpenStore() {
        store::SqliteOptions options;
        options.path = dir_.File("dispatch.db");
        auto opened = store::OpenSqliteStore(options, clock_);
        EXPECT_THAT(opened, IsOk());
        return opened ? std::move(*opened) : nullptr;
    }

    PortalClientsOptions Options() {
        PortalClientsOptions options;
        options.client_id = emu_->ClientId();
        options.client_secret = emu_->ClientSecret();
        options.oauth_server = base_;
        options.ca_file = BinaryPath("certs/ca.pem");
        return options;
    }

    PortalClients& Clients() {
        if (!clients_) {
            clients_ = std::make_unique<PortalClients>(*db_, clock_, sleeper_, registry_, Options());
        }
        return *clients_;
    }

    // What the user's approval would hand the app: the authorization-code flow's token answer.
    bj::value IssueTokens() {
        auto code = admin_.Post(base_ + "/_emu/oauth/code", R"({"user_id":1})", "application/json");
        EXPECT_THAT(code, IsOk());
        auto parsed_code = json::Parse(code->body);
        auto res = admin_.Get(base_ + "/oauth/token/?grant_type=authorization_code&client_id=" + emu_->ClientId() +
                              "&client_secret=" + emu_->ClientSecret() +
                              "&code=" + json::StringAt(*parsed_code, "code").value_or(""));
        EXPECT_THAT(res, IsOk());
        EXPECT_EQ(res->status, 200) << res->body;
        auto tokens = json::Parse(res->body);
        EXPECT_TRUE(tokens.has_value());
        return tokens ? *tokens : bj::value();
    }

    // Stores the portal and its first pair as the install callback would.
    void Install() {
        const bj::value tokens = IssueTokens();
        store::Portal portal;
        portal.member_id = member_id_;
        portal.domain = "127.0.0.1:" + std::to_string(server_->Port());
        portal.client_endpoint = json::StringAt(tokens, "client_endpoint").value_or("");
        portal.auth_mode = store::AuthMode::kOAuth;
        portal.installed_at = portal.updated_at = clock_.Now();
        ASSERT_THAT(db_->Portals().Upsert(portal), IsOk());
        store::Token token;
        token.member_id = member_id_;
        token.access_token = json::StringAt(tokens, "access_token").value_or("");
        token.refresh_token = json::StringAt(tokens, "refresh_token").value_or("");
        token.expires_at = json::IntAt(tokens, "expires").value_or(0) * kSecondMs;
        token.scope = json::StringAt(tokens, "scope").value_or("");
        token.updated_at = clock_.Now();
        ASSERT_THAT(db_->Tokens().CompareAndSwap(token, 0), IsOk());
    }

    testing::TempDir dir_;
    ManualClock clock_{FromCivilUtc(2026, 3, 2, 6, 0, 0)};
    emulator::ClockControl control_{clock_};
    http::Client admin_{TestCa()};
    std::unique_ptr<emulator::Emulator> emu_;
    std::unique_ptr<http::Server> server_;
    std::string base_;
    std::string member_id_;
    std::unique_ptr<store::Store> db_;
    ClockSleeper sleeper_{clock_};
    metrics::Registry registry_;
    std::unique_ptr<PortalClients> clients_;
};

TEST_F(PortalClientsTest, AnHourLaterTheClientRefreshesAndTheRotatedPairIsOnDisk) {
    Install();
    auto client = Clients().For(member_id_);
    ASSERT_THAT(client, IsOk());
    ASSERT_THAT((*client)->Call("user.current"), IsOk());
    const auto before = db_->Tokens().Get(member_id_);
    ASSERT_THAT(before, IsOk());

    clock_.Advance(kHourMs + kMinuteMs);  // the emulator's access tokens live one hour
    auto after_expiry = (*client)->Call("user.current");

    ASSERT_THAT(after_expiry, IsOk());
    auto other_connection = OpenStore();  // a fresh reader of the same file: what survives a crash now
    const auto after = other_connection->Tokens().Get(member_id_);
    ASSERT_THAT(after, IsOk());
    EXPECT_EQ(after->version, before->version + 1);
    EXPECT_NE(after->refresh_token, before->refresh_token);
    EXPECT_NE(after->access_token, before->access_token);
    EXPECT_GT(after->expires_at, clock_.Now());
    EXPECT_EQ(after->scope, before->scope);  // kept from the install
    EXPECT_EQ(
        registry_.GetCounter("dispatch_b24_token_refreshes_total", "", {{"portal", member_id_}, {"outcome", "ok"}})
            .Value(),
        1u);
}

TEST_F(PortalClientsTest, ASecondInstanceOnTheSameDatabaseAdoptsTheRotatedPairInsteadOfRefreshingAgain) {
    Install();
    auto first = Clients().For(member_id_);
    ASSERT_THAT(first, IsOk());
    auto other_db = OpenStore();
    metrics::Registry other_registry;
    PortalClients other(*other_db, clock_, sleeper_, other_registry, Options());
    auto second = other.For(member_id_);
    ASSERT_THAT(second, IsOk());
    ASSERT_THAT((*first)->Call("user.current"), IsOk());
    ASSERT_THAT((*second)->Call("user.current"), IsOk());  // both now hold the install-time access token

    clock_.Advance(kHourMs + kMinuteMs);
    ASSERT_THAT((*first)->Call("user.current"), IsOk());  // refreshes: the old refresh token is now spent
    auto from_second = (*second)->Call("user.current");   // must adopt, or the emulator says invalid_grant

    ASSERT_THAT(from_second, IsOk());
    EXPECT_EQ(
        other_registry
            .GetCounter("dispatch_b24_token_refreshes_total", "", {{"portal", member_id_}, {"outcome", "adopted"}})
            .Value(),
        1u);
    const auto stored = db_->Tokens().Get(member_id_);
    ASSERT_THAT(stored, IsOk());
    EXPECT_EQ(stored->version, 2);
}

TEST_F(PortalClientsTest, EveryThreadGetsTheSameClientOfAPortal) {
    Install();
    // One registry shared by the threads: the fixture builds it lazily, and that must not race (the registry's own
    // For() is what is under test).
    PortalClients& clients = Clients();
    std::vector<b24::Client*> seen(8, nullptr);
    std::vector<std::thread> threads;

    for (std::size_t i = 0; i < seen.size(); ++i) {
        threads.emplace_back([&, i] {
            auto client = clients.For(member_id_);
            seen[i] = client ? *client : nullptr;
        });
    }
    for (auto& t : threads) {
        t.join();
    }

    ASSERT_NE(seen[0], nullptr);
    for (auto* c : seen) {
        EXPECT_EQ(c, seen[0]);
    }
    EXPECT_EQ(Clients().Size(), 1u);
    EXPECT_EQ(seen[0]->Portal(), member_id_);
}

TEST_F(PortalClientsTest, UnknownAndUninstalledPortalsGetNoClient) {
    Install();
    auto portal = db_->Portals().FindByMemberId(member_id_);
    ASSERT_THAT(portal, IsOk());
    portal->status = store::PortalStatus::kUninstalled;
    ASSERT_THAT(db_->Portals().Upsert(*portal), IsOk());

    EXPECT_THAT(Clients().For("no-such-portal"), HasErrc(store::Errc::kNotFound));
    EXPECT_THAT(Clients().For(member_id_), HasErrc(b24::Errc::kPortalBlocked));
    EXPECT_EQ(Clients().Size(), 0u);
}

TEST_F(PortalClientsTest, AnOAuthPortalWithoutAppCredentialsIsAConfigurationError) {
    Install();
    auto options = Options();
    options.client_id.clear();
    PortalClients clients(*db_, clock_, sleeper_, registry_, options);

    EXPECT_THAT(clients.For(member_id_), HasErrc(b24::Errc::kInvalidArgument));
}

TEST_F(PortalClientsTest, AConfiguredWebhookPortalIsRegisteredAndCalledThroughItsWebhook) {
    PortalSettings hooked;
    hooked.name = "emu-hook";
    hooked.member_id = "hooked-portal";
    hooked.webhook_url = emu_->WebhookUrl();
    hooked.application_token = "outgoing-token";
    auto options = Options();
    options.portals = {hooked};

    auto written = RegisterWebhookPortals(*db_, options.portals, clock_.Now());
    PortalClients clients(*db_, clock_, sleeper_, registry_, options);
    auto client = clients.For("hooked-portal");

    ASSERT_THAT(written, IsOk());
    EXPECT_EQ(*written, 1);
    const auto row = db_->Portals().FindByMemberId("hooked-portal");
    ASSERT_THAT(row, IsOk());
    EXPECT_EQ(row->auth_mode, store::AuthMode::kWebhook);
    EXPECT_EQ(row->domain, "127.0.0.1:" + std::to_string(server_->Port()));
    EXPECT_EQ(row->application_token, "outgoing-token");
    ASSERT_THAT(client, IsOk());
    auto me = (*client)->Call("user.current");
    ASSERT_THAT(me, IsOk());
    EXPECT_EQ(json::IntAt(*me, "ID"), 1);
}

class InstallCheckTest : public PortalClientsTest {
protected:
    intake::EventAuth Claim(const bj::value& tokens) {
        intake::EventAuth auth;
        auth.member_id = member_id_;
        auth.domain = "claimed.example";
        auth.client_endpoint = "https://claimed.example/rest/";
        auth.access_token = json::StringAt(tokens, "access_token").value_or("");
        auth.refresh_token = json::StringAt(tokens, "refresh_token").value_or("");
        auth.application_token = "apptok";
        return auth;
    }
};

TEST_F(InstallCheckTest, AGenuineInstallIsVouchedForByTheOAuthServerAndItsPairRotated) {
    const bj::value tokens = IssueTokens();
    InstallChecker checker(Clients(), registry_, Options());

    auto verified = checker.VerifyNow(Claim(tokens));

    ASSERT_THAT(verified, IsOk());
    EXPECT_EQ(verified->member_id, member_id_);
    EXPECT_EQ(verified->client_endpoint, base_ + "/rest/");  // the OAuth server's word, not the callback's
    EXPECT_EQ(verified->domain, "127.0.0.1:" + std::to_string(server_->Port()));
    EXPECT_EQ(verified->application_token, "apptok");
    EXPECT_NE(verified->refresh_token, json::StringAt(tokens, "refresh_token").value_or(""));
    EXPECT_GT(verified->expires, clock_.Now() / 1000);
    EXPECT_EQ(registry_.GetCounter("dispatch_install_checks_total", "", {{"outcome", "verified"}}).Value(), 1u);
}

TEST_F(InstallCheckTest, AForgedRefreshTokenOrAnotherPortalsNameIsRefused) {
    const bj::value tokens = IssueTokens();
    InstallChecker checker(Clients(), registry_, Options());
    auto forged = Claim(tokens);
    forged.refresh_token = "made-up";
    auto impostor = Claim(tokens);
    impostor.member_id = "someone-else";

    EXPECT_THAT(checker.VerifyNow(forged), HasErrc(intake::Errc::kInstallNotVerified));
    EXPECT_THAT(checker.VerifyNow(impostor), HasErrc(intake::Errc::kInstallNotVerified));
    EXPECT_EQ(registry_.GetCounter("dispatch_install_checks_total", "", {{"outcome", "refused"}}).Value(), 2u);
}

TEST_F(InstallCheckTest, AnUnreachableOAuthServerIsATemporaryFailure) {
    const bj::value tokens = IssueTokens();
    auto options = Options();
    options.oauth_server = "https://127.0.0.1:1";  // nothing listens on port 1
    options.connect_timeout = 2s;
    InstallChecker checker(Clients(), registry_, options);

    EXPECT_THAT(checker.VerifyNow(Claim(tokens)), HasErrc(intake::Errc::kCheckUnavailable));
}

TEST_F(InstallCheckTest, VerifyAnswersFromTheBackgroundThreadAndAfterStopAtOnce) {
    const bj::value tokens = IssueTokens();
    InstallChecker checker(Clients(), registry_, Options());
    std::promise<Result<intake::EventAuth>> answered;

    checker.Verify(Claim(tokens), [&](Result<intake::EventAuth> r) { answered.set_value(std::move(r)); });
    auto future = answered.get_future();
    ASSERT_EQ(future.wait_for(20s), std::future_status::ready);
    EXPECT_THAT(future.get(), IsOk());

    checker.Stop();
    Result<intake::EventAuth> late = Fail(CoreErrc::kInvalid, "not called");
    checker.Verify(Claim(tokens), [&](Result<intake::EventAuth> r) { late = std::move(r); });
    EXPECT_THAT(late, HasErrc(intake::Errc::kCheckUnavailable));
}

}  // namespace
}  // namespace dispatch::app
