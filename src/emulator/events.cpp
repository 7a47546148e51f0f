#include "emulator/events.hpp"

#include <chrono>

#include "core/form.hpp"
#include "core/log.hpp"
#include "emulator/oauth.hpp"

namespace dispatch::emulator {
namespace bj = boost::json;

namespace {

constexpr log::Logger kLog("emulator");
constexpr std::size_t kLogSize = 5000;
constexpr const char* kDynamicDocument = "Bitrix\\Crm\\Integration\\BizProc\\Document\\Dynamic";

// _includes/auth-params-in-events.md. `with_tokens` is false when the change came from automation; then no
// token can be issued (events/index.md). refresh_token only where the contract says it is sent (README, §14.3).
bj::object AuthBlock(Portal& portal, std::int64_t user_id, bool with_tokens, bool with_refresh) {
    bj::object auth;
    if (with_tokens) {
        if (with_refresh) {
            const auto pair = IssueTokenPair(portal, user_id);
            auth["access_token"] = pair.access_token;
            auth["expires"] = std::to_string(pair.expires / 1000);
            auth["expires_in"] = std::to_string(kAccessTokenLifetimeMs / 1000);
            auth["refresh_token"] = pair.refresh_token;
        } else {
            auth["access_token"] = IssueAccessToken(portal, user_id);
            auth["expires"] = std::to_string((portal.Now() + kAccessTokenLifetimeMs) / 1000);
            auth["expires_in"] = std::to_string(kAccessTokenLifetimeMs / 1000);
        }
        auth["scope"] = portal.State().app.scope;
    }
    auth["domain"] = portal.Domain();
    auth["server_endpoint"] = portal.ServerEndpoint();
    auth["status"] = "L";
    auth["client_endpoint"] = portal.ClientEndpoint();
    auth["member_id"] = portal.State().member_id;
    if (with_tokens) {
        auth["user_id"] = std::to_string(user_id);
    }
    auth["application_token"] = portal.State().app.application_token;
    return auth;
}

std::string Ts(const Portal& portal) { return std::to_string(portal.Now() / 1000); }

}  // namespace

std::vector<Delivery> BuildDeliveries(Portal& portal,
                                      const std::vector<DomainEvent>& events,
                                      const std::vector<RobotCall>& robots) {
    std::vector<Delivery> out;
    const TimeMs now = portal.Now();
    for (const auto& e : events) {
        const std::string specific = e.event + "_" + std::to_string(e.entity_type_id);
        for (const auto& [id, b] : portal.State().bindings) {
            if (b.event != e.event && b.event != specific) {
                continue;
            }
            const std::int64_t token_user = b.auth_type != 0 ? b.auth_type : e.user_id;
            bj::object body{{"event", b.event},
                            {"event_handler_id", std::to_string(b.id)},
                            {"data",
                             bj::object{{"FIELDS",
                                         bj::object{{"ID", std::to_string(e.item_id)},
                                                    {"ENTITY_TYPE_ID", std::to_string(e.entity_type_id)}}}}},
                            {"ts", Ts(portal)},
                            {"auth", AuthBlock(portal, token_user, !e.automation, false)}};
            out.push_back(Delivery{0, "event", b.event, b.handler, form::Encode(body), now});
        }
    }
    for (const auto& r : robots) {
        auto it = portal.State().robots.find(r.placement.code);
        if (it == portal.State().robots.end()) {
            continue;  // the robot was deleted after it was placed: nothing runs
        }
        const auto& robot = it->second;
        RobotRun run;
        run.workflow_id = portal.RandomHex(24);
        run.event_token = run.workflow_id + "|A" + portal.RandomHex(8) + "|" + portal.RandomHex(32);
        run.code = robot.code;
        run.entity_type_id = r.entity_type_id;
        run.item_id = r.item_id;
        const auto doc_type = "DYNAMIC_" + std::to_string(r.entity_type_id);
        bj::object body{
            {"workflow_id", run.workflow_id},
            {"code", robot.code},
            {"document_id", bj::array{"crm", kDynamicDocument, doc_type + "_" + std::to_string(r.item_id)}},
            {"document_type", bj::array{"crm", kDynamicDocument, doc_type}},
            {"event_token", run.event_token},
        };
        if (!r.placement.properties.empty()) {
            body["properties"] = r.placement.properties;
        }
        body["use_subscription"] = robot.use_subscription ? "Y" : "N";
        body["timeout_duration"] = "0";
        body["ts"] = Ts(portal);
        const std::int64_t token_user = robot.auth_user_id != 0 ? robot.auth_user_id : r.user_id;
        body["auth"] = AuthBlock(portal, token_user, true, true);
        portal.State().robot_runs[run.event_token] = run;
        out.push_back(Delivery{0, "robot", robot.code, robot.handler, form::Encode(body), now});
    }
    return out;
}

Delivery BuildInstallCallback(Portal& portal, std::int64_t user_id) {
    auto& app = portal.State().app;
    Delivery d;
    d.kind = "install";
    d.event = "ONAPPINSTALL";
    d.url = app.install_handler;
    d.due = portal.Now();
    bj::object body{{"event", "ONAPPINSTALL"},
                    {"data", bj::object{{"VERSION", "1"}, {"ACTIVE", "Y"}, {"INSTALLED", "Y"}, {"LANGUAGE_ID", "en"}}},
                    {"ts", Ts(portal)},
                    {"auth", AuthBlock(portal, user_id, true, true)}};
    d.body = form::Encode(body);
    app.installed = true;
    return d;
}

EventDispatcher::EventDispatcher(ClockControl& clock, Sender sender, std::uint64_t seed)
    : clock_(clock), sender_(std::move(sender)), rng_(seed) {}

EventDispatcher::~EventDispatcher() { Stop(); }

void EventDispatcher::Start() {
    std::lock_guard lock(mu_);
    if (worker_.joinable()) {
        return;
    }
    stop_ = false;
    worker_ = std::thread([this] { Run(); });
}

void EventDispatcher::Stop() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) {
        worker_.join();
    }
}

