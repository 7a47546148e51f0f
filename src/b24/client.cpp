#include "b24/client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"

namespace dispatch::b24 {
namespace {

constexpr log::Logger kLog("b24");

bool IsValidMethodName(std::string_view method) {
    return !method.empty() && method.size() <= 128 && std::all_of(method.begin(), method.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '_' || c == '.';
    });
}

std::string WithSlash(std::string url) {
    if (!url.empty() && url.back() != '/') {
        url += '/';
    }
    return url;
}

Errc ErrcOf(const Error& error) { return AsErrc(error.code).value_or(Errc::kTransport); }

// time.operating_reset_at is unix seconds (limits.md); it may come as an integer or a float.
std::optional<TimeMs> ResetAt(const bj::value& body) {
    const bj::value* time = json::Find(body, "time");
    if (time == nullptr) {
        return std::nullopt;
    }
    const bj::value* reset = json::Find(*time, "operating_reset_at");
    if (reset == nullptr) {
        return std::nullopt;
    }
    if (reset->is_double()) {
        return static_cast<TimeMs>(reset->get_double() * 1000.0);
    }
    if (const auto s = json::ToInt(*reset)) {
        return *s * kSecondMs;
    }
    return std::nullopt;
}

metrics::Registry& RegistryOf(const ClientDeps& deps) {
    return deps.registry != nullptr ? *deps.registry : metrics::DefaultRegistry();
}

}  // namespace

struct Client::Attempt {
    Result<Envelope> outcome;
    std::optional<TimeMs> reset_at;
    std::string used_token;  // OAuth: which access token this send carried
};

Client::Client(ClientSettings settings, ClientDeps deps)
    : settings_(std::move(settings)),
      deps_(std::move(deps)),
      policy_(settings_.retry),
      bucket_(settings_.bucket),
      random_state_(std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32)) {}

bool Client::Blocked() const {
    const std::lock_guard lock(blocked_mu_);
    return blocked_;
}

void Client::Unblock() {
    const std::lock_guard lock(blocked_mu_);
    if (blocked_) {
        DISPATCH_LOG_INFO(kLog, "portal unblocked", "portal={}", settings_.portal);
    }
    blocked_ = false;
}

void Client::BlockPortal(std::string_view method, const Error& error) {
    {
        const std::lock_guard lock(blocked_mu_);
        if (blocked_) {
            return;
        }
        blocked_ = true;
    }
    // limits.md / system-errors.md: a manual block by support (or a deleted portal). No retry can help; a human
    // must act, so this is an error-level line, written once per block.
    DISPATCH_LOG_ERROR(kLog,
                       "portal blocked, calls stopped",
                       "portal={} method={} detail={}",
                       settings_.portal,
                       method,
                       log::Quote(error.detail));
    RegistryOf(deps_)
        .GetCounter("dispatch_b24_portal_blocked_total",
                    "Portals that answered OVERLOAD_LIMIT or PORTAL_DELETED",
                    {{"portal", settings_.portal}})
        .Inc();
}

double Client::RandomUnit() {
    if (deps_.random_unit) {
        return deps_.random_unit();
    }
    const std::lock_guard lock(random_mu_);
    // splitmix64: cheap, good enough for jitter.
    std::uint64_t z = (random_state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53);
}

void Client::CountCall(std::string_view method) {
    RegistryOf(deps_)
        .GetCounter("dispatch_b24_calls_total",
                    "REST requests sent, by method",
                    {{"portal", settings_.portal}, {"method", std::string(method)}})
        .Inc();
}

void Client::CountError(std::string_view method, Errc errc) {
    RegistryOf(deps_)
        .GetCounter("dispatch_b24_errors_total",
                    "REST failures, by method and code",
                    {{"portal", settings_.portal}, {"method", std::string(method)}, {"code", std::string(Name(errc))}})
        .Inc();
}

void Client::CountBucketWait(TimeMs ms) {
    auto& registry = RegistryOf(deps_);
    registry
        .GetCounter("dispatch_b24_bucket_waits_total",
                    "Sends delayed by the client-side rate limit",
                    {{"portal", settings_.portal}})
        .Inc();
    registry
        .GetCounter("dispatch_b24_bucket_wait_ms_total",
                    "Milliseconds spent waiting for the client-side rate limit",
                    {{"portal", settings_.portal}})
        .Inc(static_cast<std::uint64_t>(std::max<TimeMs>(0, ms)));
}

