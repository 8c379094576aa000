// Devices through kvmhubd on qemu:///system: disks from a gold image built here with qemu-img
// (a marker at 1 MiB), provisioned in a pool kvmhub creates itself, linked and full clones,
// blank disks, NICs and CD-ROMs on stopped VMs, and one e2e run where the booted test guest
// reads the gold's marker and the requested size from its new disk and gets DHCP on a new NIC.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <utility>
#include <future>
#include <sstream>

#include <gtest/gtest.h>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/raw_socket.hpp"
#include "support/temp_dir.hpp"
#include "support/vm_fixtures.hpp"
#include "system/system_support.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr std::uint64_t kGiB = 1ull << 30;

// A serial log without the console's carriage returns.
std::string read_text(const std::string& path) {
    std::string out = read_file(path);
    std::erase(out, '\r');
    return out;
}

// The last line of a streamed reply, parsed.
json last_line(const std::string& body) {
    std::string text = body;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    auto nl = text.rfind('\n');
    return json::parse(nl == std::string::npos ? text : text.substr(nl + 1), nullptr, false);
}

class Devices : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir;
        ASSERT_EQ(chmod(dir_->path().c_str(), 0755), 0);  // qemu runs as libvirt-qemu
        const std::string pid = std::to_string(getpid());
        pool_ = new std::string("kvmhub-sys-" + pid);
        marker_ = new std::string("KVMHUB-GOLD-MARKER-" + pid);
        // The gold: 64 MiB, the marker at 1 MiB, as qcow2.
        std::filesystem::create_directories(dir_->file("gold"));
        {
            std::ofstream raw(dir_->file("gold.raw"), std::ios::binary);
            raw.seekp(1 << 20);
            raw << *marker_;
        }
        auto truncated = run_command({"truncate", "-s", "64M", dir_->file("gold.raw")});
        ASSERT_EQ(truncated.exit_code, 0) << truncated.output;
        auto converted = run_command({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", dir_->file("gold.raw"),
                                      dir_->file("gold") + "/t.qcow2"});
        ASSERT_EQ(converted.exit_code, 0) << converted.output;

        daemon_ = new Daemon(daemon_options(free_port()));
        token_ = new std::string(daemon_->login());
        auto tpl = http_request("PUT", daemon_->url() + "/conf/template/domain/testguest",
                                read_text(KVMHUB_SOURCE_DIR "/tests/system/testguest.tpl"), bearer(*token_));
        ASSERT_EQ(tpl.status, 200) << tpl.body;
        json host = host_body("kvm1", "qemu:///system", "testguest");
        host["pool"] = *pool_;
        host["pool_path"] = dir_->file("pool");
        for (const char* dev : {"disk.file", "net.user", "net.default", "net.br-ext", "cdrom.null"}) host[dev] = "on";
        auto added = post("/conf/host/", host.dump());
        ASSERT_EQ(added.status, 200) << added.body;
        auto gold = post("/conf/gold/", json{{"name", "tiny"},
                                             {"arch", "x86_64"},
                                             {"uri", "file://" + dir_->file("gold") + "/t.qcow2"},
                                             {"size", "1"}}
                                            .dump());
        ASSERT_EQ(gold.status, 200) << gold.body;
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete token_;
        remove_vms_and_pool(*created_, *pool_);
        delete created_;
        delete pool_;
        delete marker_;
        delete dir_;
    }

    // qemu itself fetches network CD-ROM media from META_SRV: it must be this daemon on loopback.
    static DaemonOptions daemon_options(int port, const std::string& data_dir = "") {
        return {.args = {"--listen", "127.0.0.1:" + std::to_string(port)},
                .env = {{"KVMHUB_LIBVIRT_RESYNC_INTERVAL", "3600"},
                        {"KVMHUB_GOLD_DIR", dir_->file("gold")},
                        {"KVMHUB_META_SRV", "127.0.0.1:" + std::to_string(port)}},
                .default_listen = false,
                .data_dir = data_dir};
    }

    // Sends an attach on a raw connection (the reply is read as it streams); returns the socket.
    static std::unique_ptr<RawSocket> start_attach(const std::string& uuid, const std::string& body) {
        auto client = std::make_unique<RawSocket>(daemon_->port());
        client->send("POST /vm/attach_device/kvm1/" + uuid + "?dev=disk.file HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     *token_ + "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n" + body);
        return client;
    }

    static HttpResponse get(const std::string& path) { return http_get(daemon_->url() + path, bearer(*token_)); }
    static HttpResponse post(const std::string& path, const std::string& body = "{}") {
        return http_post(daemon_->url() + path, body, bearer(*token_));
    }

    // A stopped VM of the test guest; its own disk (vda) is a file that need not exist to define it.
    static std::string create(const std::string& name, const json& extra = json::object()) {
        json body = {{"vm_name", name},
                     {"vm_ram_mb", 256},
                     {"vm_vcpus", 1},
                     {"vm_kernel", test_guest_dir() + "/vmlinuz"},
                     {"vm_initrd", test_guest_dir() + "/initrd.img"},
                     {"vm_disk", dir_->file(name + ".qcow2")},
                     {"vm_serial_log", dir_->file(name + ".serial.log")}};
        body.update(extra);
        auto r = post("/vm/create/kvm1", body.dump());
        EXPECT_EQ(r.status, 200) << r.body;
        std::string uuid = r.json().value("uuid", "");
        if (!uuid.empty()) created_->push_back(uuid);
        return uuid;
    }

    static json attach(const std::string& uuid, const std::string& dev, const json& body) {
        auto r = post("/vm/attach_device/kvm1/" + uuid + "?dev=" + dev, body.dump());
        EXPECT_EQ(r.status, 200) << r.body;
        return last_line(r.body);
    }

    // virsh vol-dumpxml of a pool volume ("" when there is none).
    static std::string volume_xml(const std::string& name) {
        auto r = virsh({"vol-dumpxml", name, "--pool", *pool_});
        return r.exit_code == 0 ? r.output : "";
    }
    static std::vector<std::string> volumes(const std::string& containing) {
        virsh({"pool-refresh", *pool_});
        auto r = virsh({"vol-list", *pool_});
        std::vector<std::string> out;
        std::istringstream lines(r.output);
        for (std::string line; std::getline(lines, line);) {
            std::istringstream words(line);
            std::string name;
            if (words >> name && name.find(containing) != std::string::npos) out.push_back(name);
        }
        return out;
    }
    static std::uint64_t uploads() {
        std::string text = get("/metrics").body;
        auto at = text.find("kvmhub_gold_uploads_total{host=\"kvm1\"} ");
        if (at == std::string::npos) return 0;
        return std::stoull(text.substr(text.find("} ", at) + 2));
    }

    static TempDir* dir_;
    static std::string* pool_;
    static std::string* marker_;
    static Daemon* daemon_;
    static std::string* token_;
    static inline std::vector<std::string>* created_ = new std::vector<std::string>;
};
TempDir* Devices::dir_ = nullptr;
std::string* Devices::pool_ = nullptr;
std::string* Devices::marker_ = nullptr;
Daemon* Devices::daemon_ = nullptr;
std::string* Devices::token_ = nullptr;

