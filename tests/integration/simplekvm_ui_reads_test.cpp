// What simplekvm's admin UI reads from kvmhubd's replies, route by route, through the real
// daemon on libvirt's in-process test:///default driver: the fields its pages use (desc and
// uuid of every VM action, the catalog lists its forms read, the VM page, the display and
// tenant links it builds, the login's token lifetime, /conf/ as a table, failures as code,
// name and desc), and what else its pages depend on (the host form's "n/a", same-origin
// requests with the cookie, kvmhub's own pages kept out of /ui/).
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "auth/base64.hpp"
#include "auth/links.hpp"
#include "support/daemon.hpp"
#include "support/echo_server.hpp"
#include "support/http_client.hpp"
#include "support/local.hpp"
#include "support/static_server.hpp"
#include "support/temp_dir.hpp"
#include "support/vm_fixtures.hpp"
#include "support/ws_client.hpp"

namespace kvmhub::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kCtrlSrv = "ctrl.example.test:1443";

// A test-driver VM with what the VM page shows: a virtio disk vda, an empty IDE CD-ROM hda, a
// NIC on the default network (libvirt picks its MAC; the target lets netstat measure it), the
// mdconfig metadata, a serial console, and a VNC display on `vm_vnc_port` (an echo server in
// these tests).
constexpr const char* kDomainTemplate = R"({#- simplekvm UI test VM -#}
<domain type='test'>
  <name>ui-{{ vm_uuid }}</name>
  <uuid>{{ vm_uuid }}</uuid>
  <title>ui</title>
  <description>{{ vm_desc }}</description>
  <metadata>
    <mdconfig:meta xmlns:mdconfig='urn:iso-meta'>
      <vm_creater>{{ vm_creater }}</vm_creater>
    </mdconfig:meta>
  </metadata>
  <memory unit='MiB'>{{ vm_ram_mb_max | default(512, true) }}</memory>
  <currentMemory unit='MiB'>{{ vm_ram_mb | default(128, true) }}</currentMemory>
  <vcpu placement='static' current='{{ vm_vcpus | default(1, true) }}'>4</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/ui-{{ vm_uuid }}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='hda' bus='ide'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <source network='default'/>
      <target dev='kvmhubui0'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'>
      <target port='0'/>
    </serial>
    <graphics type='vnc' port='{{ vm_vnc_port }}' autoport='no' listen='127.0.0.1' passwd='s3cret'/>
  </devices>
</domain>
)";


// "YYYY-mm-dd HH:MM:SS" in UTC as Unix seconds; -1 when it is not that.
std::int64_t utc_seconds(const std::string& text) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
    if (end == nullptr || *end != '\0') return -1;
    return timegm(&tm);
}

// The JSON payload of a JWT ({} when it is not one).
json jwt_payload(const std::string& token) {
    const auto first = token.find('.');
    const auto second = token.find('.', first + 1);
    if (first == std::string::npos || second == std::string::npos) return json::object();
    auto payload = auth::base64url_decode(token.substr(first + 1, second - first - 1));
    return payload ? json::parse(*payload, nullptr, false) : json::object();
}

// The value of `attribute` in a Set-Cookie header ("" when absent).
std::string cookie_attribute(const std::string& set_cookie, const std::string& attribute) {
    const auto at = set_cookie.find(attribute + "=");
    if (at == std::string::npos) return {};
    const auto start = at + attribute.size() + 1;
    return set_cookie.substr(start, set_cookie.find(';', start) - start);
}

// The last line of a streamed reply, parsed.
json last_line(const std::string& body) {
    std::string text = body;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    const auto nl = text.rfind('\n');
    return json::parse(nl == std::string::npos ? text : text.substr(nl + 1), nullptr, false);
}

