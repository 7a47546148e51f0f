// bench_http: how fast dispatchd acknowledges events, next to nginx serving a static 200 on the same machine in the
// same run (same wrk, same connections, same duration, TLS keep-alive both). dispatchd runs as the real binary on a
// real SQLite file with one installed portal; every body is a valid, distinct event, so every 200 is a committed
// inbox row. After the run the inbox is counted: every 200 that wrk saw must be a row.
//
// Prints (scripts/bench.sh keeps these lines):
//   bench http.acks_per_s <v> 1/s          bench http.ack_p99_ms <v> ms      bench http.ack_p50_ms <v> ms
//   bench http.nginx_per_s <v> 1/s         bench http.nginx_p99_ms <v> ms    bench http.ack_vs_nginx <v> x
//   bench http.acks_durable_ratio <v> x    (inbox rows / 200s; >= 1: the surplus, at most one per connection, is
//                                           requests wrk abandoned at the deadline that the server still stored)
//   bench http.disk_fdatasync_ms <v> ms    (median fdatasync of the database's disk: the floor of any durable ack)
//   bench http.ack_cpu_us <v> us           bench http.nginx_cpu_us <v> us    (server CPU per answered request)
//   bench http.refused_per_s <v> 1/s       bench http.refused_vs_nginx <v> x (the same event bodies with a wrong
//                                           token: parsed and checked, answered 401, nothing stored; the ceiling
//                                           of the acks without any durability)
//   bench http.healthz_per_s <v> 1/s       bench http.healthz_vs_nginx <v> x (GET /healthz against nginx's GET /,
//                                           both without the events script: what the HTTP and TLS layers alone
//                                           reach, the ceiling of http.ack_vs_nginx on this machine)
// Environment: DISPATCH_BENCH_HTTP_SECONDS (10), _CONNECTIONS (32), _WRK_THREADS (1), _SERVER_THREADS (2),
// _DB_DIR (a fresh directory under the system temp dir; put it on the disk you mean to measure).
// Everything else goes to stderr.

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "store/store.hpp"
#include "support/process.hpp"

