#include "virt/calls.hpp"

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "common/metrics.hpp"

namespace kvmhub::virt {
namespace {

using namespace std::chrono_literals;

const HostRef kSlow{"slow", "test:///slow"};
const HostRef kFast{"fast", "test:///fast"};

// Holds calls until opened; shared with the calls so it outlives the test if it must.
struct Gate {
    std::promise<void> promise;
    std::shared_future<void> opened = promise.get_future().share();
};

TEST(VirtCalls, ReturnsWhatTheCallReturns) {
    CallExecutor calls({.call_timeout = 5s, .max_in_flight_per_host = 2, .max_threads = 2});
    auto r = calls.call(kFast, "answer", []() -> Result<int> { return 42; });
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 42);
    auto e = calls.call(kFast, "fail", []() -> Status { return fail(Errc::NotFound, "uuid", "gone"); });
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, Errc::NotFound);
}

TEST(VirtCalls, AStuckCallTimesOutAndOthersStillRun) {
    CallExecutor calls({.call_timeout = 300ms, .max_in_flight_per_host = 2, .max_threads = 2});
    auto gate = std::make_shared<Gate>();
    auto stuck = calls.call(kSlow, "stuck", [gate]() -> Status {
        gate->opened.wait();
        return {};
    });
    ASSERT_FALSE(stuck);
    EXPECT_EQ(stuck.error().code, Errc::HostTimeout);
    EXPECT_EQ(stuck.error().desc, "host slow did not answer within 300 ms");
    EXPECT_TRUE(calls.call(kFast, "quick", []() -> Status { return {}; }));
    gate->promise.set_value();
}

TEST(VirtCalls, AHostWhoseSlotsAreStuckFailsAtOnceWithoutTouchingOtherHosts) {
    CallExecutor calls({.call_timeout = 300ms, .max_in_flight_per_host = 1, .max_threads = 3});
    auto gate = std::make_shared<Gate>();
    auto blocker = [gate]() -> Status {
        gate->opened.wait();
        return {};
    };
    EXPECT_EQ(calls.call(kSlow, "first", blocker).error().code, Errc::HostTimeout);
    auto state = calls.stats().at("slow");
    EXPECT_EQ(state.stuck, 1);
    EXPECT_EQ(state.in_flight, 1);
    EXPECT_FALSE(state.reachable());

    // The first call still holds the host's only slot, and nobody waits for it: the second is
    // refused at once instead of waiting out its deadline, and never reaches a thread.
    std::atomic<bool> second_ran{false};
    const auto before = std::chrono::steady_clock::now();
    auto second = calls.call(kSlow, "second", [&second_ran]() -> Status {
        second_ran = true;
        return {};
    });
    EXPECT_LT(std::chrono::steady_clock::now() - before, 300ms) << "it waited for a slot that will not free";
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, Errc::HostUnavailable);
    EXPECT_EQ(second.error().desc,
              "host slow is not answering: 1 of its 1 calls are stuck in libvirt; try again once it answers");
    EXPECT_FALSE(second_ran.load());
    EXPECT_TRUE(calls.call(kFast, "other", []() -> Status { return {}; }));

    gate->promise.set_value();
    // The slot frees once the stuck call returns, and the host is reachable again after a call.
    for (int tries = 0; tries < 1000 && calls.stats().at("slow").in_flight > 0; ++tries)
        std::this_thread::sleep_for(1ms);
    auto later = calls.call(kSlow, "later", []() -> Result<int> { return 1; });
    EXPECT_TRUE(later);
    // The thread frees the slot just after the caller has the result.
    for (int tries = 0; tries < 1000 && calls.stats().at("slow").in_flight > 0; ++tries)
        std::this_thread::sleep_for(1ms);
    state = calls.stats().at("slow");
    EXPECT_EQ(state.stuck, 0);
    EXPECT_EQ(state.in_flight, 0);
    EXPECT_TRUE(state.reachable());
}

