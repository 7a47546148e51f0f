#pragma once
// One-line key=value logs (STYLE.md §3.8):
//   ts=2026-03-02T09:00:00.123Z level=info logger=intake msg="event stored" portal=acme.bitrix24.ru item=42
// A named logger per module, each with its own level. Logging never throws. Secrets never reach a log: pass
// tokens and webhook URLs through MaskSecret / MaskUrlSecrets first.

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace dispatch::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

class Logger {
public:
    explicit constexpr Logger(const char* name) : name_(name) {}
    const char* Name() const { return name_; }
    bool Enabled(Level level) const;

private:
    const char* name_;
};

// Global settings: the minimum level (default info; DISPATCH_LOG_LEVEL=debug|info|warn|error|off at start) and
// an optional per-logger override ("http=debug,b24=warn" in DISPATCH_LOG).
void SetLevel(Level level);
void SetLoggerLevels(std::string_view spec);
Level ParseLevel(std::string_view text, Level fallback);

// Writes one record. `kv` is the already formatted `key=value ...` tail (may be empty).
void Write(const Logger& logger, Level level, std::string_view msg, std::string_view kv) noexcept;

// A value for a log line: quoted when it holds spaces, quotes or '=' so the line stays parseable.
std::string Quote(std::string_view value);

// "abcd…(32)" style: keeps 4 leading characters of a token so operators can correlate, drops the rest.
std::string MaskSecret(std::string_view secret);
// Masks the secret segment of incoming-webhook URLs (/rest/<user>/<secret>/) and `auth=`/`secret=` style query
// parameters anywhere in the text.
std::string MaskUrlSecrets(std::string_view text);

// For lines that can repeat thousands of times: true for the first `burst` calls in each 10-second window.
class RateLimit {
public:
    explicit RateLimit(int burst = 10) : burst_(burst) {}
    bool Allow() noexcept;

private:
    int burst_;
    std::atomic<std::int64_t> window_{0};
    std::atomic<int> count_{0};
};

}  // namespace dispatch::log

// DISPATCH_LOG_INFO(kLog, "ticket escalated", "portal={} item={} level={}", portal, item, level);
#define DISPATCH_LOG_AT(logger, level, msg, ...)                                                       \
    do {                                                                                               \
        if ((logger).Enabled(level)) {                                                                 \
            try {                                                                                      \
                ::dispatch::log::Write((logger), (level), (msg), ::fmt::format(__VA_ARGS__));          \
            } catch (...) {                                                                            \
                ::dispatch::log::Write((logger), (level), (msg), "log_format_error=1");                \
            }                                                                                          \
        }                                                                                              \
    } while (false)
#define DISPATCH_LOG_DEBUG(logger, msg, ...) DISPATCH_LOG_AT(logger, ::dispatch::log::Level::kDebug, msg, __VA_ARGS__)
#define DISPATCH_LOG_INFO(logger, msg, ...) DISPATCH_LOG_AT(logger, ::dispatch::log::Level::kInfo, msg, __VA_ARGS__)
#define DISPATCH_LOG_WARN(logger, msg, ...) DISPATCH_LOG_AT(logger, ::dispatch::log::Level::kWarn, msg, __VA_ARGS__)
#define DISPATCH_LOG_ERROR(logger, msg, ...) DISPATCH_LOG_AT(logger, ::dispatch::log::Level::kError, msg, __VA_ARGS__)
#define DISPATCH_LOG_LIMITED_WARN(logger, msg, ...)                                   \
    do {                                                                              \
        static ::dispatch::log::RateLimit dispatch_log_limit_;                        \
        if (dispatch_log_limit_.Allow()) {                                            \
            DISPATCH_LOG_AT(logger, ::dispatch::log::Level::kWarn, msg, __VA_ARGS__); \
        }                                                                             \
    } while (false)
