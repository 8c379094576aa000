// Pools and volumes through the Hypervisor on libvirt's in-process test driver. The test driver
// keeps pools and volumes in memory and implements neither upload nor resize: those run on a
// real libvirtd in tests/system/devices_test.cpp; here an upload's failure must leave no volume.
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"
#include "test_host.hpp"

namespace kvmhub::virt::test {
namespace {

class Storage : public LibvirtTest {
protected:
    void SetUp() override {
        LibvirtTest::SetUp();
        pool = {"kvmhub-unit-" + std::to_string(getpid()) + "-" + random_uuid().substr(0, 8), dir.file("pool")};
        auto ready = hv->ensure_pool(kTestHost, pool);
        ASSERT_TRUE(ready) << ready.error().desc;
    }

    kvmhub::test::TempDir dir;
    PoolSpec pool;
};

TEST_F(Storage, EnsurePoolMakesAMissingPoolAndLeavesAnExistingOneAlone) {
    auto again = hv->ensure_pool(kTestHost, pool);
    ASSERT_TRUE(again) << again.error().desc;
    auto listed = hv->volumes(kTestHost, pool.name, "");
    ASSERT_TRUE(listed) << listed.error().desc;
    EXPECT_TRUE(listed->empty());
}

TEST_F(Storage, BlankOverlayAndCopyVolumes) {
    VolumeSpec blank{.name = "base.qcow2", .format = "qcow2", .capacity = 1ull << 30};
    auto base = hv->create_volume(kTestHost, pool.name, blank);
    ASSERT_TRUE(base) << base.error().desc;
    EXPECT_EQ(base->name, "base.qcow2");
    EXPECT_EQ(base->capacity, 1ull << 30);
    EXPECT_EQ(base->pool, pool.name);
    EXPECT_FALSE(base->path.empty());

    VolumeSpec overlay{.name = "vdb-x.qcow2",
                       .format = "qcow2",
                       .capacity = 2ull << 30,
                       .backing_path = base->path,
                       .backing_format = "qcow2"};
    auto linked = hv->create_volume(kTestHost, pool.name, overlay);
    ASSERT_TRUE(linked) << linked.error().desc;
    EXPECT_EQ(linked->capacity, 2ull << 30);

    VolumeSpec copy{.name = "vdc-x.qcow2", .format = "qcow2", .capacity = 1ull << 30};
    auto full = hv->copy_volume(kTestHost, pool.name, "base.qcow2", copy);
    ASSERT_TRUE(full) << full.error().desc;
    EXPECT_TRUE(full->backing.empty());

    auto mine = hv->volumes(kTestHost, pool.name, "vd");
    ASSERT_TRUE(mine);
    ASSERT_EQ(mine->size(), 2u);
    EXPECT_EQ((*mine)[0].name, "vdb-x.qcow2");
    EXPECT_EQ((*mine)[1].name, "vdc-x.qcow2");

    ASSERT_TRUE(hv->delete_volume(kTestHost, pool.name + "/vdb-x.qcow2"));
    auto gone = hv->volume(kTestHost, pool.name, "vdb-x.qcow2");
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, Errc::NotFound);
    EXPECT_NE(gone.error().desc.find("vdb-x.qcow2"), std::string::npos);
}

TEST_F(Storage, AVolumeThatExistsIsAConflict) {
    VolumeSpec spec{.name = "twice.raw", .format = "raw", .capacity = 1 << 20};
    ASSERT_TRUE(hv->create_volume(kTestHost, pool.name, spec));
    auto second = hv->create_volume(kTestHost, pool.name, spec);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, Errc::Conflict) << second.error().desc;
}

TEST_F(Storage, AFailedUploadLeavesNoVolume) {
    kvmhub::test::TempDir files;
    { std::ofstream(files.file("gold.img")) << std::string(4096, 'g'); }
    VolumeSpec spec{.name = "gold-x-0123456789ab.raw", .format = "raw"};
    int calls = 0;
    auto up = hv->upload_volume(kTestHost, pool.name, spec, files.file("gold.img"), [&](std::uint64_t, std::uint64_t) {
        ++calls;
        return true;
    });
    ASSERT_FALSE(up) << "the test driver cannot upload";
    EXPECT_EQ(calls, 0);
    auto left = hv->volume(kTestHost, pool.name, spec.name);
    ASSERT_FALSE(left);
    EXPECT_EQ(left.error().code, Errc::NotFound) << "the half-made volume was not deleted";
}

// The test driver can neither upload nor download: a put that cannot write leaves no new
// volume, and leaves an existing one as it was (same size), with an error that says so.
TEST_F(Storage, APutThatCannotWriteLeavesNoNewVolumeAndAnExistingOneAlone) {
    auto put = hv->put_volume_content(kTestHost, pool.name, "cidata-x.iso", std::string(8192, 'c'));
    ASSERT_FALSE(put) << "the test driver cannot upload";
    EXPECT_NE(put.error().desc.find("cidata-x.iso"), std::string::npos) << put.error().desc;
    auto left = hv->volume(kTestHost, pool.name, "cidata-x.iso");
    ASSERT_FALSE(left);
    EXPECT_EQ(left.error().code, Errc::NotFound) << "the volume the put made was not deleted";

    VolumeSpec spec{.name = "cidata-y.iso", .format = "raw", .capacity = 4096};
    ASSERT_TRUE(hv->create_volume(kTestHost, pool.name, spec));
    auto again = hv->put_volume_content(kTestHost, pool.name, "cidata-y.iso", std::string(8192, 'c'));
    ASSERT_FALSE(again);
    auto kept = hv->volume(kTestHost, pool.name, "cidata-y.iso");
    ASSERT_TRUE(kept) << "an existing volume must survive a failed put";
    EXPECT_EQ(kept->capacity, 4096u);

    auto read = hv->volume_content(kTestHost, pool.name, "cidata-y.iso", 1 << 20);
    EXPECT_FALSE(read) << "the test driver cannot download";
    auto too_big = hv->volume_content(kTestHost, pool.name, "cidata-y.iso", 100);
    ASSERT_FALSE(too_big);
    EXPECT_EQ(too_big.error().code, Errc::BadInput);
    EXPECT_NE(too_big.error().desc.find("4096 bytes"), std::string::npos) << too_big.error().desc;
}

TEST_F(Storage, UnknownPoolIsNotFoundAndNamed) {
    auto r = hv->volumes(kTestHost, "no-such-pool", "");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::NotFound);
    EXPECT_NE(r.error().desc.find("no-such-pool"), std::string::npos);
}

TEST_F(Storage, DeviceUseListsTargetsAndMacsOfTheDefinition) {
    const std::string uuid = define_domain();
    auto use = hv->device_use(kTestHost, uuid);
    ASSERT_TRUE(use) << use.error().desc;
    EXPECT_FALSE(use->running);
    EXPECT_EQ(use->targets, (std::vector<std::string>{"vda", "sda", "sdb"}));
    EXPECT_EQ(use->macs, (std::vector<std::string>{"52:54:00:12:34:56"}));
}

}  // namespace
}  // namespace kvmhub::virt::test