class SimplekvmUiReads : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        echo_ = new EchoServer;
        images_ = new StaticServer;
        daemon_ = new Daemon(DaemonOptions{.env = {{"KVMHUB_CTRL_SRV", kCtrlSrv},
                                                   {"KVMHUB_GOLD_SRV", images_->host_port()},
                                                   {"KVMHUB_META_SRV", images_->host_port()},
                                                   {"TZ", "UTC"}}});
        token_ = new std::string(daemon_->login());
        auto tpl = call("PUT", "/conf/template/domain/uireads", kDomainTemplate);
        ASSERT_EQ(tpl.status, 200) << tpl.body;
        json host = host_body("t1", "test:///default", "uireads");
        host["cdrom.null"] = "on";
        host["net.user"] = "on";
        auto added = post("/conf/host/", host.dump());
        ASSERT_EQ(added.status, 200) << added.body;
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete images_;
        delete echo_;
        delete token_;
    }

    static HttpResponse call(const std::string& method, const std::string& path, const std::string& body = {}) {
        return http_request(method, daemon_->url() + path, body, bearer(*token_));
    }
    static HttpResponse get(const std::string& path) { return call("GET", path); }
    static HttpResponse post(const std::string& path, const std::string& body = "{}") {
        return call("POST", path, body);
    }

    // A VM of the test template, started unless told otherwise.
    static std::string vm(bool start = true) {
        auto r = post("/vm/create/t1", json{{"vm_desc", "UI VM"}, {"vm_vnc_port", echo_->port()}}.dump());
        EXPECT_EQ(r.status, 200) << r.body;
        const std::string uuid = r.json().value("uuid", "");
        if (start && !uuid.empty()) {
            EXPECT_EQ(get("/vm/start/t1/" + uuid).status, 200);
        }
        return uuid;
    }
    static json guest(const std::string& uuid) { return get("/vm/list/t1/" + uuid).json()["guest"]; }

    // A success as simplekvm's UI reads it: result OK, a desc to show, and the VM it makes current.
    static void expect_vm_ok(const HttpResponse& r, const std::string& uuid, const std::string& what) {
        EXPECT_EQ(r.status, 200) << what << ": " << r.body;
        const json j = r.json();
        EXPECT_EQ(j.value("result", ""), "OK") << what << ": " << r.body;
        EXPECT_TRUE(j.contains("desc") && j["desc"].is_string() && !j["desc"].get<std::string>().empty())
            << what << " has no desc to show: " << r.body;
        EXPECT_EQ(j.value("uuid", ""), uuid) << what << " does not name its VM: " << r.body;
    }
    // A failure as simplekvm's UI shows it: result not OK, code, name and desc.
    static void expect_failure(const json& j, const std::string& what) {
        EXPECT_TRUE(j.is_object()) << what << ": " << j.dump();
        if (!j.is_object()) return;
        EXPECT_NE(j.value("result", "OK"), "OK") << what << ": " << j.dump();
        EXPECT_TRUE(j.contains("code") && j["code"].is_number_integer()) << what << ": " << j.dump();
        EXPECT_TRUE(j.contains("name") && j["name"].is_string()) << what << ": " << j.dump();
        EXPECT_TRUE(j.contains("desc") && j["desc"].is_string() && !j["desc"].get<std::string>().empty())
            << what << ": " << j.dump();
    }
    // A change the test driver cannot make (it has no device hotplug or update): the request
    // must have reached libvirt (its form accepted), and the refusal reads as a failure; on a
    // driver that can make it, the reply must read as a success of the VM.
    static void expect_ok_or_unsupported_by_the_driver(const json& j, const std::string& uuid,
                                                       const std::string& what) {
        if (j.value("result", "") == "OK") {
            EXPECT_TRUE(j.contains("desc") && j["desc"].is_string()) << what << ": " << j.dump();
            EXPECT_EQ(j.value("uuid", ""), uuid) << what << ": " << j.dump();
            return;
        }
        expect_failure(j, what);
        EXPECT_NE(j.value("desc", "").find("not supported"), std::string::npos)
            << what << ": refused before it reached the driver: " << j.dump();
    }

    static json find(const json& list, const std::string& field, const std::string& value) {
        for (const auto& item : list)
            if (item.is_object() && item.value(field, "") == value) return item;
        return nullptr;
    }

    static EchoServer* echo_;
    static StaticServer* images_;
    static Daemon* daemon_;
    static std::string* token_;
};
EchoServer* SimplekvmUiReads::echo_ = nullptr;
StaticServer* SimplekvmUiReads::images_ = nullptr;
Daemon* SimplekvmUiReads::daemon_ = nullptr;
std::string* SimplekvmUiReads::token_ = nullptr;

// Every VM route answers success with desc and uuid, and its own fields: metadata warn,
// delete failed, the snapshot list num/names/current; and each did what it says.
TEST_F(SimplekvmUiReads, EveryVmActionAnswersDescAndUuid) {
    auto created = post("/vm/create/t1", json{{"vm_desc", "UI VM"}, {"vm_vnc_port", echo_->port()}}.dump());
    const std::string uuid = created.json().value("uuid", "");
    ASSERT_EQ(uuid.size(), 36u) << created.body;
    expect_vm_ok(created, uuid, "create");
    EXPECT_EQ(guest(uuid)["uuid"], uuid) << "create's uuid is the VM made";

    expect_vm_ok(get("/vm/start/t1/" + uuid), uuid, "start");
    EXPECT_EQ(guest(uuid)["state"], "RUNNING");
    expect_vm_ok(post("/vm/reset/t1/" + uuid), uuid, "reset");
    expect_vm_ok(get("/vm/stop/t1/" + uuid + "?force=true"), uuid, "stop");
    EXPECT_EQ(guest(uuid)["state"], "SHUTOFF");
    expect_vm_ok(get("/vm/desc/t1/" + uuid + "?vm_desc=renamed"), uuid, "desc");
    expect_vm_ok(get("/vm/setmem/t1/" + uuid + "?vm_ram_mb=256"), uuid, "setmem");
    expect_vm_ok(get("/vm/setcpu/t1/" + uuid + "?vm_vcpus=2"), uuid, "setcpu");
    const json changed = guest(uuid);
    EXPECT_EQ(changed["desc"], "renamed");
    EXPECT_EQ(changed["curmem"], 256 * 1024);
    EXPECT_EQ(changed["curcpu"], 2);

    auto metadata = post("/vm/metadata/t1/" + uuid, R"({"owner":"team-a"})");
    expect_vm_ok(metadata, uuid, "metadata");
    EXPECT_TRUE(metadata.json().contains("warn") && metadata.json()["warn"].is_string())
        << "metadata answers warn: " << metadata.body;
    EXPECT_EQ(guest(uuid)["mdconfig"]["owner"], "team-a");

    expect_vm_ok(post("/vm/snapshot/t1/" + uuid + "?name=first"), uuid, "snapshot create");
    expect_vm_ok(post("/vm/snapshot/t1/" + uuid + "?name=second"), uuid, "snapshot create");
    auto list = get("/vm/snapshot/t1/" + uuid);
    expect_vm_ok(list, uuid, "snapshot list");
    EXPECT_TRUE(list.json()["num"].is_number_integer()) << list.body;
    EXPECT_EQ(list.json()["num"], 2) << list.body;
    EXPECT_EQ(list.json()["names"], json::array({"first", "second"})) << list.body;
    EXPECT_EQ(list.json()["current"], "second") << list.body;
    expect_vm_ok(get("/vm/revert_snapshot/t1/" + uuid + "?name=first"), uuid, "revert_snapshot");
    EXPECT_EQ(get("/vm/snapshot/t1/" + uuid).json()["current"], "first");
    expect_vm_ok(get("/vm/delete_snapshot/t1/" + uuid + "?name=second"), uuid, "delete_snapshot");
    list = get("/vm/snapshot/t1/" + uuid);
    EXPECT_EQ(list.json()["num"], 1) << list.body;
    EXPECT_EQ(list.json()["names"], json::array({"first"})) << list.body;

    auto deleted = get("/vm/delete/t1/" + uuid);
    expect_vm_ok(deleted, uuid, "delete");
    ASSERT_TRUE(deleted.json().contains("failed")) << deleted.body;
    EXPECT_TRUE(deleted.json()["failed"].is_array()) << deleted.body;
    EXPECT_TRUE(deleted.json()["failed"].empty()) << "its disk is no pool volume, nothing stayed: " << deleted.body;
    EXPECT_EQ(get("/vm/list/t1/" + uuid).status, 404);
}

