#include "vm/cache_updater.hpp"

namespace kvmhub::vm {

CacheUpdater::CacheUpdater(VmService& vms) : vms_(vms), thread_([this] { run(); }) {}

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
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        virt::DomainEvent event = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        vms_.refresh_cached(event.host, event.uuid);
        lock.lock();
    }
}

}  // namespace kvmhub::vm