void Client::CountRetry(Errc errc) {
    RegistryOf(deps_)
        .GetCounter("dispatch_b24_retries_total",
                    "REST calls sent again after a retryable failure",
                    {{"portal", settings_.portal}, {"code", std::string(Name(errc))}})
        .Inc();
}

void Client::CountRefresh(std::string_view outcome) {
    RegistryOf(deps_)
        .GetCounter("dispatch_b24_token_refreshes_total",
                    "OAuth refreshes, by outcome",
                    {{"portal", settings_.portal}, {"outcome", std::string(outcome)}})
        .Inc();
}

void Client::WaitForSendSlot(std::string_view method) {
    for (;;) {
        TimeMs wait = 0;
        {
            const std::lock_guard lock(bucket_mu_);
            const TimeMs now = deps_.clock.Now();
            const auto paused = paused_until_.find(method);
            if (paused != paused_until_.end() && paused->second > now) {
                // limits.md: the method stays refused for this credential until operating_reset_at.
                wait = paused->second - now;
            } else {
                if (paused != paused_until_.end()) {
                    paused_until_.erase(paused);
                }
                wait = bucket_.TryAcquire(now);
            }
        }
        if (wait <= 0) {
            return;
        }
        CountBucketWait(wait);
        deps_.sleeper.SleepFor(wait);
    }
}

Result<std::string> Client::AccessToken() {
    std::unique_lock lock(token_mu_);
    if (!tokens_loaded_) {
        if (deps_.tokens == nullptr) {
            return Fail(Errc::kInvalidArgument, "oauth mode without a token store portal=" + settings_.portal);
        }
        auto loaded = deps_.tokens->Load(settings_.portal);
        if (!loaded) {
            return loaded.error();
        }
        tokens_ = std::move(*loaded);
        tokens_loaded_ = true;
    }
    // A token that a refresh in flight is replacing is known to be expired: wait for the new one.
    token_cv_.wait(lock, [&] { return !refreshing_; });
    return tokens_.access_token;
}

std::string Client::RestBase() {
    if (!settings_.rest_url.empty()) {
        return WithSlash(settings_.rest_url);
    }
    const std::lock_guard lock(token_mu_);
    return WithSlash(tokens_.client_endpoint);
}

Client::Attempt Client::SendOnce(std::string_view method, const bj::object& params) {
    HttpRequest request;
    std::string used_token;
    bj::object body = params;
    if (settings_.auth == AuthMode::kWebhook) {
        if (settings_.webhook_url.empty()) {
            return {Fail(Errc::kInvalidArgument, "webhook mode without a webhook url portal=" + settings_.portal),
                    std::nullopt,
                    {}};
        }
        request.url = WithSlash(settings_.webhook_url) + std::string(method);
    } else {
        auto token = AccessToken();
        if (!token) {
            return {token.error(), std::nullopt, {}};
        }
        used_token = *token;
        const std::string base = RestBase();
        if (base.empty()) {
            return {Fail(Errc::kInvalidArgument, "oauth mode without a rest url portal=" + settings_.portal),
                    std::nullopt,
                    used_token};
        }
        request.url = base + std::string(method);
        // authorization.md: the token may travel in the JSON body; there it stays out of URLs and access logs.
        body["auth"] = used_token;
    }
    request.body = json::Dump(bj::value(std::move(body)));

    auto sent = deps_.transport.Send(request);
    if (!sent) {
        Error error = sent.error();
        if (!AsErrc(error.code)) {
            error = Error{make_error_code(Errc::kTransport), error.code.message() + ": " + error.detail};
        }
        error.detail = log::MaskUrlSecrets(fmt::format("method={} {}", method, error.detail));
        return {error, std::nullopt, used_token};
    }
    const HttpResponse& response = *sent;

    auto parsed = json::Parse(response.body);
    if (!parsed || !parsed->is_object()) {
        const Errc errc = response.status >= 500 ? Errc::kServerError : Errc::kBadResponse;
        return {Fail(errc,
                     fmt::format(
                         "method={} http={} non-json body ({} bytes)", method, response.status, response.body.size())),
                std::nullopt,
                used_token};
    }
    const bj::value& doc = *parsed;
    if (const bj::value* error = json::Find(doc, "error")) {
        const std::string code = json::ToString(*error).value_or("");
        const std::string description = json::StringAt(doc, "error_description").value_or("");
        const Errc errc = FromApiError(response.status, code, description);
        return {Fail(errc,
                     fmt::format("method={} http={} error={} description={}",
                                 method,
                                 response.status,
                                 log::Quote(code),
                                 log::Quote(description))),
                ResetAt(doc),
                used_token};
    }
    if (response.status >= 300 && response.status < 400) {
        // change-domen.md: a moved portal answers 302; re-configuring the address is an operator's task.
        return {Fail(Errc::kBadResponse, fmt::format("method={} http={} portal moved", method, response.status)),
                std::nullopt,
                used_token};
    }
    if (response.status >= 400) {
        return {Fail(FromApiError(response.status, "", ""),
                     fmt::format("method={} http={} without error code", method, response.status)),
                ResetAt(doc),
                used_token};
    }
    const bj::value* result = json::Find(doc, "result");
    if (result == nullptr) {
        return {
            Fail(Errc::kBadResponse, fmt::format("method={} answer without result", method)), std::nullopt, used_token};
    }
    Envelope envelope;
    envelope.result = *result;
    envelope.total = json::IntAt(doc, "total");
    envelope.next = json::IntAt(doc, "next");
    if (const bj::value* time = json::Find(doc, "time")) {
        envelope.time = *time;
    }
    return {std::move(envelope), std::nullopt, used_token};
}