namespace {

using namespace dispatch;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kMember = "bench-member";
constexpr const char* kToken = "bench-application-token";

int EnvInt(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

std::string Which(const std::string& name) {
    for (const char* dir : {"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"}) {
        const std::string path = std::string(dir) + "/" + name;
        if (::access(path.c_str(), X_OK) == 0) {
            return path;
        }
    }
    return {};
}

int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        return 0;
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool PortAccepts(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<unsigned short>(port));
    const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (fd >= 0) {
        ::close(fd);
    }
    return ok;
}

// Median of `n` 4 KiB overwrite+fdatasync rounds in `dir`: what one durable commit costs at least on this disk.
double MedianFdatasyncMs(const fs::path& dir, int n) {
    const std::string path = (dir / "fsync-probe").string();
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return -1;
    }
    std::vector<char> block(4096, 'x');
    (void)!::write(fd, block.data(), block.size());
    ::fsync(fd);
    std::vector<double> ms;
    for (int i = 0; i < n; ++i) {
        const auto start = std::chrono::steady_clock::now();
        (void)!::pwrite(fd, block.data(), block.size(), 0);
        ::fdatasync(fd);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    ::close(fd);
    fs::remove(path);
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

// CPU seconds (user + system) used so far by `pid` and its direct children (nginx's workers), from /proc.
double CpuSeconds(pid_t pid) {
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    double total = 0;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::ifstream stat(entry.path() / "stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        const std::size_t close = text.rfind(')');
        if (close == std::string::npos) {
            continue;
        }
        // After "(comm)": state ppid ... utime is field 14 and stime field 15 of the whole line.
        std::istringstream rest(text.substr(close + 2));
        std::string state;
        long long ppid = 0;
        rest >> state >> ppid;
        if (std::stoll(name) != pid && ppid != pid) {
            continue;
        }
        std::string skip;
        for (int i = 0; i < 9; ++i) {
            rest >> skip;
        }
        long long utime = 0;
        long long stime = 0;
        rest >> utime >> stime;
        total += static_cast<double>(utime + stime) / tick;
    }
    return total;
}

struct WrkResult {
    std::int64_t requests = 0;
    std::int64_t non2xx = 0;
    std::int64_t socket_errors = 0;
    double seconds = 0;
    double p50_ms = 0;
    double p99_ms = 0;

    double PerSecond() const { return seconds > 0 ? static_cast<double>(requests - non2xx) / seconds : 0; }
    double AnsweredPerSecond() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
};

// `events`: every request is an event body from events.lua, signed with `token`; otherwise plain GETs (wrk's own
// loop, and a script that only reports).
std::optional<WrkResult> RunWrk(const std::string& wrk,
                                const std::string& url,
                                int threads,
                                int connections,
                                int seconds,
                                bool events = true,
                                std::string_view token = kToken) {
    const std::string cmd = fmt::format("{} -t{} -c{} -d{}s --timeout 10s -s {} {} -- {} {} {} 2>&1",
                                        wrk,
                                        threads,
                                        connections,
                                        seconds,
                                        BENCH_HTTP_LUA,
                                        url,
                                        kMember,
                                        token,
                                        events ? "events" : "get");
    std::cerr << "$ " << cmd << "\n";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (pipe == nullptr) {
        return std::nullopt;
    }
    std::optional<WrkResult> result;
    char line[4096];
    while (std::fgets(line, sizeof(line), pipe) != nullptr) {
        std::cerr << line;
        const std::string text(line);
        constexpr std::string_view kPrefix = "wrk-result ";
        if (text.rfind(kPrefix, 0) != 0) {
            continue;
        }
        auto parsed = json::Parse(text.substr(kPrefix.size()));
        if (!parsed) {
            continue;
        }
        auto at = [&](const char* key) { return json::IntAt(*parsed, key).value_or(0); };
        WrkResult r;
        r.requests = at("requests");
        r.non2xx = at("non2xx");
        r.socket_errors = at("connect") + at("read") + at("write") + at("timeout");
        r.seconds = static_cast<double>(at("duration_us")) / 1e6;
        r.p50_ms = static_cast<double>(at("p50_us")) / 1000.0;
        r.p99_ms = static_cast<double>(at("p99_us")) / 1000.0;
        result = r;
    }
    const int status = ::pclose(pipe);
    if (status != 0) {
        std::cerr << "wrk exited with status " << status << "\n";
    }
    return result;
}

// nginx-light as its own unprivileged process: a private prefix with config, certificate copies, temp paths and
// logs; when we are root it drops to nobody before exec, so nothing of it runs privileged.
class Nginx {
public:
    bool Start(const std::string& binary, const fs::path& dir, int port, int workers) {
        dir_ = dir;
        fs::create_directories(dir / "temp");
        fs::copy_file(fs::path(BENCH_CERT_DIR) / "server.pem", dir / "server.pem");
        fs::copy_file(fs::path(BENCH_CERT_DIR) / "server.key", dir / "server.key");
        const std::string d = dir.string();
        std::ofstream(dir / "nginx.conf") << fmt::format(
            R"(worker_processes {0};
daemon off;
pid {1}/nginx.pid;
error_log {1}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {1}/temp/body;
    proxy_temp_path {1}/temp/proxy;
    fastcgi_temp_path {1}/temp/fastcgi;
    uwsgi_temp_path {1}/temp/uwsgi;
    scgi_temp_path {1}/temp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{2} ssl;
        ssl_certificate {1}/server.pem;
        ssl_certificate_key {1}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            default_type application/json;
            return 200 '{{"status":"ok"}}';
        }}
    }}
}}
)",
            workers,
            d,
            port);
        uid_t uid = ::geteuid();
        gid_t gid = ::getegid();
        if (uid == 0) {
            const passwd* nobody = ::getpwnam("nobody");
            if (nobody == nullptr) {
                std::cerr << "nginx: no user 'nobody' to run as\n";
                return false;
            }
            uid = nobody->pw_uid;
            gid = nobody->pw_gid;
            ::chmod(d.c_str(), 0755);
            for (const auto& entry : fs::recursive_directory_iterator(dir)) {
                (void)!::chown(entry.path().c_str(), uid, gid);
            }
            (void)!::chown(d.c_str(), uid, gid);
        }
        pid_ = ::fork();
        if (pid_ < 0) {
            return false;
        }
        if (pid_ == 0) {
            if (::geteuid() == 0) {
                if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
                    ::_exit(126);
                }
            }
            const int log = ::open((d + "/stderr.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (log >= 0) {
                ::dup2(log, STDERR_FILENO);
                ::dup2(log, STDOUT_FILENO);
            }
            ::execl(binary.c_str(),
                    binary.c_str(),
                    "-p",
                    d.c_str(),
                    "-c",
                    (d + "/nginx.conf").c_str(),
                    "-e",
                    (d + "/error.log").c_str(),
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        for (int i = 0; i < 500; ++i) {  // waiting for a process to listen (I/O), at most 5 s
            if (PortAccepts(port)) {
                return true;
            }
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                std::ifstream err(dir / "stderr.log");
                std::cerr << "nginx exited at start:\n" << err.rdbuf() << "\n";
                return false;
            }
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }

    pid_t Pid() const { return pid_; }

    ~Nginx() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }

