// Real guests: a Debian 12 cloud image built from Debian packages (scripts/cloud-image.sh:
// cloud-init 22.4, ifupdown, resolvconf, qemu-guest-agent, no net-tools) boots under TCG on
// qemu:///system through kvmhubd's shipped templates, as a user does it: create, attach a disk
// from the gold image, attach NICs, start. What cloud-init had to do is then read from inside
// the guest through its guest agent: host name, user, key, password hash, the addresses on the
// NICs with the requested MACs under the distribution's own names, the default route, DNS, and
// `cloud-init status`. One test per boot; the boots take the `system` lock, one at a time.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "auth/base64.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/local.hpp"
#include "support/temp_dir.hpp"
#include "support/vm_fixtures.hpp"
#include "system/system_support.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kUser = "tester";  // not "kvm": useradd refuses a name the image has as a group
constexpr const char* kKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKvmhubRealGuestKey0000000000000000000000 real@test";

// What a command printed inside the guest, through the guest agent (guest-exec).
struct GuestRun {
    int exit_code = -1;
    std::string out;
};

json agent(const std::string& uuid, const json& command) {
    auto r = virsh({"qemu-agent-command", uuid, "--timeout", "20", command.dump()});
    if (r.exit_code != 0) return json();
    return json::parse(r.output, nullptr, false);
}

GuestRun guest_run(const std::string& uuid, const std::string& script, std::chrono::seconds limit = 120s) {
    json started =
        agent(uuid, {{"execute", "guest-exec"},
                     {"arguments", {{"path", "/bin/sh"}, {"arg", {"-c", script}}, {"capture-output", true}}}});
    if (!started.is_object() || !started["return"].contains("pid")) return {-1, "guest-exec failed"};
    const int pid = started["return"]["pid"];
    GuestRun run;
    eventually(
        [&] {
            json status = agent(uuid, {{"execute", "guest-exec-status"}, {"arguments", {{"pid", pid}}}});
            if (!status.is_object() || !status["return"].value("exited", false)) return false;
            run.exit_code = status["return"].value("exitcode", -1);
            for (const char* stream : {"out-data", "err-data"})
                if (status["return"].contains(stream))
                    run.out += auth::base64_decode(status["return"][stream].get<std::string>()).value_or("");
            return true;
        },
        limit);
    return run;
}

// Where META_SRV points: for the guest (NOCLOUD: 10.0.2.2 is the host's loopback inside qemu's
// user network) or for the host (ISO mode: qemu opens the cidata CD-ROM's http source itself).
enum class MetaSide { Guest, Host };

