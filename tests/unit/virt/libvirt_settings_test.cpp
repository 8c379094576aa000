#include "virt/hypervisor.hpp"

#include <libvirt/libvirt.h>

#include <gtest/gtest.h>

#include "common/cfree.hpp"
#include "test_host.hpp"

namespace kvmhub::virt::test {
namespace {

TEST_F(LibvirtTest, DescriptionIsWrittenAndReadBack) {
    auto uuid = define_domain();
    ASSERT_TRUE(hv->set_description(kTestHost, uuid, "web & <db>"));
    EXPECT_EQ(hv->guest(kTestHost, uuid)->desc, "web & <db>");
    ASSERT_TRUE(hv->start(kTestHost, uuid));
    ASSERT_TRUE(hv->set_description(kTestHost, uuid, "running"));
    EXPECT_EQ(hv->guest(kTestHost, uuid)->desc, "running");
    EXPECT_EQ(hv->set_description(kTestHost, random_uuid(), "x").error().code, Errc::NotFound);
}

TEST_F(LibvirtTest, MemoryChangesUpToTheMaximumOnly) {
    auto uuid = define_domain();
    ASSERT_TRUE(hv->set_memory(kTestHost, uuid, 786432));
    EXPECT_EQ(hv->guest(kTestHost, uuid)->curmem_kib, 786432U);

    auto above = hv->set_memory(kTestHost, uuid, 2097152);
    ASSERT_FALSE(above);
    EXPECT_EQ(above.error().code, Errc::BadInput);
    EXPECT_EQ(above.error().desc, "memory 2048 MiB is above the VM's maximum 1024 MiB; raise vm_ram_mb_max");

    ASSERT_TRUE(hv->start(kTestHost, uuid));
    auto live = hv->set_memory(kTestHost, uuid, 655360);
    ASSERT_TRUE(live) << live.error().desc;
    EXPECT_EQ(hv->guest(kTestHost, uuid)->curmem_kib, 655360U);
}

TEST_F(LibvirtTest, VcpusChangeUpToTheMaximumOnly) {
    auto uuid = define_domain();
    auto set = hv->set_vcpus(kTestHost, uuid, 2);
    ASSERT_TRUE(set) << set.error().desc;
    EXPECT_EQ(hv->guest(kTestHost, uuid)->curcpu, 2);

    auto above = hv->set_vcpus(kTestHost, uuid, 5);
    ASSERT_FALSE(above);
    EXPECT_EQ(above.error().code, Errc::BadInput);
    EXPECT_NE(above.error().desc.find("maximum of 4"), std::string::npos);
    EXPECT_EQ(hv->set_vcpus(kTestHost, uuid, 0).error().code, Errc::BadInput);

    ASSERT_TRUE(hv->start(kTestHost, uuid));
    auto live = hv->set_vcpus(kTestHost, uuid, 3);
    ASSERT_TRUE(live) << live.error().desc;
    EXPECT_EQ(hv->guest(kTestHost, uuid)->curcpu, 3);
}

TEST_F(LibvirtTest, MdconfigRoundTripsAndReplaces) {
    auto uuid = define_domain();
    nlohmann::json values = {{"os", "debian"}, {"owner", "a&b <c>"}, {"cores", 2}};
    ASSERT_TRUE(hv->set_mdconfig(kTestHost, uuid, values));
    auto read = hv->guest(kTestHost, uuid);
    ASSERT_TRUE(read);
    EXPECT_EQ(read->mdconfig, nlohmann::json({{"os", "debian"}, {"owner", "a&b <c>"}, {"cores", "2"}}));

    ASSERT_TRUE(hv->set_mdconfig(kTestHost, uuid, {{"os", "alpine"}}));
    EXPECT_EQ(hv->guest(kTestHost, uuid)->mdconfig, nlohmann::json({{"os", "alpine"}}));
}

TEST_F(LibvirtTest, MdconfigRefusesKeysThatAreNotElementNames) {
    auto uuid = define_domain();
    for (const char* key : {"1st", "has space", "a<b", ""}) {
        auto bad = hv->set_mdconfig(kTestHost, uuid, {{key, "v"}});
        ASSERT_FALSE(bad) << key;
        EXPECT_EQ(bad.error().code, Errc::BadInput) << key;
    }
    EXPECT_EQ(hv->set_mdconfig(kTestHost, uuid, {{"nested", {{"a", 1}}}}).error().code, Errc::BadInput);
    EXPECT_EQ(hv->set_mdconfig(kTestHost, uuid, nlohmann::json::array()).error().code, Errc::BadInput);
}

TEST_F(LibvirtTest, SnapshotsAreCreatedListedRevertedAndDeleted) {
    auto uuid = define_domain();
    auto empty = hv->snapshots(kTestHost, uuid);
    ASSERT_TRUE(empty) << empty.error().desc;
    EXPECT_TRUE(empty->names.empty());
    EXPECT_EQ(empty->current, "");

    for (const char* name : {"first", "second", "third"}) {
        auto created = hv->create_snapshot(kTestHost, uuid, name);
        ASSERT_TRUE(created) << created.error().desc;
    }
    auto list = hv->snapshots(kTestHost, uuid);
    ASSERT_TRUE(list);
    EXPECT_EQ(list->names, (std::vector<std::string>{"first", "second", "third"}));
    EXPECT_EQ(list->current, "third");

    auto duplicate = hv->create_snapshot(kTestHost, uuid, "second");
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().code, Errc::Conflict);

