#include "support/static_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace kvmhub::test {

StaticServer::StaticServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 16) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        throw std::runtime_error("StaticServer: cannot listen on 127.0.0.1");
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
}

StaticServer::~StaticServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
}

void StaticServer::add(const std::string& path, int status, std::uint64_t length, const std::string& extra_headers) {
    std::lock_guard lock(mutex_);
    entries_[path] = Entry{status, length, extra_headers};
}

void StaticServer::add_body(const std::string& path, std::string body) {
    std::lock_guard lock(mutex_);
    Entry entry{200, body.size(), {}};
    entry.has_body = true;
    entry.body = std::move(body);
    entries_[path] = std::move(entry);
}

std::string StaticServer::last_range(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = ranges_.find(path);
    return it == ranges_.end() ? "" : it->second;
}

int StaticServer::hits(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = hits_.find(path);
    return it == hits_.end() ? 0 : it->second;
}

void StaticServer::serve() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        answer(fd);
        close(fd);
    }
}

void StaticServer::answer(int fd) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) return;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        request.append(buf, static_cast<size_t>(n));
    }
    const std::string method = request.substr(0, request.find(' '));
    const std::size_t path_start = method.size() + 1;
    const std::string path = request.substr(path_start, request.find(' ', path_start) - path_start);
    Entry entry{404, 0, {}};
    {
        std::lock_guard lock(mutex_);
        ++hits_[path];
        if (auto it = entries_.find(path); it != entries_.end()) entry = it->second;
        std::string range;
        if (auto at = request.find("\r\nRange: "); at != std::string::npos)
            range = request.substr(at + 9, request.find("\r\n", at + 2) - at - 9);
        ranges_[path] = range;
        if (entry.has_body && range.rfind("bytes=", 0) == 0) {
            const std::uint64_t from = std::stoull(range.substr(6));
            std::string tail = from < entry.body.size() ? entry.body.substr(from) : "";
            std::string reply =
                from < entry.body.size()
                    ? "HTTP/1.1 206 Partial\r\nContent-Range: bytes " + std::to_string(from) + "-" +
                          std::to_string(entry.body.size() - 1) + "/" + std::to_string(entry.body.size()) +
                          "\r\nContent-Length: " + std::to_string(tail.size()) + "\r\nConnection: close\r\n\r\n" + tail
                    : "HTTP/1.1 416 Range\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
            return;
        }
    }
    std::string reply = "HTTP/1.1 " + std::to_string(entry.status) +
                        " X\r\nContent-Length: " + std::to_string(entry.length) + "\r\nConnection: close\r\n" +
                        entry.headers + "\r\n";
    if (method == "GET") reply += entry.has_body ? entry.body : std::string(entry.length, 'x');
    send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
}

}  // namespace kvmhub::test