template <MetaSide side>
class RealGuestSuite : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir;
        ASSERT_EQ(chmod(dir_->path().c_str(), 0755), 0);  // qemu runs as libvirt-qemu
        // The image the fixture built (a second run only prints its path).
        std::map<std::string, std::string> env;
        if (const char* cache = std::getenv("KVMHUB_IMAGE_CACHE")) env["KVMHUB_IMAGE_CACHE"] = cache;
        auto built = run_command({KVMHUB_SOURCE_DIR "/scripts/cloud-image.sh"}, {}, env, 1800s);
        ASSERT_EQ(built.exit_code, 0) << built.output;
        std::string image = built.output;
        while (!image.empty() && image.back() == '\n') image.pop_back();
        image = image.substr(image.rfind('\n') + 1);
        std::filesystem::create_directories(dir_->file("gold"));
        std::error_code linked;
        std::filesystem::create_hard_link(image, dir_->file("gold") + "/debian12.qcow2", linked);
        if (linked) std::filesystem::copy_file(image, dir_->file("gold") + "/debian12.qcow2");
        pool_ = new std::string("kvmhub-real-" + std::string(side == MetaSide::Guest ? "g" : "h") + "-" +
                                std::to_string(getpid()));
        std::filesystem::create_directories(dir_->file("pool"));
        ASSERT_EQ(chmod(dir_->file("pool").c_str(), 0755), 0);

        const int port = free_port();
        daemon_ =
            new Daemon({.args = {"--listen", "127.0.0.1:" + std::to_string(port)},
                        .env = {{"KVMHUB_LIBVIRT_RESYNC_INTERVAL", "3600"},
                                {"KVMHUB_GOLD_DIR", dir_->file("gold")},
                                {"KVMHUB_META_SRV", std::string(side == MetaSide::Guest ? "10.0.2.2" : "127.0.0.1") +
                                                        ":" + std::to_string(port)}},
                        .default_listen = false});
        token_ = new std::string(daemon_->login());
        json host = host_body("kvm1", "qemu:///system");  // the shipped domain template
        host["pool"] = *pool_;
        host["pool_path"] = dir_->file("pool");
        host["disk.file"] = "on";
        host["net.user"] = "on";
        auto added = post("/conf/host/", host.dump());
        ASSERT_EQ(added.status, 200) << added.body;
        auto gold = post("/conf/gold/", json{{"name", "debian12"},
                                             {"arch", "x86_64"},
                                             {"uri", "file://" + dir_->file("gold") + "/debian12.qcow2"},
                                             {"size", "2"}}
                                            .dump());
        ASSERT_EQ(gold.status, 200) << gold.body;
    }
    static void TearDownTestSuite() {
        delete daemon_;
        daemon_ = nullptr;
        delete token_;
        remove_vms_and_pool(*created_, *pool_);
        delete created_;
        delete pool_;
        delete dir_;
    }

    static HttpResponse get(const std::string& path) { return http_get(daemon_->url() + path, bearer(*token_)); }
    static HttpResponse post(const std::string& path, const std::string& body = "{}") {
        return http_post(daemon_->url() + path, body, bearer(*token_));
    }
    // The last line of an attach stream, as JSON.
    static json attach(const std::string& uuid, const std::string& dev, const json& body) {
        auto r = post("/vm/attach_device/kvm1/" + uuid + "?dev=" + dev, body.dump());
        EXPECT_EQ(r.status, 200) << r.body;
        std::string text = r.body;
        while (!text.empty() && text.back() == '\n') text.pop_back();
        return json::parse(text.substr(text.rfind('\n') + 1), nullptr, false);
    }

    // Create, a 3 GiB disk from the gold, the NICs (each attach body's own settings), start.
    // Returns the uuid and each NIC's MAC.
    static std::pair<std::string, std::vector<std::string>> boot(const json& vm, const std::vector<json>& nics) {
        json body = {
            {"vm_ram_mb", 1024}, {"vm_user", kUser}, {"vm_password", "Real-Guest-Secret-7"}, {"vm_sshkey", kKey}};
        body.update(vm);
        auto created = post("/vm/create/kvm1", body.dump());
        EXPECT_EQ(created.status, 200) << created.body;
        const std::string uuid = created.json().value("uuid", "");
        if (uuid.empty()) return {};
        created_->push_back(uuid);
        json disk = attach(uuid, "disk.file", {{"gold", "debian12"}, {"size", 3}});
        EXPECT_EQ(disk["result"], "OK") << disk.dump();
        std::vector<std::string> macs;
        for (const auto& nic : nics) {
            json r = attach(uuid, "net.user", nic);
            EXPECT_EQ(r["result"], "OK") << r.dump();
            macs.push_back(r.value("mac", ""));
        }
        auto started = get("/vm/start/kvm1/" + uuid);
        EXPECT_EQ(started.status, 200) << started.body;
        return {uuid, macs};
    }

    // Waits for the agent, then for cloud-init to end; its `status --long` (the exit code is
    // 0 only for "done" without errors).
    static GuestRun cloud_init_done(const std::string& uuid) {
        const bool agent_up = eventually([&] { return agent(uuid, {{"execute", "guest-ping"}}).is_object(); }, 300s);
        if (!agent_up) return {-1, "the guest agent never answered; serial log:\n" + serial(uuid)};
        return guest_run(uuid, "cloud-init status --wait --long", 240s);
    }
    static std::string serial(const std::string& uuid) {
        return read_file("/var/log/libvirt/qemu/console." + uuid + ".log");
    }
    // The kernel name of the NIC with `mac` ("" when there is none).
    static std::string nic_name(const std::string& uuid, const std::string& mac) {
        auto r = guest_run(uuid, "grep -l '^" + mac + "$' /sys/class/net/*/address | cut -d/ -f5");
        std::string name = r.out;
        while (!name.empty() && name.back() == '\n') name.pop_back();
        return name;
    }
    // What every booted guest must show: cloud-init done without errors, the VM's name, the
    // user with its key and a SHA-512 password hash.
    static void expect_configured(const std::string& uuid, const std::string& name) {
        GuestRun status = cloud_init_done(uuid);
        EXPECT_EQ(status.exit_code, 0) << status.out;
        EXPECT_NE(status.out.find("status: done"), std::string::npos) << status.out;
        EXPECT_EQ(guest_run(uuid, "hostname").out, name + "\n");
        EXPECT_NE(guest_run(uuid, std::string("cat /home/") + kUser + "/.ssh/authorized_keys").out.find(kKey),
                  std::string::npos);
        const std::string shadow = guest_run(uuid, std::string("getent shadow ") + kUser + " | cut -d: -f2").out;
        EXPECT_EQ(shadow.rfind("$6$", 0), 0u) << "a SHA-512 crypt hash, not " << shadow;
        EXPECT_NE(guest_run(uuid, "command -v route ifconfig").exit_code, 0) << "the image has no net-tools";
    }

    static inline TempDir* dir_ = nullptr;
    static inline std::string* pool_ = nullptr;
    static inline Daemon* daemon_ = nullptr;
    static inline std::string* token_ = nullptr;
    static inline std::vector<std::string>* created_ = new std::vector<std::string>;
};
using RealIsoGuest = RealGuestSuite<MetaSide::Host>;
using RealNocloudGuest = RealGuestSuite<MetaSide::Guest>;

