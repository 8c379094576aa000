// A real guest through kvmhubd on qemu:///system (TCG): the tiny test guest boots with direct
// kernel boot from a domain template of our own, is changed, snapshotted, stopped and deleted,
// and the guest cache follows changes made with virsh behind kvmhub's back.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/vm_fixtures.hpp"
#include "support/temp_dir.hpp"
#include "system/system_support.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The serial console log without the CRs the console adds.
std::string console(const std::string& log) {
    std::string text = read_file(log);
    std::erase(text, '\r');
    return text;
}

// Where the guests' metadata service address (META_SRV) points. Guest side: a NOCLOUD guest
// fetches the files itself through qemu's user network, where 10.0.2.2 is the host's loopback.
// Host side: qemu opens an ISO mode CD-ROM's http source itself, on the host, so 127.0.0.1.
// Nowhere: a closed port, on a host set to meta_iso=pool (the cidata ISO is a volume in the
// suite's pool, so nothing needs the metadata service).
enum class MetaSide { Guest, Host, Nowhere };

// One kvmhubd with a host "kvm1" on qemu:///system (domain template tests/system/testguest.tpl)
// and a storage pool for the guests' disks, per suite.
template <MetaSide side>
class GuestSuite : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir;
        // qemu runs as libvirt-qemu: it must reach the disks in here.
        ASSERT_EQ(chmod(dir_->path().c_str(), 0755), 0);
        const char* tag = side == MetaSide::Guest ? "g" : side == MetaSide::Host ? "h" : "p";
        pool_ = new std::string("kvmhub-e2e-" + std::string(tag) + "-" + std::to_string(getpid()));
        auto pool = virsh({"pool-create-as", *pool_, "dir", "--target", dir_->path().string()});
        ASSERT_EQ(pool.exit_code, 0) << pool.output;
        // Only lifecycle events can update the cache during these tests.
        const int port = free_port();
        const std::string meta_host = side == MetaSide::Guest ? "10.0.2.2" : "127.0.0.1";
        int meta_port = port;
        while (side == MetaSide::Nowhere && meta_port == port) meta_port = free_port();
        daemon_ = new Daemon({.args = {"--listen", "127.0.0.1:" + std::to_string(port)},
                              .env = {{"KVMHUB_LIBVIRT_RESYNC_INTERVAL", "3600"},
                                      {"KVMHUB_META_SRV", meta_host + ":" + std::to_string(meta_port)}},
                              .default_listen = false});
        token_ = new std::string(daemon_->login());
        auto tpl = http_request("PUT", daemon_->url() + "/conf/template/domain/testguest",
                                read_file(KVMHUB_SOURCE_DIR "/tests/system/testguest.tpl"), bearer(*token_));
        ASSERT_EQ(tpl.status, 200) << tpl.body;
        json host = host_body("kvm1", "qemu:///system", "testguest");
        if (side == MetaSide::Nowhere) {
            host["meta_iso"] = "pool";
            host["pool"] = *pool_;
            host["pool_path"] = dir_->path().string();
        }
        auto added = post("/conf/host/", host.dump());
        ASSERT_EQ(added.status, 200) << added.body;
    }
    static void TearDownTestSuite() {
        delete daemon_;
        daemon_ = nullptr;
        delete token_;
        // A failed test may leave its VM: remove what this suite made, and only that.
        for (const auto& uuid : *created_) {
            virsh({"destroy", uuid});
            virsh({"undefine", uuid, "--snapshots-metadata"});
        }
        virsh({"pool-destroy", *pool_});
        delete created_;
        delete pool_;
        delete dir_;
    }

    static HttpResponse get(const std::string& path) { return http_get(daemon_->url() + path, bearer(*token_)); }
    static HttpResponse post(const std::string& path, const std::string& body = "{}") {
        return http_post(daemon_->url() + path, body, bearer(*token_));
    }
    static json guest(const std::string& uuid) { return get("/vm/list/kvm1/" + uuid).json()["guest"]; }
    // The guest as /vm/list/ serves it from the cache ({} when it is not there).
    static json cached(const std::string& uuid) { return find_cached(get("/vm/list/").json(), uuid); }

    // A VM of the test guest with a fresh 64 MiB qcow2 disk in the suite's pool.
    static std::string create(const std::string& name, const json& extra = json::object(),
                              const std::string& host = "kvm1") {
        auto vol = virsh({"vol-create-as", *pool_, name + ".qcow2", "64M", "--format", "qcow2"});
        EXPECT_EQ(vol.exit_code, 0) << vol.output;
        json body = {{"vm_name", name},
                     {"vm_desc", "tiny test guest"},
                     {"vm_vcpus", 1},
                     {"vm_vcpus_max", 3},
                     {"vm_ram_mb", 256},
                     {"vm_ram_mb_max", 384},
                     {"vm_kernel", test_guest_dir() + "/vmlinuz"},
                     {"vm_initrd", test_guest_dir() + "/initrd.img"},
                     {"vm_disk", dir_->file(name + ".qcow2")},
                     {"vm_serial_log", serial_log(name)}};
        body.update(extra);
        auto r = post("/vm/create/" + host, body.dump());
        EXPECT_EQ(r.status, 200) << r.body;
        std::string uuid = r.json().value("uuid", "");
        if (!uuid.empty()) created_->push_back(uuid);
        return uuid;
    }
    static std::string serial_log(const std::string& name) { return dir_->file(name + ".serial.log"); }

    static bool booted(const std::string& name) {
        return eventually([&] { return console(serial_log(name)).find("kvmhub-test-guest: ready") != std::string::npos; },
                          180s);
    }

    static inline TempDir* dir_ = nullptr;
    static inline std::string* pool_ = nullptr;
    static inline Daemon* daemon_ = nullptr;
    static inline std::string* token_ = nullptr;
    static inline std::vector<std::string>* created_ = new std::vector<std::string>;
};
using Guest = GuestSuite<MetaSide::Guest>;
using IsoGuest = GuestSuite<MetaSide::Host>;
using PoolIsoGuest = GuestSuite<MetaSide::Nowhere>;