// Five hosts whose calls never return hold more calls than any fixed pool of threads would
// have had (20): a sixth host is served at once all the same.
TEST(VirtCalls, StuckHostsHoldOnlyTheirOwnThreads) {
    CallExecutor calls({.call_timeout = 10s, .max_in_flight_per_host = 4});
    auto gate = std::make_shared<Gate>();
    std::vector<std::future<Status>> stuck;
    std::vector<HostRef> hosts;
    for (int h = 0; h < 5; ++h) hosts.push_back({fmt::format("dead{}", h), fmt::format("test:///dead{}", h)});
    for (const auto& host : hosts)
        for (int i = 0; i < 4; ++i)
            stuck.push_back(std::async(std::launch::async, [&calls, host, gate] {
                return calls.call(host, "hang", [gate]() -> Status {
                    gate->opened.wait();
                    return {};
                });
            }));
    // Every dead host's slots are all in flight (each on a thread of its own) before the check.
    for (int tries = 0; tries < 1000; ++tries) {
        auto s = calls.stats();
        int in_flight = 0;
        for (const auto& host : hosts) in_flight += s.count(host.name) ? s.at(host.name).in_flight : 0;
        if (in_flight == 20) break;
        std::this_thread::sleep_for(5ms);
    }
    auto fast = calls.call(kFast, "quick", []() -> Result<int> { return 5; });
    ASSERT_TRUE(fast) << fast.error().desc;
    for (auto& f : stuck) EXPECT_EQ(f.wait_for(0s), std::future_status::timeout) << "a stuck call ended early";
    gate->promise.set_value();
    for (auto& f : stuck) EXPECT_TRUE(f.get());
}

TEST(VirtCalls, ACallAbandonedInTheQueueNeverRuns) {
    auto ran = std::make_shared<std::atomic<bool>>(false);
    auto gate = std::make_shared<Gate>();
    {
        // One thread in all: the second call waits for it behind the stuck first one.
        CallExecutor calls({.call_timeout = 200ms, .max_in_flight_per_host = 4, .max_threads = 1});
        auto first = std::async(std::launch::async, [&] {
            return calls.call(kSlow, "hold", [gate]() -> Status {
                gate->opened.wait();
                return {};
            });
        });
        EXPECT_FALSE(first.get());
        auto queued = calls.call(kFast, "queued", [ran]() -> Status {
            ran->store(true);
            return {};
        });
        EXPECT_EQ(queued.error().code, Errc::HostTimeout);
        gate->promise.set_value();
    }  // the queued call was skipped (its caller gave up) or dropped with the executor
    EXPECT_FALSE(ran->load());
}

TEST(VirtCalls, ALateCompletionAfterShutdownTouchesOnlySharedState) {
    auto gate = std::make_shared<Gate>();
    auto finished = std::make_shared<std::promise<void>>();
    auto done = finished->get_future();
    {
        CallExecutor calls({.call_timeout = 100ms, .max_in_flight_per_host = 1, .max_threads = 1});
        auto r = calls.call(kSlow, "late", [gate, finished]() -> Result<std::string> {
            gate->opened.wait();
            finished->set_value();
            return std::string("late");
        });
        EXPECT_EQ(r.error().code, Errc::HostTimeout);
    }  // the worker is still stuck: it gets detached, and the executor is gone
    gate->promise.set_value();
    EXPECT_EQ(done.wait_for(30s), std::future_status::ready);
}

TEST(VirtCalls, ACallThatKeepsBeatingOutlivesTheCallTimeout) {
    CallExecutor calls({.call_timeout = 200ms, .max_in_flight_per_host = 2, .max_threads = 2});
    auto beat = std::make_shared<Heartbeat>();
    // Five times the call timeout in all, never more than a quarter of it without a beat.
    auto r = calls.call_alive(kSlow, "upload", beat, [beat]() -> Result<int> {
        for (int i = 0; i < 20; ++i) {
            std::this_thread::sleep_for(50ms);
            beat->beat();
        }
        return 7;
    });
    ASSERT_TRUE(r) << r.error().desc;
    EXPECT_EQ(*r, 7);
    EXPECT_FALSE(beat->abandoned.load());
}

TEST(VirtCalls, ACallThatStopsBeatingIsAbandonedAndToldSo) {
    CallExecutor calls({.call_timeout = 200ms, .max_in_flight_per_host = 2, .max_threads = 2});
    auto beat = std::make_shared<Heartbeat>();
    auto gate = std::make_shared<Gate>();
    auto saw_abandoned = std::make_shared<std::promise<bool>>();
    auto r = calls.call_alive(kSlow, "upload", beat, [beat, gate, saw_abandoned]() -> Status {
        beat->beat();
        gate->opened.wait();  // stuck: no more beats
        saw_abandoned->set_value(beat->abandoned.load());
        return {};
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::HostTimeout);
    EXPECT_EQ(r.error().desc, "host slow made no progress on upload for 200 ms");
    gate->promise.set_value();
    EXPECT_TRUE(saw_abandoned->get_future().get()) << "the job can see that nobody waits any more";
}

TEST(VirtCalls, CallForUsesItsOwnDeadline) {
    CallExecutor calls({.call_timeout = 50ms, .max_in_flight_per_host = 2, .max_threads = 2});
    auto r = calls.call_for(kSlow, "copy", 5s, []() -> Result<int> {
        std::this_thread::sleep_for(300ms);
        return 1;
    });
    ASSERT_TRUE(r) << r.error().desc;
    auto late = calls.call_for(kFast, "copy", 100ms, []() -> Status {
        std::this_thread::sleep_for(400ms);
        return {};
    });
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().code, Errc::HostTimeout);
    EXPECT_EQ(late.error().desc, "host fast did not answer within 100 ms");
}

