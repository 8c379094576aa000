// Which graphics kvmhub reaches straight and which through ssh, and with what login.
#include "console/graphics_route.hpp"

#include <gtest/gtest.h>

#include "console/ssh_login.hpp"

namespace kvmhub::console {
namespace {

using nlohmann::json;

json remote_host(const std::string& mode = "") {
    json h = {{"name", "h1"},
              {"url", "qemu+ssh://root@192.0.2.7/system"},
              {"ipaddr", "192.0.2.7"},
              {"sshport", 22},
              {"sshuser", "root"}};
    if (!mode.empty()) h["console_tunnel"] = mode;
    return h;
}
json local_host(const std::string& mode = "") {
    json h = remote_host(mode);
    h["url"] = "qemu:///system";
    h["ipaddr"] = "127.0.0.1";
    return h;
}
virt::GraphicsInfo vnc(const std::string& listen, int port = 5901) {
    return {"vnc", port, listen, ""};
}

TEST(GraphicsRoute, AutoTunnelsOnlyTheLoopbackOfARemoteHost) {
    for (const std::string listen : {"", "127.0.0.1", "localhost"}) {
        auto r = graphics_route("h1", remote_host(), vnc(listen), "u");
        ASSERT_TRUE(r) << listen;
        EXPECT_TRUE(r->tunnel) << listen;
        EXPECT_EQ(r->address, "127.0.0.1") << listen;
        EXPECT_EQ(r->port, 5901);
    }
    auto wildcard = graphics_route("h1", remote_host("auto"), vnc("0.0.0.0"), "u");
    ASSERT_TRUE(wildcard);
    EXPECT_FALSE(wildcard->tunnel);
    EXPECT_EQ(wildcard->address, "192.0.2.7");
    auto own = graphics_route("h1", remote_host(), vnc("192.0.2.7"), "u");
    ASSERT_TRUE(own);
    EXPECT_FALSE(own->tunnel);
    EXPECT_EQ(own->address, "192.0.2.7");
    auto local = graphics_route("h1", local_host(), vnc("127.0.0.1"), "u");
    ASSERT_TRUE(local);
    EXPECT_FALSE(local->tunnel) << "this machine's loopback is reached straight";
    EXPECT_EQ(local->address, "127.0.0.1");
}

TEST(GraphicsRoute, SshAlwaysTunnelsToTheAddressTheHostSees) {
    auto loop = graphics_route("h1", local_host("ssh"), vnc(""), "u");
    ASSERT_TRUE(loop);
    EXPECT_TRUE(loop->tunnel);
    EXPECT_EQ(loop->address, "127.0.0.1");
    auto wildcard = graphics_route("h1", remote_host("ssh"), vnc("::"), "u");
    ASSERT_TRUE(wildcard);
    EXPECT_TRUE(wildcard->tunnel);
    EXPECT_EQ(wildcard->address, "127.0.0.1");
    auto bound = graphics_route("h1", remote_host("ssh"), vnc("10.1.2.3"), "u");
    ASSERT_TRUE(bound);
    EXPECT_TRUE(bound->tunnel);
    EXPECT_EQ(bound->address, "10.1.2.3");
}

TEST(GraphicsRoute, OffRefusesARemoteLoopbackWithTheWayOut) {
    auto r = graphics_route("h1", remote_host("off"), vnc("127.0.0.1"), "u1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::Conflict);
    EXPECT_NE(r.error().desc.find("console_tunnel is off; set it to auto or ssh"), std::string::npos) << r.error().desc;
    auto wildcard = graphics_route("h1", remote_host("off"), vnc("0.0.0.0"), "u1");
    ASSERT_TRUE(wildcard);
    EXPECT_FALSE(wildcard->tunnel);
    auto local = graphics_route("h1", local_host("off"), vnc(""), "u1");
    ASSERT_TRUE(local);
    EXPECT_FALSE(local->tunnel);
}

TEST(SshLogin, TakesUserAndPortFromAnSshUriElseFromTheHostFields) {
    json h = remote_host();
    h["url"] = "qemu+ssh://admin@192.0.2.7:2222/system?keyfile=/k";
    h["sshport"] = "22";
    auto from_uri = ssh_login_of("h1", h);
    ASSERT_TRUE(from_uri);
    EXPECT_EQ(from_uri->address, "192.0.2.7");
    EXPECT_EQ(from_uri->user, "admin");
    EXPECT_EQ(from_uri->port, 2222);
    h["url"] = "qemu+ssh://192.0.2.7/system";
    h["sshuser"] = "kvm";
    h["sshport"] = "60022";  // simplekvm's records hold a string
    auto from_fields = ssh_login_of("h1", h);
    ASSERT_TRUE(from_fields);
    EXPECT_EQ(from_fields->user, "kvm");
    EXPECT_EQ(from_fields->port, 60022);
    h["url"] = "qemu+tls://admin@192.0.2.7:16514/system";  // not an ssh login
    h["sshport"] = 2022;
    auto tls = ssh_login_of("h1", h);
    ASSERT_TRUE(tls);
    EXPECT_EQ(tls->user, "kvm");
    EXPECT_EQ(tls->port, 2022);
}

TEST(SshLogin, RefusesWhatCannotBeUsed) {
    json h = remote_host();
    h["ipaddr"] = "";
    EXPECT_EQ(ssh_login_of("h1", h).error().where, "ipaddr");
    h = remote_host();
    h["url"] = "qemu+ssh://root@192.0.2.7:99999/system";
    EXPECT_EQ(ssh_login_of("h1", h).error().where, "url");
    h = remote_host();
    h["sshport"] = "ssh";
    EXPECT_EQ(ssh_login_of("h1", h).error().where, "sshport");
}

TEST(UriAuthority, SplitsTransportUserHostAndPort) {
    auto a = uri_authority("qemu+ssh://admin@[2001:db8::7]:2222/system");
    EXPECT_EQ(a.transport, "ssh");
    EXPECT_EQ(a.user, "admin");
    EXPECT_EQ(a.host, "2001:db8::7");
    EXPECT_EQ(a.port, "2222");
    auto b = uri_authority("qemu:///system");
    EXPECT_EQ(b.transport, "");
    EXPECT_EQ(b.host, "");
    EXPECT_TRUE(uri_is_local("qemu:///system"));
    EXPECT_TRUE(uri_is_local("qemu+ssh://root@127.0.0.1/system"));
    EXPECT_FALSE(uri_is_local("qemu+ssh://root@192.0.2.7/system"));
}

}  // namespace
}  // namespace kvmhub::console
