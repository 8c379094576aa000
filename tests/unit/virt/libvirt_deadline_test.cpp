#include "virt/hypervisor.hpp"

#include <chrono>
#include <future>

#include <gtest/gtest.h>

#include "support/blackhole.hpp"
#include "test_host.hpp"

namespace kvmhub::virt::test {
namespace {

using namespace std::chrono_literals;

HostRef host_of(const kvmhub::test::Blackhole& hole) {
    return {"blackhole", hole.url()};
}

template <typename T>
bool host_gave_up(const Result<T>& r) {
    return !r && (r.error().code == Errc::HostTimeout || r.error().code == Errc::HostUnavailable);
}

// Declared before the blackhole so the blackhole closes first and the stuck call returns.
class LibvirtDeadline : public ::testing::Test {
protected:
    std::unique_ptr<Hypervisor> hv;
};

TEST_F(LibvirtDeadline, AHungHostTimesOutWhileOtherHostsAnswer) {
    hv = make_libvirt_hypervisor({.call_timeout = 1500ms, .max_in_flight_per_host = 4, .max_threads = 4});
    kvmhub::test::Blackhole hole;
    auto started = std::chrono::steady_clock::now();
    auto hung = std::async(std::launch::async, [&] { return hv->node_info(host_of(hole)); });
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

TEST_F(LibvirtDeadline, AFullHostMakesTheNextCallGiveUpAlone) {
    hv = make_libvirt_hypervisor({.call_timeout = 1500ms, .max_in_flight_per_host = 1, .max_threads = 3});
    kvmhub::test::Blackhole hole;
    auto first = std::async(std::launch::async, [&] { return hv->node_info(host_of(hole)); });
    ASSERT_TRUE(hole.wait_for_connections(1));
    // The only slot is taken by the hung call: this one waits for it, then gives up.
    auto second = std::async(std::launch::async, [&] { return hv->guests(host_of(hole)); });

    auto guests = hv->guests(kTestHost);
    EXPECT_TRUE(guests) << guests.error().desc;

    EXPECT_TRUE(host_gave_up(first.get()));
    // It gives up at its deadline, or at once when the first gave up and left the slot stuck.
    EXPECT_TRUE(host_gave_up(second.get()));
    // Still served once both blackhole calls gave up (the first may still hold its worker).
    EXPECT_TRUE(hv->node_info(kTestHost));
}

TEST_F(LibvirtDeadline, AnUnreachableHostIsUnavailable) {
    hv = make_libvirt_hypervisor({.call_timeout = 10s});
    int port = 0;
    {
        kvmhub::test::Blackhole closed;  // a port that was just free: nothing listens on it any more
        port = closed.port();
    }
    auto result = hv->node_info({"gone", fmt::format("qemu+tcp://127.0.0.1:{}/system", port)});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, Errc::HostUnavailable);
    EXPECT_NE(result.error().desc.find("cannot connect to host gone"), std::string::npos);
}

}  // namespace
}  // namespace kvmhub::virt::test
