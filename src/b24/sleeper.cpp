#include "b24/sleeper.hpp"

#include <chrono>
#include <thread>

namespace dispatch::b24 {

void SteadySleeper::SleepFor(TimeMs ms) {
    if (ms <= 0) {
        return;
    }
    // sleep_for is specified against a steady clock.
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace dispatch::b24