// The VM lists and the VM page: the fields shown, with the types and values they must have.
TEST_F(SimplekvmUiReads, TheVmPageFields) {
    const std::string stopped = vm(false);
    const std::string running = vm(true);

    // GET /vm/list/: per host kvmhost, arch and guests[] with uuid and state.
    auto all = get("/vm/list/");
    ASSERT_EQ(all.status, 200) << all.body;
    ASSERT_TRUE(all.json()["guest"].is_array()) << all.body;
    const json cached = find(all.json()["guest"], "kvmhost", "t1");
    ASSERT_TRUE(cached.is_object()) << all.body;
    EXPECT_EQ(cached["arch"], "x86_64") << cached.dump();
    ASSERT_TRUE(cached["guests"].is_array()) << cached.dump();
    EXPECT_EQ(find(cached["guests"], "uuid", stopped).value("state", ""), "SHUTOFF") << cached.dump();
    EXPECT_EQ(find(cached["guests"], "uuid", running).value("state", ""), "RUNNING") << cached.dump();

    // GET /vm/list/<host>: host.active/host.totalvm as numbers (the sidebar's "(active/total)"),
    // counting the guests listed; guest[] with uuid and state.
    auto one_host = get("/vm/list/t1");
    ASSERT_EQ(one_host.status, 200) << one_host.body;
    const json h = one_host.json();
    ASSERT_TRUE(h["host"].is_object()) << one_host.body;
    ASSERT_TRUE(h["host"]["active"].is_number_integer()) << one_host.body;
    ASSERT_TRUE(h["host"]["totalvm"].is_number_integer()) << one_host.body;
    ASSERT_TRUE(h["guest"].is_array()) << one_host.body;
    int listed_running = 0;
    for (const auto& g : h["guest"]) {
        EXPECT_TRUE(g["uuid"].is_string() && g["state"].is_string()) << g.dump();
        listed_running += g.value("state", "") == "RUNNING";
    }
    EXPECT_EQ(h["host"]["totalvm"], h["guest"].size()) << one_host.body;
    EXPECT_EQ(h["host"]["active"], listed_running) << one_host.body;
    EXPECT_GE(h["host"]["active"].get<int>(), 1) << one_host.body;
    EXPECT_EQ(find(h["guest"], "uuid", running).value("state", ""), "RUNNING");
    EXPECT_EQ(find(h["guest"], "uuid", stopped).value("state", ""), "SHUTOFF");

    // GET /vm/list/<host>/<uuid>: state decides the buttons; disks[], nets[] and mdconfig.
    auto page = get("/vm/list/t1/" + running);
    ASSERT_EQ(page.status, 200) << page.body;
    const json g = page.json()["guest"];
    EXPECT_EQ(g["uuid"], running);
    EXPECT_EQ(g["state"], "RUNNING");
    EXPECT_EQ(guest(stopped)["state"], "SHUTOFF");
    ASSERT_TRUE(g["disks"].is_array()) << page.body;
    const json disk = find(g["disks"], "dev", "vda");
    ASSERT_TRUE(disk.is_object()) << page.body;
    EXPECT_EQ(disk["device"], "disk");
    EXPECT_EQ(disk["bus"], "virtio");
    EXPECT_EQ(disk["type"], "file");
    EXPECT_EQ(disk["vol"], "/guest/ui-" + running + ".qcow2");
    const json cdrom = find(g["disks"], "device", "cdrom");
    ASSERT_TRUE(cdrom.is_object()) << page.body;
    EXPECT_EQ(cdrom["dev"], "hda");
    EXPECT_EQ(cdrom["bus"], "ide");
    EXPECT_TRUE(cdrom["type"].is_string() && cdrom["vol"].is_string()) << cdrom.dump();
    ASSERT_TRUE(g["nets"].is_array()) << page.body;
    ASSERT_EQ(g["nets"].size(), 1u) << page.body;
    const json nic = g["nets"][0];
    EXPECT_EQ(nic["model"], "virtio");
    EXPECT_EQ(nic["type"], "network");
    const std::string mac = nic.value("mac", "");
    EXPECT_TRUE(std::regex_match(mac, std::regex("^([0-9a-f]{2}:){5}[0-9a-f]{2}$"))) << nic.dump();
    ASSERT_TRUE(g["mdconfig"].is_object()) << page.body;
    EXPECT_EQ(g["mdconfig"]["vm_creater"], "admin");

    // GET /vm/xml/: the domain's XML.
    auto xml = get("/vm/xml/t1/" + running);
    ASSERT_EQ(xml.status, 200) << xml.body;
    EXPECT_NE(xml.json().value("xml", "").find("<uuid>" + running + "</uuid>"), std::string::npos) << xml.body;

    // blksize?dev= with a disk's dev: size as "<n>MiB".
    auto size = get("/vm/blksize/t1/" + running + "?dev=" + disk.value("dev", ""));
    expect_vm_ok(size, running, "blksize");
    EXPECT_EQ(size.json()["dev"], "vda");
    const std::string mib = size.json().value("size", "");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(mib, m, std::regex("^([0-9]+)MiB$"))) << size.body;
    EXPECT_GT(std::stoull(m[1]), 0u) << size.body;

    // netstat?dev= with a NIC's mac: stats.rx and stats.tx.
    auto stats = get("/vm/netstat/t1/" + running + "?dev=" + mac);
    expect_vm_ok(stats, running, "netstat");
    EXPECT_EQ(stats.json()["dev"], mac);
    EXPECT_TRUE(stats.json()["stats"]["rx"].is_number_integer()) << stats.body;
    EXPECT_TRUE(stats.json()["stats"]["tx"].is_number_integer()) << stats.body;
    EXPECT_GT(stats.json()["stats"]["rx"].get<std::uint64_t>(), 0u) << "the test driver counts: " << stats.body;

    // ipaddr: the addresses per MAC.
    auto addrs = get("/vm/ipaddr/t1/" + running);
    expect_vm_ok(addrs, running, "ipaddr");
    EXPECT_TRUE(addrs.json().contains(mac)) << "no entry for the NIC " << mac << ": " << addrs.body;
    EXPECT_NE(addrs.json()[mac].dump().find("192.168."), std::string::npos) << addrs.body;

    // cdrom?dev= with the CD-ROM's dev from disks[].
    auto changed = post("/vm/cdrom/t1/" + running + "?dev=" + cdrom.value("dev", ""), R"({"isoname":""})");
    expect_ok_or_unsupported_by_the_driver(changed.json(), running, "cdrom?dev=" + cdrom.value("dev", ""));

    // detach_device?dev= with a NIC's mac, and with a disk's dev.
    const json stopped_nets = guest(stopped)["nets"];
    ASSERT_TRUE(stopped_nets.is_array() && stopped_nets.size() == 1u) << stopped_nets.dump();
    auto nic_gone = post("/vm/detach_device/t1/" + stopped + "?dev=" + stopped_nets[0].value("mac", ""));
    expect_ok_or_unsupported_by_the_driver(nic_gone.json(), stopped, "detach_device by MAC");
    if (nic_gone.json().contains("failed")) {
        EXPECT_TRUE(nic_gone.json()["failed"].is_array()) << nic_gone.body;
    }
    auto disk_gone = post("/vm/detach_device/t1/" + stopped + "?dev=vda");
    expect_ok_or_unsupported_by_the_driver(disk_gone.json(), stopped, "detach_device by dev");
    if (disk_gone.json().contains("failed")) {
        EXPECT_TRUE(disk_gone.json()["failed"].is_array()) << disk_gone.body;
    }

    // attach_device: the stream's last line is the reply.
    auto attached = post("/vm/attach_device/t1/" + stopped + "?dev=net.user", "{}");
    EXPECT_EQ(attached.status, 200) << attached.body;
    expect_ok_or_unsupported_by_the_driver(last_line(attached.body), stopped, "attach_device's last line");

    EXPECT_EQ(get("/vm/delete/t1/" + stopped).status, 200);
    EXPECT_EQ(get("/vm/stop/t1/" + running + "?force=true").status, 200);
    EXPECT_EQ(get("/vm/delete/t1/" + running).status, 200);
}

