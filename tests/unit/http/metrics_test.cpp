#include "core/metrics.hpp"

#include <stdexcept>

#include "support/test_support.hpp"

namespace dispatch::metrics {
namespace {

TEST(Metrics, CounterRendersWithLabelsAndHelp) {
    Registry registry;
    auto& counter = registry.GetCounter("dispatch_webhooks_rejected_total", "Webhooks rejected", {{"reason", "token"}});

    counter.Inc();
    counter.Inc(2);

    EXPECT_EQ(registry.RenderPrometheus(),
              "# HELP dispatch_webhooks_rejected_total Webhooks rejected\n"
              "# TYPE dispatch_webhooks_rejected_total counter\n"
              "dispatch_webhooks_rejected_total{reason=\"token\"} 3\n");
}

TEST(Metrics, SameNameAndLabelsReturnTheSameSeries) {
    Registry registry;

    auto& a = registry.GetCounter("x_total", "x", {{"k", "v"}});
    auto& b = registry.GetCounter("x_total", "x", {{"k", "v"}});
    auto& other = registry.GetCounter("x_total", "x", {{"k", "w"}});

    EXPECT_EQ(&a, &b);
    EXPECT_NE(&a, &other);
}

TEST(Metrics, LabelValuesAreEscaped) {
    Registry registry;
    registry.GetCounter("x_total", "x", {{"route", "a\"b\\c\nd"}}).Inc();

    EXPECT_THAT(registry.RenderPrometheus(), ::testing::HasSubstr("x_total{route=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(Metrics, HistogramBucketsAreCumulative) {
    Registry registry;
    auto& histogram = registry.GetHistogram("latency_seconds", "latency", {}, {0.1, 1});

    histogram.Observe(0.05);
    histogram.Observe(0.5);
    histogram.Observe(5);

    const std::string text = registry.RenderPrometheus();
    EXPECT_THAT(text, ::testing::HasSubstr("latency_seconds_bucket{le=\"0.1\"} 1\n"));
    EXPECT_THAT(text, ::testing::HasSubstr("latency_seconds_bucket{le=\"1\"} 2\n"));
    EXPECT_THAT(text, ::testing::HasSubstr("latency_seconds_bucket{le=\"+Inf\"} 3\n"));
    EXPECT_THAT(text, ::testing::HasSubstr("latency_seconds_sum 5.55\n"));
    EXPECT_THAT(text, ::testing::HasSubstr("latency_seconds_count 3\n"));
}

TEST(Metrics, GaugeCallbackIsReadAtRenderTime) {
    Registry registry;
    double depth = 1;
    registry.SetGaugeCallback("inbox_depth", "rows waiting", {}, [&depth] { return depth; });

    depth = 42;

    EXPECT_THAT(registry.RenderPrometheus(), ::testing::HasSubstr("inbox_depth 42\n"));
}

TEST(Metrics, AGaugeFamilyIsReadOnceARenderForAllItsSeries) {
    Registry registry;
    int reads = 0;
    registry.SetGaugeFamilyCallback("queue_depth", "rows by state", "state", [&reads] {
        ++reads;
        return std::vector<std::pair<std::string, double>>{{"pending", 3}, {"dead", 1}};
    });
    registry.SetGaugeFamilyCallback(
        "broken_depth", "a reader that throws", "state", []() -> std::vector<std::pair<std::string, double>> {
            throw std::runtime_error("store down");
        });

    const std::string text = registry.RenderPrometheus();

    EXPECT_EQ(reads, 1);
    EXPECT_THAT(text,
                ::testing::HasSubstr("# TYPE queue_depth gauge\nqueue_depth{state=\"pending\"} 3\n"
                                     "queue_depth{state=\"dead\"} 1\n"));
    EXPECT_THAT(text, ::testing::HasSubstr("# TYPE broken_depth gauge\n# HELP queue_depth"))
        << "a failing reader leaves its family empty and the scrape goes on";
}

TEST(Metrics, GaugeMovesBothWays) {
    Registry registry;
    auto& gauge = registry.GetGauge("open", "open things");

    gauge.Add(3);
    gauge.Add(-1);

    EXPECT_EQ(gauge.Value(), 2);
}

}  // namespace
}  // namespace dispatch::metrics
