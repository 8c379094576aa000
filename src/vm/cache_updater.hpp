// Applies hypervisor lifecycle events to the guest cache on a thread of its own: libvirt's
// event thread only queues, and a slow host never delays events of the others for long.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "virt/hypervisor.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::vm {

class CacheUpdater {
public:
    explicit CacheUpdater(VmService& vms);
    ~CacheUpdater();  // finishes the event at hand, drops the rest
    CacheUpdater(const CacheUpdater&) = delete;
    CacheUpdater& operator=(const CacheUpdater&) = delete;

    void push(const virt::DomainEvent& event);

private:
    void run();

    VmService& vms_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<virt::DomainEvent> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace kvmhub::vm
