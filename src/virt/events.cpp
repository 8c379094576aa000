#include "virt/events.hpp"

#include <array>

#include "common/log.hpp"
#include "virt/error.hpp"

namespace kvmhub::virt {
namespace {

// The hub whose subscriber this thread is running, whose lock it then already holds.
thread_local const EventHub* t_dispatching = nullptr;

void report_throw(const DomainEvent& event, const char* what) noexcept {
    try {
        log::get("virt")->error("event subscriber threw host={} uuid={} desc={}", event.host, event.uuid, what);
    } catch (...) {
        // Nothing left to tell it with.
    }
}

// What the C callback needs; libvirt owns it between registration and the free callback.
struct Registration {
    std::shared_ptr<EventHub> hub;
    std::string host;
};

int on_lifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
    try {
        const auto* reg = static_cast<const Registration*>(opaque);
        std::array<char, VIR_UUID_STRING_BUFLEN> uuid{};
        if (virDomainGetUUIDString(dom, uuid.data()) < 0) return 0;
        reg->hub->publish(lifecycle_event(reg->host, uuid.data(), event, detail));
    } catch (...) {
        // Nothing may unwind into libvirt; a lost event only delays the guest cache.
    }
    return 0;
}

void free_registration(void* opaque) {
    std::unique_ptr<Registration> owned(static_cast<Registration*>(opaque));
}

}  // namespace

void EventHub::subscribe(std::function<void(const DomainEvent&)> callback) {
    if (t_dispatching == this) {
        subscriber_ = std::move(callback);
        return;
    }
    std::lock_guard lock(mutex_);
    subscriber_ = std::move(callback);
}

void EventHub::publish(const DomainEvent& event) noexcept {
    try {
        std::lock_guard lock(mutex_);
        if (!subscriber_) return;
        // A copy: the subscriber may replace itself while it runs.
        auto subscriber = subscriber_;
        t_dispatching = this;
        subscriber(event);
        t_dispatching = nullptr;
    } catch (const std::exception& e) {
        t_dispatching = nullptr;
        report_throw(event, e.what());
    } catch (...) {
        t_dispatching = nullptr;
        report_throw(event, "not a std::exception");
    }
}

DomainEvent lifecycle_event(std::string host, std::string uuid, int event, int detail) {
    DomainEvent out;
    out.host = std::move(host);
    out.uuid = std::move(uuid);
    switch (event) {
        case VIR_DOMAIN_EVENT_DEFINED:
            // A new definition is shut off; an updated one keeps whatever state it had.
            if (detail == VIR_DOMAIN_EVENT_DEFINED_ADDED) out.state = "SHUTOFF";
            break;
        case VIR_DOMAIN_EVENT_UNDEFINED:
            out.undefined = true;
            break;
        case VIR_DOMAIN_EVENT_STARTED:
        case VIR_DOMAIN_EVENT_RESUMED:
            out.state = "RUNNING";
            break;
        case VIR_DOMAIN_EVENT_SUSPENDED:
            out.state = "PAUSED";
            break;
        case VIR_DOMAIN_EVENT_STOPPED:
            out.state = "SHUTOFF";
            break;
        case VIR_DOMAIN_EVENT_SHUTDOWN:
            out.state = "SHUTDOWN";
            break;
        case VIR_DOMAIN_EVENT_PMSUSPENDED:
            out.state = "SUSPEND";
            break;
        case VIR_DOMAIN_EVENT_CRASHED:
            out.state = "CRASHED";
            break;
        default:
            break;
    }
    return out;
}

int register_lifecycle_events(virConnectPtr conn, std::shared_ptr<EventHub> hub, std::string host) {
    auto reg = std::make_unique<Registration>(Registration{std::move(hub), std::move(host)});
    int id = virConnectDomainEventRegisterAny(conn, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), reg.get(), free_registration);
    if (id < 0) {
        log::get("virt")->warn("lifecycle events unavailable host={} desc={}", reg->host, last_error("events").desc);
        return -1;
    }
    reg.release();  // libvirt frees it through free_registration
    return id;
}

}  // namespace kvmhub::virt
