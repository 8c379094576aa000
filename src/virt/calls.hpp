// The bounded executor every libvirt call goes through. libvirt calls block, sometimes for as
// long as a host takes to die, so: a fixed pool of worker threads makes them, each host may
// have at most max_in_flight_per_host of them in flight (libvirtd serves 5 per client), and
// the caller waits no longer than call_timeout whatever happens (queueing, waiting for a slot,
// the call itself). A call that overruns keeps its worker and its host slot until libvirt
// returns (keepalive closes a dead connection); the caller has moved on with HostTimeout, and
// everything the late call touches is shared, never owned by the caller.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "common/result.hpp"
#include "virt/hypervisor.hpp"

namespace kvmhub::virt {

// Progress of a long call: the job beats while it makes progress, the caller gives up when
// no beat came for a whole call_timeout (and says so through `abandoned`, so the job can stop).
struct Heartbeat {
    std::atomic<std::chrono::steady_clock::rep> last{std::chrono::steady_clock::now().time_since_epoch().count()};
    std::atomic<bool> abandoned{false};
    void beat() noexcept { last.store(std::chrono::steady_clock::now().time_since_epoch().count()); }
    std::chrono::steady_clock::time_point last_beat() const noexcept {
        return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(last.load()));
    }
};

class CallExecutor {
public:
    using Clock = std::chrono::steady_clock;

    explicit CallExecutor(const VirtOptions& options);
    CallExecutor(const CallExecutor&) = delete;
    CallExecutor& operator=(const CallExecutor&) = delete;
    // Drops queued calls and waits a bounded time for running ones; workers still stuck in
    // libvirt after that are detached (they own nothing of this object).
    ~CallExecutor();

    // Runs `fn` (returning a Result) on a worker for `host`, or answers HostTimeout at the
    // deadline. `fn` must own everything it uses: it may outlive this call and this object.
    template <typename F>
    std::invoke_result_t<F&> call(const HostRef& host, std::string_view op, F fn);
    // Like call(), with `timeout` instead of call_timeout (one long call that cannot report
    // progress, such as a full copy of a volume).
    template <typename F>
    std::invoke_result_t<F&> call_for(const HostRef& host, std::string_view op, std::chrono::milliseconds timeout,
                                      F fn);
    // Like call(), but the deadline moves: the caller waits as long as `beat` was beaten within
    // call_timeout (uploads of big files). On giving up it sets beat->abandoned.
    template <typename F>
    std::invoke_result_t<F&> call_alive(const HostRef& host, std::string_view op, std::shared_ptr<Heartbeat> beat,
                                        F fn);

    std::chrono::milliseconds timeout() const { return timeout_; }
    // Per host name: how its calls went (see HostCallStats).
    std::map<std::string, HostCallStats> stats() const;

private:
    struct Job {
        std::string host_key;
        std::string host_name;
        std::string op;
        std::function<void()> run;
        std::shared_ptr<std::atomic<bool>> abandoned;  // the caller stopped waiting
    };
    struct State {
        std::mutex mutex;
        std::condition_variable work;       // a job was queued, or stop
        std::condition_variable slot_free;  // a host's in-flight count dropped, or stop
        std::condition_variable exited;     // a worker left its loop
        std::deque<Job> queue;
        std::map<std::string, int> in_flight;  // by host URI
        std::map<std::string, HostCallStats> stats;  // by host name
        int max_in_flight = 1;
        int alive = 0;
        bool stop = false;
    };

    static void work(std::shared_ptr<State> state);
    // Waits for a slot on the host (until `deadline`) and queues the job.
    Status enqueue(Job job, Clock::time_point deadline);
    Error timed_out(const HostRef& host, std::string_view op) { return timed_out(host, op, timeout_, false); }
    // After `waited` in all, or (`stalled`) after `waited` without progress; counted as a
    // timed-out call of the host.
    Error timed_out(const HostRef& host, std::string_view op, std::chrono::milliseconds waited, bool stalled);
    static Error failed(const HostRef& host, std::string_view op, std::string_view why);
    // A call the caller waited `waited` for: the host's stats, metrics, and a warning when slow.
    void ended(const HostRef& host, std::string_view op, Clock::duration waited, bool timed_out);

    std::chrono::milliseconds timeout_;
    Metrics* metrics_;
    std::shared_ptr<State> state_;
    std::vector<std::thread> workers_;
};

template <typename F>
std::invoke_result_t<F&> CallExecutor::call(const HostRef& host, std::string_view op, F fn) {
    return call_for(host, op, timeout_, std::move(fn));
}

template <typename F>
std::invoke_result_t<F&> CallExecutor::call_for(const HostRef& host, std::string_view op,
                                                std::chrono::milliseconds timeout, F fn) {
    using R = std::invoke_result_t<F&>;
    const auto started = Clock::now();
    auto deadline = started + timeout;
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    auto done = task->get_future();
    auto abandoned = std::make_shared<std::atomic<bool>>(false);
    Job job{host.url, host.name, std::string(op), [task] { (*task)(); }, abandoned};
    if (auto queued = enqueue(std::move(job), std::min(deadline, Clock::now() + timeout_)); !queued)
        return tl::unexpected(queued.error());
    if (done.wait_until(deadline) != std::future_status::ready) {
        abandoned->store(true);
        return tl::unexpected(timed_out(host, op, timeout, false));
    }
    ended(host, op, Clock::now() - started, false);
    try {
        return done.get();
    } catch (const std::exception& e) {
        // A dropped job (shutdown) or a throwing call; neither may escape virt/.
        return tl::unexpected(failed(host, op, e.what()));
    }
}

template <typename F>
std::invoke_result_t<F&> CallExecutor::call_alive(const HostRef& host, std::string_view op,
                                                  std::shared_ptr<Heartbeat> beat, F fn) {
    using R = std::invoke_result_t<F&>;
    const auto started = Clock::now();
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    auto done = task->get_future();
    auto abandoned = std::make_shared<std::atomic<bool>>(false);
    Job job{host.url, host.name, std::string(op), [task] { (*task)(); }, abandoned};
    if (auto queued = enqueue(std::move(job), started + timeout_); !queued) return tl::unexpected(queued.error());
    beat->beat();  // the wait for a slot is not the call's fault
    while (done.wait_until(beat->last_beat() + timeout_) != std::future_status::ready) {
        if (Clock::now() < beat->last_beat() + timeout_) continue;  // it beat while we slept
        abandoned->store(true);
        beat->abandoned.store(true);
        return tl::unexpected(timed_out(host, op, timeout_, true));
    }
    ended(host, op, Clock::now() - started, false);
    try {
        return done.get();
    } catch (const std::exception& e) {
        // A dropped job (shutdown) or a throwing call; neither may escape virt/.
        return tl::unexpected(failed(host, op, e.what()));
    }
}

}  // namespace kvmhub::virt
