// The behaviour every Store backend shares, written against Store& only. The TEST_P bodies live in
// store_conformance_test.cpp; a backend joins by instantiating the suite in its own test file:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values(StoreBackend{"memory", make_fn}),
//                            backend_name);
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/store.hpp"

namespace kvmhub::test {

using store::Event;
using store::EventType;
using store::Store;
using store::WatchCallback;

// One fresh, empty store of the backend under test, and control over the time its leases see.
class StoreHarness {
public:
    virtual ~StoreHarness() = default;
    virtual Store& store() = 0;
    // When this returns, every lease whose ttl ran out within `by` has expired and its keys are gone
    // (a backend on a ManualClock advances it and expires at once; one on real time waits).
    virtual void let_time_pass(std::chrono::seconds by) = 0;
};

struct StoreBackend {
    std::string name;  // part of the test name: letters, digits and underscores
    std::function<std::unique_ptr<StoreHarness>()> make;
};

inline void PrintTo(const StoreBackend& backend, std::ostream* out) {
    *out << backend.name;
}
inline std::string backend_name(const ::testing::TestParamInfo<StoreBackend>& info) {
    return info.param.name;
}

class StoreConformance : public ::testing::TestWithParam<StoreBackend> {
protected:
    void SetUp() override {
        harness_ = GetParam().make();
        ASSERT_NE(harness_, nullptr) << "the backend factory made no store";
    }
    Store& store() { return harness_->store(); }
    void let_time_pass(std::chrono::seconds by) { harness_->let_time_pass(by); }

private:
    std::unique_ptr<StoreHarness> harness_;
};

// Collects what a watch delivers so a test can wait for it instead of sleeping.
// Declare it before the Watch, so the Watch is destroyed (and stops calling) first.
class EventSink {
public:
    WatchCallback callback() {
        return [this](const std::vector<Event>& batch) {
            std::lock_guard lock(mutex_);
            batches_.push_back(batch);
            events_ += batch.size();
            arrived_.notify_all();
        };
    }

    // The batches received once at least `count` events have arrived; fails the test after
    // `timeout` and returns what there is.
    std::vector<std::vector<Event>> wait_for(std::size_t count,
                                             std::chrono::seconds timeout = std::chrono::seconds(10)) {
        std::unique_lock lock(mutex_);
        bool arrived = arrived_.wait_for(lock, timeout, [&] { return events_ >= count; });
        EXPECT_TRUE(arrived) << "waited " << timeout.count() << " s for " << count << " events, got " << events_;
        return batches_;
    }

    // The same, flattened.
    std::vector<Event> wait_for_events(std::size_t count) {
        std::vector<Event> out;
        for (auto& batch : wait_for(count)) out.insert(out.end(), batch.begin(), batch.end());
        return out;
    }

    std::size_t event_count() {
        std::lock_guard lock(mutex_);
        return events_;
    }

private:
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<std::vector<Event>> batches_;
    std::size_t events_ = 0;
};

}  // namespace kvmhub::test
