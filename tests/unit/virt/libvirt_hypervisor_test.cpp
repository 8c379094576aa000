#include "virt/hypervisor.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "test_host.hpp"

namespace kvmhub::virt::test {
namespace {

TEST_F(LibvirtTest, CapabilitiesOfTheTestDriverSayTest) {
    auto caps = hv->capabilities(kTestHost);
    ASSERT_TRUE(caps) << caps.error().desc;
    EXPECT_EQ(caps->domain_type, "test");
    EXPECT_FALSE(caps->kvm_usable);
    EXPECT_FALSE(caps->arch.empty());
}

TEST_F(LibvirtTest, NodeInfoCountsTheTestDomain) {
    auto node = hv->node_info(kTestHost);
    ASSERT_TRUE(node) << node.error().desc;
    EXPECT_FALSE(node->hostname.empty());
    EXPECT_GT(node->cpus, 0);
    EXPECT_GT(node->mhz, 0);
    EXPECT_GT(node->total_kib, 0U);
    EXPECT_GT(node->free_kib, 0U);
    EXPECT_GE(node->total_vms, 1);
    EXPECT_GE(node->active_vms, 1);
    EXPECT_LE(node->active_vms, node->total_vms);
}

TEST_F(LibvirtTest, NodeInfoCountsADefinedDomainAsInactive) {
    auto before = hv->node_info(kTestHost);
    ASSERT_TRUE(before);
    define_domain();
    auto after = hv->node_info(kTestHost);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->total_vms, before->total_vms + 1);
    EXPECT_EQ(after->active_vms, before->active_vms);
}

TEST_F(LibvirtTest, GuestsListsTheRunningTestDomainWithItsDevices) {
    auto all = hv->guests(kTestHost);
    ASSERT_TRUE(all) << all.error().desc;
    auto it = std::find_if(all->begin(), all->end(), [](const GuestInfo& g) { return g.name == "test"; });
    ASSERT_NE(it, all->end());
    EXPECT_EQ(it->uuid, kTestDomainUuid);
    EXPECT_EQ(it->state, "RUNNING");
    EXPECT_EQ(it->maxmem_kib, 8388608U);
    EXPECT_EQ(it->curmem_kib, 2097152U);
    EXPECT_EQ(it->curcpu, 2);
    EXPECT_EQ(it->maxcpu, 2);
    EXPECT_EQ(it->title, "");
    EXPECT_EQ(it->desc, "");
    EXPECT_TRUE(it->mdconfig.empty());
    ASSERT_EQ(it->disks.size(), 1U);
    EXPECT_EQ(it->disks[0].device, "disk");
    EXPECT_EQ(it->disks[0].type, "file");
    EXPECT_EQ(it->disks[0].bus, "virtio");
    EXPECT_EQ(it->disks[0].dev, "vda");
    EXPECT_EQ(it->disks[0].vol, "/guest/diskimage1");
    ASSERT_EQ(it->nets.size(), 1U);
    EXPECT_EQ(it->nets[0].type, "network");
    EXPECT_EQ(it->nets[0].mac, "aa:bb:cc:dd:ee:ff");
}

TEST_F(LibvirtTest, GuestReadsADefinedDomain) {
    auto uuid = define_domain();
    auto g = hv->guest(kTestHost, uuid);
    ASSERT_TRUE(g) << g.error().desc;
    EXPECT_EQ(g->uuid, uuid);
    EXPECT_EQ(g->state, "SHUTOFF");
    EXPECT_EQ(g->title, "a title");
    EXPECT_EQ(g->desc, "a description");
    EXPECT_EQ(g->curcpu, 1);
    EXPECT_EQ(g->maxcpu, 4);
    EXPECT_EQ(g->maxmem_kib, 1048576U);
    EXPECT_EQ(g->curmem_kib, 524288U);
    ASSERT_EQ(g->disks.size(), 3U);
    EXPECT_EQ(g->disks[1].device, "cdrom");
    EXPECT_EQ(g->disks[1].vol, "");  // empty CD-ROM drive
    EXPECT_EQ(g->disks[2].type, "https");
    EXPECT_EQ(g->disks[2].vol, "/isos/boot.iso");
    ASSERT_EQ(g->nets.size(), 1U);
    EXPECT_EQ(g->nets[0].type, "user");
    EXPECT_EQ(g->nets[0].model, "virtio");
    EXPECT_EQ(g->nets[0].mac, "52:54:00:12:34:56");
}

TEST_F(LibvirtTest, UnknownUuidIsNotFoundAndMalformedUuidIsBadInput) {
    auto unknown = hv->guest(kTestHost, "00000000-0000-0000-0000-000000000001");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Errc::NotFound);
    EXPECT_EQ(unknown.error().desc, "no VM 00000000-0000-0000-0000-000000000001 on host testhost");
    EXPECT_EQ(unknown.error().legacy, 996);

