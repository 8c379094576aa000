#include "common/elastic_pool.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common/log.hpp"

namespace kvmhub {

struct ElasticPool::State {
    Options options;
    std::mutex mutex;
    std::condition_variable work;    // a job was posted, or stop
    std::condition_variable exited;  // a thread ended
    std::deque<std::function<void()>> queue;
    std::size_t alive = 0;
    std::size_t idle = 0;
    bool stop = false;
};

ElasticPool::ElasticPool(Options options) : state_(std::make_shared<State>()) {
    state_->options = std::move(options);
    if (state_->options.max_threads == 0) state_->options.max_threads = 1;
}

ElasticPool::~ElasticPool() {
    std::unique_lock lock(state_->mutex);
    state_->stop = true;
    auto dropped = std::move(state_->queue);
    state_->queue.clear();
    state_->work.notify_all();
    const bool all_exited = state_->exited.wait_for(lock, state_->options.grace, [this] { return state_->alive == 0; });
    const std::size_t stuck = state_->alive;
    lock.unlock();
    dropped.clear();  // outside the lock: a job's captures may do anything when destroyed
    if (!all_exited)
        log::get("pool")->warn("threads still busy at shutdown, left to finish pool={} count={}", state_->options.name,
                               stuck);
}

void ElasticPool::post(std::function<void()> job) {
    std::unique_lock lock(state_->mutex);
    if (state_->stop) return;
    state_->queue.push_back(std::move(job));
    if (state_->idle >= state_->queue.size()) {
        state_->work.notify_one();
        return;
    }
    if (state_->alive >= state_->options.max_threads) {
        log::get("pool")->warn("all threads busy, a job waits pool={} threads={}", state_->options.name, state_->alive);
        return;
    }
    ++state_->alive;
    lock.unlock();
    // Detached: a thread stuck in a remote call must not hold up the pool's destruction.
    std::thread(work, state_).detach();
}

void ElasticPool::work(std::shared_ptr<State> state) {
    std::unique_lock lock(state->mutex);
    while (true) {
        if (!state->queue.empty()) {
            auto job = std::move(state->queue.front());
            state->queue.pop_front();
            lock.unlock();
            try {
                job();
            } catch (const std::exception& e) {
                // Callers hand in jobs that report their own failures; this is a last resort.
                log::get("pool")->error("a job threw pool={} error={}", state->options.name, e.what());
            }
            job = nullptr;  // release what the job captured before taking the lock again
            lock.lock();
            continue;
        }
        if (state->stop) break;
        ++state->idle;
        const bool woken = state->work.wait_for(lock, state->options.idle_timeout,
                                                [&] { return state->stop || !state->queue.empty(); });
        --state->idle;
        if (!woken) break;
    }
    --state->alive;
    state->exited.notify_all();
}

std::size_t ElasticPool::threads() const {
    std::lock_guard lock(state_->mutex);
    return state_->alive;
}

std::size_t ElasticPool::busy() const {
    std::lock_guard lock(state_->mutex);
    return state_->alive - state_->idle;
}

}  // namespace kvmhub