// The text the test guest printed between "begin NAME" and "end NAME" (docs/test-guest.md).
std::string framed(const std::string& console_text, const std::string& name) {
    const std::string begin = "kvmhub-test-guest: begin " + name + "\n";
    const std::string end = "kvmhub-test-guest: end " + name + "\n";
    auto from = console_text.find(begin);
    if (from == std::string::npos) return "<no " + name + " on the console>";
    from += begin.size();
    auto to = console_text.find(end, from);
    if (to == std::string::npos) return "<no end of " + name + ">";
    return console_text.substr(from, to - from);
}

// The seed files the guest printed on `console_text` are those the metadata routes serve for
// `uuid`. The guest prints each file whole; a file without a final newline gets one.
void expect_seed_printed(const std::string& console_text, const std::string& base_url, const std::string& uuid) {
    for (const char* name : {"meta-data", "user-data", "network-config"}) {
        auto served = http_get(base_url + "/" + uuid + "/" + name);
        ASSERT_EQ(served.status, 200) << name;
        std::string expected = served.body;
        if (!expected.empty() && expected.back() != '\n') expected += '\n';
        EXPECT_EQ(framed(console_text, name), expected) << name;
    }
}

bool cpu_has_hardware_virtualization() {
    std::string flags = read_file("/proc/cpuinfo");
    return flags.find(" vmx") != std::string::npos || flags.find(" svm") != std::string::npos;
}

