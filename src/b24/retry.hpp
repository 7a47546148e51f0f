#pragma once
// How long to wait before sending a failed call again, if at all. Pure: time, the attempt count and the random
// draw are inputs, so every decision is testable without waiting.

#include <optional>

#include "b24/errc.hpp"
#include "core/clock.hpp"

namespace dispatch::b24 {

struct RetrySettings {
    int max_attempts = 8;                       // sends of one call in total, the first included
    TimeMs base_delay_ms = 500;                 // backoff before the 2nd send; doubles for each further send
    TimeMs max_delay_ms = 30 * kSecondMs;       // cap of one backoff step
    double jitter = 0.5;                        // share of each step that is random: [d·(1−jitter), d]
    TimeMs budget_ms = 3 * kMinuteMs;           // total backoff one call may spend; beyond it the call fails
    TimeMs max_reset_wait_ms = 11 * kMinuteMs;  // OPERATION_TIME_LIMIT windows are 10 min (limits.md)
};

struct RetryInput {
    int attempts = 1;              // sends made so far (>= 1)
    Errc errc = Errc::kTransport;  // why the last send failed
    TimeMs now = 0;
    TimeMs waited_ms = 0;                           // backoff already spent on this call
    std::optional<TimeMs> reset_at = std::nullopt;  // time.operating_reset_at of a 429 answer, as TimeMs
    double random_unit = 0.0;                       // a draw from [0, 1)
};

class RetryPolicy {
public:
    explicit RetryPolicy(RetrySettings settings = {}) : settings_(settings) {}

    // nullopt: give up (not retryable, attempts or budget exhausted). Otherwise the wait before the next send.
    // Only RetryClass::kRetryCall codes are retried here; kRetryAfterAuth is the client's refresh path.
    std::optional<TimeMs> NextDelay(const RetryInput& input) const;

    // Exponential step for `attempts` sends so far, capped, before jitter.
    TimeMs BaseDelay(int attempts) const;

    const RetrySettings& Settings() const { return settings_; }

private:
    RetrySettings settings_;
};

}  // namespace dispatch::b24
