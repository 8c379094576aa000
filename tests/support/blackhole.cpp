#include "support/blackhole.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace kvmhub::test {

Blackhole::Blackhole() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listener_, 16) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        if (listener_ >= 0) ::close(listener_);
        throw std::runtime_error("blackhole listener failed");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { accept_loop(); });
}

Blackhole::~Blackhole() {
    stop_.store(true);
    thread_.join();
    for (int fd : accepted_) ::close(fd);
    ::close(listener_);
}

std::string Blackhole::url() const {
    return "qemu+tcp://127.0.0.1:" + std::to_string(port_) + "/system";
}

bool Blackhole::wait_for_connections(std::size_t count, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] { return accepted_.size() >= count; });
}

void Blackhole::accept_loop() {
    while (!stop_.load()) {
        pollfd p{listener_, POLLIN, 0};
        if (::poll(&p, 1, 50) != 1) continue;
        int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard lock(mutex_);
        accepted_.push_back(fd);
        arrived_.notify_all();
    }
}

}  // namespace kvmhub::test
