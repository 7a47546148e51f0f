#include "support/test_support.hpp"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace dispatch::testing {

std::string SourcePath(const std::string& relative) { return std::string(DISPATCH_SOURCE_DIR) + "/" + relative; }
std::string BinaryPath(const std::string& relative) { return std::string(DISPATCH_BINARY_DIR) + "/" + relative; }

std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TempDir::TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("dispatch-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
             std::to_string(rd() % 100000));
    std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

::testing::AssertionResult WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                                   const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) {
            return ::testing::AssertionSuccess();
        }
        // Polling an I/O outcome, not letting time pass for the code under test.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (done()) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "timed out after " << timeout.count() << " ms waiting for " << what;
}

}  // namespace dispatch::testing
