// A tiny real HTTP server on 127.0.0.1 for tests that need a remote image server: answers
// GET/HEAD for registered paths with a status, a Content-Length and extra headers.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace kvmhub::test {

class StaticServer {
public:
    StaticServer();
    ~StaticServer();
    StaticServer(const StaticServer&) = delete;
    StaticServer& operator=(const StaticServer&) = delete;

    // Answers `path` with `status`, a Content-Length of `length` (a body of that many 'x' for GET).
    void add(const std::string& path, int status, std::uint64_t length, const std::string& extra_headers = {});
    std::string host_port() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string url(const std::string& path) const { return "http://" + host_port() + path; }
    int hits(const std::string& path) const;

private:
    struct Entry {
        int status;
        std::uint64_t length;
        std::string headers;
    };
    void serve();
    void answer(int fd);

    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;
    std::map<std::string, int> hits_;
    std::thread thread_;
};

}  // namespace kvmhub::test