TEST_F(Guest, BootsIsChangedSnapshottedStoppedAndDeletedLeavingNothingBehind) {
    const std::string uuid = create("life");
    ASSERT_EQ(uuid.size(), 36u);
    // kvmhub chose the domain type itself: TCG where KVM cannot run guests (as on CI machines).
    const std::string xml = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    if (!cpu_has_hardware_virtualization()) {
        EXPECT_NE(xml.find("<domain type='qemu'"), std::string::npos) << xml;
    }

    ASSERT_EQ(get("/vm/start/kvm1/" + uuid).status, 200);
    ASSERT_TRUE(booted("life")) << "the serial console never said ready:\n" << console(serial_log("life"));
    EXPECT_EQ(guest(uuid)["state"], "RUNNING");

    // Snapshots of the running guest (memory and qcow2 disk). Taken before the vCPU hotplug
    // below: qemu 7.2 cannot load a snapshot taken after one ("Unknown savevm section
    // cpu_common"), and says so in a 502.
    ASSERT_EQ(post("/vm/snapshot/kvm1/" + uuid + "?name=s1").status, 200);
    ASSERT_EQ(post("/vm/snapshot/kvm1/" + uuid + "?name=s2").status, 200);
    auto list = get("/vm/snapshot/kvm1/" + uuid).json();
    EXPECT_EQ(list["names"], json::array({"s1", "s2"}));
    EXPECT_EQ(list["current"], "s2");
    auto reverted = get("/vm/revert_snapshot/kvm1/" + uuid + "?name=s1");
    ASSERT_EQ(reverted.status, 200) << reverted.body;
    EXPECT_EQ(get("/vm/snapshot/kvm1/" + uuid).json()["current"], "s1");
    EXPECT_EQ(guest(uuid)["state"], "RUNNING") << "a snapshot of a running guest reverts to a running guest";
    ASSERT_EQ(get("/vm/delete_snapshot/kvm1/" + uuid + "?name=s2").status, 200);
    EXPECT_EQ(get("/vm/snapshot/kvm1/" + uuid).json()["names"], json::array({"s1"}));

    // Changes apply live and to the definition.
    auto setmem = get("/vm/setmem/kvm1/" + uuid + "?vm_ram_mb=320");
    ASSERT_EQ(setmem.status, 200) << setmem.body;
    auto setcpu = get("/vm/setcpu/kvm1/" + uuid + "?vm_vcpus=2");
    ASSERT_EQ(setcpu.status, 200) << setcpu.body;
    ASSERT_EQ(get("/vm/desc/kvm1/" + uuid + "?vm_desc=changed%20live").status, 200);
    ASSERT_EQ(post("/vm/metadata/kvm1/" + uuid, R"({"owner":"e2e"})").status, 200);
    auto g = guest(uuid);
    EXPECT_EQ(g["curcpu"], 2) << g.dump();
    EXPECT_EQ(g["desc"], "changed live");
    EXPECT_EQ(g["mdconfig"]["owner"], "e2e");
    const std::string persistent = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    EXPECT_NE(persistent.find("<currentMemory unit='KiB'>327680</currentMemory>"), std::string::npos) << persistent;
    EXPECT_NE(persistent.find("current='2'"), std::string::npos) << persistent;
    auto too_much = get("/vm/setmem/kvm1/" + uuid + "?vm_ram_mb=1024");
    EXPECT_EQ(too_much.status, 400) << too_much.body;
    EXPECT_EQ(too_much.json()["name"], "vm_ram_mb");
    EXPECT_EQ(get("/vm/setcpu/kvm1/" + uuid + "?vm_vcpus=4").status, 400);

    ASSERT_EQ(get("/vm/stop/kvm1/" + uuid + "?force=true").status, 200);
    EXPECT_EQ(guest(uuid)["state"], "SHUTOFF");

    // Delete takes the domain, its snapshots and its disk volume.
    auto deleted = get("/vm/delete/kvm1/" + uuid);
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(deleted.json()["failed"], json::array()) << deleted.body;
    EXPECT_NE(virsh({"dominfo", uuid}).exit_code, 0) << "the domain is still defined";
    auto vols = virsh({"vol-list", *pool_});
    EXPECT_EQ(vols.exit_code, 0) << vols.output;
    EXPECT_EQ(vols.output.find("life.qcow2"), std::string::npos) << "the disk volume is still there:\n" << vols.output;
    EXPECT_EQ(get("/vm/list/kvm1/" + uuid).status, 404);
    EXPECT_TRUE(cached(uuid).empty());
}