Result<Envelope> Client::CallEnvelope(std::string_view method, const bj::object& params) {
    if (!IsValidMethodName(method)) {
        return Fail(Errc::kInvalidArgument, fmt::format("bad method name '{}'", method));
    }
    int attempts = 0;
    TimeMs waited = 0;
    bool replayed_after_refresh = false;
    for (;;) {
        if (Blocked()) {
            return Fail(Errc::kPortalBlocked,
                        fmt::format("portal={} is blocked; method={} not sent", settings_.portal, method));
        }
        WaitForSendSlot(method);
        ++attempts;
        CountCall(method);
        Attempt attempt = SendOnce(method, params);
        if (attempt.outcome) {
            return std::move(attempt.outcome);
        }
        Error error = attempt.outcome.error();
        Errc errc = ErrcOf(error);
        CountError(method, errc);

        if (errc == Errc::kQueryLimitExceeded) {
            const std::lock_guard lock(bucket_mu_);
            bucket_.OnLimitExceeded(deps_.clock.Now());
        }
        if (errc == Errc::kOperationTimeLimit && attempt.reset_at) {
            const std::lock_guard lock(bucket_mu_);
            auto& until = paused_until_[std::string(method)];
            until = std::max(until, *attempt.reset_at);
        }
        if (errc == Errc::kPortalBlocked) {
            BlockPortal(method, error);
            return error;
        }
        if (Classify(errc) == RetryClass::kRetryAfterAuth && settings_.auth == AuthMode::kOAuth &&
            !replayed_after_refresh) {
            auto refreshed = RefreshAfterExpiry(attempt.used_token);
            if (refreshed) {
                // auto-renewal.md: refresh once, then replay the same call.
                replayed_after_refresh = true;
                continue;
            }
            error = refreshed.error();
            errc = ErrcOf(error);
        }

        const auto delay = policy_.NextDelay(RetryInput{.attempts = attempts,
                                                        .errc = errc,
                                                        .now = deps_.clock.Now(),
                                                        .waited_ms = waited,
                                                        .reset_at = attempt.reset_at,
                                                        .random_unit = RandomUnit()});
        if (!delay) {
            if (Classify(errc) == RetryClass::kRetryCall) {
                DISPATCH_LOG_LIMITED_WARN(kLog,
                                          "rest call gave up",
                                          "portal={} method={} code={} attempts={}",
                                          settings_.portal,
                                          method,
                                          Name(errc),
                                          attempts);
            }
            error.detail += fmt::format(" attempts={}", attempts);
            return error;
        }
        DISPATCH_LOG_DEBUG(kLog,
                           "rest call retry",
                           "portal={} method={} code={} attempt={} delay_ms={}",
                           settings_.portal,
                           method,
                           Name(errc),
                           attempts,
                           *delay);
        CountRetry(errc);
        waited += *delay;
        deps_.sleeper.SleepFor(*delay);
    }
}

Result<bj::value> Client::Call(std::string_view method, const bj::object& params) {
    auto envelope = CallEnvelope(method, params);
    if (!envelope) {
        return envelope.error();
    }
    return std::move(envelope->result);
}

