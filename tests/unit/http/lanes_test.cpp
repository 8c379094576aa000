#include "http/lanes.hpp"

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

namespace kvmhub::http {
namespace {

using namespace std::chrono_literals;

// Holds jobs until opened; shared with the jobs so it outlives the test if it must.
struct Gate {
    std::promise<void> promise;
    std::shared_future<void> opened = promise.get_future().share();
};

// What became of one request given to the lanes.
struct Outcome {
    std::promise<std::optional<Error>> promise;  // nullopt: it ran
    std::future<std::optional<Error>> future = promise.get_future();
};

std::shared_ptr<Outcome> submit(Lanes& lanes, const std::string& host, std::function<void()> job) {
    auto out = std::make_shared<Outcome>();
    lanes.run(
        host,
        [out, job = std::move(job)] {
            job();
            out->promise.set_value(std::nullopt);
        },
        [out](Error e) { out->promise.set_value(std::move(e)); });
    return out;
}

std::function<void()> wait_for(const std::shared_ptr<Gate>& gate) {
    return [gate] { gate->opened.wait(); };
}

TEST(Lanes, AHostRunsUpToItsLimitAtOnceAndTheNextWaitForTheirTurn) {
    Lanes lanes({.running = 2, .waiting = 4, .max_wait = 10s});
    auto gate = std::make_shared<Gate>();
    auto a = submit(lanes, "h1", wait_for(gate));
    auto b = submit(lanes, "h1", wait_for(gate));
    std::atomic<bool> third_ran{false};
    auto c = submit(lanes, "h1", [&third_ran] { third_ran = true; });
    EXPECT_EQ(lanes.counts("h1").running, 2u);
    EXPECT_EQ(lanes.counts("h1").waiting, 1u);
    EXPECT_EQ(c->future.wait_for(50ms), std::future_status::timeout);
    EXPECT_FALSE(third_ran.load()) << "a third job ran past the limit of two";
    gate->promise.set_value();
    EXPECT_EQ(a->future.get(), std::nullopt);
    EXPECT_EQ(b->future.get(), std::nullopt);
    EXPECT_EQ(c->future.get(), std::nullopt);
    EXPECT_TRUE(third_ran.load());
}

TEST(Lanes, AStuckHostNeverHoldsUpAnotherHost) {
    Lanes lanes({.running = 1, .waiting = 1, .max_wait = 10s});
    auto gate = std::make_shared<Gate>();
    auto stuck = submit(lanes, "dead", wait_for(gate));
    auto waiting = submit(lanes, "dead", [] {});
    auto other = submit(lanes, "alive", [] {});
    EXPECT_EQ(other->future.get(), std::nullopt);
    EXPECT_EQ(stuck->future.wait_for(0s), std::future_status::timeout);
    EXPECT_EQ(waiting->future.wait_for(0s), std::future_status::timeout);
    gate->promise.set_value();
    EXPECT_EQ(waiting->future.get(), std::nullopt);
}

TEST(Lanes, AFullLaneRefusesAtOnceNamingTheHost) {
    Lanes lanes({.running = 1, .waiting = 1, .max_wait = 10s});
    auto gate = std::make_shared<Gate>();
    auto running = submit(lanes, "kvm7", wait_for(gate));
    auto waiting = submit(lanes, "kvm7", [] {});
    std::atomic<bool> ran{false};
    auto refused = submit(lanes, "kvm7", [&ran] { ran = true; });
    auto error = refused->future.get();
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, Errc::HostUnavailable);
    EXPECT_EQ(error->where, "host");
    EXPECT_EQ(error->desc,
              "host kvm7 has too many requests in progress (1 running, 1 waiting); try again once they ended");
    EXPECT_FALSE(ran.load());
    gate->promise.set_value();
    EXPECT_EQ(waiting->future.get(), std::nullopt);
}

TEST(Lanes, ARequestThatWaitedLongerThanMaxWaitIsRefusedWhenItsTurnComes) {
    Lanes lanes({.running = 1, .waiting = 4, .max_wait = 100ms});
    auto gate = std::make_shared<Gate>();
    auto running = submit(lanes, "slow", wait_for(gate));
    std::atomic<bool> ran{false};
    auto late = submit(lanes, "slow", [&ran] { ran = true; });
    std::this_thread::sleep_for(150ms);
    gate->promise.set_value();
    auto error = late->future.get();
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, Errc::HostTimeout);
    EXPECT_NE(error->desc.find("host slow did not answer within "), std::string::npos) << error->desc;
    EXPECT_FALSE(ran.load()) << "a request its caller would no longer wait for ran all the same";
    // The lane is free again.
    EXPECT_EQ(submit(lanes, "slow", [] {})->future.get(), std::nullopt);
}

TEST(Lanes, DrainRefusesWhatWaitsAndWaitsForWhatRuns) {
    auto gate = std::make_shared<Gate>();
    std::shared_ptr<Outcome> running, waiting;
    std::atomic<bool> finished{false};
    {
        Lanes lanes({.running = 1, .waiting = 4, .max_wait = 10s});
        running = submit(lanes, "h", [gate, &finished] {
            gate->opened.wait();
            finished = true;
        });
        waiting = submit(lanes, "h", [] {});
        auto drained = std::async(std::launch::async, [&] { lanes.drain(); });
        auto error = waiting->future.get();
        ASSERT_TRUE(error);
        EXPECT_EQ(error->code, Errc::HostUnavailable);
        EXPECT_EQ(drained.wait_for(50ms), std::future_status::timeout) << "drain returned while a job ran";
        gate->promise.set_value();
        drained.get();
        EXPECT_TRUE(finished.load());
        EXPECT_EQ(submit(lanes, "h", [] {})->future.get()->code, Errc::HostUnavailable);
    }
    EXPECT_EQ(running->future.get(), std::nullopt);
}

}  // namespace
}  // namespace kvmhub::http
