#include "virt/hypervisor.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "test_host.hpp"

namespace kvmhub::virt::test {
namespace {

using namespace std::chrono_literals;

// A "host" that accepts TCP connections and never says a word: libvirt's handshake waits
// forever. Closing it (destruction) ends the connections, which frees the stuck workers.
class Blackhole {
public:
    Blackhole() {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listener_, 16) != 0 ||
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            ADD_FAILURE() << "blackhole listener failed";
        }
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { accept_loop(); });
    }
    ~Blackhole() {
        stop_.store(true);
        thread_.join();
        for (int fd : accepted_) ::close(fd);
        ::close(listener_);
    }

    HostRef host() const { return {"blackhole", fmt::format("qemu+tcp://127.0.0.1:{}/system", port_)}; }

    // Waits until `count` connections arrived, i.e. calls are hanging on it right now.
    bool wait_for_connections(std::size_t count) {
        std::unique_lock lock(mutex_);
        return arrived_.wait_for(lock, 30s, [&] { return accepted_.size() >= count; });
    }

private:
    void accept_loop() {
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

    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<int> accepted_;
};

bool host_gave_up(const Result<NodeInfo>& r) {
    return !r && (r.error().code == Errc::HostTimeout || r.error().code == Errc::HostUnavailable);
}

// Declared before the blackhole so the blackhole closes first and the stuck call returns.
class LibvirtDeadline : public ::testing::Test {
protected:
    std::unique_ptr<Hypervisor> hv;
};

TEST_F(LibvirtDeadline, AHungHostTimesOutWhileOtherHostsAnswer) {
    hv = make_libvirt_hypervisor({.call_timeout = 1500ms, .max_in_flight_per_host = 4, .worker_threads = 4});
    Blackhole hole;
    auto started = std::chrono::steady_clock::now();
    auto hung = std::async(std::launch::async, [&] { return hv->node_info(hole.host()); });
    ASSERT_TRUE(hole.wait_for_connections(1));

    // The hung call holds one worker; the test host keeps being served meanwhile.
    for (int i = 0; i < 3; ++i) {
        auto node = hv->node_info(kTestHost);
        EXPECT_TRUE(node) << node.error().desc;
    }
    auto result = hung.get();
    ASSERT_TRUE(host_gave_up(result));
    if (result.error().code == Errc::HostTimeout) {
        EXPECT_EQ(result.error().desc, "host blackhole did not answer within 1500 ms");
    }
    // Bounded, not timed: the deadline is 1.5 s, anything near a minute means it hung.
    EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
}

TEST_F(LibvirtDeadline, AFullHostMakesTheNextCallWaitAndTimeOutAlone) {
    hv = make_libvirt_hypervisor({.call_timeout = 1500ms, .max_in_flight_per_host = 1, .worker_threads = 3});
    Blackhole hole;
    auto first = std::async(std::launch::async, [&] { return hv->node_info(hole.host()); });
    ASSERT_TRUE(hole.wait_for_connections(1));
    // The only slot is taken by the hung call: this one waits for it, then gives up.
    auto second = std::async(std::launch::async, [&] { return hv->guests(hole.host()); });

    auto guests = hv->guests(kTestHost);
    EXPECT_TRUE(guests) << guests.error().desc;

    EXPECT_TRUE(host_gave_up(first.get()));
    auto queued = second.get();
    ASSERT_FALSE(queued);
    EXPECT_EQ(queued.error().code, Errc::HostTimeout);
    // Still served once both blackhole calls gave up (the first may still hold its worker).
    EXPECT_TRUE(hv->node_info(kTestHost));
}

TEST_F(LibvirtDeadline, AnUnreachableHostIsUnavailable) {
    hv = make_libvirt_hypervisor({.call_timeout = 10s});
    int port = 0;
    {
        Blackhole closed;  // a port that was just free: nothing listens on it any more
        port = std::stoi(closed.host().url.substr(closed.host().url.rfind(':') + 1));
    }
    auto result = hv->node_info({"gone", fmt::format("qemu+tcp://127.0.0.1:{}/system", port)});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, Errc::HostUnavailable);
    EXPECT_NE(result.error().desc.find("cannot connect to host gone"), std::string::npos);
}

}  // namespace
}  // namespace kvmhub::virt::test
