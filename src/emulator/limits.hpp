#pragma once
// Request-rate limiting and fault injection for /rest/ (CONTRACT §3, §13.1).
//  - LeakyBucket: per (portal, source IP) counter, +1 per HTTP request, drains `rate` per second of the emulator
//    clock; a request that would push it above `burst` gets 503 QUERY_LIMIT_EXCEEDED. Standard plan 2/s burst 50,
//    Enterprise 5/s burst 250 (limits.md). A batch is one request.
//  - FaultPlan: "answer the next N calls of method M with this error" — how tests inject OPERATION_TIME_LIMIT (429),
//    OVERLOAD_LIMIT, INTERNAL_SERVER_ERROR, … The per-method `operating` budget itself is not accounted (README).
// Both are guarded by the portal mutex held by the caller.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "emulator/api_error.hpp"

namespace dispatch::emulator {

class LeakyBucket {
public:
    LeakyBucket(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst) {}
    void Configure(double rate_per_s, double burst);
    // Counts one request from `key` at `now`; false when it must be refused.
    bool Admit(const std::string& key, TimeMs now);
    double Level(const std::string& key, TimeMs now) const;
    void Reset() { buckets_.clear(); }

private:
    struct State {
        double level = 0;
        TimeMs at = 0;
    };
    double rate_;
    double burst_;
    std::map<std::string, State> buckets_;
};

class FaultPlan {
public:
    // How long an injected OPERATION_TIME_LIMIT keeps the method blocked when the test does not say: the
    // 10-minute window of limits.md (operating_reset_at = first call of the oldest 1-minute bucket + 10 min).
    static constexpr TimeMs kDefaultResetInMs = 10 * kMinuteMs;

    // The next `times` calls of `method` ("*" = any method) answer with `error`. An OPERATION_TIME_LIMIT error
    // without its own `operating_reset_at` gets one `reset_in_ms` after the moment it is answered.
    void FailNext(std::string method, int times, ApiError error, TimeMs reset_in_ms = kDefaultResetInMs);
    // Consumes one planned failure for `method`, if any; `now` is the emulator clock.
    std::optional<ApiError> Take(const std::string& method, TimeMs now);
    void Clear() { plans_.clear(); }
    boost::json::array Describe() const;

private:
    struct Plan {
        int remaining = 0;
        ApiError error;
        TimeMs reset_in_ms = kDefaultResetInMs;
    };
    std::map<std::string, Plan> plans_;
};

}  // namespace dispatch::emulator