    ASSERT_TRUE(hv->revert_snapshot(kTestHost, uuid, "first"));
    EXPECT_EQ(hv->snapshots(kTestHost, uuid)->current, "first");
    ASSERT_TRUE(hv->delete_snapshot(kTestHost, uuid, "second"));
    EXPECT_EQ(hv->snapshots(kTestHost, uuid)->names, (std::vector<std::string>{"first", "third"}));

    EXPECT_EQ(hv->revert_snapshot(kTestHost, uuid, "gone").error().code, Errc::NotFound);
    EXPECT_EQ(hv->delete_snapshot(kTestHost, uuid, "gone").error().code, Errc::NotFound);
    EXPECT_EQ(hv->create_snapshot(kTestHost, uuid, "").error().code, Errc::BadInput);
    EXPECT_EQ(hv->snapshots(kTestHost, random_uuid()).error().code, Errc::NotFound);
}

TEST_F(LibvirtTest, BlockSizeOfTheTestDomainDisk) {
    auto size = hv->block_size(kTestHost, kTestDomainUuid, "vda");
    ASSERT_TRUE(size) << size.error().desc;
    EXPECT_GT(*size, 0U);
    auto unknown = hv->block_size(kTestHost, kTestDomainUuid, "vdz");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Errc::NotFound);
}

TEST_F(LibvirtTest, NetStatsByMac) {
    auto stats = hv->net_stats(kTestHost, kTestDomainUuid, "AA:BB:CC:DD:EE:FF");
    ASSERT_TRUE(stats) << stats.error().desc;
    auto unknown = hv->net_stats(kTestHost, kTestDomainUuid, "52:54:00:00:00:00");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Errc::NotFound);
    auto stopped = define_domain();
    EXPECT_EQ(hv->net_stats(kTestHost, stopped, "52:54:00:12:34:56").error().code, Errc::Conflict);
}

TEST_F(LibvirtTest, AddressesNeedARunningDomain) {
    // The test driver makes up one address for the test domain's NIC (from any source).
    auto addrs = hv->addresses(kTestHost, kTestDomainUuid);
    ASSERT_TRUE(addrs) << addrs.error().desc;
    ASSERT_EQ(addrs->size(), 1U);
    EXPECT_EQ((*addrs)[0].mac, "aa:bb:cc:dd:ee:ff");
    EXPECT_EQ((*addrs)[0].name, "testnet0");
    ASSERT_EQ((*addrs)[0].addrs.size(), 1U);
    EXPECT_NE((*addrs)[0].addrs[0].first.find('/'), std::string::npos);
    auto stopped = define_domain();
    EXPECT_EQ(hv->addresses(kTestHost, stopped).error().code, Errc::Conflict);
}

TEST_F(LibvirtTest, DeleteVolumeByPathAndByPoolName) {
    // The test driver's default pool starts empty: make volumes with libvirt directly. The
    // Hypervisor's connection is open, so this connection sees the same state.
    ASSERT_TRUE(hv->node_info(kTestHost));
    CPtr<virConnect, virConnectClose> conn(virConnectOpen(kTestHost.url.c_str()));
    ASSERT_NE(conn, nullptr);
    CPtr<virStoragePool, virStoragePoolFree> pool(virStoragePoolLookupByName(conn.get(), "default-pool"));
    ASSERT_NE(pool, nullptr);
    for (const char* name : {"a.img", "b.img"}) {
        auto xml = fmt::format("<volume><name>{}</name><capacity>1048576</capacity></volume>", name);
        CPtr<virStorageVol, virStorageVolFree> vol(virStorageVolCreateXML(pool.get(), xml.c_str(), 0));
        ASSERT_NE(vol, nullptr);
    }
    CPtr<virStorageVol, virStorageVolFree> a(virStorageVolLookupByName(pool.get(), "a.img"));
    CPtr<char, std::free> a_path(virStorageVolGetPath(a.get()));
    ASSERT_NE(a_path, nullptr);

    auto by_path = hv->delete_volume(kTestHost, a_path.get());
    EXPECT_TRUE(by_path) << by_path.error().desc;
    auto by_name = hv->delete_volume(kTestHost, "default-pool/b.img");
    EXPECT_TRUE(by_name) << by_name.error().desc;

    EXPECT_EQ(hv->delete_volume(kTestHost, "/no/such/volume").error().code, Errc::NotFound);
    auto again = hv->delete_volume(kTestHost, "default-pool/b.img");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::NotFound) << again.error().desc;
    EXPECT_EQ(hv->delete_volume(kTestHost, "no-such-pool/x").error().code, Errc::NotFound);
    EXPECT_EQ(hv->delete_volume(kTestHost, "relative").error().code, Errc::BadInput);
}

}  // namespace
}  // namespace kvmhub::virt::test
