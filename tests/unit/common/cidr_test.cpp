#include "common/cidr.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

namespace kvmhub {
namespace {

TEST(Cidr, NetworksHoldTheirAddressesOnly) {
    auto loop = Cidr::parse("127.0.0.0/8");
    ASSERT_TRUE(loop);
    EXPECT_TRUE(loop->contains("127.0.0.1"));
    EXPECT_TRUE(loop->contains("127.255.0.9"));
    EXPECT_TRUE(loop->contains("::ffff:127.0.0.1")) << "an IPv4-mapped address is its IPv4 one";
    EXPECT_FALSE(loop->contains("128.0.0.1"));
    EXPECT_FALSE(loop->contains("::1"));
    EXPECT_FALSE(loop->contains("not an address"));
    auto odd = Cidr::parse("192.0.2.128/25");
    ASSERT_TRUE(odd);
    EXPECT_TRUE(odd->contains("192.0.2.200"));
    EXPECT_FALSE(odd->contains("192.0.2.100"));
    auto v6 = Cidr::parse("2001:db8::/32");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->contains("2001:db8:1::5"));
    EXPECT_FALSE(v6->contains("2001:db9::5"));
    auto one = Cidr::parse("::1");
    ASSERT_TRUE(one);
    EXPECT_TRUE(one->contains("::1"));
    EXPECT_FALSE(one->contains("::2"));
    auto all = Cidr::parse("0.0.0.0/0");
    ASSERT_TRUE(all);
    EXPECT_TRUE(all->contains("203.0.113.7"));
}

TEST(Cidr, BadNetworksAreRefusedNamingTheField) {
    for (const char* bad : {"127.0.0.0/33", "::/129", "127.0.0.0/", "127.0.0.0/x", "300.0.0.1", "host.example", "1.2.3.4/8/8"}) {
        EXPECT_FALSE(Cidr::parse(bad)) << bad;
        auto list = parse_cidr_list(std::string("127.0.0.0/8, ") + bad, "metrics.allow");
        ASSERT_FALSE(list) << bad;
        EXPECT_EQ(list.error().where, "metrics.allow");
    }
    auto list = parse_cidr_list(" 127.0.0.0/8 , ::1/128,", "metrics.allow");
    ASSERT_TRUE(list);
    EXPECT_EQ(list->size(), 2u);
    EXPECT_TRUE(any_contains(*list, "::1"));
    EXPECT_FALSE(any_contains(*list, "192.0.2.1"));
    EXPECT_TRUE(parse_cidr_list("", "metrics.allow")->empty());
}

TEST(Cidr, InterfaceAddressesNeedAPrefixAndBareAddressesNone) {
    auto v4 = parse_interface_address("192.0.2.10/24", "vm_ipaddr");
    ASSERT_TRUE(v4);
    EXPECT_FALSE(v4->v6());
    EXPECT_EQ(v4->prefix(), 24);
    auto v6 = parse_interface_address("2001:db8::5/64", "vm_ipaddr");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->v6());
    for (const char* bad : {"192.0.2.10", "192.0.2.10/0", "192.0.2.10/33", "eth0", "", "192.0.2.10/24\n"}) {
        auto refused = parse_interface_address(bad, "vm_ipaddr");
        ASSERT_FALSE(refused) << bad;
        EXPECT_EQ(refused.error().where, "vm_ipaddr");
    }
    EXPECT_EQ(ip_family("192.0.2.1"), AF_INET);
    EXPECT_EQ(ip_family("fe80::1"), AF_INET6);
    EXPECT_EQ(ip_family("192.0.2.1/24"), 0);
    EXPECT_EQ(ip_family("gw.example"), 0);
}

}  // namespace
}  // namespace kvmhub
