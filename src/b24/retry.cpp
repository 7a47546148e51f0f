#include "b24/retry.hpp"

#include <algorithm>
#include <cmath>

namespace dispatch::b24 {

TimeMs RetryPolicy::BaseDelay(int attempts) const {
    TimeMs delay = std::max<TimeMs>(0, settings_.base_delay_ms);
    for (int i = 1; i < attempts && delay < settings_.max_delay_ms; ++i) {
        delay *= 2;
    }
    return std::min(delay, settings_.max_delay_ms);
}

std::optional<TimeMs> RetryPolicy::NextDelay(const RetryInput& input) const {
    if (Classify(input.errc) != RetryClass::kRetryCall) {
        return std::nullopt;
    }
    if (input.attempts >= settings_.max_attempts) {
        return std::nullopt;
    }
    const TimeMs step = BaseDelay(input.attempts);
    const double jitter = std::clamp(settings_.jitter, 0.0, 1.0);
    const double unit = std::clamp(input.random_unit, 0.0, 1.0);
    // "Equal jitter": never below (1 − jitter) of the step, so a storm still spreads out but always backs off.
    TimeMs delay = static_cast<TimeMs>(std::llround(static_cast<double>(step) * (1.0 - jitter * (1.0 - unit))));
    if (input.errc == Errc::kOperationTimeLimit && input.reset_at) {
        // limits.md: the method stays refused until its oldest one-minute bucket leaves the window.
        const TimeMs until_reset = *input.reset_at - input.now;
        if (until_reset > settings_.max_reset_wait_ms) {
            return std::nullopt;
        }
        delay = std::max(delay, until_reset);
    }
    if (input.waited_ms + delay > settings_.budget_ms) {
        return std::nullopt;
    }
    return std::max<TimeMs>(0, delay);
}

}  // namespace dispatch::b24