TEST_F(Guest, ANoCloudGuestReadsItsSeedFromTheMetadataRoutesOverHttp) {
    const std::string uuid =
        create("nocloud",
               {{"vm_meta_enum", "NOCLOUD"}, {"vm_name", "nocloud"}, {"vm_sshkey", "ssh-ed25519 AAAAC3Nz e2e@test"}});
    ASSERT_EQ(uuid.size(), 36u);
    ASSERT_EQ(get("/vm/start/kvm1/" + uuid).status, 200);
    ASSERT_TRUE(booted("nocloud")) << console(serial_log("nocloud"));
    const std::string text = console(serial_log("nocloud"));
    const std::string url = "http://10.0.2.2:" + std::to_string(daemon_->port()) + "/" + uuid + "/";
    EXPECT_NE(text.find("kvmhub-test-guest: datasource smbios " + url), std::string::npos) << text;
    expect_seed_printed(text, daemon_->url(), uuid);
    ASSERT_EQ(get("/vm/stop/kvm1/" + uuid + "?force=true").status, 200);
    ASSERT_EQ(get("/vm/delete/kvm1/" + uuid).status, 200);
}

// The <disk device='cdrom'> element of a domain XML (empty when it has none).
std::string cdrom_element(const std::string& xml) {
    const auto from = xml.find("<disk type='network' device='cdrom'>");
    if (from == std::string::npos) return "";
    const auto to = xml.find("</disk>", from);
    return to == std::string::npos ? "" : xml.substr(from, to + 7 - from);
}

// How many replies with `status` the daemon gave on the cidata.iso route, from /metrics.
long iso_replies(const Daemon& daemon, const std::string& token, const std::string& method, int status) {
    const std::string metrics = http_get(daemon.url() + "/metrics", bearer(token)).body;
    const std::string series = "kvmhub_http_requests_total{route=\"/{uuid}/cidata.iso\",method=\"" + method +
                               "\",status=\"" + std::to_string(status) + "\"} ";
    const auto at = metrics.find(series);
    return at == std::string::npos ? 0 : std::stol(metrics.substr(at + series.size()));
}

TEST_F(IsoGuest, AnIsoModeGuestMountsItsCidataCdromServedOverHttpByTheMetadataService) {
    const std::string uuid = create("iso", {{"vm_meta_enum", "ISO"},
                                            {"vm_name", "iso"},
                                            {"vm_password", "iso-e2e-secret"},
                                            {"vm_sshkey", json::array({"ssh-ed25519 AAAAC3Nz a@e2e", "ssh-rsa AAAAB3 b@e2e"})}});
    ASSERT_EQ(uuid.size(), 36u);
    // qemu itself opens the source, on the host: the metadata listener's loopback address.
    const std::string xml = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    const std::string cdrom = cdrom_element(xml);
    EXPECT_NE(cdrom.find("<source protocol='http' name='/" + uuid + "/cidata.iso'>"), std::string::npos) << xml;
    EXPECT_NE(cdrom.find("<host name='127.0.0.1' port='" + std::to_string(daemon_->port()) + "'/>"),
              std::string::npos)
        << xml;

    ASSERT_EQ(get("/vm/start/kvm1/" + uuid).status, 200);
    ASSERT_TRUE(booted("iso")) << console(serial_log("iso"));
    const std::string text = console(serial_log("iso"));
    EXPECT_NE(text.find("kvmhub-test-guest: datasource cidata /dev/sr0"), std::string::npos) << text;
    expect_seed_printed(text, daemon_->url(), uuid);
    EXPECT_EQ(text.find("iso-e2e-secret"), std::string::npos) << "the clear password reached the guest";
    // qemu's curl driver asks for the size with HEAD, then reads the image in byte ranges.
    EXPECT_GE(iso_replies(*daemon_, *token_, "HEAD", 200), 1);
    EXPECT_GE(iso_replies(*daemon_, *token_, "GET", 206), 1);
    EXPECT_EQ(iso_replies(*daemon_, *token_, "GET", 416), 0);

    ASSERT_EQ(get("/vm/stop/kvm1/" + uuid + "?force=true").status, 200);
    ASSERT_EQ(get("/vm/delete/kvm1/" + uuid).status, 200);
    EXPECT_EQ(http_get(daemon_->url() + "/" + uuid + "/cidata.iso").status, 404) << "delete leaves the seed";
}

