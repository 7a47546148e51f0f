#pragma once
// Runs one of our executables as a child process for integration tests (dispatchd, b24emu): reads the JSON line
// it prints on start, and can SIGTERM or SIGKILL it.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace dispatch::testing {

class ChildProcess {
public:
    ChildProcess() = default;
    ~ChildProcess();  // SIGKILL if still running
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Starts `argv[0]` with `argv`, extra environment `env` ("K=V"), stderr to `stderr_path` (or inherited when
    // empty). Returns false (with `error`) when it cannot start or prints no line within `timeout`.
    bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               const std::string& stderr_path, std::chrono::milliseconds timeout, std::string& error);

    const std::string& FirstLine() const { return first_line_; }
    pid_t Pid() const { return pid_; }
    bool Running() const { return pid_ > 0; }

    // Sends `sig` and waits (up to `timeout`) for the exit; returns the exit status as waitpid reports it, or -1.
    int Stop(int sig, std::chrono::milliseconds timeout);

private:
    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    std::string first_line_;
};

}  // namespace dispatch::testing