// display: the UI opens display + "/" + encodeURIComponent(atob(access) + "&token=" + token +
// "&disp=" + disp + "&expire=" + expire), and that console works; ctrl_url: the tenant link
// url + "?token=" + token opens the tenant page, whose calls with the token's parts work.
TEST_F(SimplekvmUiReads, DisplayAndCtrlUrlBuildWorkingLinks) {
    const std::string uuid = vm(true);
    auto shown = get("/vm/display/t1/" + uuid);
    expect_vm_ok(shown, uuid, "display");
    const json d = shown.json();
    EXPECT_EQ(d["disp"], "vnc");
    EXPECT_EQ(d["desc"], d["disp"]) << "desc is the display kind";
    EXPECT_EQ(d["token"], uuid) << "the token is the VM";
    const std::string page = d.value("display", "");
    EXPECT_NE(page.find("?password=s3cret&path="), std::string::npos) << page;
    EXPECT_NE(percent_decode(page).find("vm/websockify"), std::string::npos) << page;
    const std::string access = d.value("access", "");
    EXPECT_TRUE(std::regex_match(access, std::regex("^[A-Za-z0-9_=-]+$"))) << "URL-safe base64: " << access;
    const std::int64_t expire = utc_seconds(d.value("expire", ""));
    EXPECT_GT(expire, std::time(nullptr)) << d.dump();
    EXPECT_LT(expire, std::time(nullptr) + 24 * 3600) << d.dump();

    const std::string opened =
        page + "/" +
        encode_uri_component(atob(access) + "&token=" + d.value("token", "") + "&disp=" + d.value("disp", "") +
                             "&expire=" + d.value("expire", ""));
    std::string target = "/" + novnc_path(opened);
    EXPECT_EQ(target.rfind("/vm/websockify/t1/" + uuid, 0), 0u) << opened;
    for (auto at = target.find(' '); at != std::string::npos; at = target.find(' ')) target.replace(at, 1, "%20");
    auto ws = WsClient::connect(daemon_->port(), target, WsOptions{.protocols = {"binary"}});
    ASSERT_NE(ws, nullptr) << target;
    ASSERT_TRUE(ws->send("RFB 003.008\n"));
    EXPECT_EQ(ws->read_until("RFB 003.008\n"), "RFB 003.008\n");
    EXPECT_TRUE(ws->close());

    // ctrl_url?epoch=: url, token, expire.
    const std::int64_t epoch = std::time(nullptr) + 3600;
    auto link = get("/vm/ctrl_url/t1/" + uuid + "?epoch=" + std::to_string(epoch));
    expect_vm_ok(link, uuid, "ctrl_url");
    const json c = link.json();
    const std::string url = c.value("url", ""), token = c.value("token", "");
    EXPECT_EQ(url, std::string("http://") + kCtrlSrv + "/guest.html") << link.body;
    EXPECT_EQ(utc_seconds(c.value("expire", "")), epoch) << "expire is the link's end: " << link.body;
    const std::string tenant_link = url + "?token=" + token;
    const std::string page_path = tenant_link.substr(tenant_link.find('/', std::string("http://").size()));
    auto tenant_page = http_get(daemon_->url() + page_path);
    EXPECT_EQ(tenant_page.status, 200) << page_path;
    EXPECT_NE(tenant_page.header("content-type").find("text/html"), std::string::npos);
    auto parts = auth::decode_token(token);
    ASSERT_TRUE(parts) << token;
    EXPECT_EQ(parts->host, "t1");
    EXPECT_EQ(parts->uuid, uuid);
    EXPECT_EQ(parts->e, std::to_string(epoch));
    const std::string query = "?k=" + parts->k + "&e=" + parts->e + "&l=" + parts->l;
    auto mine = http_get(daemon_->url() + "/user/vm/list/t1/" + uuid + query);
    ASSERT_EQ(mine.status, 200) << mine.body;
    EXPECT_EQ(mine.json()["guest"]["uuid"], uuid);

    // The tenant's display: access is the base64 of the link query k=…&e=….
    auto own = http_get(daemon_->url() + "/user/vm/display/t1/" + uuid + query);
    ASSERT_EQ(own.status, 200) << own.body;
    const std::string own_access = own.json().value("access", "");
    EXPECT_TRUE(std::regex_match(own_access, std::regex("^[A-Za-z0-9_=-]+$"))) << own_access;
    const std::string decoded = atob(own_access);
    EXPECT_NE(decoded.find("k=" + parts->k + "&e=" + parts->e), std::string::npos) << decoded;

    EXPECT_EQ(get("/vm/stop/t1/" + uuid + "?force=true").status, 200);
    EXPECT_EQ(get("/vm/delete/t1/" + uuid).status, 200);
}

