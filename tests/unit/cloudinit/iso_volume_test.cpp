// Which pool's cidata volume a VM's CD-ROMs read (host setting meta_iso=pool): the VM's
// definition decides, so a re-render writes the volume only for VMs that use it.
#include "cloudinit/iso_volume.hpp"

#include <gtest/gtest.h>

#include "catalog/bootstrap.hpp"
#include "cloudinit/seed.hpp"
#include "support/stores.hpp"

namespace kvmhub::cloudinit {
namespace {

const std::string kUuid = "8c6a1e3c-1f5b-4b8e-9d3a-2f4c5d6e7f80";
const virt::PoolSpec kHostPool{"kvmhub", "/var/lib/kvmhub/pool"};

virt::DiskInfo cdrom(const std::string& type, const std::string& vol) {
    return {.device = "cdrom", .type = type, .bus = "ide", .dev = "hda", .vol = vol};
}

TEST(IsoVolume, IsNamedAfterTheVm) {
    EXPECT_EQ(iso_volume_name(kUuid), "cidata-" + kUuid + ".iso");
}

TEST(IsoVolume, AVolumeCdromInTheHostPoolIsTheHostPool) {
    auto pool = iso_volume_pool({cdrom("volume", "kvmhub/cidata-" + kUuid + ".iso")}, kUuid, kHostPool);
    ASSERT_TRUE(pool);
    EXPECT_EQ(pool->name, "kvmhub");
    EXPECT_EQ(pool->path, "/var/lib/kvmhub/pool") << "the host's pool can be defined again from its folder";
}

TEST(IsoVolume, AVolumeCdromInAnotherPoolIsThatPoolByName) {
    auto pool = iso_volume_pool({cdrom("volume", "old-pool/cidata-" + kUuid + ".iso")}, kUuid, kHostPool);
    ASSERT_TRUE(pool);
    EXPECT_EQ(pool->name, "old-pool");
    EXPECT_EQ(pool->path, "");
}

TEST(IsoVolume, AFileCdromCountsOnlyInTheHostPoolFolder) {
    auto in_pool = iso_volume_pool({cdrom("file", "/var/lib/kvmhub/pool/cidata-" + kUuid + ".iso")}, kUuid, kHostPool);
    ASSERT_TRUE(in_pool);
    EXPECT_EQ(in_pool->name, "kvmhub");
    EXPECT_FALSE(iso_volume_pool({cdrom("file", "/srv/iso/cidata-" + kUuid + ".iso")}, kUuid, kHostPool));
}

TEST(IsoVolume, OtherMediaAndOtherVmsVolumesAreNotIt) {
    EXPECT_FALSE(iso_volume_pool({cdrom("network", "/" + kUuid + "/cidata.iso")}, kUuid, kHostPool));
    EXPECT_FALSE(iso_volume_pool({cdrom("volume", "kvmhub/cidata-0000.iso")}, kUuid, kHostPool));
    EXPECT_FALSE(iso_volume_pool({cdrom("volume", "kvmhub/x" + iso_volume_name(kUuid))}, kUuid, kHostPool));
    virt::DiskInfo disk = cdrom("volume", "kvmhub/cidata-" + kUuid + ".iso");
    disk.device = "disk";
    EXPECT_FALSE(iso_volume_pool({disk}, kUuid, kHostPool)) << "only a CD-ROM reads the seed";
    EXPECT_FALSE(iso_volume_pool({}, kUuid, kHostPool));
}

// The volume is written from the files about to be stored; when it cannot be, the seed stays
// as it was (store and volume keep the same seed).
TEST(IsoVolume, TheSeedIsStoredOnlyWhenTheCopyBeforeItSucceeds) {
    auto store = test::open_memory_store();
    Config config;
    catalog::CurlUrlProbe probe;
    catalog::Catalog catalog(*store, config, probe);
    ASSERT_TRUE(catalog::bootstrap_catalog(*store, catalog, false, [](const std::string&) { return false; }));
    SeedService seeds(*store, catalog);
    const nlohmann::json first = {{"vm_uuid", kUuid}, {"vm_name", "one"}};
    std::map<std::string, std::string> seen;
    ASSERT_TRUE(seeds.render("h1", kUuid, first, [&](const std::map<std::string, std::string>& files) -> Status {
        seen = files;
        return {};
    }));
    auto stored = seeds.seed(kUuid);
    ASSERT_TRUE(stored);
    EXPECT_EQ((*stored)->files().files, seen) << "the hook sees exactly what is stored";
    EXPECT_NE(seen["meta-data"].find("one"), std::string::npos);

    auto refused = seeds.render("h1", kUuid, {{"vm_uuid", kUuid}, {"vm_name", "two"}},
                                [](const std::map<std::string, std::string>&) -> Status {
                                    return fail(Errc::HostError, "meta_iso", "volume not written");
                                });
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().desc, "volume not written");
    EXPECT_EQ((*seeds.seed(kUuid))->files().files, seen) << "a failed copy must leave the stored seed";
    EXPECT_EQ(seeds.context(kUuid)->value("vm_name", ""), "one");
}

}  // namespace
}  // namespace kvmhub::cloudinit
