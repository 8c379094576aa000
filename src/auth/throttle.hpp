// Login throttling per user name and per client address, in memory (per daemon).
//
// A key (user name or address) is locked once it has `max` failures within `window`; the lock
// lasts `lockout` from its latest failure. Failures are not forgotten when the lock ends: while
// they are still within the window, each further failure locks again at once. A success clears
// the user's failures but not the address's, so one valid account cannot be used to reset an
// address that is guessing others.
//
// Memory is bounded: each key keeps at most `max` timestamps, stale keys are pruned, and when
// a table is still full after pruning the keys with the oldest failures are dropped first, so
// spraying user names or addresses costs an attacker their oldest entries, not our memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "common/result.hpp"

namespace kvmhub::auth {

class LoginThrottle {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    static constexpr std::size_t kDefaultMaxEntries = 10'000;

    // max_per_user/max_per_ip below 1 are treated as 1. `max_entries` caps each table.
    LoginThrottle(const Clock& clock, int max_per_user, int max_per_ip, std::chrono::seconds window,
                  std::chrono::seconds lockout, std::size_t max_entries = kDefaultMaxEntries);

    // Throttled with where="username" or "client" and "retry in N s" while locked; call before
    // checking the password so a locked key does not even cost an argon2 hash.
    Status check(std::string_view user, std::string_view ip) const;
    void record_failure(std::string_view user, std::string_view ip);
    void record_success(std::string_view user, std::string_view ip);

    // Seconds until both the user and the address are unlocked (rounded up), 0 if neither is
    // locked: the value for an HTTP Retry-After header.
    int retry_after_seconds(std::string_view user, std::string_view ip) const;

    // Keys currently tracked (users + addresses); for tests and metrics.
    std::size_t tracked_entries() const;

private:
    struct Entry {
        std::deque<TimePoint> failures;  // newest last, at most `max`, all within the window
        TimePoint locked_until{};
    };
    using Table = std::map<std::string, Entry, std::less<>>;

    void add_failure(Table& table, std::string_view key, std::size_t max, TimePoint now);
    void prune(Table& table, TimePoint now);
    int remaining_seconds(const Table& table, std::string_view key, TimePoint now) const;

    const Clock& clock_;
    const std::size_t max_per_user_;
    const std::size_t max_per_ip_;
    const std::chrono::seconds window_;
    const std::chrono::seconds lockout_;
    const std::size_t max_entries_;

    mutable std::mutex mutex_;
    Table users_;
    Table ips_;
    std::size_t calls_since_prune_ = 0;
};

}  // namespace kvmhub::auth
