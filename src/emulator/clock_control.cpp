#include "emulator/clock_control.hpp"

namespace dispatch::emulator {

const Clock& ClockControl::Get() const {
    return std::visit([](auto* c) -> const Clock& { return *c; }, clock_);
}

TimeMs ClockControl::Now() const { return Get().Now(); }

bool ClockControl::Advance(TimeMs by) {
    if (by < 0) {
        return false;
    }
    if (auto* m = std::get_if<ManualClock*>(&clock_)) {
        (*m)->Advance(by);
        return true;
    }
    if (auto* w = std::get_if<WarpedClock*>(&clock_)) {
        (*w)->Advance(by);
        return true;
    }
    return false;
}

bool ClockControl::Set(TimeMs t) {
    if (auto* m = std::get_if<ManualClock*>(&clock_)) {
        (*m)->Set(t);
        return true;
    }
    if (auto* w = std::get_if<WarpedClock*>(&clock_)) {
        // A warped clock only moves forward (timers and tokens downstream assume monotonic time).
        const TimeMs now = (*w)->Now();
        if (t < now) {
            return false;
        }
        (*w)->Advance(t - now);
        return true;
    }
    return false;
}

bool ClockControl::SetRate(double rate) {
    if (auto* w = std::get_if<WarpedClock*>(&clock_)) {
        if (rate < 0) {
            return false;
        }
        (*w)->SetRate(rate);
        return true;
    }
    return false;
}

double ClockControl::Rate() const {
    if (std::holds_alternative<ManualClock*>(clock_)) {
        return 0;
    }
    if (auto* w = std::get_if<WarpedClock*>(&clock_)) {
        return (*w)->Rate();
    }
    return 1;
}

}  // namespace dispatch::emulator