Result<void> Client::RefreshAfterExpiry(const std::string& used_token) {
    std::unique_lock lock(token_mu_);
    if (tokens_.access_token != used_token) {
        return {};  // another caller refreshed since this one sent: just replay with the new token
    }
    if (refreshing_) {
        token_cv_.wait(lock, [&] { return !refreshing_; });
        if (tokens_.access_token != used_token) {
            return {};
        }
        if (last_refresh_error_) {
            return *last_refresh_error_;
        }
        return Fail(Errc::kRefreshFailed, "refresh did not replace the token portal=" + settings_.portal);
    }
    refreshing_ = true;
    const OAuthTokens base = tokens_;
    lock.unlock();

    // No lock held across the network: concurrent callers wait on the condition variable instead.
    auto fresh = RefreshAndPersist(base);

    lock.lock();
    refreshing_ = false;
    if (fresh) {
        tokens_ = std::move(*fresh);
        last_refresh_error_.reset();
    } else {
        last_refresh_error_ = fresh.error();
    }
    lock.unlock();
    token_cv_.notify_all();
    if (!fresh) {
        return fresh.error();
    }
    return {};
}

Result<OAuthTokens> Client::RefreshAndPersist(const OAuthTokens& base) {
    TokenStore& store = *deps_.tokens;  // AccessToken() checked it before any token was sent
    // Another worker or instance may have rotated the pair already. Adopt it rather than spend a refresh token that
    // the OAuth server has already replaced (invalid_grant), and refresh only on expired_token (auto-renewal.md).
    if (auto stored = store.Load(settings_.portal);
        stored && stored->version != base.version && stored->access_token != base.access_token) {
        CountRefresh("adopted");
        return std::move(*stored);
    }

    auto fresh = RequestRefresh(base.refresh_token);
    if (!fresh) {
        if (ErrcOf(fresh.error()) == Errc::kRefreshFailed) {
            if (auto stored = store.Load(settings_.portal); stored && stored->version != base.version) {
                CountRefresh("adopted");
                return std::move(*stored);
            }
        }
        CountRefresh("failed");
        DISPATCH_LOG_WARN(kLog,
                          "oauth refresh failed",
                          "portal={} code={} detail={}",
                          settings_.portal,
                          Name(ErrcOf(fresh.error())),
                          log::Quote(fresh.error().detail));
        return fresh.error();
    }
    // The rotated refresh token replaces the old one at the OAuth server right now: persist it before anything
    // uses the new pair, or a crash would leave the store holding a dead refresh token.
    auto swapped = store.CompareAndSwap(settings_.portal, base.version, *fresh);
    if (!swapped) {
        if (ErrcOf(swapped.error()) == Errc::kTokenConflict) {
            auto stored = store.Load(settings_.portal);
            if (stored) {
                DISPATCH_LOG_WARN(kLog,
                                  "oauth refresh raced; adopting the stored pair",
                                  "portal={} version={}",
                                  settings_.portal,
                                  stored->version);
                CountRefresh("adopted");
                return std::move(*stored);
            }
            return stored.error();
        }
        CountRefresh("failed");
        DISPATCH_LOG_ERROR(kLog,
                           "oauth tokens refreshed but not persisted",
                           "portal={} detail={}",
                           settings_.portal,
                           log::Quote(swapped.error().detail));
        return swapped.error();
    }
    fresh->version = *swapped;
    CountRefresh("ok");
    DISPATCH_LOG_INFO(kLog,
                      "oauth tokens refreshed",
                      "portal={} version={} access={}",
                      settings_.portal,
                      fresh->version,
                      log::MaskSecret(fresh->access_token));
    return fresh;
}

