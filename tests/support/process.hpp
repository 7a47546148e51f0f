#pragma once
// Runs one of our executables as a child process for integration tests: a service (dispatchd, b24emu) whose JSON
// start line it reads and which it can SIGTERM or SIGKILL, or a command (dispatchctl) run to its end.

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
    bool Start(const std::vector<std::string>& argv,
               const std::vector<std::string>& env,
               const std::string& stderr_path,
               std::chrono::milliseconds timeout,
               std::string& error);

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

// In a forked child, with its stdout and stderr in place: adds `env` ("K=V") and becomes argv[0] (a path); exits
// with 127 when that fails, never returns.
[[noreturn]] void ExecInChild(const std::vector<std::string>& argv, const std::vector<std::string>& env);

// What a command run to its end left: its exit code (-1 when it did not exit normally) and what it printed.
struct Finished {
    int exit = -1;
    std::string out;
    std::string err;
    bool timed_out = false;  // killed after `timeout`
};

// Runs `argv` (argv[0] a path) with the extra environment `env` ("K=V") until it exits, at most `timeout`; stdout
// and stderr pass through out.txt and err.txt in `dir`.
Finished RunToEnd(const std::vector<std::string>& argv,
                  const std::vector<std::string>& env,
                  const std::string& dir,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace dispatch::testing
