#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dispatch::testing {

[[noreturn]] void ExecInChild(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    for (const auto& kv : env) {
        ::putenv(const_cast<char*>(kv.c_str()));
    }
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0) {
        Stop(SIGKILL, std::chrono::milliseconds(5000));
    }
    if (stdout_fd_ >= 0) {
        ::close(stdout_fd_);
    }
}

bool ChildProcess::Start(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env,
                         const std::string& stderr_path,
                         std::chrono::milliseconds timeout,
                         std::string& error) {
    // A restarted child (the same object started again) reports its own start line, not the previous one's.
    first_line_.clear();
    if (stdout_fd_ >= 0) {
        ::close(stdout_fd_);
        stdout_fd_ = -1;
    }
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) {
        error = std::string("pipe: ") + std::strerror(errno);
        return false;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        error = std::string("fork: ") + std::strerror(errno);
        return false;
    }
    if (pid == 0) {
        ::dup2(pipe_fds[1], STDOUT_FILENO);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        if (!stderr_path.empty()) {
            const int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, STDERR_FILENO);
                ::close(fd);
            }
        }
        ExecInChild(argv, env);
    }
    ::close(pipe_fds[1]);
    pid_ = pid;
    stdout_fd_ = pipe_fds[0];
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char c;
    while (true) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            error = "no start line within the timeout";
            return false;
        }
        pollfd pfd{stdout_fd_, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
            continue;
        }
        const ssize_t n = ::read(stdout_fd_, &c, 1);
        if (n <= 0) {
            error = "exited before printing its start line";
            int status = 0;
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
            return false;
        }
        if (c == '\n') {
            return true;
        }
        first_line_ += c;
    }
}

int ChildProcess::Stop(int sig, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) {
        return -1;
    }
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return status;
        }
        ::usleep(2000);  // waiting for a process to exit (I/O), not for time to pass in the code under test
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
}

Finished RunToEnd(const std::vector<std::string>& argv,
                  const std::vector<std::string>& env,
                  const std::string& dir,
                  std::chrono::milliseconds timeout) {
    const std::string out = dir + "/out.txt";
    const std::string err = dir + "/err.txt";
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(o, 1);
        ::dup2(e, 2);
        ExecInChild(argv, env);
    }
    Finished finished;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::waitpid(pid, &status, WNOHANG) != pid) {
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            finished.timed_out = true;
            break;
        }
        ::usleep(2000);  // a process of our own finishing: nothing to be woken by
    }
    finished.exit = !finished.timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const auto slurp = [](const std::string& path) {
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    };
    finished.out = slurp(out);
    finished.err = slurp(err);
    return finished;
}

}  // namespace dispatch::testing