    auto bad = hv->guest(kTestHost, "not-a-uuid");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::BadInput);
    EXPECT_NE(bad.error().desc.find("not a UUID"), std::string::npos);

    EXPECT_EQ(hv->start(kTestHost, "00000000-0000-0000-0000-000000000001").error().code, Errc::NotFound);
    EXPECT_EQ(hv->undefine(kTestHost, "nope").error().code, Errc::BadInput);
}

TEST_F(LibvirtTest, DefineTwiceIsConflictByUuidAndByName) {
    auto uuid = define_domain();
    auto same_uuid = hv->define(kTestHost, domain_xml("another-name", uuid));
    ASSERT_FALSE(same_uuid);
    EXPECT_EQ(same_uuid.error().code, Errc::Conflict);

    auto same_name = hv->define(kTestHost, domain_xml("kvmhub-" + uuid.substr(0, 8), random_uuid()));
    ASSERT_FALSE(same_name);
    EXPECT_EQ(same_name.error().code, Errc::Conflict);
}

TEST_F(LibvirtTest, DefineRejectsXmlThatIsNotADomain) {
    auto broken = hv->define(kTestHost, "<domain><name>x</name");
    ASSERT_FALSE(broken);
    EXPECT_EQ(broken.error().code, Errc::BadInput);
    auto wrong_root = hv->define(kTestHost, "<network/>");
    ASSERT_FALSE(wrong_root);
    EXPECT_EQ(wrong_root.error().code, Errc::BadInput);
}

TEST_F(LibvirtTest, XmlIsThePersistentDefinition) {
    auto uuid = define_domain();
    auto xml = hv->xml(kTestHost, uuid);
    ASSERT_TRUE(xml) << xml.error().desc;
    EXPECT_NE(xml->find("<uuid>" + uuid + "</uuid>"), std::string::npos);
    EXPECT_EQ(hv->xml(kTestHost, random_uuid()).error().code, Errc::NotFound);
}

TEST_F(LibvirtTest, LifecycleStartsStopsAndRefusesWhatDoesNotApply) {
    auto uuid = define_domain();
    EXPECT_EQ(hv->shutdown(kTestHost, uuid).error().code, Errc::Conflict);
    EXPECT_EQ(hv->destroy(kTestHost, uuid).error().code, Errc::Conflict);
    EXPECT_EQ(hv->reset(kTestHost, uuid).error().code, Errc::Conflict);

    ASSERT_TRUE(hv->start(kTestHost, uuid));
    EXPECT_EQ(hv->guest(kTestHost, uuid)->state, "RUNNING");
    auto again = hv->start(kTestHost, uuid);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::Conflict);
    EXPECT_NE(again.error().desc.find("already running"), std::string::npos);

    EXPECT_TRUE(hv->reset(kTestHost, uuid));
    EXPECT_TRUE(hv->shutdown(kTestHost, uuid));
    EXPECT_EQ(hv->guest(kTestHost, uuid)->state, "SHUTOFF");
    ASSERT_TRUE(hv->start(kTestHost, uuid));
    EXPECT_TRUE(hv->destroy(kTestHost, uuid));
    EXPECT_EQ(hv->guest(kTestHost, uuid)->state, "SHUTOFF");
}

TEST_F(LibvirtTest, UndefineRemovesARunningDomain) {
    auto uuid = define_domain();
    ASSERT_TRUE(hv->start(kTestHost, uuid));
    ASSERT_TRUE(hv->create_snapshot(kTestHost, uuid, "before"));
    auto undefined = hv->undefine(kTestHost, uuid);
    ASSERT_TRUE(undefined) << undefined.error().desc;
    EXPECT_EQ(hv->guest(kTestHost, uuid).error().code, Errc::NotFound);
    EXPECT_EQ(hv->undefine(kTestHost, uuid).error().code, Errc::NotFound);
}

}  // namespace
}  // namespace kvmhub::virt::test
