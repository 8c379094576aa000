#include "catalog/validate.hpp"

#include <gtest/gtest.h>

namespace kvmhub::catalog {
namespace {

TEST(LibvirtUri, TheAllowedTransportsPass) {
    for (const char* uri : {"qemu:///system", "qemu:///session", "qemu+unix:///system", "qemu+ssh://root@192.0.2.7/system",
                            "qemu+ssh://root@host.example:2222/system?no_verify=1&sshauth=privkey",
                            "qemu+libssh2://root@host/system?known_hosts_verify=ignore", "qemu+tls://host/system",
                            "qemu+tcp://127.0.0.1:16509/system", "qemu+ssh://[2001:db8::7]/system?mode=direct",
                            "test:///default"}) {
        EXPECT_TRUE(check_libvirt_uri("url", uri, false)) << uri;
    }
}

// What libvirt would act on for the caller: run a program, read a file of the manager's, or
// (the test driver) parse any file and echo its first line in the error.
TEST(LibvirtUri, WhatMakesLibvirtRunOrReadSomethingIsRefusedByName) {
    const std::pair<const char*, const char*> refused[] = {
        {"test:///etc/shadow", "test:///default only"},
        {"test+unix:///etc/shadow", "test:///default only"},
        {"test:///default?x=1", "test:///default only"},
        {"qemu+ssh://h/system?command=/bin/sh", "'command'"},
        {"qemu+ssh://h/system?netcat=/tmp/x", "'netcat'"},
        {"qemu+unix:///system?socket=/tmp/evil.sock", "'socket'"},
        {"qemu+ssh://h/system?keyfile=/root/.ssh/id_rsa", "'keyfile'"},
        {"qemu+tls://h/system?pkipath=/etc/pki", "'pkipath'"},
        {"qemu+libssh2://h/system?known_hosts=/etc/shadow", "'known_hosts'"},
        {"qemu+ssh://h/system?no_verify=1&command=x", "'command'"},
        {"qemu+ssh://h/system?proxy=$(id)", "invalid value"},
        {"qemu+ext://h/system", "scheme"},
        {"lxc:///system", "scheme"},
        {"vbox:///session", "scheme"},
        {"qemu:///etc/passwd", "/system or /session"},
        {"qemu+ssh:///system", "needs a host"},
        {"qemu://host/system", "takes no host"},
        {"qemu+ssh://h;id/system", "invalid characters"},
        {"qemu:///system ", "whitespace"},
        {"qemu", "://"},
    };
    for (const auto& [uri, why] : refused) {
        auto r = check_libvirt_uri("url", uri, false);
        ASSERT_FALSE(r) << uri;
        EXPECT_EQ(r.error().code, Errc::BadInput) << uri;
        EXPECT_EQ(r.error().where, "url") << uri;
        EXPECT_NE(r.error().desc.find(why), std::string::npos) << uri << ": " << r.error().desc;
    }
}

TEST(LibvirtUri, TestFilesOnlyWithTheTestSetting) {
    EXPECT_FALSE(check_libvirt_uri("url", "test:///tmp/node.xml", false));
    EXPECT_TRUE(check_libvirt_uri("url", "test:///tmp/node.xml", true));
    EXPECT_TRUE(check_libvirt_uri("url", "test+unix:///tmp/node.xml", true));
    EXPECT_FALSE(check_libvirt_uri("url", "test+unix://host/tmp/node.xml", true));
    EXPECT_FALSE(check_libvirt_uri("url", "test:///tmp/node.xml?socket=/x", true));
    // The setting opens the test driver only, nothing else.
    EXPECT_FALSE(check_libvirt_uri("url", "qemu+ssh://h/system?command=x", true));
}

}  // namespace
}  // namespace kvmhub::catalog
