#include "auth/throttle.hpp"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace kvmhub::auth {
namespace {

using namespace std::chrono_literals;

class LoginThrottleTest : public ::testing::Test {
protected:
    ManualClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
    // 3 per user, 5 per address, within 10 minutes; locked for 5 minutes.
    LoginThrottle throttle{clock, 3, 5, 600s, 300s};

    void fail_times(int n, const std::string& user, const std::string& ip) {
        for (int i = 0; i < n; ++i) throttle.record_failure(user, ip);
    }
};

TEST_F(LoginThrottleTest, LocksUserAfterMaxFailures) {
    fail_times(2, "alice", "10.0.0.1");
    EXPECT_TRUE(throttle.check("alice", "10.0.0.1"));
    throttle.record_failure("alice", "10.0.0.1");
    auto r = throttle.check("alice", "10.0.0.1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::Throttled);
    EXPECT_EQ(r.error().where, "username");
    EXPECT_NE(r.error().desc.find("retry in 300 s"), std::string::npos) << r.error().desc;
    EXPECT_EQ(throttle.retry_after_seconds("alice", "10.0.0.1"), 300);
}

TEST_F(LoginThrottleTest, LockedUserIsLockedFromEveryAddress) {
    fail_times(3, "alice", "10.0.0.1");
    EXPECT_FALSE(throttle.check("alice", "10.0.0.2"));
}

TEST_F(LoginThrottleTest, OtherUserIsNotAffected) {
    fail_times(3, "alice", "10.0.0.1");
    EXPECT_TRUE(throttle.check("bob", "10.0.0.2"));
    EXPECT_EQ(throttle.retry_after_seconds("bob", "10.0.0.2"), 0);
}

TEST_F(LoginThrottleTest, LocksAddressAcrossDifferentUserNames) {
    for (int i = 0; i < 5; ++i) throttle.record_failure("user" + std::to_string(i), "10.0.0.9");
    auto r = throttle.check("someone-else", "10.0.0.9");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::Throttled);
    EXPECT_EQ(r.error().where, "client");
    EXPECT_TRUE(throttle.check("someone-else", "10.0.0.10"));
}

TEST_F(LoginThrottleTest, FailuresOlderThanTheWindowDoNotCount) {
    fail_times(2, "alice", "10.0.0.1");
    clock.advance(601s);
    throttle.record_failure("alice", "10.0.0.1");
    EXPECT_TRUE(throttle.check("alice", "10.0.0.1"));
    fail_times(1, "alice", "10.0.0.1");
    EXPECT_TRUE(throttle.check("alice", "10.0.0.1"));
    fail_times(1, "alice", "10.0.0.1");
    EXPECT_FALSE(throttle.check("alice", "10.0.0.1"));
}

TEST_F(LoginThrottleTest, SuccessClearsUserFailuresButNotAddressFailures) {
    fail_times(2, "alice", "10.0.0.1");
    throttle.record_success("alice", "10.0.0.1");
    fail_times(2, "alice", "10.0.0.1");
    EXPECT_TRUE(throttle.check("alice", "10.0.0.1")) << "user count restarted after the success";
    throttle.record_failure("bob", "10.0.0.1");
    auto r = throttle.check("carol", "10.0.0.1");
    ASSERT_FALSE(r) << "the address kept all five failures";
    EXPECT_EQ(r.error().where, "client");
}

TEST_F(LoginThrottleTest, LockoutEndsAfterTheLockoutPeriod) {
    fail_times(3, "alice", "10.0.0.1");
    clock.advance(299s);
    EXPECT_FALSE(throttle.check("alice", "10.0.0.1"));
    EXPECT_EQ(throttle.retry_after_seconds("alice", "10.0.0.1"), 1);
    clock.advance(1s);
    EXPECT_TRUE(throttle.check("alice", "10.0.0.1"));
    EXPECT_EQ(throttle.retry_after_seconds("alice", "10.0.0.1"), 0);
}

TEST_F(LoginThrottleTest, FailureRightAfterLockoutWithinWindowLocksAgain) {
    fail_times(3, "alice", "10.0.0.1");
    clock.advance(300s);
    ASSERT_TRUE(throttle.check("alice", "10.0.0.1"));
    throttle.record_failure("alice", "10.0.0.1");
    EXPECT_EQ(throttle.retry_after_seconds("alice", "10.0.0.1"), 300);
}

TEST_F(LoginThrottleTest, RetryAfterRoundsUpAndTakesTheLongerLock) {
    fail_times(3, "alice", "10.0.0.1");
    clock.advance(1500ms);
    EXPECT_EQ(throttle.retry_after_seconds("alice", "10.0.0.1"), 299);
    fail_times(2, "bob", "10.0.0.1");  // address reaches 5 now, locked 300 s from here
    EXPECT_EQ(throttle.retry_after_seconds("alice", "10.0.0.1"), 300);
}

TEST_F(LoginThrottleTest, MemoryStaysBoundedWhenSprayingNames) {
    LoginThrottle small(clock, 3, 1'000'000, 600s, 300s, 1000);
    for (int i = 0; i < 20'000; ++i) small.record_failure("user" + std::to_string(i), "10.0.0.1");
    EXPECT_LE(small.tracked_entries(), 1001u);
    // The most recent victims are the ones still tracked.
    small.record_failure("user19999", "10.0.0.1");
    small.record_failure("user19999", "10.0.0.1");
    EXPECT_FALSE(small.check("user19999", "10.0.0.2"));
}

TEST_F(LoginThrottleTest, StaleEntriesArePruned) {
    for (int i = 0; i < 100; ++i) throttle.record_failure("user" + std::to_string(i), "10.0.1." + std::to_string(i));
    EXPECT_EQ(throttle.tracked_entries(), 200u);
    clock.advance(601s);
    for (int i = 0; i < 300; ++i) throttle.record_failure("late", "10.0.2.1");
    EXPECT_EQ(throttle.tracked_entries(), 2u);
}

TEST_F(LoginThrottleTest, ConcurrentUseIsSafe) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 2000; ++i) {
                const std::string user = "u" + std::to_string(t * 10'000 + i % 50);
                throttle.record_failure(user, "10.0.0." + std::to_string(t));
                (void)throttle.check(user, "10.0.0.1");
                if (i % 7 == 0) throttle.record_success(user, "10.0.0.1");
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_LE(throttle.tracked_entries(), 204u);
}

}  // namespace
}  // namespace kvmhub::auth