TEST_F(Devices, TwoVmsFromOneGoldShareOneUploadedBaseAsLinkedClones) {
    const std::string a = create("share-a");
    const std::string b = create("share-b");
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    const auto before = uploads();
    // At the same time: the second waits for the first one's upload.
    auto first = std::async(std::launch::async, [&] {
        return attach(a, "disk.file", {{"gold", "tiny"}, {"size", 2}});
    });
    auto second = std::async(std::launch::async, [&] {
        return attach(b, "disk.file", {{"gold", "tiny"}, {"size", 2}});
    });
    json ra = first.get();
    json rb = second.get();
    ASSERT_EQ(ra["result"], "OK") << ra.dump();
    ASSERT_EQ(rb["result"], "OK") << rb.dump();
    EXPECT_EQ(ra["dev"], "vdb") << "vda is the guest's own disk";
    EXPECT_EQ(uploads() - before, 1u) << "one upload for two VMs";
    auto bases = volumes("gold-tiny-");
    ASSERT_EQ(bases.size(), 1u);
    const std::string base_path = dir_->file("pool") + "/" + bases[0];

    for (const auto& uuid : {a, b}) {
        const std::string xml = volume_xml("vdb-" + uuid + ".qcow2");
        ASSERT_FALSE(xml.empty()) << "no volume for " << uuid;
        EXPECT_NE(xml.find("<backingStore>\n    <path>" + base_path + "</path>"), std::string::npos) << xml;
        EXPECT_NE(xml.find("<capacity unit='bytes'>" + std::to_string(2 * kGiB) + "</capacity>"), std::string::npos)
            << xml;
        const std::string dom = get("/vm/xml/kvm1/" + uuid).json()["xml"];
        EXPECT_NE(dom.find("volume='vdb-" + uuid + ".qcow2'"), std::string::npos) << dom;
    }
    // The next disk takes the next free letter.
    json next = attach(a, "disk.file", json::object());
    EXPECT_EQ(next["dev"], "vdc") << next.dump();

    // delete takes exactly the VM's own volumes; the base stays for the other VM.
    auto deleted = get("/vm/delete/kvm1/" + a);
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(deleted.json()["failed"], json::array()) << deleted.body;
    EXPECT_TRUE(volumes(a).empty());
    EXPECT_EQ(volumes(b).size(), 1u);
    EXPECT_EQ(volumes("gold-tiny-").size(), 1u);
}

