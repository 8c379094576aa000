// Time as a dependency: services take a Clock& so tests can move time by hand.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace kvmhub {

class Clock {
public:
    virtual ~Clock() = default;
    // Wall-clock time (what tokens, leases and audit records use).
    virtual std::chrono::system_clock::time_point now() const = 0;

    std::int64_t now_seconds() const {
        return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
    }
    std::int64_t now_millis() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
    }
};

class SystemClock final : public Clock {
public:
    std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told to; safe to read and advance from several threads.
class ManualClock final : public Clock {
public:
    explicit ManualClock(std::chrono::system_clock::time_point start = std::chrono::system_clock::now())
        : ticks_(start.time_since_epoch().count()) {}

    std::chrono::system_clock::time_point now() const override {
        return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(ticks_.load()));
    }
    void advance(std::chrono::system_clock::duration by) { ticks_ += by.count(); }

private:
    std::atomic<std::chrono::system_clock::duration::rep> ticks_;
};

}  // namespace kvmhub
