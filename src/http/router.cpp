#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <set>

#include "core/log.hpp"
#include "http/server.hpp"

namespace dispatch::http {
namespace {

constexpr log::Logger kLog{"http"};

enum class SegmentKind { kLiteral, kParam, kRest };

// Ranks for choosing among several matching patterns: literal > {param} > trailing "*".
constexpr int kRankLiteral = 3;
constexpr int kRankParam = 2;
constexpr int kRankRest = 1;

struct Segment {
    SegmentKind kind = SegmentKind::kLiteral;
    std::string text;  // the literal, or the parameter's name
};

// "/a/b/" → {"a","b",""}; "/" and "" → {}.
std::vector<std::string_view> SplitPath(std::string_view path) {
    std::vector<std::string_view> out;
    if (!path.empty() && path.front() == '/') {
        path.remove_prefix(1);
    }
    if (path.empty()) {
        return out;
    }
    while (true) {
        const std::size_t slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) {
            break;
        }
        path.remove_prefix(slash + 1);
    }
    return out;
}

// Metric labels must stay a small set: unknown methods collapse to "other" (the last index).
constexpr std::array<std::string_view, 7> kKnownMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
constexpr std::size_t kMethodSlots = kKnownMethods.size() + 1;

std::size_t MethodIndex(std::string_view method) {
    const auto it = std::find(kKnownMethods.begin(), kKnownMethods.end(), method);
    return static_cast<std::size_t>(it - kKnownMethods.begin());
}

std::string MethodLabel(std::size_t index) {
    return index < kKnownMethods.size() ? std::string(kKnownMethods[index]) : std::string("other");
}

}  // namespace

struct Router::Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
    bool blocking = false;  // AddBlocking: runs through the router's offload
    // The metrics of the hot path, looked up once per method (registry references are stable): a request on a
    // matched route then costs two atomic adds instead of two registry lookups under its lock.
    mutable std::array<std::atomic<metrics::Counter*>, kMethodSlots> ok_counters{};
    mutable std::array<std::atomic<metrics::Histogram*>, kMethodSlots> latencies{};

    // Fills `params` and returns the rank vector when `parts` matches; empty optional otherwise.
    std::optional<std::vector<int>> Match(const std::vector<std::string_view>& parts,
                                          std::string_view path,
                                          std::map<std::string, std::string>& params) const {
        std::vector<int> rank;
        std::map<std::string, std::string> found;
        for (std::size_t i = 0; i < segments.size(); ++i) {
            const Segment& segment = segments[i];
            if (segment.kind == SegmentKind::kRest) {
                // The rest of the raw path after the prefix: "/_emu/a/b" with "/_emu/*" → "a/b".
                std::string rest;
                if (i < parts.size()) {
                    const std::size_t offset = static_cast<std::size_t>(parts[i].data() - path.data());
                    rest = std::string(path.substr(offset));
                }
                found["*"] = std::move(rest);
                rank.push_back(kRankRest);
                params = std::move(found);
                return rank;
            }
            if (i >= parts.size()) {
                return std::nullopt;
            }
            if (segment.kind == SegmentKind::kLiteral) {
                if (parts[i] != segment.text) {
                    return std::nullopt;
                }
                rank.push_back(kRankLiteral);
            } else {
                if (parts[i].empty()) {
                    return std::nullopt;
                }
                found[segment.text] = PercentDecode(parts[i], false);
                rank.push_back(kRankParam);
            }
        }
        if (parts.size() != segments.size()) {
            return std::nullopt;
        }
        params = std::move(found);
        return rank;
    }
};

Router::Router(metrics::Registry* registry) : registry_(registry) {}

void Router::Add(std::string method, std::string pattern, Handler handler) {
    AddRoute(std::move(method), std::move(pattern), std::move(handler), false);
}

void Router::AddBlocking(std::string method, std::string pattern, Handler handler) {
    AddRoute(std::move(method), std::move(pattern), std::move(handler), true);
}

void Router::SetOffload(Offload offload) { offload_ = std::move(offload); }

void Router::AddRoute(std::string method, std::string pattern, Handler handler, bool blocking) {
    auto route = std::make_shared<Route>();
    route->blocking = blocking;
    const auto parts = SplitPath(pattern);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::string_view part = parts[i];
        Segment segment;
        if (part == "*") {
            // A programming error in the route table, not input.
            DISPATCH_CHECK(i + 1 == parts.size(), "'*' must be the last segment of a route pattern");
            segment.kind = SegmentKind::kRest;
        } else if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
            segment.kind = SegmentKind::kParam;
            segment.text = std::string(part.substr(1, part.size() - 2));
        } else {
            segment.text = std::string(part);
        }
        route->segments.push_back(std::move(segment));
    }
    route->method = std::move(method);
    route->pattern = std::move(pattern);
    route->handler = std::move(handler);
    routes_.push_back(std::move(route));
}

