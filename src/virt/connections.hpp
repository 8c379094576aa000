// One libvirt connection per host URI, opened on first use and shared by every call to that
// host. A connection that libvirt reports closed (keepalive expiry, daemon restart) is
// replaced by a fresh one on the next call.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <libvirt/libvirt.h>

#include "common/cfree.hpp"
#include "common/result.hpp"
#include "virt/events.hpp"
#include "virt/hypervisor.hpp"

namespace kvmhub::virt {

class Connection {
public:
    // Takes ownership of `conn`: sets keepalive and registers the close and lifecycle callbacks.
    Connection(virConnectPtr conn, const HostRef& host, std::shared_ptr<EventHub> hub);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    // Deregisters the callbacks and closes; runs when the last call using it has finished.
    ~Connection();

    virConnectPtr get() const { return conn_.get(); }
    // False once libvirt closed it or it stopped answering keepalives.
    bool usable() const;
    void mark_dead() { dead_->store(true); }

private:
    CPtr<virConnect, virConnectClose> conn_;
    std::string host_;
    std::string uri_;
    // Written by the close callback on the event thread.
    std::shared_ptr<std::atomic<bool>> dead_;
    bool close_callback_ = false;
    int lifecycle_id_ = -1;
};

class ConnectionPool {
public:
    explicit ConnectionPool(std::shared_ptr<EventHub> hub) : hub_(std::move(hub)) {}

    // The host's connection, opened (or reopened) here when needed. Blocks while opening:
    // call it on a worker thread only.
    Result<std::shared_ptr<Connection>> get(const HostRef& host);

private:
    struct Slot {
        std::mutex mutex;  // held while opening, so concurrent calls share one new connection
        std::shared_ptr<Connection> conn;
        bool opened_before = false;  // a later open is a reconnect
    };

    std::shared_ptr<EventHub> hub_;
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Slot>> slots_;  // by URI
};

}  // namespace kvmhub::virt
