// A "libvirt host" on loopback that accepts TCP connections and never says a word: libvirt's
// handshake waits forever. Destruction closes every connection, which frees stuck callers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kvmhub::test {

class Blackhole {
public:
    Blackhole();
    ~Blackhole();
    Blackhole(const Blackhole&) = delete;
    Blackhole& operator=(const Blackhole&) = delete;

    int port() const { return port_; }
    // qemu+tcp://127.0.0.1:<port>/system
    std::string url() const;
    // Waits until `count` connections arrived, i.e. calls are hanging on it right now.
    bool wait_for_connections(std::size_t count, std::chrono::seconds timeout = std::chrono::seconds(30));

private:
    void accept_loop();

    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<int> accepted_;
};

}  // namespace kvmhub::test
