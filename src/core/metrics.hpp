#pragma once
// A small thread-safe metrics registry rendered as Prometheus text (STYLE.md §3.8: every degraded mode gets a
// counter). Registration (GetCounter/GetGauge/GetHistogram) takes a lock and may allocate; the returned reference
// stays valid for the registry's lifetime, so hot paths look a metric up once and then only touch atomics.
//
//   auto& rejected = registry.GetCounter("dispatch_webhooks_rejected_total", "Webhooks rejected", {{"reason",
//   "token"}}); rejected.Inc();
//
// Names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*); one name has one type and one help text (the first
// registration wins). Label values are escaped when rendered; label order is kept as given.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dispatch::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Monotonic count. Inc is a relaxed atomic add.
class Counter {
public:
    void Inc(std::uint64_t by = 1) noexcept { value_.fetch_add(by, std::memory_order_relaxed); }
    std::uint64_t Value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down (open connections, queue depth).
class Gauge {
public:
    void Set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
    void Add(double delta) noexcept;
    double Value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

// Cumulative buckets by upper bound (seconds for latencies), plus sum and count, as Prometheus expects.
class Histogram {
public:
    explicit Histogram(std::vector<double> upper_bounds);
    void Observe(double value) noexcept;

    struct Snapshot {
        std::vector<double> upper_bounds;
        std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
        double sum = 0;
        std::uint64_t count = 0;
    };
    Snapshot Read() const;

private:
    std::vector<double> upper_bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bound (not cumulative), then +Inf
    std::atomic<double> sum_{0.0};
    std::atomic<std::uint64_t> count_{0};
};

// 1 ms .. 60 s: request latencies, inbound and outbound.
std::vector<double> DefaultLatencyBuckets();

class Registry {
public:
    Registry() = default;
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
    Gauge& GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
    Histogram& GetHistogram(std::string_view name,
                            std::string_view help,
                            const Labels& labels = {},
                            std::vector<double> upper_bounds = DefaultLatencyBuckets());
    // A gauge read at render time (e.g. inbox depth from the store). The callback runs under the registry's lock
    // on the rendering thread, so it must be quick and must not call back into the registry. Registering the same
    // name and labels again replaces the callback.
    void SetGaugeCallback(std::string_view name,
                          std::string_view help,
                          const Labels& labels,
                          std::function<double()> read);

    // Every series of one gauge family from one call at render time: read() returns (value of `label`, gauge value)
    // pairs, rendered in that order. For values that one query answers together (a queue's depth by state), which
    // a callback per series would ask once per series. Same rules as SetGaugeCallback; a family has either this or
    // series of its own, and registering again replaces the reader.
    void SetGaugeFamilyCallback(std::string_view name,
                                std::string_view help,
                                std::string_view label,
                                std::function<std::vector<std::pair<std::string, double>>()> read);

    // Prometheus text exposition format 0.0.4, families sorted by name.
    std::string RenderPrometheus() const;

private:
    enum class Type { kCounter, kGauge, kHistogram };
    struct Series {
        std::string labels;  // rendered `a="x",b="y"` (empty for none); the series key inside a family
        std::unique_ptr<Counter> counter;
        std::unique_ptr<Gauge> gauge;
        std::unique_ptr<Histogram> histogram;
        std::function<double()> callback;
    };
    struct Family {
        Type type = Type::kCounter;
        std::string help;
        std::map<std::string, Series> series;
        std::string read_all_label;  // SetGaugeFamilyCallback
        std::function<std::vector<std::pair<std::string, double>>()> read_all;
    };
    Family& FindOrAddFamily(std::string_view name, std::string_view help, Type type);
    Series& FindOrAdd(std::string_view name, std::string_view help, Type type, const Labels& labels);

    mutable std::mutex mu_;
    std::map<std::string, Family, std::less<>> families_;
};

// The process-wide registry that `dispatchd` exposes on /metrics. Components take a Registry& so tests can pass
// their own; wiring in app/ passes this one.
Registry& DefaultRegistry();

}  // namespace dispatch::metrics