void Router::Dispatch(Request&& request, Respond respond) const {
    const auto parts = SplitPath(request.path);
    const bool is_head = request.method == "HEAD";

    std::shared_ptr<const Route> best_route;  // keeps the route's metric cache alive as long as the callback
    std::vector<int> best_rank;
    std::map<std::string, std::string> best_params;
    std::set<std::string> allowed;
    for (const auto& route : routes_) {
        std::map<std::string, std::string> params;
        auto rank = route->Match(parts, request.path, params);
        if (!rank) {
            continue;
        }
        allowed.insert(route->method);
        if (route->method == "GET") {
            allowed.insert("HEAD");
        }
        const bool method_ok = route->method == request.method || (is_head && route->method == "GET");
        if (method_ok && (best_route == nullptr || best_rank < *rank)) {
            best_route = route;
            best_rank = std::move(*rank);
            best_params = std::move(params);
        }
    }

    const std::size_t method_index = MethodIndex(request.method);

    // Exactly one response reaches the server even if a handler responds and then throws.
    auto done = std::make_shared<std::atomic<bool>>(false);
    // The metric labels are built only when the route's cached counters miss (the first response of a kind).
    Respond once = [registry = registry_,
                    done,
                    method_index,
                    route = best_route,
                    start = std::chrono::steady_clock::now(),
                    inner = std::move(respond)](Response&& response) {
        if (done->exchange(true)) {
            return;
        }
        if (registry != nullptr) {
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            metrics::Counter* counter = nullptr;
            metrics::Histogram* latency = nullptr;
            if (route != nullptr) {
                latency = route->latencies[method_index].load(std::memory_order_acquire);
                if (response.status == 200) {
                    counter = route->ok_counters[method_index].load(std::memory_order_acquire);
                }
            }
            const auto route_label = [&] { return route != nullptr ? route->pattern : std::string("unmatched"); };
            if (counter == nullptr) {
                counter = &registry->GetCounter("dispatch_http_requests_total",
                                                "HTTP requests served, by method, route pattern and status",
                                                {{"method", MethodLabel(method_index)},
                                                 {"route", route_label()},
                                                 {"status", std::to_string(response.status)}});
                if (route != nullptr && response.status == 200) {
                    route->ok_counters[method_index].store(counter, std::memory_order_release);
                }
            }
            if (latency == nullptr) {
                latency = &registry->GetHistogram("dispatch_http_request_duration_seconds",
                                                  "Time from routing to response, by method and route pattern",
                                                  {{"method", MethodLabel(method_index)}, {"route", route_label()}});
                if (route != nullptr) {
                    route->latencies[method_index].store(latency, std::memory_order_release);
                }
            }
            counter->Inc();
            latency->Observe(seconds);
        }
        inner(std::move(response));
    };

    if (best_route == nullptr) {
        if (allowed.empty()) {
            once(Response::Status(404));
            return;
        }
        std::string allow;
        for (const auto& method : allowed) {
            allow += allow.empty() ? method : ", " + method;
        }
        Response response = Response::Status(405);
        response.WithHeader("Allow", std::move(allow));
        once(std::move(response));
        return;
    }

    request.params = std::move(best_params);
    request.route = best_route->pattern;
    if (!best_route->blocking || !offload_) {
        RunHandler(*best_route, method_index, std::move(request), once);
        return;
    }
    // A copy of `once` goes with the work: whichever runs first answers.
    if (!offload_([route = best_route, method_index, request = std::move(request), once]() mutable {
            RunHandler(*route, method_index, std::move(request), once);
        })) {
        DISPATCH_LOG_LIMITED_WARN(kLog, "busy", "route={} reason=\"offload queue full\"", best_route->pattern);
        Response busy = Response::Status(503);
        busy.WithHeader("Retry-After", "1");
        once(std::move(busy));
    }
}

// The one error boundary of every handler, on the io thread or on the offload.
void Router::RunHandler(const Route& route, std::size_t method_index, Request&& request, const Respond& once) {
    try {
        route.handler(std::move(request), once);
    } catch (const std::exception& e) {
        DISPATCH_LOG_ERROR(kLog,
                           "handler failed",
                           "method={} route={} what={}",
                           MethodLabel(method_index),
                           route.pattern,
                           log::Quote(e.what()));
        once(Response::Status(500));
    } catch (...) {
        DISPATCH_LOG_ERROR(
            kLog, "handler failed", "method={} route={} what=unknown", MethodLabel(method_index), route.pattern);
        once(Response::Status(500));
    }
}

void AddStandardRoutes(Router& router, metrics::Registry& registry) {
    router.Add("GET", "/healthz", [](Request&&, Respond respond) { respond(Response::Text(200, "ok\n")); });
    // Blocking: a scrape reads gauges some of which ask the store (queue depths).
    router.AddBlocking("GET", "/metrics", [&registry](Request&&, Respond respond) {
        Response response = Response::Text(200, registry.RenderPrometheus());
        response.content_type = "text/plain; version=0.0.4; charset=utf-8";
        respond(std::move(response));
    });
}

}  // namespace dispatch::http
