#include "core/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace dispatch::metrics {
namespace {

// Escapes a label value for the text format: backslash, double quote and newline.
std::string EscapeLabel(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

// Help text escapes only backslash and newline.
std::string EscapeHelp(std::string_view help) {
    std::string out;
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string RenderLabels(const Labels& labels) {
    std::string out;
    for (const auto& [key, value] : labels) {
        if (!out.empty()) {
            out += ',';
        }
        out += key;
        out += "=\"";
        out += EscapeLabel(value);
        out += '"';
    }
    return out;
}

bool ValidName(std::string_view name) {
    if (name.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        const bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0)) {
            return false;
        }
    }
    return true;
}

// Prometheus renders floats in Go's style; integers print without a fraction, which every parser accepts.
std::string FormatValue(double value) {
    if (std::isnan(value)) {
        return "NaN";
    }
    if (std::isinf(value)) {
        return value > 0 ? "+Inf" : "-Inf";
    }
    return fmt::format("{}", value);
}

void AtomicAdd(std::atomic<double>& target, double delta) noexcept {
    double current = target.load(std::memory_order_relaxed);
    while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
    }
}

// `{a="x"}` with an extra label appended (for histogram buckets): `{a="x",le="0.1"}`.
std::string WithExtraLabel(const std::string& labels, std::string_view extra) {
    if (labels.empty()) {
        return fmt::format("{{{}}}", extra);
    }
    return fmt::format("{{{},{}}}", labels, extra);
}

std::string Braced(const std::string& labels) { return labels.empty() ? std::string() : "{" + labels + "}"; }

}  // namespace

void Gauge::Add(double delta) noexcept { AtomicAdd(value_, delta); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), buckets_(new std::atomic<std::uint64_t>[upper_bounds_.size() + 1]) {
    std::sort(upper_bounds_.begin(), upper_bounds_.end());
    for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
        buckets_[i].store(0, std::memory_order_relaxed);
    }
}

void Histogram::Observe(double value) noexcept {
    const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
    buckets_[static_cast<std::size_t>(it - upper_bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
    AtomicAdd(sum_, value);
    count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
    Snapshot snapshot;
    snapshot.upper_bounds = upper_bounds_;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        snapshot.cumulative.push_back(running);
    }
    snapshot.sum = sum_.load(std::memory_order_relaxed);
    // The +Inf bucket and count must agree in the output even while other threads observe.
    snapshot.count = running;
    return snapshot;
}

std::vector<double> DefaultLatencyBuckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

Registry::Family& Registry::FindOrAddFamily(std::string_view name, std::string_view help, Type type) {
    // A bad name or a type clash is a programming error in the caller, never input from outside.
    DISPATCH_CHECK(ValidName(name), "metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*");
    auto family_it = families_.find(name);
    if (family_it == families_.end()) {
        Family family;
        family.type = type;
        family.help = std::string(help);
        family_it = families_.emplace(std::string(name), std::move(family)).first;
    }
    DISPATCH_CHECK(family_it->second.type == type, "one metric name registered with two types");
    return family_it->second;
}

Registry::Series& Registry::FindOrAdd(std::string_view name, std::string_view help, Type type, const Labels& labels) {
    Family& family = FindOrAddFamily(name, help, type);
    DISPATCH_CHECK(!family.read_all, "a family read by one callback has no series of its own");
    return family.series[RenderLabels(labels)];
}

Counter& Registry::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
    std::lock_guard lock(mu_);
    Series& series = FindOrAdd(name, help, Type::kCounter, labels);
    if (!series.counter) {
        series.counter = std::make_unique<Counter>();
    }
    return *series.counter;
}

Gauge& Registry::GetGauge(std::string_view name, std::string_view help, const Labels& labels) {
    std::lock_guard lock(mu_);
    Series& series = FindOrAdd(name, help, Type::kGauge, labels);
    if (!series.gauge) {
        series.gauge = std::make_unique<Gauge>();
    }
    return *series.gauge;
}

Histogram& Registry::GetHistogram(std::string_view name,
                                  std::string_view help,
                                  const Labels& labels,
                                  std::vector<double> upper_bounds) {
    std::lock_guard lock(mu_);
    Series& series = FindOrAdd(name, help, Type::kHistogram, labels);
    if (!series.histogram) {
        series.histogram = std::make_unique<Histogram>(std::move(upper_bounds));
    }
    return *series.histogram;
}

void Registry::SetGaugeCallback(std::string_view name,
                                std::string_view help,
                                const Labels& labels,
                                std::function<double()> read) {
    std::lock_guard lock(mu_);
    Series& series = FindOrAdd(name, help, Type::kGauge, labels);
    series.callback = std::move(read);
}

void Registry::SetGaugeFamilyCallback(std::string_view name,
                                      std::string_view help,
                                      std::string_view label,
                                      std::function<std::vector<std::pair<std::string, double>>()> read) {
    std::lock_guard lock(mu_);
    Family& family = FindOrAddFamily(name, help, Type::kGauge);
    DISPATCH_CHECK(family.series.empty(), "a family read by one callback has no series of its own");
    family.read_all_label = std::string(label);
    family.read_all = std::move(read);
}

std::string Registry::RenderPrometheus() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& [name, family] : families_) {
        const char* type = family.type == Type::kCounter ? "counter"
                           : family.type == Type::kGauge ? "gauge"
                                                         : "histogram";
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(family.help), name, type);
        if (family.read_all) {
            std::vector<std::pair<std::string, double>> values;
            try {
                values = family.read_all();
            } catch (...) {
                // As for a failing series callback, the scrape goes on; with no labels known, the family is empty.
            }
            for (const auto& [label_value, value] : values) {
                out += fmt::format("{}{} {}\n",
                                   name,
                                   Braced(RenderLabels({{family.read_all_label, label_value}})),
                                   FormatValue(value));
            }
            continue;
        }
        for (const auto& [labels, series] : family.series) {
            if (series.counter) {
                out += fmt::format("{}{} {}\n", name, Braced(labels), series.counter->Value());
            } else if (series.callback) {
                double value = 0;
                try {
                    value = series.callback();
                } catch (...) {
                    // A failing reader must not break the whole scrape; NaN tells the operator the value is unknown.
                    value = std::nan("");
                }
                out += fmt::format("{}{} {}\n", name, Braced(labels), FormatValue(value));
            } else if (series.gauge) {
                out += fmt::format("{}{} {}\n", name, Braced(labels), FormatValue(series.gauge->Value()));
            } else if (series.histogram) {
                const Histogram::Snapshot snapshot = series.histogram->Read();
                for (std::size_t i = 0; i < snapshot.upper_bounds.size(); ++i) {
                    out += fmt::format(
                        "{}_bucket{} {}\n",
                        name,
                        WithExtraLabel(labels, fmt::format("le=\"{}\"", FormatValue(snapshot.upper_bounds[i]))),
                        snapshot.cumulative[i]);
                }
                out += fmt::format("{}_bucket{} {}\n", name, WithExtraLabel(labels, "le=\"+Inf\""), snapshot.count);
                out += fmt::format("{}_sum{} {}\n", name, Braced(labels), FormatValue(snapshot.sum));
                out += fmt::format("{}_count{} {}\n", name, Braced(labels), snapshot.count);
            }
        }
    }
    return out;
}

Registry& DefaultRegistry() {
    static Registry registry;
    return registry;
}

}  // namespace dispatch::metrics
