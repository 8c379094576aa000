// Threads for work that blocks for as long as something remote takes: a job never waits for
// a thread (one is started when none is idle, up to a hard cap), and a thread that stays idle
// for idle_timeout ends. Callers bound the work themselves (per host, per lane): the pool only
// makes sure that one caller's stuck jobs do not hold the threads another caller needs.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace kvmhub {

class ElasticPool {
public:
    struct Options {
        std::string name;  // for the log
        std::size_t max_threads = 1024;
        std::chrono::milliseconds idle_timeout = std::chrono::seconds(5);
        // How long the destructor waits for running jobs before it leaves them to finish alone.
        std::chrono::milliseconds grace = std::chrono::seconds(10);
    };

    explicit ElasticPool(Options options);
    ElasticPool(const ElasticPool&) = delete;
    ElasticPool& operator=(const ElasticPool&) = delete;
    // Queued jobs that have not started are dropped (destroyed unrun); running ones get `grace`
    // to end, then their threads are detached: they own nothing of the pool.
    ~ElasticPool();

    // Runs `job` on an idle thread or a new one; at max_threads it waits for the next free one.
    void post(std::function<void()> job);

    std::size_t threads() const;  // alive now, busy or idle
    std::size_t busy() const;

private:
    struct State;
    static void work(std::shared_ptr<State> state);

    std::shared_ptr<State> state_;
};

}  // namespace kvmhub
