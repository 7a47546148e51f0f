#pragma once
// The Bitrix24 REST client of one portal: both auth modes (incoming webhook, OAuth with single-flight refresh),
// the client-side leaky bucket, bounded retries with backoff, OVERLOAD_LIMIT blocking, list paging and batch.
// Thread-safe: any number of threads may call at once; they share one bucket, one token pair, one refresh.
//
//   b24::Client client(settings, {.transport = transport, .clock = clock, .sleeper = sleeper, .tokens = &store});
//   auto item = client.Call("crm.item.get", {{"entityTypeId", 1038}, {"id", 57}});
//   if (!item && b24::Classify(*b24::AsErrc(item.error().code)) == b24::RetryClass::kRetryCall) { ... }
//
// Every failure carries a b24::Errc (never an Asio or http code); detail never holds a token or webhook secret.

#include <boost/json.hpp>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "b24/batch.hpp"
#include "b24/errc.hpp"
#include "b24/leaky_bucket.hpp"
#include "b24/retry.hpp"
#include "b24/sleeper.hpp"
#include "b24/token_store.hpp"
#include "b24/transport.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace dispatch::metrics {
class Registry;
}

namespace dispatch::b24 {

namespace bj = boost::json;

enum class AuthMode {
    kWebhook,  // https://{portal}/rest/{user}/{secret}/{method} (local-webhooks.md)
    kOAuth,    // https://{portal}/rest/{method} with auth=<access_token> (authorization.md)
};

struct OAuthSettings {
    std::string client_id{};
    std::string client_secret{};  // sent only to the OAuth server, never logged
    // auto-renewal.md: the refresh endpoint. The emulator serves it at its base URL + "/oauth/token/".
    std::string token_url = "https://oauth.bitrix.info/oauth/token/";
};

struct ClientSettings {
    std::string portal{};  // the portal's key for the TokenStore, logs and metrics (member_id or domain)
    AuthMode auth = AuthMode::kWebhook;
    std::string webhook_url{};  // kWebhook: "https://host/rest/{user}/{secret}/" (a secret: never logged)
    std::string rest_url{};     // kOAuth: "https://host/rest/"; empty = the client_endpoint of the stored tokens
    OAuthSettings oauth{};
    BucketSettings bucket{};  // StandardPlan() unless the portal is Enterprise
    RetrySettings retry{};
};

struct ClientDeps {
    Transport& transport;
    const Clock& clock;                     // "now" for the bucket and for operating_reset_at
    Sleeper& sleeper;                       // every wait of the client
    TokenStore* tokens = nullptr;           // required for kOAuth
    metrics::Registry* registry = nullptr;  // nullptr = metrics::DefaultRegistry()
    std::function<double()> random_unit{};  // [0,1) for backoff jitter; empty = a seeded PRNG
};

// The success envelope of one call (CONTRACT §2.2).
struct Envelope {
    bj::value result{};
    std::optional<std::int64_t> total{};
    std::optional<std::int64_t> next{};
    bj::value time{};  // the `time` object as sent (null when absent)
};

class Client {
public:
    Client(ClientSettings settings, ClientDeps deps);
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // One REST method with bucket, retries and (OAuth) refresh-and-replay. Errors: any Errc; kPortalBlocked at
    // once after the portal answered OVERLOAD_LIMIT/PORTAL_DELETED; kInvalidArgument for a bad method name or
    // missing auth configuration. `params` must not contain "auth" (the client adds it).
    [[nodiscard]] Result<Envelope> CallEnvelope(std::string_view method, const bj::object& params = {});
    // The `result` member only.
    [[nodiscard]] Result<bj::value> Call(std::string_view method, const bj::object& params = {});

    // Every row of a list method, following `next` in pages of 50 (list-methods-pecularities.md). Rows are taken
    // from result[items_key] (e.g. "items", "types", "categories", "fields") or from result itself when
    // items_key is empty (crm.status.list). Stops at `max_rows` (0: no limit). kBadResponse if the shape differs.
    [[nodiscard]] Result<std::vector<bj::value>> ListAll(std::string_view method,
                                                         const bj::object& params,
                                                         std::string_view items_key,
                                                         std::size_t max_rows = 0);

    // One batch of up to 50 calls as one request (counts once against the bucket).
    [[nodiscard]] Result<BatchResult> CallBatch(const BatchBuilder& batch);
    // Any number of independent calls, split into batches of 50 and sent one after the other; the merged
    // per-key results. Fails as a whole only when a batch request itself fails (sub-call errors stay per key).
    [[nodiscard]] Result<BatchResult> CallBatches(std::vector<BatchCall> calls, bool halt = false);

    // True after the portal answered OVERLOAD_LIMIT or PORTAL_DELETED; every call then fails with kPortalBlocked
    // without being sent until Unblock() (an operator's decision after support lifted the block).
    bool Blocked() const;
    void Unblock();

    const std::string& Portal() const { return settings_.portal; }

private:
    struct Attempt;  // the outcome of one send, with the hints the retry loop needs

    Attempt SendOnce(std::string_view method, const bj::object& params);
    Result<std::string> AccessToken();  // OAuth: the current token, loading the stored pair on first use
    // Single flight: the first caller that saw `expired_token` with `used_token` refreshes; others wait for it.
    Result<void> RefreshAfterExpiry(const std::string& used_token);
    Result<OAuthTokens> RefreshAndPersist(const OAuthTokens& base);
    Result<OAuthTokens> RequestRefresh(const std::string& refresh_token);
    void WaitForSendSlot(std::string_view method);
    void BlockPortal(std::string_view method, const Error& error);
    double RandomUnit();
    std::string RestBase();

    void CountCall(std::string_view method);
    void CountError(std::string_view method, Errc errc);
    void CountBucketWait(TimeMs ms);
    void CountRetry(Errc errc);
    void CountRefresh(std::string_view outcome);

    ClientSettings settings_;
    ClientDeps deps_;
    RetryPolicy policy_;

    mutable std::mutex bucket_mu_;
    LeakyBucket bucket_;
    std::map<std::string, TimeMs, std::less<>> paused_until_{};  // method → operating_reset_at (429)

    mutable std::mutex token_mu_;
    std::condition_variable token_cv_;
    bool tokens_loaded_ = false;
    bool refreshing_ = false;
    OAuthTokens tokens_;
    std::optional<Error> last_refresh_error_{};

    mutable std::mutex blocked_mu_;
    bool blocked_ = false;

    std::mutex random_mu_;
    std::uint64_t random_state_;
};

}  // namespace dispatch::b24
