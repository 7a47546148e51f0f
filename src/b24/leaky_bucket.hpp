#pragma once
// Client-side mirror of the portal's leaky bucket (limits.md: +1 per HTTP request, drains at 2/s (Enterprise 5/s),
// 503 QUERY_LIMIT_EXCEEDED once the counter passes 50 (Enterprise 250)). Pure (STYLE.md E4): the caller passes
// `now` and does the waiting. Not thread-safe; the Client guards it.

#include "core/clock.hpp"

namespace dispatch::b24 {

struct BucketSettings {
    double drain_per_second = 2.0;  // limits.md: Y, requests leaving the bucket per second
    double capacity = 50.0;         // limits.md: X, the threshold above which the portal answers 503
    double headroom = 5.0;          // other apps on the same server IP share the portal's counter
};

// The two documented plans (limits.md): Enterprise drains 5/s up to 250, every other plan 2/s up to 50.
BucketSettings StandardPlan(double headroom = 5.0);
BucketSettings EnterprisePlan(double headroom = 25.0);

class LeakyBucket {
public:
    explicit LeakyBucket(BucketSettings settings) : settings_(settings) {}

    // 0: the request may be sent now and has been counted. Otherwise how long to wait before asking again
    // (nothing is counted). Never negative.
    TimeMs TryAcquire(TimeMs now);
    // The portal answered 503 QUERY_LIMIT_EXCEEDED: it thinks the bucket is full, so assume it is.
    void OnLimitExceeded(TimeMs now);

    double Level(TimeMs now);
    const BucketSettings& Settings() const { return settings_; }

private:
    void Drain(TimeMs now);

    BucketSettings settings_;
    double level_ = 0.0;
    TimeMs last_ = 0;
    bool started_ = false;
};

}  // namespace dispatch::b24