private:
    fs::path dir_;
    pid_t pid_ = -1;
};

bool SeedPortal(const std::string& db_path) {
    SystemClock clock;
    store::SqliteOptions options;
    options.path = db_path;
    auto db = store::OpenSqliteStore(options, clock);
    if (!db) {
        std::cerr << "open store: " << db.error().detail << "\n";
        return false;
    }
    store::Portal portal;
    portal.member_id = kMember;
    portal.domain = "bench.bitrix24.ru";
    portal.client_endpoint = "https://bench.bitrix24.ru/rest/";
    portal.application_token = kToken;
    portal.auth_mode = store::AuthMode::kOAuth;
    portal.installed_at = portal.updated_at = clock.Now();
    auto up = (*db)->Portals().Upsert(portal);
    (*db)->Close();
    if (!up) {
        std::cerr << "seed portal: " << up.error().detail << "\n";
    }
    return up.has_value();
}

// Every event row, whatever its state: a worker may have claimed or finished some meanwhile.
std::optional<std::int64_t> InboxRows(const std::string& db_path) {
    sqlite3* db = nullptr;
    std::optional<std::int64_t> rows;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM inbox WHERE kind = 'event'", -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            rows = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return rows;
}

}  // namespace

int main() {
    const int seconds = EnvInt("DISPATCH_BENCH_HTTP_SECONDS", 10);
    const int connections = EnvInt("DISPATCH_BENCH_HTTP_CONNECTIONS", 32);
    const int wrk_threads = EnvInt("DISPATCH_BENCH_HTTP_WRK_THREADS", 1);
    const int server_threads = EnvInt("DISPATCH_BENCH_HTTP_SERVER_THREADS", 2);
    const std::string wrk = Which("wrk");
    const std::string nginx_bin = Which("nginx");
    if (wrk.empty() || nginx_bin.empty()) {
        std::cerr << "bench_http: needs wrk and nginx (scripts/setup.sh --bench)\n";
        return 1;
    }

    const char* db_dir_env = std::getenv("DISPATCH_BENCH_HTTP_DB_DIR");
    const fs::path work = fs::temp_directory_path() / fmt::format("dispatch-bench-http-{}", ::getpid());
    const fs::path db_dir =
        db_dir_env != nullptr && *db_dir_env != '\0' ? fs::path(db_dir_env) / work.filename() : work / "db";
    fs::create_directories(db_dir);
    fs::create_directories(work);
    const std::string db_path = (db_dir / "dispatch.db").string();
    struct Cleanup {
        fs::path a, b;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(a, ec);
            fs::remove_all(b, ec);
        }
    } cleanup{work, db_dir};

    const double fsync_ms = MedianFdatasyncMs(db_dir, 50);
    std::cerr << fmt::format("database {} (median fdatasync {:.2f} ms)\n", db_path, fsync_ms);
    if (!SeedPortal(db_path)) {
        return 1;
    }

    // The flows worker is switched off: this measures the acknowledgement path, and the worker would only fail
    // on a portal that does not exist.
    std::ofstream(work / "dispatchd.json") << fmt::format(
        R"({{"listen": "127.0.0.1:0", "threads": {}, "tls": {{"cert": "{}/server.pem", "key": "{}/server.key"}},
            "database": {{"sqlite": {{"path": "{}"}}}}, "log": {{"level": "warn"}}, "flows": {{"enabled": false}}}})",
        server_threads,
        BENCH_CERT_DIR,
        BENCH_CERT_DIR,
        db_path);
    testing::ChildProcess daemon;
    std::string error;
    if (!daemon.Start({DISPATCHD_BIN, "--config", (work / "dispatchd.json").string()},
                      {},
                      (work / "dispatchd.log").string(),
                      20s,
                      error)) {
        std::cerr << "dispatchd: " << error << "\n";
        return 1;
    }
    auto line = json::Parse(daemon.FirstLine());
    if (!line) {
        std::cerr << "dispatchd start line: " << daemon.FirstLine() << "\n";
        return 1;
    }
    const std::string listen = json::StringAt(*line, "listen").value_or("");

    const double daemon_cpu_before = CpuSeconds(daemon.Pid());
    const auto acks = RunWrk(wrk, "https://" + listen + "/b24/events", wrk_threads, connections, seconds);
    const double daemon_cpu = CpuSeconds(daemon.Pid()) - daemon_cpu_before;
    const auto healthz = RunWrk(wrk, "https://" + listen + "/healthz", wrk_threads, connections, seconds, false);
    // The same bodies with a wrong application_token: parsed, looked up and compared like the acks, then answered
    // 401 with nothing stored. How fast this HTTP path goes without any durability at all: the ceiling of the acks.
    const auto refused =
        RunWrk(wrk, "https://" + listen + "/b24/events", wrk_threads, connections, seconds, true, "not-the-token");
    // Stop gracefully: in-flight requests finish and the store closes; the count below reads a settled file.
    const int stopped = daemon.Stop(SIGTERM, 30s);
    {
        std::ifstream log(work / "dispatchd.log");
        std::cerr << "--- dispatchd.log ---\n" << log.rdbuf() << "\n";
    }

    Nginx nginx;
    const int nginx_port = FreePort();
    if (!nginx.Start(nginx_bin, work / "nginx", nginx_port, server_threads)) {
        std::cerr << "nginx did not start\n";
        return 1;
    }
    const double nginx_cpu_before = CpuSeconds(nginx.Pid());
    const auto statics =
        RunWrk(wrk, fmt::format("https://127.0.0.1:{}/", nginx_port), wrk_threads, connections, seconds);
    const double nginx_cpu = CpuSeconds(nginx.Pid()) - nginx_cpu_before;
    const auto static_gets =
        RunWrk(wrk, fmt::format("https://127.0.0.1:{}/", nginx_port), wrk_threads, connections, seconds, false);

    if (!acks || !statics || !healthz || !refused || !static_gets || stopped != 0) {
        std::cerr << "bench_http: a run failed (dispatchd exit " << stopped << ")\n";
        return 1;
    }
    const auto rows = InboxRows(db_path);
    if (!rows) {
        std::cerr << "bench_http: cannot count the inbox\n";
        return 1;
    }
    const std::int64_t ok = acks->requests - acks->non2xx;
    std::cerr << fmt::format(
        "dispatchd: {} requests, {} non-2xx, {} socket errors; inbox rows {}; nginx: {} requests, {} non-2xx\n",
        acks->requests,
        acks->non2xx,
        acks->socket_errors,
        *rows,
        statics->requests,
        statics->non2xx);

    fmt::print("bench http.acks_per_s {:.0f} 1/s\n", acks->PerSecond());
    fmt::print("bench http.ack_p50_ms {:.2f} ms\n", acks->p50_ms);
    fmt::print("bench http.ack_p99_ms {:.2f} ms\n", acks->p99_ms);
    fmt::print("bench http.nginx_per_s {:.0f} 1/s\n", statics->PerSecond());
    fmt::print("bench http.nginx_p99_ms {:.2f} ms\n", statics->p99_ms);
    fmt::print("bench http.ack_vs_nginx {:.3f} x\n",
               statics->PerSecond() > 0 ? acks->PerSecond() / statics->PerSecond() : 0.0);
    fmt::print("bench http.acks_durable_ratio {:.4f} x\n", ok > 0 ? static_cast<double>(*rows) / ok : 0.0);
    fmt::print("bench http.disk_fdatasync_ms {:.2f} ms\n", fsync_ms);
    // CPU per answered request: less sensitive than rates to what else the machine runs meanwhile.
    fmt::print("bench http.ack_cpu_us {:.1f} us\n", acks->requests > 0 ? daemon_cpu * 1e6 / acks->requests : 0.0);
    fmt::print("bench http.nginx_cpu_us {:.1f} us\n",
               statics->requests > 0 ? nginx_cpu * 1e6 / statics->requests : 0.0);
    fmt::print("bench http.healthz_per_s {:.0f} 1/s\n", healthz->PerSecond());
    fmt::print("bench http.healthz_vs_nginx {:.3f} x\n",
               static_gets->PerSecond() > 0 ? healthz->PerSecond() / static_gets->PerSecond() : 0.0);
    fmt::print("bench http.refused_per_s {:.0f} 1/s\n", refused->AnsweredPerSecond());
    fmt::print("bench http.refused_vs_nginx {:.3f} x\n",
               statics->PerSecond() > 0 ? refused->AnsweredPerSecond() / statics->PerSecond() : 0.0);
    std::fflush(stdout);
    if (refused->non2xx != refused->requests) {
        std::cerr << "bench_http: an event with a wrong token was accepted\n";
        return 1;
    }

    // Every acknowledged event must be a row; rows beyond the acks can only be requests abandoned at the deadline.
    if (ok <= 0 || *rows < ok || *rows > ok + connections) {
        std::cerr << "bench_http: inbox rows do not match the acknowledgements\n";
        return 1;
    }
    return 0;
}
