// Shared by the libvirt tests: the in-process test driver as a host, and throwaway domains
// on it. test:///default starts with one running domain named "test"; every connection of
// this process sees the same state while one is open.
#pragma once

#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "virt/hypervisor.hpp"

namespace kvmhub::virt::test {

inline const HostRef kTestHost{"testhost", "test:///default"};
inline constexpr const char* kTestDomainUuid = "6695eb01-f6a4-8304-79aa-97f2502e193f";

inline std::string random_uuid() {
    std::random_device rd;
    std::uniform_int_distribution<int> hex(0, 15);
    std::string out;
    for (int i = 0; i < 32; ++i) {
        if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
        out += "0123456789abcdef"[hex(rd)];
    }
    return out;
}

// A shut-off domain with one disk of each kind the reader distinguishes and a user NIC.
inline std::string domain_xml(const std::string& name, const std::string& uuid) {
    return fmt::format(R"(<domain type='test'>
  <name>{}</name>
  <uuid>{}</uuid>
  <title>a title</title>
  <description>a description</description>
  <memory unit='KiB'>1048576</memory>
  <currentMemory unit='KiB'>524288</currentMemory>
  <vcpu current='1'>4</vcpu>
  <os><type arch='i686'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/guest/root.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
    <disk type='network' device='cdrom'><source protocol='https' name='/isos/boot.iso'><host name='isos.invalid' port='443'/></source><target dev='sdb' bus='sata'/><readonly/></disk>
    <interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>
  </devices>
</domain>)",
                       name, uuid);
}

// A Hypervisor on the test driver plus domains it defined, undefined again at the end.
class LibvirtTest : public ::testing::Test {
protected:
    void SetUp() override { hv = make_libvirt_hypervisor(VirtOptions{}); }
    void TearDown() override {
        for (const auto& uuid : defined) (void)hv->undefine(kTestHost, uuid);
    }

    // Defines a fresh shut-off domain and returns its uuid.
    std::string define_domain() {
        std::string uuid = random_uuid();
        auto defined_uuid = hv->define(kTestHost, domain_xml("kvmhub-" + uuid.substr(0, 8), uuid));
        EXPECT_TRUE(defined_uuid) << defined_uuid.error().desc;
        defined.push_back(uuid);
        return uuid;
    }

    std::unique_ptr<Hypervisor> hv;
    std::vector<std::string> defined;
};

}  // namespace kvmhub::virt::test
