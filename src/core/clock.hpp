#pragma once
// Time inside dispatch is UTC milliseconds since the Unix epoch in an int64 (DESIGN.md §5), everywhere: storage,
// the SLA engine, timers, the emulator. Every component that needs "now" takes a Clock&; nothing calls
// std::chrono::system_clock directly, so tests and the demo can move time.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace dispatch {

using TimeMs = std::int64_t;  // UTC, milliseconds since 1970-01-01T00:00:00Z

constexpr TimeMs kSecondMs = 1000;
constexpr TimeMs kMinuteMs = 60 * kSecondMs;
constexpr TimeMs kHourMs = 60 * kMinuteMs;
constexpr TimeMs kDayMs = 24 * kHourMs;

class Clock {
public:
    virtual ~Clock() = default;
    virtual TimeMs Now() const = 0;
};

// The wall clock.
class SystemClock final : public Clock {
public:
    TimeMs Now() const override;
};

// Moves only when told. Thread-safe: a test thread advances it while server threads read it.
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimeMs start) : now_(start) {}
    TimeMs Now() const override { return now_.load(std::memory_order_acquire); }
    void Set(TimeMs t) { now_.store(t, std::memory_order_release); }
    void Advance(TimeMs by) { now_.fetch_add(by, std::memory_order_acq_rel); }

private:
    std::atomic<TimeMs> now_;
};

// Simulated time that runs `rate` times faster than real time from `start`, and can also be jumped forward
// (the demo plays a month in a minute). Reads a monotonic clock so a wall-clock step cannot move it backwards.
class WarpedClock final : public Clock {
public:
    WarpedClock(TimeMs start, double rate);
    TimeMs Now() const override;
    void Advance(TimeMs by);
    void SetRate(double rate);
    double Rate() const;

private:
    mutable std::mutex mu_;
    TimeMs base_sim_;
    std::chrono::steady_clock::time_point base_real_;
    double rate_;
};

}  // namespace dispatch
