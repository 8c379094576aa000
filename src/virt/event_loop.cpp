#include "virt/event_loop.hpp"

#include <mutex>

#include <libvirt/libvirt.h>

#include "common/log.hpp"
#include "virt/error.hpp"
#include "virt/probe.hpp"

namespace kvmhub::virt {
namespace {

std::mutex& loop_mutex() {
    static std::mutex m;
    return m;
}

std::weak_ptr<EventLoop>& current_loop() {
    static std::weak_ptr<EventLoop> loop;
    return loop;
}

void register_default_impl() {
    static std::once_flag once;
    std::call_once(once, [] {
        quiet_libvirt_errors();
        if (virEventRegisterDefaultImpl() < 0) {
            // Without it there are no events and no keepalive; calls still work.
            log::get("virt")->error("libvirt event loop registration failed desc={}", last_error("event_loop").desc);
        }
    });
}

}  // namespace

std::shared_ptr<EventLoop> EventLoop::acquire() {
    register_default_impl();
    std::lock_guard lock(loop_mutex());
    if (auto loop = current_loop().lock()) return loop;
    auto loop = std::make_shared<EventLoop>(Key{});
    current_loop() = loop;
    return loop;
}

EventLoop::EventLoop(Key) {
    thread_ = std::thread([this] {
        while (!stop_.load()) {
            if (virEventRunDefaultImpl() < 0) {
                log::get("virt")->error("libvirt event loop iteration failed desc={}", last_error("event_loop").desc);
                break;
            }
        }
    });
}

EventLoop::~EventLoop() {
    stop_.store(true);
    // A zero-period timer fires on every iteration, so the loop wakes up, sees the flag and
    // returns even if another holder's thread happens to be iterating the same loop.
    int wake = virEventAddTimeout(
        0, [](int, void*) {}, nullptr, nullptr);
    if (thread_.joinable()) thread_.join();
    if (wake >= 0) virEventRemoveTimeout(wake);
}

}  // namespace kvmhub::virt
