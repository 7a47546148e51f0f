#include "core/clock.hpp"

namespace dispatch {

TimeMs SystemClock::Now() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

WarpedClock::WarpedClock(TimeMs start, double rate)
    : base_sim_(start), base_real_(std::chrono::steady_clock::now()), rate_(rate) {}

TimeMs WarpedClock::Now() const {
    std::lock_guard lock(mu_);
    const auto real = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - base_real_);
    return base_sim_ + static_cast<TimeMs>(real.count() * rate_);
}

void WarpedClock::Advance(TimeMs by) {
    std::lock_guard lock(mu_);
    base_sim_ += by;
}

void WarpedClock::SetRate(double rate) {
    std::lock_guard lock(mu_);
    // Re-anchor so that changing the rate never makes time jump.
    const auto now_real = std::chrono::steady_clock::now();
    const auto real = std::chrono::duration<double, std::milli>(now_real - base_real_);
    base_sim_ += static_cast<TimeMs>(real.count() * rate_);
    base_real_ = now_real;
    rate_ = rate;
}

double WarpedClock::Rate() const {
    std::lock_guard lock(mu_);
    return rate_;
}

}  // namespace dispatch