void EventDispatcher::AddRecord(Record r) {
    log_.push_back(std::move(r));
    if (log_.size() > kLogSize) {
        log_.pop_front();
    }
}

void EventDispatcher::Enqueue(std::vector<Delivery> deliveries) {
    {
        std::lock_guard lock(mu_);
        std::uniform_real_distribution<double> share(0.0, 1.0);
        for (auto& d : deliveries) {
            d.id = ++next_id_;
            d.due += delay_;
            if (drop_share_ > 0 && share(rng_) < drop_share_) {
                // Lost on the portal side: the handler never sees it (events are at most once).
                AddRecord(Record{std::move(d), "dropped", 0, clock_.Now()});
                continue;
            }
            queue_.push_back(std::move(d));
        }
    }
    cv_.notify_all();
}

std::size_t EventDispatcher::DeliverDue() {
    std::lock_guard send_lock(send_mu_);
    std::size_t attempted = 0;
    for (;;) {
        Delivery d;
        Sender sender;
        {
            std::lock_guard lock(mu_);
            if (queue_.empty() || queue_.front().due > clock_.Now()) {
                return attempted;
            }
            d = std::move(queue_.front());
            queue_.pop_front();
            sender = sender_;
        }
        ++attempted;
        Record rec{d, "failed", 0, clock_.Now()};
        if (sender && !d.url.empty()) {
            auto res = sender(d.url, d.body);
            if (res) {
                rec.status = *res;
                rec.outcome = (*res >= 200 && *res < 300) ? "delivered" : "failed";
            } else {
                DISPATCH_LOG_LIMITED_WARN(kLog,
                                          "delivery failed",
                                          "kind={} event={} error={}",
                                          d.kind,
                                          d.event,
                                          log::Quote(res.error().detail));
            }
        }
        // No retry whatever happened (events/index.md: "no retries").
        std::lock_guard lock(mu_);
        AddRecord(std::move(rec));
    }
}

void EventDispatcher::Run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
        // Poll while something waits for the emulator clock (a manual clock moves without notifying us).
        cv_.wait_for(lock, std::chrono::milliseconds(queue_.empty() ? 200 : 10));
        if (stop_) {
            break;
        }
        if (!queue_.empty() && queue_.front().due <= clock_.Now()) {
            lock.unlock();
            DeliverDue();
            lock.lock();
        }
    }
}

void EventDispatcher::SetDropShare(double share) {
    std::lock_guard lock(mu_);
    drop_share_ = share < 0 ? 0 : (share > 1 ? 1 : share);
}

void EventDispatcher::SetDelay(TimeMs delay) {
    std::lock_guard lock(mu_);
    delay_ = delay < 0 ? 0 : delay;
}

void EventDispatcher::SetSender(Sender sender) {
    std::lock_guard lock(mu_);
    sender_ = std::move(sender);
}

std::size_t EventDispatcher::Pending() const {
    std::lock_guard lock(mu_);
    return queue_.size();
}

bj::array EventDispatcher::Log() const {
    std::lock_guard lock(mu_);
    bj::array out;
    for (const auto& r : log_) {
        out.push_back(bj::object{{"id", r.delivery.id},
                                 {"kind", r.delivery.kind},
                                 {"event", r.delivery.event},
                                 {"url", r.delivery.url},
                                 {"body", r.delivery.body},
                                 {"outcome", r.outcome},
                                 {"status", r.status},
                                 {"at_ms", r.at}});
    }
    return out;
}

bj::object EventDispatcher::Faults() const {
    std::lock_guard lock(mu_);
    return bj::object{{"drop_share", drop_share_}, {"delay_ms", delay_}, {"pending", queue_.size()}};
}

}  // namespace dispatch::emulator
