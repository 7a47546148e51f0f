#pragma once
// `/rest/…` without the transport: authentication (incoming webhook or OAuth access token), the leaky bucket,
// injected faults, method dispatch, and the success/error envelopes of CONTRACT §2. The HTTP layer (server.hpp)
// only parses the path and the parameters into a RestRequest and writes back the HttpReply.

#include <boost/json.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "emulator/api_error.hpp"
#include "emulator/limits.hpp"
#include "emulator/oauth.hpp"
#include "emulator/portal.hpp"

namespace dispatch::emulator {

class EventDispatcher;
class RestApi;

enum class AuthKind { kWebhook, kOAuth, kInternal };

struct Caller {
    AuthKind kind = AuthKind::kInternal;
    std::int64_t user_id = 1;
    bool automation = false;  // changes count as made by automation: events carry no tokens
};

struct CallContext {
    Portal& portal;
    RestApi& api;
    Caller caller;
    bool in_batch = false;
};

using Handler = std::function<MethodReply(CallContext&, const boost::json::object& params)>;

struct MethodInfo {
    std::string scope;      // webhook/app scope the method needs
    bool app_only = false;  // "Application context required" for webhooks
    Handler handler;
};

struct RestRequest {
    std::string method;  // with any ".json" suffix already stripped
    boost::json::object params;
    std::optional<std::int64_t> webhook_user;  // set for /rest/{user}/{secret}/{method}
    std::string webhook_secret;
    std::string source_ip = "127.0.0.1";
    bool https = true;
};

// One line of the request log (/_emu/requests).
struct RequestRecord {
    TimeMs at = 0;
    std::string method;
    std::string auth;  // webhook | oauth | none
    std::int64_t user_id = 0;
    int status = 0;
    std::string error;
};

class RestApi {
public:
    RestApi(Portal& portal, EventDispatcher* events);

    // Locks the portal for the call, then hands raised events to the dispatcher.
    HttpReply Handle(RestRequest request);

    // Runs a method as `caller` with no authentication, bucket or request log (the admin API acting as a user).
    // Locks the portal and dispatches raised events like Handle.
    MethodReply CallAs(const Caller& caller, std::string_view method, const boost::json::object& params);

    // For batch sub-calls: method lookup, context checks, faults, handler. The portal mutex is held.
    MethodReply Dispatch(CallContext& ctx, std::string_view method, const boost::json::object& params);

    LeakyBucket& Bucket() { return bucket_; }
    FaultPlan& Faults() { return faults_; }
    // The last `kLogSize` calls, oldest first. Needs the portal mutex.
    boost::json::array RequestLog() const;
    void ApplyPlanLimits();

    // The `time` block of every response (CONTRACT §2.2): `start` is the emulator clock when the call began,
    // `duration`/`processing` the real seconds it took (a manual clock does not move during a call, and a warped
    // one would inflate them), `finish` = start + duration.
    boost::json::object TimeBlock(TimeMs start, double elapsed_s) const;
    static constexpr std::size_t kLogSize = 2000;

private:
    void Flush();  // raised events → deliveries → dispatcher
    // Consumes the reply: a list page is moved into the body, not copied.
    HttpReply Envelope(MethodReply&& reply, TimeMs start, double elapsed_s) const;

    Portal& portal_;
    EventDispatcher* events_;
    std::map<std::string, MethodInfo, std::less<>> methods_;
    LeakyBucket bucket_;
    FaultPlan faults_;
    std::deque<RequestRecord> log_;
};

}  // namespace dispatch::emulator