TEST_F(Devices, AFullCopyHasTheGoldsContentNoBackingAndTheRequestedSize) {
    const std::string uuid = create("full");
    json r = attach(uuid, "disk.file", {{"gold", "tiny"}, {"size", "3"}, {"clone", "full"}});
    ASSERT_EQ(r["result"], "OK") << r.dump();
    const std::string name = "vdb-" + uuid + ".qcow2";
    const std::string xml = volume_xml(name);
    EXPECT_EQ(xml.find("<backingStore>"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<capacity unit='bytes'>" + std::to_string(3 * kGiB) + "</capacity>"), std::string::npos) << xml;
    auto raw = run_command({"qemu-img", "dd", "if=" + dir_->file("pool") + "/" + name, "of=" + dir_->file("full.raw"),
                            "bs=1M", "count=2", "-O", "raw"});
    ASSERT_EQ(raw.exit_code, 0) << raw.output;
    EXPECT_NE(read_text(dir_->file("full.raw")).find(*marker_), std::string::npos);
    ASSERT_EQ(get("/vm/delete/kvm1/" + uuid).status, 200);
    EXPECT_TRUE(volumes(uuid).empty());
}

TEST_F(Devices, ASizeBelowTheGoldIsRefusedWith403AndMakesNothing) {
    // The gold is 64 MiB; no whole number of GiB is too small for it, so use a bigger gold.
    auto big = run_command({"qemu-img", "create", "-f", "qcow2", dir_->file("gold") + "/big.qcow2", "5G"});
    ASSERT_EQ(big.exit_code, 0) << big.output;
    auto gold = post(
        "/conf/gold/",
        json{{"name", "big"}, {"arch", "x86_64"}, {"uri", "file://" + dir_->file("gold") + "/big.qcow2"}, {"size", "1"}}
            .dump());
    ASSERT_EQ(gold.status, 200) << gold.body;
    const std::string uuid = create("small");
    json r = attach(uuid, "disk.file", {{"gold", "big"}, {"size", 2}});
    EXPECT_EQ(r["result"], "ERR") << r.dump();
    EXPECT_EQ(r["code"], 403) << r.dump();
    EXPECT_NE(r["desc"].get<std::string>().find("gold too small"), std::string::npos) << r.dump();
    EXPECT_TRUE(volumes(uuid).empty());
    EXPECT_TRUE(volumes("gold-big-").empty()) << "refused before anything was uploaded";
}

TEST_F(Devices, ABlankDiskIsDetachedWithItsVolume) {
    const std::string uuid = create("blank");
    json r = attach(uuid, "disk.file", {{"size", 1}});
    ASSERT_EQ(r["result"], "OK") << r.dump();
    EXPECT_EQ(r["dev"], "vdb");
    const std::string xml = volume_xml("vdb-" + uuid + ".qcow2");
    EXPECT_EQ(xml.find("<backingStore>"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<capacity unit='bytes'>" + std::to_string(kGiB) + "</capacity>"), std::string::npos) << xml;

    auto detached = post("/vm/detach_device/kvm1/" + uuid + "?dev=vdb");
    ASSERT_EQ(detached.status, 200) << detached.body;
    EXPECT_EQ(detached.json()["vol"], *pool_ + "/vdb-" + uuid + ".qcow2") << detached.body;
    // What simplekvm's UI reads of a detach: desc, and uuid for its current VM.
    EXPECT_TRUE(detached.json()["desc"].is_string()) << detached.body;
    EXPECT_EQ(detached.json()["uuid"], uuid) << detached.body;
    EXPECT_TRUE(volumes(uuid).empty());
    const std::string dom = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    EXPECT_EQ(dom.find("vdb"), std::string::npos) << dom;
    EXPECT_EQ(post("/vm/detach_device/kvm1/" + uuid + "?dev=vdb").status, 404);
}

// simplekvm's vm_last_disk: the letter after the last one used, not the first free one.
TEST_F(Devices, ANewDiskTakesTheLetterAfterTheLastOneUsedAsInSimplekvm) {
    const std::string uuid = create("letters");  // vda is the guest's own disk
    ASSERT_EQ(attach(uuid, "disk.file", {{"size", 1}})["dev"], "vdb");
    ASSERT_EQ(attach(uuid, "disk.file", {{"size", "1G"}})["dev"], "vdc") << "simplekvm's older size form";
    ASSERT_EQ(post("/vm/detach_device/kvm1/" + uuid + "?dev=vdb").status, 200);
    json r = attach(uuid, "disk.file", {{"size", 1}});
    EXPECT_EQ(r["dev"], "vdd") << r.dump();
    EXPECT_EQ(r["uuid"], uuid) << "simplekvm's UI makes it the current VM";
    EXPECT_TRUE(r["desc"].is_string()) << "and shows desc: " << r.dump();
    EXPECT_EQ(post("/vm/detach_device/kvm1/" + uuid + "?dev=vdc").status, 200);
    auto older = post("/vm/detach_device/kvm1/" + uuid + "/vdd");  // simplekvm's older path form
    EXPECT_EQ(older.status, 200) << older.body;
    EXPECT_EQ(virsh({"domblklist", uuid}).output.find("vdd"), std::string::npos);
}

TEST_F(Devices, BadRequestsAreRefusedBeforeAnythingIsMade) {
    const std::string uuid = create("bad");
    EXPECT_EQ(post("/vm/attach_device/kvm1/" + uuid + "?dev=disk.rbd", "{}").status, 404) << "not enabled on kvm1";
    EXPECT_EQ(post("/vm/attach_device/kvm1/" + uuid + "?dev=disk.file&size=1", "{}").json()["code"], 998);
    // Known before the stream starts, so HTTP errors rather than 200 and an ERR line.
    auto r = post("/vm/attach_device/kvm1/" + uuid + "?dev=disk.file", json{{"size", "ten"}}.dump());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json()["name"], "size");
    r = post("/vm/attach_device/kvm1/" + uuid + "?dev=disk.file", json{{"gold", "tiny"}, {"clone", "deep"}}.dump());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json()["name"], "clone");
    r = post("/vm/attach_device/kvm1/" + uuid + "?dev=disk.file", json{{"gold", "nosuch"}}.dump());
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(r.json()["name"], "gold");
    EXPECT_TRUE(volumes(uuid).empty());
    EXPECT_EQ(post("/vm/detach_device/kvm1/" + uuid + "?dev=../x").status, 400);
}

// vm_machine passes the route's check by its family (pc-q35-*), then the host's qemu decides:
// a version it does not have is refused before anything is defined; an alias it has is taken.
TEST_F(Devices, AMachineTypeTheHostsQemuDoesNotOfferIsRefusedNamingIt) {
    auto missing = post("/vm/create/kvm1", json{{"vm_name", "oldmachine"}, {"vm_machine", "pc-q35-99.0"}}.dump());
    EXPECT_EQ(missing.status, 400) << missing.body;
    EXPECT_EQ(missing.json()["name"], "vm_machine") << missing.body;
    EXPECT_NE(missing.body.find("host kvm1 offers no machine type 'pc-q35-99.0'"), std::string::npos) << missing.body;
    EXPECT_NE(virsh({"dominfo", "oldmachine"}).exit_code, 0) << "a VM was defined all the same";
    auto offered = post("/vm/create/kvm1", json{{"vm_name", "q35machine"},
                                                {"vm_machine", "q35"},
                                                {"vm_disk", dir_->file("q35machine.qcow2")},
                                                {"vm_serial_log", dir_->file("q35machine.serial.log")}}
                                               .dump());
    ASSERT_EQ(offered.status, 200) << offered.body;
    created_->push_back(offered.json().value("uuid", ""));
}

TEST_F(Devices, ANicGetsTheMacLibvirtMadeAndIsDetachedByIt) {
    const std::string uuid = create("nic");
    json r = attach(uuid, "net.user", json::object());
    ASSERT_EQ(r["result"], "OK") << r.dump();
    const std::string mac = r.value("mac", "");
    ASSERT_EQ(mac.size(), 17u) << r.dump();
    auto list = virsh({"domiflist", uuid});
    EXPECT_NE(list.output.find(mac), std::string::npos) << list.output;
    auto detached = post("/vm/detach_device/kvm1/" + uuid + "?dev=" + mac);
    ASSERT_EQ(detached.status, 200) << detached.body;
    EXPECT_TRUE(detached.json()["desc"].is_string()) << detached.body;
    EXPECT_EQ(detached.json()["uuid"], uuid) << detached.body;
    list = virsh({"domiflist", uuid});
    EXPECT_EQ(list.output.find(mac), std::string::npos) << list.output;
}

// The seed follows the VM's NICs: an attached NIC is matched by its MAC in network-config, with
// the address of its attach body; a detached one goes; the VM's own address stays on the first.
TEST_F(Devices, TheSeedFollowsAttachedAndDetachedNicsEachWithItsOwnAddress) {
    const std::string uuid = create("seednics", {{"vm_ipaddr", "10.0.2.15/24"}, {"vm_gateway", "10.0.2.2"}});
    auto network_config = [&] { return http_get(daemon_->url() + "/" + uuid + "/network-config").body; };
    const std::string before = network_config();
    EXPECT_NE(before.find("addresses: [\"10.0.2.15/24\"]"), std::string::npos) << before;
    EXPECT_EQ(before.find("nic1"), std::string::npos) << before;

    json r = attach(uuid, "net.user",
                    {{"vm_ipaddr", "192.0.2.7/24"}, {"vm_gateway", "192.0.2.1"}, {"vm_dns", "192.0.2.53"}});
    ASSERT_EQ(r["result"], "OK") << r.dump();
    const std::string mac = r.value("mac", "");
    const std::string both = network_config();
    const auto second = both.find("\"nic1\":");
    ASSERT_NE(second, std::string::npos) << both;
    EXPECT_EQ(both.substr(second),
              "\"nic1\":\n    match:\n      macaddress: \"" + mac +
                  "\"\n    addresses: [\"192.0.2.7/24\"]\n    gateway4: \"192.0.2.1\"\n    nameservers:\n"
                  "      addresses: [\"192.0.2.53\"]")
        << both;
    EXPECT_NE(both.find("addresses: [\"10.0.2.15/24\"]"), std::string::npos) << "the first NIC keeps the VM's";

    // A bad address is refused before anything is attached.
    const auto nics = virsh({"domiflist", uuid}).output;
    auto bad = post("/vm/attach_device/kvm1/" + uuid + "?dev=net.user", R"({"vm_ipaddr":"192.0.2.8"})");
    EXPECT_EQ(bad.status, 400) << bad.body;
    EXPECT_EQ(bad.json().value("name", ""), "vm_ipaddr") << bad.body;
    EXPECT_EQ(virsh({"domiflist", uuid}).output, nics);

    auto detached = post("/vm/detach_device/kvm1/" + uuid + "?dev=" + mac);
    ASSERT_EQ(detached.status, 200) << detached.body;
    EXPECT_FALSE(detached.json().contains("failed")) << detached.body;
    EXPECT_EQ(network_config(), before);
}

// The other shipped NIC templates render and attach to a stopped VM's definition (never started
// here: libvirt's default network stays down and there is no br-ext bridge).
TEST_F(Devices, TheBridgeAndNetworkNicTemplatesRenderAndAttach) {
    const std::string uuid = create("nics");
    json bridge = attach(uuid, "net.br-ext", {{"vm_vcpus", 2}});
    ASSERT_EQ(bridge["result"], "OK") << bridge.dump();
    json network = attach(uuid, "net.default", json::object());
    ASSERT_EQ(network["result"], "OK") << network.dump();
    EXPECT_NE(bridge["mac"], network["mac"]);
    const std::string dom = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    EXPECT_NE(dom.find("<source bridge='br-ext'/>"), std::string::npos) << dom;
    EXPECT_NE(dom.find("<driver name='vhost' queues='2'/>"), std::string::npos) << dom;
    EXPECT_NE(dom.find("<source network='default'/>"), std::string::npos) << dom;
    for (const auto& nic : {bridge, network})
        EXPECT_EQ(post("/vm/detach_device/kvm1/" + uuid + "?dev=" + nic["mac"].get<std::string>()).status, 200);
    const std::string after = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    EXPECT_EQ(after.find("br-ext"), std::string::npos) << after;
    EXPECT_EQ(after.find("network='default'"), std::string::npos) << after;
    EXPECT_NE(after.find("<interface type='user'>"), std::string::npos) << "the guest's own NIC stays";
}

TEST_F(Devices, ACdromOfAStoppedVmGetsTheCidataIso) {
    const std::string uuid = create("cd");
    json r = attach(uuid, "cdrom.null", json::object());
    ASSERT_EQ(r["result"], "OK") << r.dump();
    EXPECT_EQ(r["dev"], "hda") << "cdrom.null is an IDE CD-ROM";
    auto changed = post("/vm/cdrom/kvm1/" + uuid + "?dev=hda", R"({"isoname":""})");
    ASSERT_EQ(changed.status, 200) << changed.body;
    EXPECT_TRUE(changed.json()["desc"].is_string()) << changed.body;
    EXPECT_EQ(changed.json()["uuid"], uuid) << changed.body;
    std::string dom = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    EXPECT_NE(dom.find("name='/" + uuid + "/cidata.iso'"), std::string::npos) << dom;

    EXPECT_EQ(post("/vm/cdrom/kvm1/" + uuid + "?dev=hda", R"({"isoname":"nosuch"})").status, 404);
    EXPECT_EQ(post("/vm/cdrom/kvm1/" + uuid + "?dev=vda", R"({"isoname":""})").status, 400) << "vda is a disk";
    // simplekvm's older path form, the device in the path (the body's `dev` is not read).
    auto older = post("/vm/cdrom/kvm1/" + uuid + "/hda", R"({"dev":"sda","isoname":""})");
    EXPECT_EQ(older.status, 200) << older.body;
    EXPECT_EQ(older.json()["dev"], "hda") << older.body;
}

TEST_F(Devices, AClientThatDisconnectsMidUploadLeavesNoVolume) {
    // A raw gold of 4 GiB (sparse here, but every byte is streamed to the host): long enough
    // to disconnect in the middle of its upload.
    const std::string file = dir_->file("gold") + "/huge.raw";
    ASSERT_EQ(run_command({"truncate", "-s", "4G", file}).exit_code, 0);
    auto gold = post("/conf/gold/",
                     json{{"name", "huge"}, {"arch", "x86_64"}, {"uri", "file://" + file}, {"size", "5"}}.dump());
    ASSERT_EQ(gold.status, 200) << gold.body;
    const std::string uuid = create("gone");
    // Hashes the gold (kept for later) and stops at the size check, before any upload.
    json small = attach(uuid, "disk.file", {{"gold", "huge"}, {"size", 1}});
    ASSERT_EQ(small["code"], 403) << small.dump();
    const auto before = uploads();
    {
        auto client = start_attach(uuid, R"({"gold":"huge","size":5})");
        const std::string seen = client->read_until("uploading ", 60s);
        ASSERT_NE(seen.find("uploading "), std::string::npos) << seen;
    }  // gone
    EXPECT_TRUE(eventually([&] { return uploads() == before + 1 && volumes("gold-huge-").empty(); }, 60s))
        << "the half-uploaded base is still there";
    EXPECT_TRUE(volumes(uuid).empty());
    const std::string dom = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    EXPECT_EQ(dom.find("vdb"), std::string::npos) << dom;
    // The VM's lock went with the request: the next attach works, and takes vdb.
    json blank = attach(uuid, "disk.file", {{"size", 1}});
    EXPECT_EQ(blank["dev"], "vdb") << blank.dump();
}

TEST_F(Devices, AnActionScriptGetsTheRequestItsLinesStreamAndItsFailureLeavesNothingAttached) {
    const std::string uuid = create("action");
    auto put_action = [](const std::string& script) {
        auto r = http_request("PUT", daemon_->url() + "/conf/template/action/disk.file", script, bearer(*token_));
        ASSERT_EQ(r.status, 200) << r.body;
    };
    put_action(
        "echo \"action started TYPE=$TYPE URL=$URL\"\n"
        "read -r input || true\n"
        "echo \"stdin: $input\"\n"
        "exit 3\n");
    auto failed = post("/vm/attach_device/kvm1/" + uuid + "?dev=disk.file", R"({"size":1})");
    ASSERT_EQ(failed.status, 200) << failed.body;
    const auto started = failed.body.find("action started TYPE=disk URL=qemu:///system\n");
    const auto input = failed.body.find("stdin: {");
    ASSERT_NE(started, std::string::npos) << failed.body;
    ASSERT_NE(input, std::string::npos) << failed.body;
    EXPECT_LT(started, input) << "the script's lines come in the order it wrote them";
    const std::string stdin_line = failed.body.substr(input, failed.body.find('\n', input) - input);
    EXPECT_NE(stdin_line.find("\"vm_uuid\":\"" + uuid + "\""), std::string::npos) << stdin_line;
    EXPECT_NE(stdin_line.find("\"vm_last_disk\":\"vdb\""), std::string::npos) << stdin_line;
    EXPECT_NE(stdin_line.find("\"size\":1"), std::string::npos) << stdin_line;
    json last = last_line(failed.body);
    EXPECT_EQ(last["result"], "ERR") << failed.body;
    EXPECT_NE(last.value("desc", "").find("3"), std::string::npos) << last.dump();
    EXPECT_TRUE(volumes(uuid).empty()) << "a failed action leaves no volume";
    std::string dom = get("/vm/xml/kvm1/" + uuid).json()["xml"];
    EXPECT_EQ(dom.find("vdb"), std::string::npos) << dom;

    put_action("echo from-the-action\n");
    auto ok = post("/vm/attach_device/kvm1/" + uuid + "?dev=disk.file", R"({"size":1})");
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_NE(ok.body.find("\nfrom-the-action\n"), std::string::npos) << ok.body;
    json attached = last_line(ok.body);
    EXPECT_EQ(attached["result"], "OK") << ok.body;
    EXPECT_EQ(attached["dev"], "vdb") << ok.body;
    EXPECT_EQ(volumes(uuid).size(), 1u);
    // The attach was a task: its record has the outcome and the lines the client saw.
    ASSERT_TRUE(attached["task"].is_string()) << attached.dump();
    EXPECT_EQ(ok.body.rfind("task " + attached["task"].get<std::string>() + "\n", 0), 0u) << ok.body;
    json t = get("/api/tasks/" + attached["task"].get<std::string>()).json();
    EXPECT_EQ(t["state"], "done") << t.dump();
    EXPECT_EQ(t["kind"], "attach_device") << t.dump();
    EXPECT_NE(t["log"].dump().find("from-the-action"), std::string::npos) << t.dump();
    auto removed = http_request("DELETE", daemon_->url() + "/conf/template/action/disk.file", "", bearer(*token_));
    EXPECT_EQ(removed.status, 200) << removed.body;
}

TEST_F(Devices, AKilledDaemonFailsItsAttachTaskAndRemovesWhatItHalfMadeAtRestart) {
    const std::string file = dir_->file("gold") + "/huge.raw";
    ASSERT_EQ(run_command({"truncate", "-s", "4G", file}).exit_code, 0);
    auto gold = post("/conf/gold/",
                     json{{"name", "huge"}, {"arch", "x86_64"}, {"uri", "file://" + file}, {"size", "5"}}.dump());
    ASSERT_EQ(gold.status, 200) << gold.body;
    const std::string uuid = create("killed");

    std::string task;
    {
        auto client = start_attach(uuid, R"({"gold":"huge","size":5})");
        const std::string seen = client->read_until("uploading ", 120s);
        ASSERT_NE(seen.find("uploading "), std::string::npos) << seen;
        const auto at = seen.find("task ");
        ASSERT_NE(at, std::string::npos) << seen;
        task = seen.substr(at + 5, 36);
        ASSERT_TRUE(eventually([&] { return !volumes("gold-huge-").empty(); }, 60s)) << "the upload made no volume";
        EXPECT_EQ(daemon_->stop(SIGKILL), 128 + SIGKILL);
    }
    // The killed daemon's data dir lives as long as its Daemon object: keep it for the next one.
    std::unique_ptr<Daemon> killed(std::exchange(daemon_, nullptr));
    daemon_ = new Daemon(daemon_options(killed->port(), killed->data_dir()));
    *token_ = daemon_->login();

    auto reported = get("/api/tasks/" + task);
    ASSERT_EQ(reported.status, 200) << reported.body;
    json t = reported.json();
    EXPECT_EQ(t["state"], "failed") << t.dump();
    EXPECT_NE(t["error"].value("desc", "").find("interrupted by a restart"), std::string::npos) << t.dump();
    EXPECT_TRUE(t.value("cleanup", json::array()).empty()) << "every volume it made was removed: " << t.dump();
    EXPECT_TRUE(volumes("gold-huge-").empty()) << "the half-uploaded base is still in the pool";
    EXPECT_TRUE(volumes(uuid).empty());

    // Nothing is left locked or half-made: the same attach works now.
    json retry = attach(uuid, "disk.file", {{"gold", "huge"}, {"size", 5}});
    EXPECT_EQ(retry["result"], "OK") << retry.dump();
    EXPECT_EQ(retry["dev"], "vdb") << retry.dump();
    EXPECT_EQ(volumes("gold-huge-").size(), 1u);
    delete std::exchange(daemon_, nullptr);  // before the data dir of `killed` goes
}

TEST_F(Devices, TheBootedGuestReadsTheGoldOnItsNewDiskAndGetsDhcpOnItsNewNic) {
    auto disk = run_command({"qemu-img", "create", "-f", "qcow2", dir_->file("boot.qcow2"), "64M"});
    ASSERT_EQ(disk.exit_code, 0) << disk.output;
    const std::string uuid = create("boot");
    json d = attach(uuid, "disk.file", {{"gold", "tiny"}, {"size", 2}});
    ASSERT_EQ(d["result"], "OK") << d.dump();
    json n = attach(uuid, "net.user", json::object());
    ASSERT_EQ(n["result"], "OK") << n.dump();
    json c = attach(uuid, "cdrom.null", json::object());
    ASSERT_EQ(c["result"], "OK") << c.dump();

    ASSERT_EQ(get("/vm/start/kvm1/" + uuid).status, 200);
    const std::string log = dir_->file("boot.serial.log");
    ASSERT_TRUE(eventually([&] { return read_text(log).find("kvmhub-test-guest: ready") != std::string::npos; }, 180s))
        << read_text(log);
    const std::string console = read_text(log);
    EXPECT_NE(console.find("kvmhub-test-guest: disk vdb bytes " + std::to_string(2 * kGiB) + "\n"), std::string::npos)
        << console;
    EXPECT_NE(console.find("kvmhub-test-guest: disk vdb at 1MiB: " + *marker_ + "\n"), std::string::npos) << console;
    EXPECT_NE(console.find("kvmhub-test-guest: network eth1 10.0.2.15/24 via 10.0.2.2"), std::string::npos)
        << "the attached NIC got no DHCP lease from qemu:\n"
        << console;

    // Media change on the running guest: qemu opens the cidata ISO over HTTP from this daemon.
    auto changed = post("/vm/cdrom/kvm1/" + uuid + "?dev=" + c["dev"].get<std::string>(), R"({"isoname":""})");
    ASSERT_EQ(changed.status, 200) << changed.body;
    auto blk = virsh({"domblklist", uuid});
    EXPECT_NE(blk.output.find("/" + uuid + "/cidata.iso"), std::string::npos) << blk.output;

    ASSERT_EQ(get("/vm/stop/kvm1/" + uuid + "?force=true").status, 200);
    ASSERT_EQ(get("/vm/delete/kvm1/" + uuid).status, 200);
    EXPECT_TRUE(volumes(uuid).empty());
}

}  // namespace
}  // namespace kvmhub::test
