#include "core/log.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <shared_mutex>

namespace dispatch::log {
namespace {

Level InitialLevel() {
    const char* env = std::getenv("DISPATCH_LOG_LEVEL");
    return env ? ParseLevel(env, Level::kInfo) : Level::kInfo;
}

std::atomic<int> g_level{static_cast<int>(InitialLevel())};
std::shared_mutex g_overrides_mu;
std::map<std::string, Level, std::less<>>& Overrides() {
    static std::map<std::string, Level, std::less<>> overrides;
    return overrides;
}
std::atomic<bool> g_has_overrides{false};
std::mutex g_write_mu;

const char* LevelName(Level level) {
    switch (level) {
        case Level::kDebug:
            return "debug";
        case Level::kInfo:
            return "info";
        case Level::kWarn:
            return "warn";
        case Level::kError:
            return "error";
        case Level::kOff:
            return "off";
    }
    return "?";
}

struct EnvOverrides {
    EnvOverrides() {
        if (const char* env = std::getenv("DISPATCH_LOG")) {
            SetLoggerLevels(env);
        }
    }
};
const EnvOverrides g_env_overrides;

}  // namespace

Level ParseLevel(std::string_view text, Level fallback) {
    if (text == "debug") return Level::kDebug;
    if (text == "info") return Level::kInfo;
    if (text == "warn") return Level::kWarn;
    if (text == "error") return Level::kError;
    if (text == "off") return Level::kOff;
    return fallback;
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }

void SetLoggerLevels(std::string_view spec) {
    std::unique_lock lock(g_overrides_mu);
    auto& overrides = Overrides();
    overrides.clear();
    while (!spec.empty()) {
        const auto comma = spec.find(',');
        const std::string_view item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        overrides[std::string(item.substr(0, eq))] = ParseLevel(item.substr(eq + 1), Level::kInfo);
    }
    g_has_overrides.store(!overrides.empty());
}

bool Logger::Enabled(Level level) const {
    if (g_has_overrides.load(std::memory_order_relaxed)) {
        std::shared_lock lock(g_overrides_mu);
        const auto& overrides = Overrides();
        if (auto it = overrides.find(std::string_view(name_)); it != overrides.end()) {
            return level >= it->second && level != Level::kOff;
        }
    }
    return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed) && level != Level::kOff;
}

void Write(const Logger& logger, Level level, std::string_view msg, std::string_view kv) noexcept {
    try {
        const auto now = std::chrono::system_clock::now();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
        const std::time_t secs = static_cast<std::time_t>(ms / 1000);
        std::tm tm{};
        gmtime_r(&secs, &tm);
        char ts[96];
        std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
        std::string line = fmt::format("ts={} level={} logger={} msg={}", ts, LevelName(level), logger.Name(),
                                       Quote(msg));
        if (!kv.empty()) {
            line += ' ';
            line += kv;
        }
        line += '\n';
        std::lock_guard lock(g_write_mu);
        std::fwrite(line.data(), 1, line.size(), stderr);
    } catch (...) {
        // Logging never throws (STYLE.md §3.8); a record lost to an allocation failure is acceptable.
    }
}

std::string Quote(std::string_view value) {
    bool needs = value.empty();
    for (char c : value) {
        if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') {
            needs = true;
            break;
        }
    }
    if (!needs) {
        return std::string(value);
    }
    std::string out = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::string MaskSecret(std::string_view secret) {
    if (secret.empty()) {
        return "<empty>";
    }
    const std::size_t keep = secret.size() >= 12 ? 4 : 0;
    return fmt::format("{}***({})", secret.substr(0, keep), secret.size());
}

std::string MaskUrlSecrets(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        // Incoming webhook: /rest/<digits>/<secret>/
        if (text.compare(i, 6, "/rest/") == 0) {
            std::size_t j = i + 6;
            std::size_t digits = j;
            while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
                ++digits;
            }
            if (digits > j && digits < text.size() && text[digits] == '/') {
                std::size_t end = digits + 1;
                while (end < text.size() && text[end] != '/' && text[end] != '?' && text[end] != ' ') {
                    ++end;
                }
                out.append(text.substr(i, digits + 1 - i));
                out += "***";
                i = end;
                continue;
            }
        }
        // auth=..., access_token=..., refresh_token=..., client_secret=..., application_token=..., secret=...
        static constexpr std::string_view kKeys[] = {"auth=",          "access_token=", "refresh_token=",
                                                     "client_secret=", "secret=",       "application_token=",
                                                     "code="};
        bool masked = false;
        for (std::string_view key : kKeys) {
            if (text.compare(i, key.size(), key) == 0 &&
                (i == 0 || text[i - 1] == '?' || text[i - 1] == '&' || text[i - 1] == ' ' || text[i - 1] == '_')) {
                std::size_t end = i + key.size();
                while (end < text.size() && text[end] != '&' && text[end] != ' ' && text[end] != '"') {
                    ++end;
                }
                out.append(key);
                out += "***";
                i = end;
                masked = true;
                break;
            }
        }
        if (!masked) {
            out += text[i++];
        }
    }
    return out;
}

bool RateLimit::Allow() noexcept {
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::steady_clock::now().time_since_epoch())
                           .count();
    const std::int64_t window = now_s / 10;
    if (window_.exchange(window) != window) {
        count_.store(0);
    }
    return count_.fetch_add(1) < burst_;
}

}  // namespace dispatch::log
