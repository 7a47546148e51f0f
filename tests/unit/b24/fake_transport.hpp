#pragma once
// A scripted Transport for unit tests: a handler function plays the portal (and the OAuth server), and every
// request is logged. No sockets, no threads of its own.

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "b24/errc.hpp"
#include "b24/sleeper.hpp"
#include "b24/transport.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"

namespace dispatch::b24::testing {

class FakeTransport final : public Transport {
public:
    using Handler = std::function<Result<HttpResponse>(const HttpRequest&)>;

    explicit FakeTransport(Handler handler = {}) : handler_(std::move(handler)) {}

    void SetHandler(Handler handler) {
        const std::lock_guard lock(mu_);
        handler_ = std::move(handler);
    }

    Result<HttpResponse> Send(const HttpRequest& request) override {
        Handler handler;
        {
            const std::lock_guard lock(mu_);
            requests_.push_back(request);
            handler = handler_;
        }
        if (!handler) {
            return Fail(Errc::kTransport, "no handler");
        }
        return handler(request);
    }

    std::vector<HttpRequest> Requests() const {
        const std::lock_guard lock(mu_);
        return requests_;
    }
    std::size_t Count() const {
        const std::lock_guard lock(mu_);
        return requests_.size();
    }

private:
    mutable std::mutex mu_;
    Handler handler_;
    std::vector<HttpRequest> requests_;
};

inline HttpResponse JsonResponse(unsigned status, const boost::json::value& body) {
    return HttpResponse{status, json::Dump(body), {}};
}

inline HttpResponse Ok(const boost::json::value& result) {
    return JsonResponse(200, boost::json::object{{"result", result}});
}

inline HttpResponse ApiError(unsigned status, std::string_view error, std::string_view description = "") {
    return JsonResponse(status, boost::json::object{{"error", error}, {"error_description", description}});
}

// The JSON body of a REST request as an object (empty when not JSON).
inline boost::json::object BodyOf(const HttpRequest& request) {
    auto parsed = json::Parse(request.body);
    if (!parsed || !parsed->is_object()) {
        return {};
    }
    return parsed->as_object();
}

// The method name: the last path segment of the URL.
inline std::string MethodOf(const HttpRequest& request) {
    const std::string url = request.url.substr(0, request.url.find('?'));
    return url.substr(url.rfind('/') + 1);
}

// A Sleeper that moves a ManualClock instead of sleeping, and remembers every wait.
class ClockSleeper final : public Sleeper {
public:
    explicit ClockSleeper(ManualClock& clock) : clock_(clock) {}
    void SleepFor(TimeMs ms) override {
        const std::lock_guard lock(mu_);
        waits_.push_back(ms);
        if (ms > 0) {
            clock_.Advance(ms);
        }
    }
    std::vector<TimeMs> Waits() const {
        const std::lock_guard lock(mu_);
        return waits_;
    }
    TimeMs Total() const {
        const std::lock_guard lock(mu_);
        TimeMs total = 0;
        for (const TimeMs w : waits_) {
            total += w;
        }
        return total;
    }

private:
    ManualClock& clock_;
    mutable std::mutex mu_;
    std::vector<TimeMs> waits_;
};

}  // namespace dispatch::b24::testing
