#include "vm/cache_updater.hpp"

#include "common/log.hpp"

namespace kvmhub::vm {

CacheUpdater::CacheUpdater(VmService& vms, std::chrono::seconds resync_interval)
    : vms_(vms), resync_interval_(resync_interval), thread_([this] { run(); }) {}

CacheUpdater::~CacheUpdater() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void CacheUpdater::push(const virt::DomainEvent& event) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        queue_.push_back(event);
    }
    wake_.notify_one();
}

void CacheUpdater::run() {
    auto next_resync = std::chrono::steady_clock::now();  // the first one right away
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait_until(lock, next_resync, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        if (queue_.empty() || std::chrono::steady_clock::now() >= next_resync) {
            lock.unlock();
            vms_.resync_all();
            lock.lock();
            next_resync = std::chrono::steady_clock::now() + resync_interval_;
            continue;
        }
        virt::DomainEvent event = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        if (event.reconnected) {
            if (auto done = vms_.resync_host(event.host); !done)  // the periodic resync retries
                log::get("vm")->warn("guest cache resync after reconnect failed host={} error={}", event.host,
                                     done.error().desc);
        } else {
            vms_.refresh_cached(event.host, event.uuid);
        }
        lock.lock();
    }
}

}  // namespace kvmhub::vm
