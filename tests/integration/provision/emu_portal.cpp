#include "emu_portal.hpp"

#include <signal.h>

#include <chrono>

#include "core/json.hpp"
#include "core/time_format.hpp"
#include "support/b24emu.hpp"

namespace dispatch::testing {

namespace bj = boost::json;
using namespace std::chrono_literals;

namespace {

const TimeMs kStart = FromCivilUtc(2026, 1, 12, 7, 0, 0);

}  // namespace

http::ClientOptions TestCaOptions() {
    http::ClientOptions o;
    o.ca_file = BinaryPath("certs/ca.pem");
    o.connect_timeout = 5000ms;
    o.request_timeout = 20000ms;
    return o;
}

Result<b24::HttpResponse> RecordingTransport::Send(const b24::HttpRequest& request) {
    Sent sent;
    const std::string path = request.url.substr(0, request.url.find('?'));
    sent.method = path.substr(path.rfind('/') + 1);
    if (sent.method.size() > 5 && sent.method.substr(sent.method.size() - 5) == ".json") {
        sent.method.resize(sent.method.size() - 5);
    }
    if (sent.method == "batch") {
        if (auto body = json::Parse(request.body); body && body->is_object()) {
            if (const auto* cmd = body->get_object().if_contains("cmd"); cmd != nullptr && cmd->is_object()) {
                for (const auto& kv : cmd->get_object()) {
                    const auto text = json::ToString(kv.value()).value_or("");
                    sent.calls.push_back(text.substr(0, text.find('?')));
                }
            }
        }
    }
    {
        const std::lock_guard lock(mu_);
        sent_.push_back(std::move(sent));
    }
    return inner_.Send(request);
}

std::vector<RecordingTransport::Sent> RecordingTransport::Take() {
    const std::lock_guard lock(mu_);
    return std::exchange(sent_, {});
}

EmuPortal::~EmuPortal() { Stop(); }

bool EmuPortal::Start(const std::string& b24emu_bin, const std::string& log_file, std::string& error) {
    EmuEndpoints endpoints;
    if (!StartB24emu(process_,
                     b24emu_bin,
                     {.start = "2026-01-12T07:00:00Z", .seed = "5", .handler_ca = false},
                     log_file,
                     endpoints,
                     error)) {
        return false;
    }
    base_url_ = endpoints.base_url;
    webhook_url_ = endpoints.webhook_url;
    client_id_ = endpoints.client_id;
    client_secret_ = endpoints.client_secret;
    admin_ = std::make_unique<http::Client>(TestCaOptions());
    return true;
}

void EmuPortal::Stop() {
    if (admin_) {
        admin_->CloseIdle();
    }
    if (process_.Running()) {
        process_.Stop(SIGTERM, 10s);
    }
}

bj::value EmuPortal::Admin(const std::string& path, const bj::object& body) {
    auto res = admin_->Post(base_url_ + "/_emu/" + path, json::Dump(body), "application/json");
    if (!res || res->status != 200) {
        ADD_FAILURE() << "admin " << path << ": " << (res ? res->body : res.error().detail);
        return nullptr;
    }
    auto parsed = json::Parse(res->body);
    return parsed ? *parsed : bj::value();
}

bj::value EmuPortal::AdminGet(const std::string& path) {
    auto res = admin_->Get(base_url_ + "/_emu/" + path);
    if (!res || res->status != 200) {
        ADD_FAILURE() << "admin " << path << ": " << (res ? res->body : res.error().detail);
        return nullptr;
    }
    auto parsed = json::Parse(res->body);
    return parsed ? *parsed : bj::value();
}

void EmuPortal::FailNext(
    const std::string& method, int times, int status, const std::string& error, const std::string& description) {
    Admin("faults",
          {{"fail",
            bj::object{{"method", method},
                       {"times", times},
                       {"status", status},
                       {"error", error},
                       {"error_description", description}}}});
}

bj::value EmuPortal::Act(const std::string& method, const bj::object& params) {
    const auto answer = Admin("act", {{"user_id", 1}, {"method", method}, {"params", params}});
    const auto status = json::IntAt(answer, "status").value_or(0);
    const auto* body = json::Find(answer, "body");
    bj::value parsed;
    if (body != nullptr && body->is_string()) {
        if (auto p = json::Parse(body->get_string())) {
            parsed = std::move(*p);
        }
    } else if (body != nullptr) {
        parsed = *body;
    }
    if (status != 200) {
        ADD_FAILURE() << "act " << method << ": " << json::Dump(answer);
        return nullptr;
    }
    const auto* result = json::Find(parsed, "result");
    return result != nullptr ? *result : bj::value();
}

bj::array EmuPortal::Requests() {
    const auto log = AdminGet("requests");
    return log.is_array() ? log.get_array() : bj::array{};
}

bj::value EmuPortal::FreshTokens() {
    const auto code = json::StringAt(Admin("oauth/code", {{"user_id", 1}}), "code").value_or("");
    auto res = admin_->Get(base_url_ + "/oauth/token/?grant_type=authorization_code&client_id=" + client_id_ +
                           "&client_secret=" + client_secret_ + "&code=" + code);
    if (!res || res->status != 200) {
        ADD_FAILURE() << "token exchange: " << (res ? res->body : res.error().detail);
        return nullptr;
    }
    auto parsed = json::Parse(res->body);
    return parsed ? *parsed : bj::value();
}

std::string EmuPortal::InstallTokens(b24::InMemoryTokenStore& store, const std::string& portal) {
    const auto tokens = FreshTokens();
    b24::OAuthTokens pair;
    pair.access_token = json::StringAt(tokens, "access_token").value_or("");
    pair.refresh_token = json::StringAt(tokens, "refresh_token").value_or("");
    pair.client_endpoint = json::StringAt(tokens, "client_endpoint").value_or("");
    store.Put(portal, pair);
    return json::StringAt(tokens, "member_id").value_or("");
}

EmuClient::EmuClient(EmuPortal& portal, Mode mode, b24::RetrySettings retry)
    : portal_(portal), clock_(kStart), transport_(TestCaOptions()), sleeper_([this](TimeMs ms) {
          if (ms <= 0) {
              return;
          }
          // Both clocks move: the client's bucket drains and the emulator's bucket drains by the same amount.
          clock_.Advance(ms);
          slept_ += ms;
          portal_.Admin("clock", {{"advance_ms", ms}});
      }) {
    b24::ClientSettings settings;
    settings.portal = "emu";
    settings.retry = retry;
    if (mode == Mode::kWebhook) {
        settings.auth = b24::AuthMode::kWebhook;
        settings.webhook_url = portal.WebhookUrl();
    } else {
        settings.auth = b24::AuthMode::kOAuth;
        settings.oauth.client_id = portal.ClientId();
        settings.oauth.client_secret = portal.ClientSecret();
        settings.oauth.token_url = portal.BaseUrl() + "/oauth/token/";
        portal.InstallTokens(tokens_, "emu");
    }
    client_ = std::make_unique<b24::Client>(std::move(settings),
                                            b24::ClientDeps{.transport = recording_,
                                                            .clock = clock_,
                                                            .sleeper = sleeper_,
                                                            .tokens = &tokens_,
                                                            .registry = &registry_,
                                                            .random_unit = [] { return 0.5; }});
}

EmuClient::~EmuClient() { transport_.CloseIdle(); }

}  // namespace dispatch::testing
