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
    : timeout_(options.call_timeout), metrics_(options.metrics), state_(std::make_shared<State>()) {
    state_->max_in_flight = std::max(1, options.max_in_flight_per_host);
    int count = std::max(1, options.worker_threads);
    state_->alive = count;
    workers_.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) workers_.emplace_back(work, state_);
}

CallExecutor::~CallExecutor() {
    std::unique_lock lock(state_->mutex);
    state_->stop = true;
    state_->queue.clear();
    state_->work.notify_all();
    state_->slot_free.notify_all();
    auto grace = std::min<std::chrono::milliseconds>(timeout_, std::chrono::seconds(10));
    bool all_exited = state_->exited.wait_for(lock, grace, [this] { return state_->alive == 0; });
    int stuck = state_->alive;
    lock.unlock();
    for (auto& worker : workers_) {
        if (all_exited) {
            worker.join();
        } else {
            worker.detach();
        }
    }
    if (!all_exited) log::get("virt")->warn("libvirt workers still busy at shutdown, detached count={}", stuck);
}

void CallExecutor::work(std::shared_ptr<State> state) {
    auto log = log::get("virt");
    std::unique_lock lock(state->mutex);
    while (true) {
        state->work.wait(lock, [&] { return state->stop || !state->queue.empty(); });
        if (state->stop) break;
        Job job = std::move(state->queue.front());
        state->queue.pop_front();
        lock.unlock();

        auto started = Clock::now();
        if (job.abandoned->load()) {
            // The caller gave up while this waited in the queue: do not act on its behalf.
            log->debug("libvirt call skipped, caller gave up host={} op={}", job.host_name, job.op);
        } else {
            job.run();
            if (job.abandoned->load()) {
                log->warn("libvirt call finished after its caller gave up host={} op={} ms={}", job.host_name, job.op,
                          ms_since(started));
            } else {
                log->debug("libvirt call done host={} op={} ms={}", job.host_name, job.op, ms_since(started));
            }
        }
        job.run = nullptr;  // release what the call captured before taking the lock again

        lock.lock();
        if (auto it = state->in_flight.find(job.host_key); it != state->in_flight.end() && --it->second <= 0) {
            state->in_flight.erase(it);
        }
        state->slot_free.notify_all();
    }
    --state->alive;
    state->exited.notify_all();
}

Status CallExecutor::enqueue(Job job, Clock::time_point deadline) {
    std::unique_lock lock(state_->mutex);
    bool has_slot = state_->slot_free.wait_until(lock, deadline, [&] {
        auto it = state_->in_flight.find(job.host_key);
        return state_->stop || it == state_->in_flight.end() || it->second < state_->max_in_flight;
    });
    if (state_->stop) return tl::unexpected(failed({job.host_name, job.host_key}, job.op, "shutting down"));
    if (!has_slot) {
        lock.unlock();
        log::get("virt")->warn("libvirt call found no free slot host={} op={} limit={}", job.host_name, job.op,
                               state_->max_in_flight);
        return tl::unexpected(timed_out({job.host_name, job.host_key}, job.op));
    }
    ++state_->in_flight[job.host_key];
    state_->queue.push_back(std::move(job));
    state_->work.notify_one();
    return {};
}

std::map<std::string, HostCallStats> CallExecutor::stats() const {
    std::lock_guard lock(state_->mutex);
    return state_->stats;
}

void CallExecutor::ended(const HostRef& host, std::string_view op, Clock::duration waited, bool timed_out) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited).count();
    const auto now = unix_ms_now();
    {
        std::lock_guard lock(state_->mutex);
        auto& s = state_->stats[host.name];
        s.last_op = op;
        s.last_ms = ms;
        s.last_at_ms = now;
        s.last_timed_out = timed_out;
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
