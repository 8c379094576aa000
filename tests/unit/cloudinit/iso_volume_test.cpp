// Which pool's cidata volume a VM's CD-ROMs read (host setting meta_iso=pool): the VM's
// definition decides, so a re-render writes the volume only for VMs that use it.
#include "cloudinit/iso_volume.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace kvmhub::cloudinit
