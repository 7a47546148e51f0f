#pragma once
// Helpers every test binary may use. Real waits happen only on I/O, through WaitFor with a deadline; time that
// the code under test reads comes from a ManualClock, never from sleeping.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "core/error.hpp"

namespace dispatch::testing {

// Path of a file in the source tree: SourcePath("workplace/sla.json").
std::string SourcePath(const std::string& relative);
// Path in the build tree (certificates generated at configure time live here).
std::string BinaryPath(const std::string& relative);
// A file's whole content, bytes as they are; "" when it cannot be read.
std::string Slurp(const std::string& path);

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& Path() const { return path_; }
    std::string File(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// Polls `done` every few milliseconds until it returns true or `timeout` passes (for I/O only: a server answering,
// a process exiting). The failure message says what was awaited.
::testing::AssertionResult WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                                   const std::string& what);

}  // namespace dispatch::testing

namespace dispatch {
// gtest prints values through ADL-found PrintTo; without this it falls back to Boost's operator<< for result<T>,
// which needs T itself to be printable. Found through the associated namespace of dispatch::Error.
template <class T>
void PrintTo(const boost::system::result<T, Error>& r, std::ostream* os) {
    if (r.has_value()) {
        *os << "ok";
    } else {
        *os << r.error();
    }
}
}  // namespace dispatch

// EXPECT_THAT(result, IsOk());  EXPECT_THAT(result, HasErrc(b24::Errc::kNotFound));
MATCHER(IsOk, "is ok") {
    if (arg.has_value()) {
        return true;
    }
    *result_listener << "error " << arg.error().code.category().name() << ":" << arg.error().code.value() << " ("
                     << arg.error().code.message() << ") " << arg.error().detail;
    return false;
}

MATCHER_P(HasErrc, errc, "fails with the given code") {
    if (arg.has_value()) {
        *result_listener << "is ok";
        return false;
    }
    *result_listener << "error " << arg.error().code.category().name() << ":" << arg.error().code.value() << " "
                     << arg.error().detail;
    return arg.error().code == make_error_code(errc);
}
