#include "common/metrics.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace kvmhub {
namespace {

std::string escape_label(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

// `{a="1",b="2"}`, or empty for no labels; `extra` is appended (for histogram `le`).
std::string render_labels(const Labels& labels) {
    if (labels.empty()) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i) out += ',';
        out += labels[i].first;
        out += "=\"";
        out += escape_label(labels[i].second);
        out += '"';
    }
    out += '}';
    return out;
}

std::string with_le(const std::string& labels, std::string_view le) {
    if (labels.empty()) return fmt::format("{{le=\"{}\"}}", le);
    return fmt::format("{},le=\"{}\"}}", std::string_view(labels).substr(0, labels.size() - 1), le);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size()]) {
    std::sort(bounds_.begin(), bounds_.end());
    for (std::size_t i = 0; i < bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) noexcept {
    auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    if (it != bounds_.end())
        buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    if (value > 0)
        sum_micro_.fetch_add(static_cast<std::uint64_t>(std::llround(value * 1e6)), std::memory_order_relaxed);
}

double Histogram::sum() const noexcept {
    return static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6;
}

const std::vector<double>& Metrics::default_latency_bounds() {
    static const std::vector<double> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    return bounds;
}

Metrics::Family& Metrics::family(std::string_view name, std::string_view help, Kind kind) {
    auto fam = families_.find(name);
    if (fam == families_.end()) {
        Family created;
        created.help = std::string(help);
        created.kind = kind;
        fam = families_.emplace(std::string(name), std::move(created)).first;
    }
    return fam->second;
}

Counter& Metrics::counter(std::string_view name, std::string_view help, const Labels& labels) {
    std::string key = render_labels(labels);
    std::lock_guard lock(mutex_);
    auto& slot = family(name, help, Kind::Counter).counters[key];
    if (!slot) slot = std::make_unique<Counter>();
    return *slot;
}

Gauge& Metrics::gauge(std::string_view name, std::string_view help, const Labels& labels) {
    std::string key = render_labels(labels);
    std::lock_guard lock(mutex_);
    auto& slot = family(name, help, Kind::Gauge).gauges[key];
    if (!slot) slot = std::make_unique<Gauge>();
    return *slot;
}

Histogram& Metrics::histogram(std::string_view name, std::string_view help, const Labels& labels,
                              const std::vector<double>& bounds) {
    std::string key = render_labels(labels);
    std::lock_guard lock(mutex_);
    auto& slot = family(name, help, Kind::Histogram).histograms[key];
    if (!slot) slot = std::make_unique<Histogram>(bounds);
    return *slot;
}

std::string Metrics::render() const {
    std::string out;
    std::lock_guard lock(mutex_);
    for (const auto& [name, fam] : families_) {
        const char* type = fam.kind == Kind::Histogram ? "histogram" : fam.kind == Kind::Gauge ? "gauge" : "counter";
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, fam.help, name, type);
        for (const auto& [labels, c] : fam.counters) out += fmt::format("{}{} {}\n", name, labels, c->value());
        for (const auto& [labels, g] : fam.gauges) out += fmt::format("{}{} {}\n", name, labels, g->value());
        for (const auto& [labels, h] : fam.histograms) {
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i < h->bounds().size(); ++i) {
                cumulative += h->bucket(i);
                out += fmt::format("{}_bucket{} {}\n", name, with_le(labels, fmt::format("{}", h->bounds()[i])),
                                   cumulative);
            }
            out += fmt::format("{}_bucket{} {}\n", name, with_le(labels, "+Inf"), h->count());
            out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, labels, h->sum(), name, labels, h->count());
        }
    }
    return out;
}

}  // namespace kvmhub
