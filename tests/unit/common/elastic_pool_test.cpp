#include "common/elastic_pool.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

namespace kvmhub {
namespace {

using namespace std::chrono_literals;

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds within) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

struct Gate {
    std::promise<void> promise;
    std::shared_future<void> opened = promise.get_future().share();
};

TEST(ElasticPool, AJobNeverWaitsForABusyThreadAndIdleThreadsEnd) {
    ElasticPool pool({.name = "test", .max_threads = 64, .idle_timeout = 200ms});
    auto gate = std::make_shared<Gate>();
    std::atomic<int> started{0};
    for (int i = 0; i < 6; ++i)
        pool.post([gate, &started] {
            ++started;
            gate->opened.wait();
        });
    // Six blocked jobs, six threads: none waited for another to end.
    EXPECT_TRUE(eventually([&] { return started == 6; }, 5s)) << started;
    EXPECT_EQ(pool.threads(), 6u);
    EXPECT_EQ(pool.busy(), 6u);
    gate->promise.set_value();
    EXPECT_TRUE(eventually([&] { return pool.threads() == 0; }, 5s)) << pool.threads() << " threads left";
}

TEST(ElasticPool, AnIdleThreadTakesTheNextJob) {
    ElasticPool pool({.name = "test", .max_threads = 64, .idle_timeout = 10s});
    std::promise<void> first;
    pool.post([&first] { first.set_value(); });
    first.get_future().wait();
    ASSERT_TRUE(eventually([&] { return pool.busy() == 0; }, 5s));
    std::promise<void> second;
    pool.post([&second] { second.set_value(); });
    second.get_future().wait();
    EXPECT_EQ(pool.threads(), 1u) << "a new thread started although one was idle";
}

TEST(ElasticPool, AtTheCapAJobWaitsForTheNextFreeThread) {
    ElasticPool pool({.name = "test", .max_threads = 1, .idle_timeout = 10s});
    auto gate = std::make_shared<Gate>();
    std::atomic<bool> second_ran{false};
    pool.post([gate] { gate->opened.wait(); });
    pool.post([&second_ran] { second_ran = true; });
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(second_ran.load());
    EXPECT_EQ(pool.threads(), 1u);
    gate->promise.set_value();
    EXPECT_TRUE(eventually([&] { return second_ran.load(); }, 5s));
}

TEST(ElasticPool, DestructionDropsJobsThatHaveNotStarted) {
    auto gate = std::make_shared<Gate>();
    auto ran = std::make_shared<std::atomic<bool>>(false);
    {
        ElasticPool pool({.name = "test", .max_threads = 1, .grace = 50ms});
        pool.post([gate] { gate->opened.wait(); });
        pool.post([ran] { ran->store(true); });
    }  // the first job is still running: left to finish alone
    gate->promise.set_value();
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(ran->load());
}

}  // namespace
}  // namespace kvmhub