// What the forms read from the catalog, and the replies of the catalog changes.
TEST_F(SimplekvmUiReads, CatalogListsHaveTheFieldsTheFormsRead) {
    // The host form: every device box, "on" when ticked and "n/a" when not.
    json form = host_body("t-form", "test:///default", "uireads");
    form["disk.file"] = "n/a";
    form["net.user"] = "on";
    form["cdrom.null"] = "n/a";
    auto saved = post("/conf/host/", form.dump());
    ASSERT_EQ(saved.status, 200) << saved.body;
    EXPECT_TRUE(saved.json()["desc"].is_string()) << saved.body;
    EXPECT_EQ(saved.json()["name"], "t-form");

    auto hosts = get("/tpl/host/");
    ASSERT_EQ(hosts.status, 200) << hosts.body;
    ASSERT_TRUE(hosts.json()["host"].is_array()) << hosts.body;
    const json h = find(hosts.json()["host"], "name", "t-form");
    ASSERT_TRUE(h.is_object()) << hosts.body;
    EXPECT_EQ(h["arch"], "x86_64");
    EXPECT_EQ(h["ipaddr"], "127.0.0.1");
    EXPECT_TRUE(h["sshport"] == 22 || h["sshport"] == "22") << h.dump();
    EXPECT_EQ(h["sshuser"], "root");
    EXPECT_EQ(h["url"], "test:///default");
    ASSERT_TRUE(h["vars"].is_object()) << h.dump();
    EXPECT_TRUE(h["vars"].contains("vm_ram_mb"))
        << "the create form's help lists what the template reads: " << h["vars"].dump();
    EXPECT_TRUE(h["vars"].contains("vm_vnc_port")) << h["vars"].dump();

    auto devices = get("/tpl/device/");
    ASSERT_EQ(devices.status, 200) << devices.body;
    ASSERT_TRUE(devices.json()["device"].is_array()) << devices.body;
    std::set<std::string> of_form;
    const json devices_body = devices.json();
    for (const auto& dev : devices_body["device"]) {
        for (const char* field : {"kvmhost", "name", "devtype", "desc"})
            EXPECT_TRUE(dev.contains(field) && dev[field].is_string()) << field << ": " << dev.dump();
        EXPECT_TRUE(dev.contains("vars") && dev["vars"].is_object()) << dev.dump();
        const std::string name = dev.value("name", "");
        EXPECT_EQ(name.substr(0, name.find('.')), dev.value("devtype", "")) << dev.dump();
        if (dev.value("kvmhost", "") == "t-form") of_form.insert(name);
    }
    EXPECT_EQ(of_form, std::set<std::string>{"net.user"}) << "an \"n/a\" box enables nothing: " << devices.body;
    const json user_nic = find(get("/tpl/device/t1").json()["device"], "name", "net.user");
    ASSERT_TRUE(user_nic.is_object());
    EXPECT_EQ(user_nic["kvmhost"], "t1");
    EXPECT_EQ(user_nic["devtype"], "net");
    EXPECT_FALSE(user_nic.value("desc", "").empty()) << user_nic.dump();
    EXPECT_TRUE(user_nic["vars"].contains("vm_net_model")) << user_nic.dump();
    ASSERT_EQ(call("DELETE", "/conf/host/?name=t-form").status, 200);

    // Gold images: gold[] with name, arch, desc; server.
    images_->add("/gold/ui.qcow2", 200, 1u << 20);
    auto gold =
        post("/conf/gold/",
             json{{"name", "uigold"}, {"arch", "x86_64"}, {"uri", "/gold/ui.qcow2"}, {"size", "1"}, {"desc", "UI gold"}}
                 .dump());
    ASSERT_EQ(gold.status, 200) << gold.body;
    EXPECT_TRUE(gold.json()["desc"].is_string()) << gold.body;
    EXPECT_EQ(gold.json()["name"], "uigold");
    EXPECT_EQ(gold.json()["arch"], "x86_64");
    auto golds = get("/tpl/gold/");
    ASSERT_EQ(golds.status, 200) << golds.body;
    EXPECT_EQ(golds.json()["server"], images_->host_port());
    ASSERT_TRUE(golds.json()["gold"].is_array()) << golds.body;
    const json golds_body = golds.json();
    for (const auto& g : golds_body["gold"])
        for (const char* field : {"name", "arch", "desc"})
            EXPECT_TRUE(g.contains(field) && g[field].is_string()) << field << ": " << g.dump();
    const json listed_gold = find(golds.json()["gold"], "name", "uigold");
    EXPECT_EQ(listed_gold.value("arch", ""), "x86_64") << golds.body;
    EXPECT_EQ(listed_gold.value("desc", ""), "UI gold") << golds.body;

    // ISOs: iso[] with name, desc; server.
    images_->add("/iso/ui.iso", 200, 1u << 20);
    auto iso = post("/conf/iso/", json{{"name", "uiiso"}, {"uri", "/iso/ui.iso"}, {"desc", "UI ISO"}}.dump());
    ASSERT_EQ(iso.status, 200) << iso.body;
    EXPECT_TRUE(iso.json()["desc"].is_string()) << iso.body;
    EXPECT_EQ(iso.json()["name"], "uiiso");
    auto isos = get("/tpl/iso/");
    ASSERT_EQ(isos.status, 200) << isos.body;
    EXPECT_EQ(isos.json()["server"], images_->host_port());
    ASSERT_TRUE(isos.json()["iso"].is_array()) << isos.body;
    const json isos_body = isos.json();
    for (const auto& i : isos_body["iso"])
        for (const char* field : {"name", "desc"})
            EXPECT_TRUE(i.contains(field) && i[field].is_string()) << field << ": " << i.dump();
    EXPECT_EQ(find(isos.json()["iso"], "name", "uiiso").value("desc", ""), "UI ISO") << isos.body;

    // Template names, devices (name → description) and the manager's key.
    auto domains = get("/conf/domains/");
    ASSERT_EQ(domains.status, 200) << domains.body;
    ASSERT_TRUE(domains.json()["domains"].is_array()) << domains.body;
    std::set<std::string> names;
    const json domains_body = domains.json();
    for (const auto& n : domains_body["domains"]) names.insert(n.is_string() ? n.get<std::string>() : n.dump());
    EXPECT_EQ(names, (std::set<std::string>{"domain", "uireads"})) << domains.body;
    auto device_map = get("/conf/devices/");
    ASSERT_EQ(device_map.status, 200) << device_map.body;
    ASSERT_TRUE(device_map.json()["devices"].is_object()) << device_map.body;
    const json device_map_body = device_map.json();
    for (const auto& [name, description] : device_map_body["devices"].items())
        EXPECT_TRUE(description.is_string()) << name << ": " << description.dump();
    EXPECT_EQ(device_map.json()["devices"].value("net.user", "<none>"), user_nic.value("desc", ""))
        << "the same description as the device list's";
    auto key = get("/conf/ssh_pubkey/");
    ASSERT_EQ(key.status, 200);
    EXPECT_TRUE(std::regex_search(key.body, std::regex("^ssh-ed25519 [A-Za-z0-9+/=]+"))) << key.body;

    // Restore: desc, total, apply, skip.
    auto archive = get("/conf/backup/");
    ASSERT_EQ(archive.status, 200);
    auto restored = http_upload(daemon_->url() + "/conf/restore/", "file", "ui.tgz", archive.body, bearer(*token_));
    ASSERT_EQ(restored.status, 200) << restored.body;
    const json report = restored.json();
    EXPECT_TRUE(report["desc"].is_string()) << report.dump();
    ASSERT_TRUE(report["total"].is_number_integer()) << report.dump();
    ASSERT_TRUE(report["apply"].is_number_integer()) << report.dump();
    ASSERT_TRUE(report.contains("skip")) << report.dump();
    const std::size_t skipped = report["skip"].is_array() ? report["skip"].size() : report["skip"].get<std::size_t>();
    EXPECT_GT(report["total"].get<std::size_t>(), 0u) << report.dump();
    EXPECT_EQ(report["total"].get<std::size_t>(), report["apply"].get<std::size_t>() + skipped) << report.dump();

    // The changes' replies: desc and name on deleting, as on saving.
    auto no_iso = call("DELETE", "/conf/iso/?name=uiiso");
    ASSERT_EQ(no_iso.status, 200) << no_iso.body;
    EXPECT_TRUE(no_iso.json()["desc"].is_string()) << no_iso.body;
    EXPECT_EQ(no_iso.json()["name"], "uiiso");
    auto no_gold = call("DELETE", "/conf/gold/?name=uigold&arch=x86_64");
    ASSERT_EQ(no_gold.status, 200) << no_gold.body;
    EXPECT_TRUE(no_gold.json()["desc"].is_string()) << no_gold.body;
    EXPECT_EQ(no_gold.json()["name"], "uigold");
    EXPECT_EQ(no_gold.json()["arch"], "x86_64");
}

