#include "emulator/limits.hpp"

#include <algorithm>

namespace dispatch::emulator {

void LeakyBucket::Configure(double rate_per_s, double burst) {
    rate_ = rate_per_s;
    burst_ = burst;
}

bool LeakyBucket::Admit(const std::string& key, TimeMs now) {
    auto& s = buckets_[key];
    if (now > s.at) {
        s.level = std::max(0.0, s.level - rate_ * static_cast<double>(now - s.at) / 1000.0);
    }
    s.at = std::max(s.at, now);
    // limits.md: the counter grows by one per request and requests are blocked once it exceeds the threshold;
    // a refused request does not add to it (otherwise a client in backoff could never get back in).
    if (s.level + 1 > burst_) {
        return false;
    }
    s.level += 1;
    return true;
}

double LeakyBucket::Level(const std::string& key, TimeMs now) const {
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
        return 0;
    }
    const auto& s = it->second;
    return std::max(0.0, s.level - rate_ * static_cast<double>(std::max<TimeMs>(0, now - s.at)) / 1000.0);
}

void FaultPlan::FailNext(std::string method, int times, ApiError error, TimeMs reset_in_ms) {
    if (times <= 0) {
        plans_.erase(method);
        return;
    }
    plans_[std::move(method)] = Plan{times, std::move(error), reset_in_ms};
}

std::optional<ApiError> FaultPlan::Take(const std::string& method, TimeMs now) {
    if (plans_.empty()) {
        return std::nullopt;
    }
    for (const auto& key : {method, std::string("*")}) {
        auto it = plans_.find(key);
        if (it == plans_.end()) {
            continue;
        }
        ApiError e = it->second.error;
        const bool time_limit = e.code.is_string() && e.code.get_string() == "OPERATION_TIME_LIMIT";
        if (time_limit && e.operating_reset_at == 0) {
            e.operating_reset_at = (now + it->second.reset_in_ms) / kSecondMs;
        }
        if (--it->second.remaining <= 0) {
            plans_.erase(it);
        }
        return e;
    }
    return std::nullopt;
}

boost::json::array FaultPlan::Describe() const {
    boost::json::array out;
    for (const auto& [method, p] : plans_) {
        out.push_back(boost::json::object{{"method", method},
                                          {"remaining", p.remaining},
                                          {"status", p.error.status},
                                          {"error", p.error.code},
                                          {"error_description", p.error.description},
                                          {"reset_in_ms", p.reset_in_ms}});
    }
    return out;
}

}  // namespace dispatch::emulator
