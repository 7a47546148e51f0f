#pragma once
// Every wait of the client (bucket, backoff, operating_reset_at) goes through a Sleeper, so tests replace real
// sleeping with moving a ManualClock.

#include <functional>

#include "core/clock.hpp"

namespace dispatch::b24 {

class Sleeper {
public:
    virtual ~Sleeper() = default;
    // Blocks the calling thread for `ms` milliseconds (0 or less returns at once). Must be thread-safe.
    virtual void SleepFor(TimeMs ms) = 0;
};

// Sleeps on std::chrono::steady_clock, so a wall-clock step cannot stretch or shorten a wait.
class SteadySleeper final : public Sleeper {
public:
    void SleepFor(TimeMs ms) override;
};

// Calls a function instead of sleeping (tests: advance a ManualClock and record the wait).
class FunctionSleeper final : public Sleeper {
public:
    explicit FunctionSleeper(std::function<void(TimeMs)> fn) : fn_(std::move(fn)) {}
    void SleepFor(TimeMs ms) override { fn_(ms); }

private:
    std::function<void(TimeMs)> fn_;
};

}  // namespace dispatch::b24