// /api/login and /api/refresh answer token and expires, the token's lifetime in seconds (the
// UI sets the cookie's max-age and its countdown from it); the JWT has username and exp.
TEST_F(SimplekvmUiReads, LoginAndRefreshAnswerTokenAndLifetime) {
    auto login = http_post(daemon_->url() + "/api/login",
                           json{{"username", "admin"}, {"password", daemon_->admin_password()}}.dump());
    ASSERT_EQ(login.status, 200) << login.body;
    auto refresh = http_post(daemon_->url() + "/api/refresh", "", bearer(login.json().value("token", "")));
    ASSERT_EQ(refresh.status, 200) << refresh.body;
    for (const auto& [what, r] : {std::pair{"login", login}, std::pair{"refresh", refresh}}) {
        const json j = r.json();
        EXPECT_EQ(j.value("result", ""), "OK") << what << ": " << r.body;
        const std::string token = j.value("token", "");
        const json claims = jwt_payload(token);
        EXPECT_EQ(claims.value("username", ""), "admin") << what << ": " << claims.dump();
        ASSERT_TRUE(claims.contains("exp") && claims["exp"].is_number_integer()) << what << ": " << claims.dump();
        ASSERT_TRUE(j.contains("expires") && j["expires"].is_number_integer()) << what << ": " << r.body;
        const std::int64_t now = std::time(nullptr);
        const std::int64_t lifetime = claims["exp"].get<std::int64_t>() - now;
        EXPECT_GT(lifetime, 0) << what;
        EXPECT_NEAR(j["expires"].get<std::int64_t>(), lifetime, 5)
            << what << ": expires is the token's lifetime in seconds, not an epoch: " << r.body;
        const std::string max_age = cookie_attribute(r.header("set-cookie"), "Max-Age");
        EXPECT_EQ(max_age, std::to_string(j["expires"].get<std::int64_t>()))
            << what << ": the cookie's max-age is expires: " << r.header("set-cookie");
    }
}

