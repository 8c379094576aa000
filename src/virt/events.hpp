// Lifecycle events: from libvirt's C callback on the event thread to the one subscriber.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <libvirt/libvirt.h>

#include "virt/hypervisor.hpp"

namespace kvmhub::virt {

// Holds the subscriber. Shared by every connection's callback registration, so a callback
// libvirt delivers late (after the Hypervisor is gone) still finds valid memory.
class EventHub {
public:
    // Once this returns, the previous subscriber is not running and will not be called
    // again, so it may capture things that die right after. May be called from inside the
    // subscriber itself.
    void subscribe(std::function<void(const DomainEvent&)> callback);
    // Never throws: it runs under a C callback.
    void publish(const DomainEvent& event) noexcept;

private:
    std::mutex mutex_;  // held while the subscriber runs
    std::function<void(const DomainEvent&)> subscriber_;
};

// The state a lifecycle event leaves the domain in ("" when the event does not tell).
// `undefined` is set for VIR_DOMAIN_EVENT_UNDEFINED.
DomainEvent lifecycle_event(std::string host, std::string uuid, int event, int detail);

// Registers the lifecycle callback on `conn`; returns the callback id, or -1 (error already
// read and logged) when the driver refuses.
int register_lifecycle_events(virConnectPtr conn, std::shared_ptr<EventHub> hub, std::string host);

}  // namespace kvmhub::virt
