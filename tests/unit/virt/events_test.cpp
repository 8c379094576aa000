#include "virt/events.hpp"

#include <gtest/gtest.h>

namespace kvmhub::virt {
namespace {

TEST(VirtEvents, LifecycleEventsMapToGuestStates) {
    EXPECT_EQ(lifecycle_event("h", "u", VIR_DOMAIN_EVENT_STARTED, 0).state, "RUNNING");
    EXPECT_EQ(lifecycle_event("h", "u", VIR_DOMAIN_EVENT_STOPPED, 0).state, "SHUTOFF");
    EXPECT_EQ(lifecycle_event("h", "u", VIR_DOMAIN_EVENT_SUSPENDED, 0).state, "PAUSED");
    EXPECT_EQ(lifecycle_event("h", "u", VIR_DOMAIN_EVENT_PMSUSPENDED, 0).state, "SUSPEND");
    EXPECT_EQ(lifecycle_event("h", "u", VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED).state, "SHUTOFF");
    // An updated definition says nothing about whether the guest runs.
    EXPECT_EQ(lifecycle_event("h", "u", VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_UPDATED).state, "");
    auto gone = lifecycle_event("h", "u", VIR_DOMAIN_EVENT_UNDEFINED, 0);
    EXPECT_TRUE(gone.undefined);
    EXPECT_EQ(gone.state, "");
    EXPECT_EQ(gone.host, "h");
    EXPECT_EQ(gone.uuid, "u");
}

TEST(VirtEvents, ASubscriberMayReplaceItselfWhileRunning) {
    EventHub hub;
    int first = 0;
    int second = 0;
    hub.subscribe([&](const DomainEvent&) {
        ++first;
        hub.subscribe([&](const DomainEvent&) { ++second; });
    });
    hub.publish({});
    hub.publish({});
    EXPECT_EQ(first, 1);
    EXPECT_EQ(second, 1);
}

TEST(VirtEvents, AThrowingSubscriberIsContained) {
    EventHub hub;
    hub.subscribe([](const DomainEvent&) { throw std::runtime_error("bug"); });
    hub.publish({});  // noexcept: reaching the next line is the test
    hub.subscribe(nullptr);
    hub.publish({});
}

}  // namespace
}  // namespace kvmhub::virt
