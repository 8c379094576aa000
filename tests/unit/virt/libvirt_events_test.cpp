#include "virt/hypervisor.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

#include "test_host.hpp"

namespace kvmhub::virt::test {
namespace {

// Collects events from the event thread; the test waits for the one it expects.
class EventLog {
public:
    void add(const DomainEvent& e) {
        std::lock_guard lock(mutex_);
        events_.push_back(e);
        changed_.notify_all();
    }
    bool wait_for(const std::string& uuid, const std::string& state) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(30), [&] {
            return std::any_of(events_.begin(), events_.end(),
                               [&](const DomainEvent& e) { return e.uuid == uuid && e.state == state; });
        });
    }
    bool wait_for_undefined(const std::string& uuid) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(30), [&] {
            return std::any_of(events_.begin(), events_.end(),
                               [&](const DomainEvent& e) { return e.uuid == uuid && e.undefined; });
        });
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<DomainEvent> events_;
};

TEST_F(LibvirtTest, LifecycleEventsReachTheSubscriber) {
    EventLog log;
    hv->on_event([&log](const DomainEvent& e) { log.add(e); });
    auto uuid = define_domain();  // opens the connection, which registers for events

    ASSERT_TRUE(hv->start(kTestHost, uuid));
    EXPECT_TRUE(log.wait_for(uuid, "RUNNING"));
    ASSERT_TRUE(hv->destroy(kTestHost, uuid));
    EXPECT_TRUE(log.wait_for(uuid, "SHUTOFF"));
    ASSERT_TRUE(hv->undefine(kTestHost, uuid));
    EXPECT_TRUE(log.wait_for_undefined(uuid));
    defined.clear();
    hv->on_event(nullptr);  // `log` dies with this scope
}

TEST_F(LibvirtTest, AThrowingSubscriberDoesNotStopLaterEvents) {
    EventLog log;
    bool thrown = false;
    hv->on_event([&](const DomainEvent& e) {
        if (!thrown) {
            thrown = true;
            throw std::runtime_error("subscriber bug");
        }
        log.add(e);
    });
    auto uuid = define_domain();
    ASSERT_TRUE(hv->start(kTestHost, uuid));
    ASSERT_TRUE(hv->destroy(kTestHost, uuid));
    EXPECT_TRUE(log.wait_for(uuid, "SHUTOFF"));
    hv->on_event(nullptr);
}

}  // namespace
}  // namespace kvmhub::virt::test
