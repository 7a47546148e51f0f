#include "b24/leaky_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace dispatch::b24 {

BucketSettings StandardPlan(double headroom) {
    return BucketSettings{.drain_per_second = 2.0, .capacity = 50.0, .headroom = headroom};
}

BucketSettings EnterprisePlan(double headroom) {
    return BucketSettings{.drain_per_second = 5.0, .capacity = 250.0, .headroom = headroom};
}

void LeakyBucket::Drain(TimeMs now) {
    if (!started_) {
        started_ = true;
        last_ = now;
        return;
    }
    // A clock that steps backwards (wall time adjusted) must not refill the bucket; it just drains nothing.
    if (now <= last_) {
        return;
    }
    const double drained = static_cast<double>(now - last_) * settings_.drain_per_second / 1000.0;
    level_ = std::max(0.0, level_ - drained);
    last_ = now;
}

TimeMs LeakyBucket::TryAcquire(TimeMs now) {
    Drain(now);
    // At least one request must always fit, or a misconfigured headroom would block forever.
    const double limit = std::max(1.0, settings_.capacity - settings_.headroom);
    if (level_ + 1.0 <= limit + 1e-9) {
        level_ += 1.0;
        return 0;
    }
    const double wait_ms = (level_ + 1.0 - limit) * 1000.0 / settings_.drain_per_second;
    return std::max<TimeMs>(1, static_cast<TimeMs>(std::ceil(wait_ms - 1e-6)));
}

void LeakyBucket::OnLimitExceeded(TimeMs now) {
    Drain(now);
    level_ = std::max(level_, settings_.capacity);
}

double LeakyBucket::Level(TimeMs now) {
    Drain(now);
    return level_;
}

}  // namespace dispatch::b24
