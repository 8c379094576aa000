// The one thread that runs libvirt's default event loop: keepalive, close callbacks and
// domain events all depend on it. libvirt allows one event implementation per process, so
// the loop is shared: every holder of acquire()'s pointer keeps it running, and the last
// one to let go stops and joins the thread.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

namespace kvmhub::virt {

class EventLoop {
public:
    // Registers the default implementation (once per process, before any connection opens
    // through this layer) and returns the running loop, starting its thread when needed.
    static std::shared_ptr<EventLoop> acquire();

    // Only acquire() makes one; the key keeps the constructor usable by make_shared.
    class Key {
        friend class EventLoop;
        Key() = default;
    };
    explicit EventLoop(Key);

    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;
    ~EventLoop();

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace kvmhub::virt
