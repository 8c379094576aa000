// The bounded executor every libvirt call goes through. libvirt calls block, sometimes for as
// long as a host takes to die, so: each host may have at most max_in_flight_per_host calls in
// flight (libvirtd serves 5 per client), each on its own thread of an elastic pool (a thread
// starts when none is idle), and the caller waits no longer than call_timeout whatever happens
// (waiting for a slot, the call itself). A call that overruns keeps its thread and its host
// slot until libvirt returns (keepalive closes a dead connection, a handshake may hang for
// good); the caller has moved on with HostTimeout, and everything the late call touches is
// shared, never owned by the caller. So a host that stopped answering holds at most its own
// slots' threads, never the threads other hosts need; and once all its slots are held by calls
// nobody waits for any more, its next calls fail at once (HostUnavailable) instead of waiting.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/elastic_pool.hpp"
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
    // Drops calls that have not started and waits a bounded time for running ones; threads
    // still stuck in libvirt after that are left to finish alone (they own nothing of this object).
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
    // One call's fate, guarded by State::mutex.
    struct Ticket {
        bool abandoned = false;  // the caller stopped waiting
        bool finished = false;   // the call returned (or was skipped)
    };
    struct Job {
        HostRef host;
        std::string op;
        std::function<void()> run;
        std::shared_ptr<Ticket> ticket;
    };
    struct Slots {
        int in_flight = 0;  // calls holding a slot, running or about to
        int stuck = 0;      // of them, calls whose caller gave up while libvirt still has them
    };
    struct State {
        std::mutex mutex;
        std::condition_variable slot_free;           // a host's in-flight count dropped, a call got stuck, or stop
        std::map<std::string, Slots> slots;          // by host URI
        std::map<std::string, HostCallStats> stats;  // by host name
        int max_in_flight = 1;
        bool stop = false;
    };

    // Runs on a pool thread: the call unless its caller already gave up, then frees the slot.
    static void work(const std::shared_ptr<State>& state, Job& job);
    // Waits for a slot on the host (until `deadline`) and starts the job; fails at once when
    // every slot of the host is held by a stuck call.
    Status enqueue(Job job, Clock::time_point deadline);
    // The caller stops waiting for the call of `ticket`.
    void give_up(const HostRef& host, const std::shared_ptr<Ticket>& ticket);
    Error timed_out(const HostRef& host, std::string_view op) { return timed_out(host, op, timeout_, false); }
    // After `waited` in all, or (`stalled`) after `waited` without progress; counted as a
    // timed-out call of the host.
    Error timed_out(const HostRef& host, std::string_view op, std::chrono::milliseconds waited, bool stalled);
    static Error failed(const HostRef& host, std::string_view op, std::string_view why);
    // A call the caller waited `waited` for: the host's stats, metrics, and a warning when slow.
    // `unreachable`: it failed because kvmhub could not connect to the host.
    void ended(const HostRef& host, std::string_view op, Clock::duration waited, bool timed_out,
               bool unreachable = false);
    // The result of a call that returned: counted, and an exception turned into an Error.
    template <typename R>
    R finish(const HostRef& host, std::string_view op, Clock::time_point started, std::future<R>& done);

    std::chrono::milliseconds timeout_;
    Metrics* metrics_;
    std::shared_ptr<State> state_;
    ElasticPool pool_;  // last: destroyed first, so no call starts once the rest is gone
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
    auto ticket = std::make_shared<Ticket>();
    if (auto queued = enqueue(Job{host, std::string(op), [task] { (*task)(); }, ticket},
                              std::min(deadline, Clock::now() + timeout_));
        !queued)
        return tl::unexpected(queued.error());
    if (done.wait_until(deadline) != std::future_status::ready) {
        give_up(host, ticket);
        return tl::unexpected(timed_out(host, op, timeout, false));
    }
    return finish(host, op, started, done);
}

template <typename F>
std::invoke_result_t<F&> CallExecutor::call_alive(const HostRef& host, std::string_view op,
                                                  std::shared_ptr<Heartbeat> beat, F fn) {
    using R = std::invoke_result_t<F&>;
    const auto started = Clock::now();
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    auto done = task->get_future();
    auto ticket = std::make_shared<Ticket>();
    if (auto queued = enqueue(Job{host, std::string(op), [task] { (*task)(); }, ticket}, started + timeout_); !queued)
        return tl::unexpected(queued.error());
    beat->beat();  // the wait for a slot is not the call's fault
    while (done.wait_until(beat->last_beat() + timeout_) != std::future_status::ready) {
        if (Clock::now() < beat->last_beat() + timeout_) continue;  // it beat while we slept
        beat->abandoned.store(true);
        give_up(host, ticket);
        return tl::unexpected(timed_out(host, op, timeout_, true));
    }
    return finish(host, op, started, done);
}

template <typename R>
R CallExecutor::finish(const HostRef& host, std::string_view op, Clock::time_point started, std::future<R>& done) {
    try {
        R result = done.get();
        ended(host, op, Clock::now() - started, false, !result && result.error().code == Errc::HostUnavailable);
        return result;
    } catch (const std::exception& e) {
        // A dropped job (shutdown) or a throwing call; neither may escape virt/.
        ended(host, op, Clock::now() - started, false, false);
        return tl::unexpected(failed(host, op, e.what()));
    }
}

}  // namespace kvmhub::virt