Result<OAuthTokens> Client::RequestRefresh(const std::string& refresh_token) {
    if (settings_.oauth.token_url.empty() || settings_.oauth.client_id.empty()) {
        return Fail(Errc::kInvalidArgument, "oauth settings incomplete portal=" + settings_.portal);
    }
    // auto-renewal.md: GET {oauth}/oauth/token/?grant_type=refresh_token&client_id&client_secret&refresh_token.
    HttpRequest request;
    request.method = "GET";
    request.content_type.clear();
    request.url = settings_.oauth.token_url;
    request.url += settings_.oauth.token_url.find('?') == std::string::npos ? '?' : '&';
    request.url += "grant_type=refresh_token&client_id=" + PercentEncode(settings_.oauth.client_id) +
                   "&client_secret=" + PercentEncode(settings_.oauth.client_secret) +
                   "&refresh_token=" + PercentEncode(refresh_token);

    auto sent = deps_.transport.Send(request);
    if (!sent) {
        Error error = sent.error();
        if (!AsErrc(error.code)) {
            error.code = make_error_code(Errc::kTransport);
        }
        error.detail = log::MaskUrlSecrets("oauth refresh: " + error.detail);
        return error;
    }
    auto parsed = json::Parse(sent->body);
    if (!parsed || !parsed->is_object()) {
        return Fail(sent->status >= 500 ? Errc::kServerError : Errc::kBadResponse,
                    fmt::format("oauth refresh http={} non-json body", sent->status));
    }
    if (const bj::value* error = json::Find(*parsed, "error")) {
        const std::string code = json::ToString(*error).value_or("");
        const std::string description = json::StringAt(*parsed, "error_description").value_or("");
        // error-codes.md (oauth): invalid_grant, invalid_client, ... mean re-authorise; a 5xx may pass.
        const Errc errc = sent->status >= 500 ? Errc::kServerError : Errc::kRefreshFailed;
        return Fail(errc,
                    fmt::format("oauth refresh http={} error={} description={}",
                                sent->status,
                                log::Quote(code),
                                log::Quote(description)));
    }
    if (sent->status >= 500) {
        return Fail(Errc::kServerError, fmt::format("oauth refresh http={}", sent->status));
    }
    auto access = json::StringAt(*parsed, "access_token");
    auto refresh = json::StringAt(*parsed, "refresh_token");
    if (!access || !refresh || access->empty() || refresh->empty()) {
        return Fail(Errc::kBadResponse, fmt::format("oauth refresh http={} without token pair", sent->status));
    }
    OAuthTokens tokens;
    tokens.access_token = std::move(*access);
    tokens.refresh_token = std::move(*refresh);
    if (const auto expires = json::IntAt(*parsed, "expires")) {
        tokens.expires_at = *expires * kSecondMs;
    } else if (const auto expires_in = json::IntAt(*parsed, "expires_in")) {
        tokens.expires_at = deps_.clock.Now() + *expires_in * kSecondMs;
    }
    tokens.client_endpoint = json::StringAt(*parsed, "client_endpoint").value_or("");
    return tokens;
}

Result<std::vector<bj::value>> Client::ListAll(std::string_view method,
                                               const bj::object& params,
                                               std::string_view items_key,
                                               std::size_t max_rows) {
    std::vector<bj::value> rows;
    bj::object page_params = params;
    std::optional<std::int64_t> start;
    for (;;) {
        if (start) {
            page_params["start"] = *start;
        }
        auto envelope = CallEnvelope(method, page_params);
        if (!envelope) {
            return envelope.error();
        }
        const bj::value* page = &envelope->result;
        if (!items_key.empty() && page->is_object()) {
            page = json::Find(*page, items_key);
        }
        if (page == nullptr || !page->is_array()) {
            return Fail(Errc::kBadResponse, fmt::format("method={} list without '{}' array", method, items_key));
        }
        for (const auto& row : page->get_array()) {
            rows.push_back(row);
            if (max_rows != 0 && rows.size() >= max_rows) {
                return rows;
            }
        }
        if (!envelope->next) {
            return rows;
        }
        // A `next` that does not move forward would loop forever; the portal is misbehaving.
        if (start && *envelope->next <= *start) {
            return Fail(Errc::kBadResponse, fmt::format("method={} next={} does not advance", method, *envelope->next));
        }
        start = envelope->next;
    }
}

Result<BatchResult> Client::CallBatch(const BatchBuilder& batch) {
    if (batch.Empty()) {
        return BatchResult{};
    }
    auto result = Call("batch", batch.Params());
    if (!result) {
        return result.error();
    }
    auto parsed = ParseBatchResult(batch, *result);
    if (!parsed) {
        return parsed.error();
    }
    for (const auto& call : batch.Calls()) {
        const auto it = parsed->by_key.find(call.key);
        if (it != parsed->by_key.end() && it->second.error) {
            CountError(call.method, ErrcOf(*it->second.error));
        }
    }
    return parsed;
}

Result<BatchResult> Client::CallBatches(std::vector<BatchCall> calls, bool halt) {
    auto batches = SplitIntoBatches(std::move(calls), halt);
    if (!batches) {
        return batches.error();
    }
    BatchResult merged;
    for (const auto& batch : *batches) {
        auto one = CallBatch(batch);
        if (!one) {
            return one.error();
        }
        for (auto& [key, sub] : one->by_key) {
            merged.by_key[key] = std::move(sub);
        }
    }
    return merged;
}

}  // namespace dispatch::b24
