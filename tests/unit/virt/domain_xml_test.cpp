#include "virt/domain_xml.hpp"

#include <gtest/gtest.h>

namespace kvmhub::virt {
namespace {

constexpr const char* kXml = R"(<domain type='kvm'>
  <name>web</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <title>Web</title>
  <description>front end</description>
  <metadata>
    <other:thing xmlns:other="urn:other"><other:os>ignored</other:os></other:thing>
    <mdconfig:meta xmlns:mdconfig="urn:iso-meta"><mdconfig:os>debian</mdconfig:os><mdconfig:size>10</mdconfig:size></mdconfig:meta>
  </metadata>
  <vcpu placement='static' current='2'>8</vcpu>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/a.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='block' device='disk'><source dev='/dev/vg/b'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='volume' device='disk'><source pool='images' volume='c.qcow2'/><target dev='vdc' bus='scsi'/></disk>
    <disk type='network' device='disk'><source protocol='rbd' name='rbd/d'/><target dev='vdd' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>
    <interface type='bridge'><mac address='52:54:00:aa:bb:cc'/><source bridge='br0'/><target dev='vnet3'/><model type='e1000'/></interface>
    <interface type='network'><mac address='52:54:00:aa:bb:cd'/><source network='lan'/></interface>
  </devices>
</domain>)";

TEST(VirtDomainXml, ReadsIdentityAndCpus) {
    auto d = parse_domain_xml(kXml, Errc::HostError);
    ASSERT_TRUE(d) << d.error().desc;
    EXPECT_EQ(d->name, "web");
    EXPECT_EQ(d->uuid, "11111111-2222-3333-4444-555555555555");
    EXPECT_EQ(d->title, "Web");
    EXPECT_EQ(d->description, "front end");
    EXPECT_EQ(d->max_vcpus, 8);
}

TEST(VirtDomainXml, ReadsOnlyTheMdconfigNamespace) {
    auto d = parse_domain_xml(kXml, Errc::HostError);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->mdconfig, nlohmann::json({{"os", "debian"}, {"size", "10"}}));
}

TEST(VirtDomainXml, ReadsEveryDiskKind) {
    auto d = parse_domain_xml(kXml, Errc::HostError);
    ASSERT_TRUE(d);
    ASSERT_EQ(d->disks.size(), 5U);
    EXPECT_EQ(d->disks[0].vol, "/var/lib/a.qcow2");
    EXPECT_EQ(d->disks[1].type, "block");
    EXPECT_EQ(d->disks[1].vol, "/dev/vg/b");
    EXPECT_EQ(d->disks[2].type, "volume");
    EXPECT_EQ(d->disks[2].vol, "images/c.qcow2");
    EXPECT_EQ(d->disks[2].bus, "scsi");
    EXPECT_EQ(d->disks[3].type, "rbd");
    EXPECT_EQ(d->disks[3].vol, "rbd/d");
    EXPECT_EQ(d->disks[4].device, "cdrom");
    EXPECT_EQ(d->disks[4].dev, "sda");
    EXPECT_EQ(d->disks[4].vol, "");
}

TEST(VirtDomainXml, ReadsInterfacesAndTheirTargets) {
    auto d = parse_domain_xml(kXml, Errc::HostError);
    ASSERT_TRUE(d);
    ASSERT_EQ(d->nets.size(), 2U);
    EXPECT_EQ(d->nets[0].type, "bridge");
    EXPECT_EQ(d->nets[0].model, "e1000");
    EXPECT_EQ(d->nets[0].mac, "52:54:00:aa:bb:cc");
    EXPECT_EQ(d->nets[1].model, "");
    ASSERT_EQ(d->targets.size(), 2U);
    EXPECT_EQ(d->targets[0].dev, "vnet3");
    EXPECT_EQ(d->targets[1].dev, "");
}

TEST(VirtDomainXml, MalformedXmlFailsWithTheGivenCode) {
    auto broken = parse_domain_xml("<domain><name>x", Errc::BadInput);
    ASSERT_FALSE(broken);
    EXPECT_EQ(broken.error().code, Errc::BadInput);
    auto other = parse_domain_xml("<pool/>", Errc::HostError);
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, Errc::HostError);
}

TEST(VirtDomainXml, MdconfigElementEscapesValues) {
    auto xml = mdconfig_element({{"a", "x<y&z"}, {"n", 3}, {"t", true}, {"z", nullptr}});
    ASSERT_TRUE(xml);
    EXPECT_EQ(*xml, "<meta><a>x&lt;y&amp;z</a><n>3</n><t>true</t><z></z></meta>");
    EXPECT_EQ(*mdconfig_element(nlohmann::json::object()), "<meta></meta>");
}

TEST(VirtDomainXml, ElementNames) {
    EXPECT_TRUE(is_element_name("os"));
    EXPECT_TRUE(is_element_name("_x.y-z9"));
    EXPECT_FALSE(is_element_name(""));
    EXPECT_FALSE(is_element_name("9a"));
    EXPECT_FALSE(is_element_name("-a"));
    EXPECT_FALSE(is_element_name("a b"));
    EXPECT_FALSE(is_element_name("a:b"));
    EXPECT_FALSE(mdconfig_element({{"a b", "v"}}));
}

}  // namespace
}  // namespace kvmhub::virt