// /conf/ is shown as a two-column table, one row per key: every value a string.
TEST_F(SimplekvmUiReads, ConfIsAFlatMapOfStrings) {
    auto r = get("/conf/");
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(r.json()["conf"].is_object()) << r.body;
    EXPECT_FALSE(r.json()["conf"].empty());
    EXPECT_EQ(r.json()["conf"].value("CTRL_SRV", ""), kCtrlSrv) << r.body;
    const json r_body = r.json();
    for (const auto& [key, value] : r_body["conf"].items())
        EXPECT_TRUE(value.is_string()) << "conf." << key << " shows as " << value.dump();
}

// Failures show code, name and desc: refusals of the input, of the VM's state, of unknown
// things, of the catalog, of the login, and an attach's failure as its last stream line.
TEST_F(SimplekvmUiReads, FailuresCarryCodeNameDesc) {
    const std::string uuid = vm(true);
    const std::string nosuch = "6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50";
    struct Case {
        std::string what;
        HttpResponse r;
        long status;
        std::string name;
    };
    json bad_host = host_body("bad/name", "test:///default");
    const std::vector<Case> cases{
        {"unknown VM", get("/vm/list/t1/" + nosuch), 404, "uuid"},
        {"unknown host", get("/vm/list/nosuch"), 404, "name"},
        {"unknown parameter", get("/vm/start/t1/" + uuid + "?colour=red"), 400, "colour"},
        {"bad value", get("/vm/setmem/t1/" + uuid + "?vm_ram_mb=lots"), 400, "vm_ram_mb"},
        {"wrong state", get("/vm/start/t1/" + uuid), 409, "state"},
        {"unknown VM's netstat", get("/vm/netstat/t1/" + nosuch + "?dev=52:54:00:00:00:01"), 404, "uuid"},
        {"bad host form", post("/conf/host/", bad_host.dump()), 400, "name"},
        {"wrong password",
         http_post(daemon_->url() + "/api/login", json{{"username", "admin"}, {"password", "wrong"}}.dump()), 401, ""},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(c.r.status, c.status) << c.what << ": " << c.r.body;
        expect_failure(c.r.json(), c.what);
        if (!c.name.empty()) {
            EXPECT_EQ(c.r.json().value("name", ""), c.name) << c.what << ": " << c.r.body;
        }
    }
    EXPECT_EQ(cases[2].r.json()["code"], 998) << "simplekvm's code of an unknown parameter";

    // The attach's work fails after its stream began: the last line is the failure.
    auto attached = post("/vm/attach_device/t1/" + uuid + "?dev=net.user", "{}");
    ASSERT_EQ(attached.status, 200) << attached.body;
    expect_ok_or_unsupported_by_the_driver(last_line(attached.body), uuid, "attach_device's last line");

    EXPECT_EQ(get("/vm/stop/t1/" + uuid + "?force=true").status, 200);
    EXPECT_EQ(get("/vm/delete/t1/" + uuid).status, 200);
}

