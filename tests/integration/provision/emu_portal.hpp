#pragma once
// b24emu as a real process for the provisioning tests and bench: started with a manual clock, reached over HTTPS
// with the test CA, and a b24::Client for it in either auth mode. The client's sleeper moves the client's
// ManualClock and the emulator's clock together (POST /_emu/clock), so backoff and the leaky bucket play out
// without any real waiting, on both sides of the wire.

#include <boost/json.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "b24/client.hpp"
#include "b24/http_transport.hpp"
#include "b24/sleeper.hpp"
#include "b24/token_store.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "http/client.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"

namespace dispatch::testing {

// Records what the client sends: the REST method of each HTTP request and, for `batch`, its sub-call methods.
class RecordingTransport final : public b24::Transport {
public:
    explicit RecordingTransport(b24::Transport& inner) : inner_(inner) {}
    Result<b24::HttpResponse> Send(const b24::HttpRequest& request) override;

    struct Sent {
        std::string method;
        std::vector<std::string> calls;  // batch only
    };
    std::vector<Sent> Take();

private:
    b24::Transport& inner_;
    std::mutex mu_;
    std::vector<Sent> sent_;
};

class EmuPortal {
public:
    EmuPortal() = default;
    ~EmuPortal();
    EmuPortal(const EmuPortal&) = delete;
    EmuPortal& operator=(const EmuPortal&) = delete;

    // Starts b24emu (binary `b24emu_bin`); false with `error` when it does not come up.
    bool Start(const std::string& b24emu_bin, const std::string& log_file, std::string& error);
    void Stop();

    const std::string& BaseUrl() const { return base_url_; }
    const std::string& WebhookUrl() const { return webhook_url_; }
    const std::string& ClientId() const { return client_id_; }
    const std::string& ClientSecret() const { return client_secret_; }

    // POST /_emu/{path}; the parsed answer (null on any failure, which the caller's assertions then show).
    boost::json::value Admin(const std::string& path, const boost::json::object& body);
    boost::json::value AdminGet(const std::string& path);
    // The next `times` calls of `method` ("batch" for whole requests) answer HTTP `status` with this error.
    void FailNext(
        const std::string& method, int times, int status, const std::string& error, const std::string& description);
    // Any REST method as user 1 through /_emu/act (a hand edit in the UI, as far as the portal can tell): the
    // method's `result`, or null when it failed.
    boost::json::value Act(const std::string& method, const boost::json::object& params);
    // GET /_emu/requests: the REST request log.
    boost::json::array Requests();

    // The authorization-code flow as the local app's install would run it; the pair stored in `store` under
    // `portal`. Returns member_id (empty on failure).
    std::string InstallTokens(b24::InMemoryTokenStore& store, const std::string& portal);
    // The raw token answer of a fresh authorization code (for seeding a real store).
    boost::json::value FreshTokens();

private:
    ChildProcess process_;
    std::unique_ptr<http::Client> admin_;
    std::string base_url_;
    std::string webhook_url_;
    std::string client_id_;
    std::string client_secret_;
};

// A b24::Client on the emulator with its clock, sleeper, transport and token store.
class EmuClient {
public:
    enum class Mode { kWebhook, kOAuth };
    EmuClient(EmuPortal& portal, Mode mode, b24::RetrySettings retry = {});
    ~EmuClient();

    b24::Client& Get() { return *client_; }
    RecordingTransport& Recorder() { return recording_; }
    ManualClock& Clock() { return clock_; }
    TimeMs Slept() const { return slept_; }

private:
    EmuPortal& portal_;
    ManualClock clock_;
    TimeMs slept_ = 0;
    b24::HttpTransport transport_;
    RecordingTransport recording_{transport_};
    b24::FunctionSleeper sleeper_;
    b24::InMemoryTokenStore tokens_;
    metrics::Registry registry_;
    std::unique_ptr<b24::Client> client_;
};

http::ClientOptions TestCaOptions();

}  // namespace dispatch::testing
