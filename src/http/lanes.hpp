// Where the handlers of a host's routes run. Such a handler blocks while it waits for the host
// (a libvirt slot, a reply), so it must not hold one of the shared workers every other route
// needs: each host has a lane, at most `running` of its requests run at once (each on a thread
// of an elastic pool), the next `waiting` wait their turn for at most `max_wait`, and the rest
// are refused at once. A host that stopped answering then holds only its own lane.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/elastic_pool.hpp"
#include "common/result.hpp"

namespace kvmhub::http {

class Lanes {
public:
    using Clock = std::chrono::steady_clock;
    struct Options {
        std::size_t running = 8;   // requests of one host that run at once
        std::size_t waiting = 64;  // requests of one host that wait for their turn
        std::chrono::milliseconds max_wait{30000};
    };
    struct Counts {
        std::size_t running = 0;
        std::size_t waiting = 0;
    };

    explicit Lanes(Options options);
    Lanes(const Lanes&) = delete;
    Lanes& operator=(const Lanes&) = delete;
    ~Lanes();

    // Runs `job` in the lane of `host`, now or after those ahead of it; or calls `refused` with
    // an error naming the host (HostUnavailable: the lane is full; HostTimeout: it waited
    // max_wait). Exactly one of the two is called, on this thread or a lane's.
    void run(const std::string& host, std::function<void()> job, std::function<void(Error)> refused);
    // Refuses what waits and returns once no job runs any more (server shutdown).
    void drain();

    Counts counts(const std::string& host) const;

private:
    struct Waiting {
        std::function<void()> job;
        std::function<void(Error)> refused;
        Clock::time_point since;
    };
    struct Lane {
        std::size_t running = 0;
        std::deque<Waiting> waiting;
    };
    struct Refusal {
        std::function<void(Error)> refused;
        Error error;
    };

    // Takes the lane's turn: starts what may start, collects what waited too long. Under mutex_.
    void advance(const std::string& host, Lane& lane, std::vector<Refusal>& refusals,
                 std::vector<std::function<void()>>& starts);
    void start(const std::string& host, std::function<void()> job);
    static void refuse(std::vector<Refusal>& refusals);

    Options options_;
    mutable std::mutex mutex_;
    std::condition_variable idle_;  // a job ended
    std::map<std::string, Lane> lanes_;
    std::size_t running_ = 0;
    bool draining_ = false;
    ElasticPool pool_;  // last: destroyed first
};

}  // namespace kvmhub::http