// The UI's fetches carry only the browser's own headers (Origin, Sec-Fetch-Site: same-origin)
// and the cookie: that changes a VM, with no custom header.
TEST_F(SimplekvmUiReads, SameOriginRequestsWithTheCookieWorkWithoutACustomHeader) {
    const std::string uuid = vm(false);
    const std::string origin = "http://127.0.0.1:" + std::to_string(daemon_->port());
    for (const char* method : {"GET", "POST"}) {
        const std::string desc = std::string("by-") + method;
        auto r = http_request(
            method, daemon_->url() + "/vm/desc/t1/" + uuid + "?vm_desc=" + desc, {},
            HttpOptions{.headers = {"Cookie: token=" + *token_, "Origin: " + origin, "Sec-Fetch-Site: same-origin"}});
        expect_vm_ok(r, uuid, std::string(method) + " desc with the cookie");
        EXPECT_EQ(guest(uuid)["desc"], desc);
    }
    EXPECT_EQ(get("/vm/delete/t1/" + uuid).status, 200);
}

// simplekvm's pages live under /ui/ (its nginx maps / to /ui/tpl.html): the pages kvmhub's
// replies point to (consoles, the tenant page) must live elsewhere, or the two collide.
TEST_F(SimplekvmUiReads, KvmhubsOwnPagesStayOutOfUi) {
    const std::string uuid = vm(true);
    for (const std::string disp : {"vnc", "console"}) {
        auto r = get("/vm/display/t1/" + uuid + "?disp=" + disp);
        ASSERT_EQ(r.status, 200) << r.body;
        const std::string page = r.json().value("display", "");
        EXPECT_FALSE(page.empty()) << r.body;
        EXPECT_NE(page.rfind("/ui/", 0), 0u) << disp << "'s page is under /ui/: " << page;
    }
    auto link = get("/vm/ctrl_url/t1/" + uuid + "?epoch=" + std::to_string(std::time(nullptr) + 600));
    ASSERT_EQ(link.status, 200) << link.body;
    EXPECT_EQ(link.json().value("url", "").find("/ui/"), std::string::npos) << link.body;
    EXPECT_EQ(get("/vm/stop/t1/" + uuid + "?force=true").status, 200);
    EXPECT_EQ(get("/vm/delete/t1/" + uuid).status, 200);
}

}  // namespace
}  // namespace kvmhub::test
