#include "virt/connections.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

#include "virt/event_loop.hpp"

namespace kvmhub::virt {
namespace {

const HostRef kHost{"testhost", "test:///default"};

TEST(VirtConnections, OneConnectionPerUriIsReusedWhileAlive) {
    auto loop = EventLoop::acquire();
    ConnectionPool pool(std::make_shared<EventHub>());
    auto first = pool.get(kHost);
    ASSERT_TRUE(first) << first.error().desc;
    auto second = pool.get(kHost);
    ASSERT_TRUE(second);
    EXPECT_EQ(first->get(), second->get());
    EXPECT_TRUE((*first)->usable());
}

TEST(VirtConnections, ADeadConnectionIsReplacedAndStillDeliversEvents) {
    auto loop = EventLoop::acquire();
    auto hub = std::make_shared<EventHub>();
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<DomainEvent> events;
    hub->subscribe([&](const DomainEvent& e) {
        std::lock_guard lock(mutex);
        events.push_back(e);
        changed.notify_all();
    });
    ConnectionPool pool(hub);
    auto old_conn = pool.get(kHost);
    ASSERT_TRUE(old_conn);
    (*old_conn)->mark_dead();
    EXPECT_FALSE((*old_conn)->usable());
    auto fresh = pool.get(kHost);
    ASSERT_TRUE(fresh);
    EXPECT_NE(old_conn->get(), fresh->get());
    old_conn->reset();  // the old connection closes with its last user

    // The reopened connection registered for events again.
    constexpr const char* kXml =
        "<domain type='test'><name>reopen-events</name><memory>65536</memory>"
        "<os><type>hvm</type></os></domain>";
    CPtr<virDomain, virDomainFree> dom(virDomainDefineXML((*fresh)->get(), kXml));
    ASSERT_NE(dom, nullptr);
    {
        std::unique_lock lock(mutex);
        EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(30), [&] {
            return std::any_of(events.begin(), events.end(), [](const DomainEvent& e) { return e.state == "SHUTOFF"; });
        }));
    }
    EXPECT_EQ(virDomainUndefine(dom.get()), 0);
    hub->subscribe(nullptr);
}

TEST(VirtConnections, AnUnknownDriverIsHostUnavailable) {
    ConnectionPool pool(std::make_shared<EventHub>());
    auto conn = pool.get({"nowhere", "nosuchdriver:///x"});
    ASSERT_FALSE(conn);
    EXPECT_EQ(conn.error().code, Errc::HostUnavailable);
    EXPECT_NE(conn.error().desc.find("cannot connect to host nowhere"), std::string::npos);
}

}  // namespace
}  // namespace kvmhub::virt
