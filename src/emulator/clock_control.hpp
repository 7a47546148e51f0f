#pragma once
// The emulator's clock plus the knobs the admin API turns (/_emu/clock). Wraps one of core's clocks: a
// ManualClock (tests), a WarpedClock (the demo: N simulated seconds per real second) or any read-only Clock.

#include <variant>

#include "core/clock.hpp"

namespace dispatch::emulator {

class ClockControl {
public:
    explicit ClockControl(ManualClock& clock) : clock_(&clock) {}
    explicit ClockControl(WarpedClock& clock) : clock_(&clock) {}
    explicit ClockControl(const Clock& clock) : clock_(&clock) {}

    TimeMs Now() const;
    const Clock& Get() const;
    // Each returns false when the wrapped clock cannot do it (a read-only clock; Set on a warped clock backwards).
    bool Advance(TimeMs by);
    bool Set(TimeMs t);
    bool SetRate(double rate);
    // 0 for a manual clock, the rate for a warped one, 1 for anything else.
    double Rate() const;

private:
    std::variant<ManualClock*, WarpedClock*, const Clock*> clock_;
};

}  // namespace dispatch::emulator
