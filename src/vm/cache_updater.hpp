// Keeps the guest cache current on a thread of its own: applies hypervisor lifecycle events
// (libvirt's event thread only queues them), re-reads a host whose connection was reopened
// (events may have been missed meanwhile), and re-reads every host at start and then every
// `resync_interval`, for changes no event reported.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "virt/hypervisor.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::vm {

class CacheUpdater {
public:
    CacheUpdater(VmService& vms, std::chrono::seconds resync_interval);
    ~CacheUpdater();  // finishes the event at hand, drops the rest
    CacheUpdater(const CacheUpdater&) = delete;
    CacheUpdater& operator=(const CacheUpdater&) = delete;

    void push(const virt::DomainEvent& event);

private:
    void run();

    VmService& vms_;
    std::chrono::seconds resync_interval_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<virt::DomainEvent> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace kvmhub::vm
