#include "common/metrics.hpp"

#include <gtest/gtest.h>

namespace kvmhub {
namespace {

TEST(Metrics, CountersRenderWithLabels) {
    Metrics m;
    m.counter("req_total", "requests", {{"route", "/a"}, {"status", "200"}}).inc();
    m.counter("req_total", "requests", {{"route", "/a"}, {"status", "200"}}).inc(2);
    auto text = m.render();
    EXPECT_NE(text.find("# TYPE req_total counter"), std::string::npos);
    EXPECT_NE(text.find("req_total{route=\"/a\",status=\"200\"} 3"), std::string::npos) << text;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
    Metrics m;
    auto& h = m.histogram("lat", "latency", {{"route", "/a"}}, {0.1, 1.0});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    auto text = m.render();
    EXPECT_NE(text.find("lat_bucket{route=\"/a\",le=\"0.1\"} 1"), std::string::npos) << text;
    EXPECT_NE(text.find("lat_bucket{route=\"/a\",le=\"1\"} 2"), std::string::npos) << text;
    EXPECT_NE(text.find("lat_bucket{route=\"/a\",le=\"+Inf\"} 3"), std::string::npos) << text;
    EXPECT_NE(text.find("lat_count{route=\"/a\"} 3"), std::string::npos) << text;
}

TEST(Metrics, GaugesKeepTheLastValue) {
    Metrics m;
    m.gauge("last_seconds", "last call", {{"host", "h"}}).set(2.5);
    m.gauge("last_seconds", "last call", {{"host", "h"}}).set(0.25);
    auto text = m.render();
    EXPECT_NE(text.find("# TYPE last_seconds gauge"), std::string::npos) << text;
    EXPECT_NE(text.find("last_seconds{host=\"h\"} 0.25\n"), std::string::npos) << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
    Metrics m;
    m.counter("c", "h", {{"path", "a\"b\\c\nd"}}).inc();
    EXPECT_NE(m.render().find(R"(c{path="a\"b\\c\nd"} 1)"), std::string::npos) << m.render();
}

}  // namespace
}  // namespace kvmhub
