#include "virt/connections.hpp"

#include <chrono>

#include "common/log.hpp"
#include "virt/error.hpp"

namespace kvmhub::virt {
namespace {

// Probe every 5 s, give up after 3 unanswered probes: a vanished host is noticed in ~20 s,
// inside the default call deadline.
constexpr int kKeepAliveInterval = 5;
constexpr unsigned kKeepAliveCount = 3;

void on_close(virConnectPtr, int reason, void* opaque) {
    static_cast<std::atomic<bool>*>(opaque)->store(true);
    // Logging may allocate; never let that unwind into libvirt.
    try {
        log::get("virt")->warn("libvirt connection closed by the host reason={}", reason);
    } catch (...) {
    }
}

}  // namespace

Connection::Connection(virConnectPtr conn, const HostRef& host, std::shared_ptr<EventHub> hub)
    : conn_(conn), host_(host.name), uri_(host.url), dead_(std::make_shared<std::atomic<bool>>(false)) {
    auto log = log::get("virt");
    // In-process drivers (test:) have no keepalive; they cannot vanish behind a network.
    if (virConnectSetKeepAlive(conn_.get(), kKeepAliveInterval, kKeepAliveCount) < 0) {
        log->debug("keepalive not supported host={} desc={}", host_, last_error("keepalive").desc);
    }
    // The flag stays ours (no free callback): drivers without close callbacks (test:) accept
    // the registration but would never call a free callback.
    if (virConnectRegisterCloseCallback(conn_.get(), on_close, dead_.get(), nullptr) == 0) {
        close_callback_ = true;
    } else {
        log->debug("close callback not supported host={} desc={}", host_, last_error("close_callback").desc);
    }
    lifecycle_id_ = register_lifecycle_events(conn_.get(), std::move(hub), host_);
}

Connection::~Connection() {
    if (lifecycle_id_ >= 0 && virConnectDomainEventDeregisterAny(conn_.get(), lifecycle_id_) < 0) {
        last_error("events");  // a dead connection cannot deregister; closing drops it anyway
    }
    if (close_callback_ && virConnectUnregisterCloseCallback(conn_.get(), on_close) < 0) {
        last_error("close_callback");
        // libvirt may still call it: keep the flag alive for good rather than risk a dangling write.
        [[maybe_unused]] auto* kept = std::make_unique<std::shared_ptr<std::atomic<bool>>>(dead_).release();
    }
    conn_.reset();
    log::get("virt")->info("libvirt connection closed host={} uri={}", host_, uri_);
}

bool Connection::usable() const {
    if (dead_->load()) return false;
    int alive = virConnectIsAlive(conn_.get());
    if (alive < 0) last_error("is_alive");
    return alive == 1;
}

Result<std::shared_ptr<Connection>> ConnectionPool::get(const HostRef& host) {
    std::shared_ptr<Slot> slot;
    {
        std::lock_guard lock(mutex_);
        auto& entry = slots_[host.url];
        if (!entry) entry = std::make_shared<Slot>();
        slot = entry;
    }
    std::lock_guard lock(slot->mutex);
    if (slot->conn && slot->conn->usable()) return slot->conn;
    auto log = log::get("virt");
    if (slot->conn) log->warn("libvirt connection lost, reopening host={} uri={}", host.name, host.url);
    // Calls still holding the old connection finish with it; it closes when they let go.
    slot->conn.reset();
    auto started = std::chrono::steady_clock::now();
    virConnectPtr raw = virConnectOpen(host.url.c_str());
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    if (raw == nullptr) {
        Error err = last_error("host");
        log->warn("libvirt connection failed host={} uri={} ms={} desc={}", host.name, host.url, ms.count(), err.desc);
        // Whatever libvirt calls it, a host we cannot connect to is unavailable to the caller.
        if (err.code != Errc::HostTimeout) err.code = Errc::HostUnavailable;
        err.desc = "cannot connect to host " + host.name + " (" + host.url + "): " + err.desc;
        return tl::unexpected(std::move(err));
    }
    slot->conn = std::make_shared<Connection>(raw, host, hub_);
    log->info("libvirt connection opened host={} uri={} ms={}", host.name, host.url, ms.count());
    if (slot->opened_before) {
        DomainEvent reconnected;
        reconnected.host = host.name;
        reconnected.reconnected = true;
        hub_->publish(reconnected);
    }
    slot->opened_before = true;
    return slot->conn;
}

}  // namespace kvmhub::virt
