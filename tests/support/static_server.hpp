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
    // Answers GET `path` with `body` (200), or its tail for "Range: bytes=N-" (206).
    void add_body(const std::string& path, std::string body);
    // The Range header of the last request for `path` ("" when it sent none).
    std::string last_range(const std::string& path) const;
    std::string host_port() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string url(const std::string& path) const { return "http://" + host_port() + path; }
    int hits(const std::string& path) const;

private:
    struct Entry {
        int status;
        std::uint64_t length;
        std::string headers;
        bool has_body = false;
        std::string body;
    };
    void serve();
    void answer(int fd);

    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;
    std::map<std::string, int> hits_;
    std::map<std::string, std::string> ranges_;
    std::thread thread_;
};

}  // namespace kvmhub::test