// The shipped domain template's ISO mode (the default) under qemu 7.2: the domain starts with
// the http CD-ROM, qemu reads the cidata image from the metadata service (SeaBIOS looks at the
// CD for a boot record), and the element is the one the test guest's template renders.
TEST_F(IsoGuest, TheShippedDomainTemplateStartsWithItsHttpCdromUnderQemu) {
    json host = host_body("shipped", "qemu:///system", "domain");
    auto added = post("/conf/host/", host.dump());
    ASSERT_EQ(added.status, 200) << added.body;
    auto r = post("/vm/create/shipped", json{{"vm_name", "shipped"}, {"vm_ram_mb", 128}, {"vm_ram_mb_max", 128},
                                             {"vm_vcpus", 1}, {"vm_vcpus_max", 1}, {"vm_rng", "no"}}
                                            .dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string uuid = r.json()["uuid"];
    created_->push_back(uuid);
    const std::string xml = get("/vm/xml/shipped/" + uuid).json()["xml"];
    const std::string cdrom = cdrom_element(xml);
    ASSERT_FALSE(cdrom.empty()) << xml;

    const long ranges_before = iso_replies(*daemon_, *token_, "GET", 206);
    auto started = get("/vm/start/shipped/" + uuid);
    ASSERT_EQ(started.status, 200) << started.body;
    EXPECT_TRUE(eventually([&] { return iso_replies(*daemon_, *token_, "GET", 206) > ranges_before; }, 60s))
        << "qemu never read the CD-ROM";
    EXPECT_EQ(guest(uuid)["state"], "RUNNING");
    ASSERT_EQ(get("/vm/stop/shipped/" + uuid + "?force=true").status, 200);

    // Same element as the test guest's (the uuid aside).
    const std::string other = create("twin", {{"vm_meta_enum", "ISO"}});
    ASSERT_EQ(other.size(), 36u);
    std::string twin = cdrom_element(get("/vm/xml/kvm1/" + other).json()["xml"]);
    twin.replace(twin.find(other), other.size(), uuid);
    EXPECT_EQ(twin, cdrom);
    ASSERT_EQ(get("/vm/delete/shipped/" + uuid).status, 200);
    ASSERT_EQ(get("/vm/delete/kvm1/" + other).status, 200);
    // The shipped template logs the serial console there; the domain is gone, so is its log.
    std::filesystem::remove("/var/log/libvirt/qemu/console." + uuid + ".log");
}

// The host is set to meta_iso=pool and META_SRV is a closed port: the cidata ISO is a volume
// in the host's pool, written at create and again at every re-render, and the guest mounts it
// with no metadata service involved; delete removes the volume.
TEST_F(PoolIsoGuest, AnIsoModeGuestMountsItsCidataVolumeFromTheHostPoolWithoutTheMetadataService) {
    const std::string uuid = create("pooliso", {{"vm_meta_enum", "ISO"},
                                                {"vm_name", "pooliso"},
                                                {"vm_password", "pool-e2e-secret"},
                                                {"vm_sshkey", "ssh-ed25519 AAAAC3Nz p@e2e"}});
    ASSERT_EQ(uuid.size(), 36u);
    const std::string vol = "cidata-" + uuid + ".iso";
    const std::string path = dir_->file(vol);
    const std::string xml = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    EXPECT_NE(xml.find("<disk type='volume' device='cdrom'>"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<source pool='" + *pool_ + "' volume='" + vol + "'/>"), std::string::npos) << xml;
    EXPECT_EQ(xml.find("cidata.iso"), std::string::npos) << "no http CD-ROM: " << xml;

    // The volume is the ISO of the served files.
    auto served = [&](const std::string& name) {
        auto r = http_get(daemon_->url() + "/" + uuid + "/" + name);
        EXPECT_EQ(r.status, 200) << name;
        return r.body;
    };
    auto in_volume = [&](const std::string& name) {
        return run_command({"isoinfo", "-J", "-i", path, "-x", "/" + name}).output;
    };
    auto info = run_command({"isoinfo", "-d", "-i", path});
    EXPECT_NE(info.output.find("Volume id: cidata"), std::string::npos) << info.output;
    for (const char* name : {"meta-data", "user-data", "network-config"})
        EXPECT_EQ(in_volume(name), served(name)) << name;

    ASSERT_EQ(get("/vm/start/kvm1/" + uuid).status, 200);
    ASSERT_TRUE(booted("pooliso")) << console(serial_log("pooliso"));
    // qemu reads the file in the pool: the running definition names it.
    auto live = virsh({"dumpxml", uuid});
    ASSERT_EQ(live.exit_code, 0) << live.output;
    EXPECT_NE(live.output.find("<source pool='" + *pool_ + "' volume='" + vol + "'"), std::string::npos) << live.output;
    auto qemu = run_command({"pgrep", "-f", "guest=testguest-" + uuid});
    ASSERT_EQ(qemu.exit_code, 0) << "no qemu process for the guest";
    std::string cmdline = read_file("/proc/" + qemu.output.substr(0, qemu.output.find('\n')) + "/cmdline");
    EXPECT_NE(cmdline.find("\"filename\":\"" + path + "\""), std::string::npos) << cmdline;
    EXPECT_EQ(cmdline.find("cidata.iso"), std::string::npos) << cmdline;
    const std::string text = console(serial_log("pooliso"));
    EXPECT_NE(text.find("kvmhub-test-guest: datasource cidata /dev/sr0"), std::string::npos) << text;
    expect_seed_printed(text, daemon_->url(), uuid);
    EXPECT_EQ(text.find("pool-e2e-secret"), std::string::npos) << "the clear password reached the guest";
    // Nobody asked the metadata service for the ISO (and META_SRV is a closed port).
    EXPECT_EQ(iso_replies(*daemon_, *token_, "HEAD", 200), 0);
    EXPECT_EQ(iso_replies(*daemon_, *token_, "GET", 206), 0);
    EXPECT_EQ(iso_replies(*daemon_, *token_, "GET", 200), 0);

    // A re-render rewrites the volume (same name) while the guest runs; after a reset the
    // guest reads the new seed from it.
    auto changed = post("/vm/metadata/kvm1/" + uuid, R"({"vm_timezone":"Europe/Berlin"})");
    ASSERT_EQ(changed.status, 200) << changed.body;
    const std::string user_data = served("user-data");
    EXPECT_NE(user_data.find("Europe/Berlin"), std::string::npos) << user_data;
    EXPECT_EQ(in_volume("user-data"), user_data);
    // setmem renders again too: the same files, written again.
    const auto written = std::filesystem::last_write_time(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_EQ(get("/vm/setmem/kvm1/" + uuid + "?vm_ram_mb=300").status, 200);
    EXPECT_GT(std::filesystem::last_write_time(path), written) << "setmem did not write the volume";
    EXPECT_EQ(in_volume("user-data"), user_data);
    const auto first_boot = text.find("kvmhub-test-guest: ready");
    ASSERT_EQ(get("/vm/reset/kvm1/" + uuid).status, 200);
    auto second = [&] { return console(serial_log("pooliso")).substr(first_boot + 1); };
    ASSERT_TRUE(eventually([&] { return second().find("kvmhub-test-guest: ready") != std::string::npos; }, 180s))
        << second();
    expect_seed_printed(second(), daemon_->url(), uuid);

    ASSERT_EQ(get("/vm/stop/kvm1/" + uuid + "?force=true").status, 200);
    // The VM's own ISO put in with an empty isoname is the pool volume, written again from the
    // stored seed (here after it was deleted behind kvmhub's back).
    ASSERT_EQ(virsh({"vol-delete", vol, "--pool", *pool_}).exit_code, 0);
    auto cdrom = post("/vm/cdrom/kvm1/" + uuid + "?dev=hda", R"({"isoname":""})");
    ASSERT_EQ(cdrom.status, 200) << cdrom.body;
    EXPECT_EQ(in_volume("user-data"), user_data);
    const std::string after = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    EXPECT_NE(after.find("<source pool='" + *pool_ + "' volume='" + vol + "'/>"), std::string::npos) << after;

    auto deleted = get("/vm/delete/kvm1/" + uuid);
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(deleted.json()["failed"], json::array()) << deleted.body;
    auto vols = virsh({"vol-list", *pool_});
    EXPECT_EQ(vols.output.find(vol), std::string::npos) << "the cidata volume is still there:\n" << vols.output;
    EXPECT_FALSE(std::filesystem::exists(path));
    virsh({"vol-delete", "pooliso.qcow2", "--pool", *pool_});
}

// A pool that cannot be made is a clear error at create, and leaves no domain and no pool.
TEST_F(PoolIsoGuest, ACreateWhoseCidataVolumeCannotBeWrittenLeavesNothing) {
    const std::string bad_pool = "kvmhub-e2e-bad-" + std::to_string(getpid());
    json host = host_body("broken", "qemu:///system", "testguest");
    host["meta_iso"] = "pool";
    host["pool"] = bad_pool;
    host["pool_path"] = "/proc/kvmhub-no-such-dir";
    ASSERT_EQ(post("/conf/host/", host.dump()).status, 200);
    const std::string before = virsh({"list", "--all", "--uuid"}).output;
    auto r = post("/vm/create/broken", json{{"vm_meta_enum", "ISO"},
                                            {"vm_ram_mb", 128},
                                            {"vm_vcpus", 1},
                                            {"vm_kernel", test_guest_dir() + "/vmlinuz"},
                                            {"vm_initrd", test_guest_dir() + "/initrd.img"},
                                            {"vm_disk", dir_->file("never.qcow2")},
                                            {"vm_serial_log", serial_log("never")}}
                                           .dump());
    EXPECT_GE(r.status, 400) << r.body;
    EXPECT_EQ(r.json()["name"], "meta_iso") << r.body;
    const std::string desc = r.json().value("desc", "");
    EXPECT_NE(desc.find("was not written into pool '" + bad_pool + "' (host broken has meta_iso=pool)"),
              std::string::npos)
        << desc;
    EXPECT_NE(desc.find("/proc/kvmhub-no-such-dir"), std::string::npos) << desc;
    EXPECT_EQ(virsh({"list", "--all", "--uuid"}).output, before) << "the failed create left a domain";
    EXPECT_NE(virsh({"pool-info", bad_pool}).exit_code, 0) << "the pool that could not be built is still defined";
    ASSERT_EQ(http_request("DELETE", daemon_->url() + "/conf/host/?name=broken", "", bearer(*token_)).status, 200);
}

TEST_F(Guest, TheCacheFollowsChangesMadeBehindKvmhubsBack) {
    const std::string uuid = create("outside");
    ASSERT_EQ(uuid.size(), 36u);
    ASSERT_EQ(get("/vm/start/kvm1/" + uuid).status, 200);
    ASSERT_TRUE(eventually([&] { return cached(uuid).value("state", "") == "RUNNING"; }, 10s))
        << get("/vm/list/").body;

    // virsh, not kvmhub: only the lifecycle event can tell the cache (no list call is made).
    auto destroyed = virsh({"destroy", uuid});
    ASSERT_EQ(destroyed.exit_code, 0) << destroyed.output;
    EXPECT_TRUE(eventually([&] { return cached(uuid).value("state", "") == "SHUTOFF"; }, 10s)) << cached(uuid).dump();

    auto started = virsh({"start", uuid});
    ASSERT_EQ(started.exit_code, 0) << started.output;
    EXPECT_TRUE(eventually([&] { return cached(uuid).value("state", "") == "RUNNING"; }, 10s)) << cached(uuid).dump();

    ASSERT_EQ(virsh({"destroy", uuid}).exit_code, 0);
    auto undefined = virsh({"undefine", uuid});
    ASSERT_EQ(undefined.exit_code, 0) << undefined.output;
    EXPECT_TRUE(eventually([&] { return cached(uuid).empty(); }, 10s)) << cached(uuid).dump();
    virsh({"vol-delete", "outside.qcow2", "--pool", *pool_});
}

}  // namespace
}  // namespace kvmhub::test
