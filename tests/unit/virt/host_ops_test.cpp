#include "virt/ops.hpp"

#include <gtest/gtest.h>

namespace kvmhub::virt::ops {
namespace {

TEST(VirtUri, LocalOnlyWithoutAHostPartAndOverALocalTransport) {
    EXPECT_EQ(split_uri("qemu:///system").driver, "qemu");
    EXPECT_TRUE(split_uri("qemu:///system").local);
    EXPECT_TRUE(split_uri("qemu:///session").local);
    EXPECT_TRUE(split_uri("qemu+unix:///system?socket=/run/x.sock").local);
    EXPECT_FALSE(split_uri("qemu+ssh://root@node1/system").local);
    EXPECT_FALSE(split_uri("qemu+tcp://127.0.0.1:16509/system").local);
    EXPECT_FALSE(split_uri("qemu+tls://node1/system").local);
    EXPECT_EQ(split_uri("qemu+ssh://node1/system").driver, "qemu");
    EXPECT_EQ(split_uri("test:///default").driver, "test");
    EXPECT_EQ(split_uri("test+unix:///tmp/node.xml").driver, "test");
}

}  // namespace
}  // namespace kvmhub::virt::ops