// A host is reachable until a call could not connect to it or timed out, and again after a call
// that answered.
TEST(VirtCalls, AHostIsUnreachableAfterACallThatCouldNotConnect) {
    CallExecutor calls({.call_timeout = 5s, .max_in_flight_per_host = 2});
    ASSERT_TRUE(calls.call(kFast, "quick", []() -> Status { return {}; }));
    EXPECT_TRUE(calls.stats().at("fast").known());
    EXPECT_TRUE(calls.stats().at("fast").reachable());
    auto refused = calls.call(
        kFast, "open", []() -> Status { return fail(Errc::HostUnavailable, "host", "cannot connect to host fast"); });
    ASSERT_FALSE(refused);
    EXPECT_FALSE(calls.stats().at("fast").reachable());
    auto missing = calls.call(kFast, "lookup", []() -> Status { return fail(Errc::NotFound, "uuid", "no such VM"); });
    ASSERT_FALSE(missing);
    EXPECT_TRUE(calls.stats().at("fast").reachable()) << "a host that answered NotFound answered";
}

// Each host's calls as the callers waited for them: the host's state for operators, and metrics.
TEST(VirtCalls, EveryEndedCallIsCountedPerHostWithItsLatency) {
    Metrics metrics;
    CallExecutor calls({.call_timeout = 5s, .max_in_flight_per_host = 2, .max_threads = 2, .metrics = &metrics});
    EXPECT_TRUE(calls.stats().empty());

    ASSERT_TRUE(calls.call(kFast, "quick", []() -> Status { return {}; }));
    auto fast = calls.stats().at("fast");
    EXPECT_EQ(fast.calls, 1u);
    EXPECT_EQ(fast.last_op, "quick");
    EXPECT_LT(fast.last_ms, kSlowCall.count());
    EXPECT_GT(fast.last_at_ms, 0);
    EXPECT_FALSE(fast.slow());

    // A call that answers, but only after kSlowCall, makes the host slow without a timeout.
    ASSERT_TRUE(calls.call(kSlow, "define", []() -> Status {
        std::this_thread::sleep_for(kSlowCall + 100ms);
        return {};
    }));
    auto slow = calls.stats().at("slow");
    EXPECT_EQ(slow.last_op, "define");
    EXPECT_GE(slow.last_ms, kSlowCall.count());
    EXPECT_FALSE(slow.last_timed_out);
    EXPECT_EQ(slow.timeouts, 0u);
    EXPECT_TRUE(slow.slow());

    // A call whose caller gives up counts as a timeout, and its wait as its latency.
    auto gate = std::make_shared<Gate>();
    ASSERT_FALSE(calls.call_for(kSlow, "stuck", 100ms, [gate]() -> Status {
        gate->opened.wait();
        return {};
    }));
    slow = calls.stats().at("slow");
    EXPECT_EQ(slow.calls, 2u);
    EXPECT_EQ(slow.timeouts, 1u);
    EXPECT_TRUE(slow.last_timed_out);
    EXPECT_EQ(slow.last_op, "stuck");
    EXPECT_EQ(slow.last_ms, 100);
    EXPECT_EQ(slow.last_timeout_at_ms, slow.last_at_ms);
    EXPECT_EQ(calls.stats().at("fast").calls, 1u) << "another host's calls are its own";
    gate->promise.set_value();

    auto text = metrics.render();
    EXPECT_NE(text.find("kvmhub_libvirt_call_timeouts_total{host=\"slow\"} 1\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("kvmhub_libvirt_call_timeouts_total{host=\"fast\"}"), std::string::npos) << text;
    EXPECT_NE(text.find("kvmhub_libvirt_last_call_seconds{host=\"slow\"} 0.1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("kvmhub_libvirt_call_duration_seconds_count{host=\"slow\"} 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("kvmhub_libvirt_call_duration_seconds_count{host=\"fast\"} 1\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace kvmhub::virt
