#include "virt/calls.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "virt/error.hpp"

namespace kvmhub::virt {
namespace {

long long ms_since(CallExecutor::Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(CallExecutor::Clock::now() - start).count();
}

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

CallExecutor::CallExecutor(const VirtOptions& options)
    : timeout_(options.call_timeout),
      metrics_(options.metrics),
      state_(std::make_shared<State>()),
      pool_({.name = "libvirt",
             .max_threads = static_cast<std::size_t>(std::max(1, options.max_threads)),
             .grace = std::min<std::chrono::milliseconds>(options.call_timeout, std::chrono::seconds(10))}) {
    state_->max_in_flight = std::max(1, options.max_in_flight_per_host);
}

CallExecutor::~CallExecutor() {
    std::lock_guard lock(state_->mutex);
    state_->stop = true;
    state_->slot_free.notify_all();
}  // then pool_ drops what has not started and waits a bounded time for the rest

void CallExecutor::work(const std::shared_ptr<State>& state, Job& job) {
    auto log = log::get("virt");
    bool skip = false;
    {
        std::lock_guard lock(state->mutex);
        skip = job.ticket->abandoned || state->stop;
    }
    auto started = Clock::now();
    if (skip) {
        // The caller gave up before a thread took the call: do not act on its behalf.
        log->debug("libvirt call skipped, caller gave up host={} op={}", job.host.name, job.op);
    } else {
        job.run();
    }
    job.run = nullptr;  // release what the call captured before taking the lock again

    std::lock_guard lock(state->mutex);
    job.ticket->finished = true;
    auto& slots = state->slots[job.host.url];
    auto& stats = state->stats[job.host.name];
    --slots.in_flight;
    --stats.in_flight;
    if (job.ticket->abandoned) {
        --slots.stuck;
        --stats.stuck;
        if (!skip)
            log->warn("libvirt call finished after its caller gave up host={} op={} ms={}", job.host.name, job.op,
                      ms_since(started));
    } else {
        log->debug("libvirt call done host={} op={} ms={}", job.host.name, job.op, ms_since(started));
    }
    if (slots.in_flight <= 0) state->slots.erase(job.host.url);
    state->slot_free.notify_all();
}

Status CallExecutor::enqueue(Job job, Clock::time_point deadline) {
    std::unique_lock lock(state_->mutex);
    // Looked up each time: a finishing call erases the entry of a host with no call left.
    auto slots = [&]() -> Slots& { return state_->slots[job.host.url]; };
    const bool woken = state_->slot_free.wait_until(
        lock, deadline, [&] { return state_->stop || slots().in_flight < state_->max_in_flight || slots().stuck > 0; });
    if (state_->stop) return tl::unexpected(failed(job.host, job.op, "shutting down"));
    if (slots().in_flight >= state_->max_in_flight) {
        const int stuck = slots().stuck;
        lock.unlock();
        if (woken) {
            // Every slot is taken and at least one by a call nobody waits for: the host does not
            // answer, and waiting for its slot would only hold this caller as long.
            log::get("virt")->warn("libvirt call refused, host not answering host={} op={} stuck={} limit={}",
                                   job.host.name, job.op, stuck, state_->max_in_flight);
            return tl::unexpected(Error{Errc::HostUnavailable, "host",
                                        fmt::format("host {} is not answering: {} of its {} calls are stuck in "
                                                    "libvirt; try again once it answers",
                                                    job.host.name, stuck, state_->max_in_flight),
                                        kLegacyHypervisorError});
        }
        log::get("virt")->warn("libvirt call found no free slot host={} op={} limit={}", job.host.name, job.op,
                               state_->max_in_flight);
        return tl::unexpected(timed_out(job.host, job.op));
    }
    ++slots().in_flight;
    ++state_->stats[job.host.name].in_flight;
    lock.unlock();
    pool_.post([state = state_, job = std::move(job)]() mutable { work(state, job); });
    return {};
}

void CallExecutor::give_up(const HostRef& host, const std::shared_ptr<Ticket>& ticket) {
    std::lock_guard lock(state_->mutex);
    ticket->abandoned = true;
    if (ticket->finished) return;  // it returned just now: its slot is free already
    ++state_->slots[host.url].stuck;
    ++state_->stats[host.name].stuck;
    state_->slot_free.notify_all();  // callers waiting for a slot of this host need not wait on
}

std::map<std::string, HostCallStats> CallExecutor::stats() const {
    std::lock_guard lock(state_->mutex);
    return state_->stats;
}

void CallExecutor::ended(const HostRef& host, std::string_view op, Clock::duration waited, bool timed_out,
                         bool unreachable) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited).count();
    const auto now = unix_ms_now();
    {
        std::lock_guard lock(state_->mutex);
        auto& s = state_->stats[host.name];
        s.last_op = op;
        s.last_ms = ms;
        s.last_at_ms = now;
        s.last_timed_out = timed_out;
        s.last_unreachable = unreachable;
        ++s.calls;
        if (timed_out) {
            ++s.timeouts;
            s.last_timeout_at_ms = now;
        }
    }
    if (!timed_out && waited >= kSlowCall)
        log::get("virt")->warn("libvirt call slow host={} uri={} op={} ms={}", host.name, host.url, op, ms);
    if (!metrics_) return;
    const Labels labels{{"host", host.name}};
    const double seconds = std::chrono::duration<double>(waited).count();
    metrics_
        ->histogram("kvmhub_libvirt_call_duration_seconds", "libvirt call latency by host, as callers waited", labels)
        .observe(seconds);
    metrics_->gauge("kvmhub_libvirt_last_call_seconds", "latency of the host's last libvirt call", labels).set(seconds);
    if (timed_out)
        metrics_->counter("kvmhub_libvirt_call_timeouts_total", "libvirt calls whose caller gave up, by host", labels)
            .inc();
}

Error CallExecutor::timed_out(const HostRef& host, std::string_view op, std::chrono::milliseconds waited,
                              bool stalled) {
    log::get("virt")->warn("libvirt call timed out host={} uri={} op={} ms={} stalled={}", host.name, host.url, op,
                           waited.count(), stalled);
    ended(host, op, waited, true);
    return Error{Errc::HostTimeout, "host",
                 stalled ? fmt::format("host {} made no progress on {} for {} ms", host.name, op, waited.count())
                         : "host " + host.name + " did not answer within " + std::to_string(waited.count()) + " ms",
                 kLegacyHypervisorError};
}

Error CallExecutor::failed(const HostRef& host, std::string_view op, std::string_view why) {
    return Error{Errc::Internal, "host", fmt::format("call {} to host {} failed: {}", op, host.name, why),
                 kLegacyHypervisorError};
}

}  // namespace kvmhub::virt
