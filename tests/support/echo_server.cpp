#include "support/echo_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace kvmhub::test {

EchoServer::EchoServer(std::string greeting) : greeting_(std::move(greeting)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 64) != 0)
        throw std::runtime_error("echo server: cannot listen");
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

EchoServer::~EchoServer() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    close_all();
    acceptor_.join();
    for (auto& t : workers_) t.join();
    ::close(listener_);
}

void EchoServer::accept_loop() {
    while (!stop_) {
        pollfd p{listener_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        int fd = ::accept(listener_, nullptr, nullptr);
        if (fd < 0) continue;
        std::lock_guard lock(mutex_);
        ++accepted_;
        open_.push_back(fd);
        workers_.emplace_back([this, fd] { serve(fd); });
        changed_.notify_all();
    }
}

void EchoServer::serve(int fd) {
    if (!greeting_.empty()) (void)::send(fd, greeting_.data(), greeting_.size(), MSG_NOSIGNAL);
    char buf[65536];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = ::send(fd, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
            if (w <= 0) break;
            off += w;
        }
    }
    std::lock_guard lock(mutex_);
    auto it = std::find(open_.begin(), open_.end(), fd);
    if (it != open_.end()) {
        open_.erase(it);
        ::close(fd);
    }
    changed_.notify_all();
}

int EchoServer::accepted() {
    std::lock_guard lock(mutex_);
    return accepted_;
}

int EchoServer::open_connections() {
    std::lock_guard lock(mutex_);
    return static_cast<int>(open_.size());
}

bool EchoServer::wait_open(int count, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return static_cast<int>(open_.size()) == count; });
}

void EchoServer::close_all() {
    std::lock_guard lock(mutex_);
    // shutdown, not close: the serving thread owns the descriptor and closes it.
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
}

}  // namespace kvmhub::test