bool predictable(const std::string& name) {
    return name.rfind("ens", 0) == 0 || name.rfind("enp", 0) == 0;
}

TEST_F(RealIsoGuest, TheStaticAddressRouteAndDnsArriveOnTheNicWithItsMacUnderTheDistributionsName) {
    auto [uuid, macs] = boot({{"vm_name", "iso-static"}, {"vm_meta_enum", "ISO"}},
                             {{{"vm_ipaddr", "10.0.2.15/24"}, {"vm_gateway", "10.0.2.2"}, {"vm_dns", "10.0.2.3"}}});
    ASSERT_FALSE(uuid.empty());
    ASSERT_EQ(macs.size(), 1u);
    expect_configured(uuid, "iso-static");
    const std::string nic = nic_name(uuid, macs[0]);
    EXPECT_TRUE(predictable(nic)) << "'" << nic << "'";
    const std::string addr = guest_run(uuid, "ip -o -4 addr show dev " + nic).out;
    EXPECT_NE(addr.find("inet 10.0.2.15/24"), std::string::npos) << addr;
    EXPECT_EQ(addr.find("dynamic"), std::string::npos) << "static, not from DHCP: " << addr;
    EXPECT_NE(guest_run(uuid, "ip route show default").out.find("default via 10.0.2.2 dev " + nic), std::string::npos);
    EXPECT_NE(guest_run(uuid, "cat /etc/resolv.conf").out.find("nameserver 10.0.2.3"), std::string::npos);
    // kvmhub's own view agrees (the guest agent's answer, by MAC).
    auto ipaddr = get("/vm/ipaddr/kvm1/" + uuid);
    EXPECT_NE(ipaddr.body.find("10.0.2.15"), std::string::npos) << ipaddr.body;
    EXPECT_NE(ipaddr.body.find(macs[0]), std::string::npos) << ipaddr.body;
}

// Two NICs, DHCP on the first (qemu's user network answers DHCP), a static address on the second.
TEST_F(RealIsoGuest, TwoNicsDhcpOnTheFirstAndAStaticAddressOnlyOnTheSecond) {
    auto [uuid, macs] =
        boot({{"vm_name", "iso-two"}, {"vm_meta_enum", "ISO"}}, {json::object(), {{"vm_ipaddr", "192.0.2.7/24"}}});
    ASSERT_FALSE(uuid.empty());
    ASSERT_EQ(macs.size(), 2u);
    expect_configured(uuid, "iso-two");
    const std::string first = nic_name(uuid, macs[0]), second = nic_name(uuid, macs[1]);
    EXPECT_TRUE(predictable(first) && predictable(second)) << first << " " << second;
    const std::string dhcp = guest_run(uuid, "ip -o -4 addr show dev " + first).out;
    EXPECT_NE(dhcp.find("inet 10.0.2.15/24"), std::string::npos) << dhcp;
    EXPECT_NE(dhcp.find("dynamic"), std::string::npos) << "from DHCP: " << dhcp;
    const std::string fixed = guest_run(uuid, "ip -o -4 addr show dev " + second).out;
    EXPECT_NE(fixed.find("inet 192.0.2.7/24"), std::string::npos) << fixed;
    EXPECT_EQ(fixed.find("dynamic"), std::string::npos) << fixed;
    EXPECT_NE(guest_run(uuid, "ip route show default").out.find("default via 10.0.2.2 dev " + first),
              std::string::npos);
}

// NOCLOUD: the SMBIOS string cloud-init 22.4 takes (ds=nocloud-net), the seed fetched over HTTP
// by the guest itself; the network from DHCP (a static address there is refused at create).
TEST_F(RealNocloudGuest, ANocloudGuestFetchesItsSeedOverHttpAndIsConfigured) {
    auto [uuid, macs] = boot({{"vm_name", "nocloud-dhcp"}, {"vm_meta_enum", "NOCLOUD"}}, {json::object()});
    ASSERT_FALSE(uuid.empty());
    ASSERT_EQ(macs.size(), 1u);
    expect_configured(uuid, "nocloud-dhcp");
    const std::string status = guest_run(uuid, "cloud-init status --long").out;
    EXPECT_NE(status.find("DataSourceNoCloudNet"), std::string::npos) << status;
    EXPECT_NE(status.find("http://10.0.2.2:" + std::to_string(daemon_->port()) + "/" + uuid + "/"), std::string::npos)
        << status;
    const std::string nic = nic_name(uuid, macs[0]);
    EXPECT_TRUE(predictable(nic)) << "'" << nic << "'";
    EXPECT_NE(guest_run(uuid, "ip -o -4 addr show dev " + nic).out.find("inet 10.0.2.15/24"), std::string::npos);
    EXPECT_NE(guest_run(uuid, "ip route show default").out.find("via 10.0.2.2"), std::string::npos);
}

}  // namespace
}  // namespace kvmhub::test
