// A TCP server on 127.0.0.1 that stands in for a console: it sends an optional greeting to
// each connection, then echoes every byte back. One thread per connection.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kvmhub::test {

class EchoServer {
public:
    explicit EchoServer(std::string greeting = {});
    ~EchoServer();
    EchoServer(const EchoServer&) = delete;
    EchoServer& operator=(const EchoServer&) = delete;

    int port() const { return port_; }
    // Connections accepted so far, and those still open.
    int accepted();
    int open_connections();
    // Waits until open_connections() == count.
    bool wait_open(int count, std::chrono::seconds timeout = std::chrono::seconds(30));
    // Closes every open connection from the server side.
    void close_all();

private:
    void accept_loop();
    void serve(int fd);

    std::string greeting_;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread acceptor_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::thread> workers_;
    std::vector<int> open_;
    int accepted_ = 0;
};

}  // namespace kvmhub::test
