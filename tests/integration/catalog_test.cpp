// Catalog routes over HTTP: hosts, devices, gold images, ISOs, /tpl/ listings, templates.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <tuple>
#include <vector>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/static_server.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::test {
namespace {

using nlohmann::json;

class Catalog : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        images_ = new StaticServer;
        files_ = new TempDir;
        std::filesystem::create_directories(files_->file("gold"));
        std::ofstream(files_->file("gold/local.qcow2")) << std::string(4096, 'q');
        daemon_ = new Daemon(DaemonOptions{.env = {{"KVMHUB_GOLD_SRV", images_->host_port()},
                                                   {"KVMHUB_META_SRV", images_->host_port()},
                                                   {"KVMHUB_GOLD_DIR", files_->file("gold")}}});
        token_ = new std::string(daemon_->login());
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete images_;
        delete files_;
        delete token_;
    }

    static HttpResponse call(const std::string& method, const std::string& path, const std::string& body = {}) {
        return http_request(method, daemon_->url() + path, body, bearer(*token_));
    }
    static HttpResponse post(const std::string& path, const json& body) { return call("POST", path, body.dump()); }

    // Asserts an error reply: status, the field it names, and a fragment of the description.
    static void expect_refused(const HttpResponse& r, long status, const std::string& field,
                               const std::string& fragment) {
        EXPECT_EQ(r.status, status) << r.body;
        auto j = r.json();
        EXPECT_EQ(j["result"], "ERR") << r.body;
        EXPECT_EQ(j["name"], field) << r.body;
        EXPECT_NE(j.value("desc", "").find(fragment), std::string::npos)
            << "desc lacks '" << fragment << "': " << r.body;
    }

    static json host(const std::string& name) {
        return {{"name", name},          {"tpl", "domain"}, {"url", "test:///default"}, {"arch", "x86_64"},
                {"ipaddr", "127.0.0.1"}, {"sshport", "22"}, {"sshuser", "root"}};
    }

    static json find(const json& list, const std::string& field, const std::string& value) {
        for (const auto& item : list)
            if (item.value(field, "") == value) return item;
        return nullptr;
    }

    static Daemon* daemon_;
    static StaticServer* images_;
    static TempDir* files_;
    static std::string* token_;
};
Daemon* Catalog::daemon_ = nullptr;
StaticServer* Catalog::images_ = nullptr;
TempDir* Catalog::files_ = nullptr;
std::string* Catalog::token_ = nullptr;

// ---- templates shipped and listed ----

TEST_F(Catalog, ShippedTemplatesAreInstalledOnFirstStart) {
    auto domains = call("GET", "/conf/domains/");
    ASSERT_EQ(domains.status, 200) << domains.body;
    EXPECT_EQ(domains.json()["domains"], json::array({"domain"}));
    auto devices = call("GET", "/conf/devices/").json()["devices"];
    for (const char* d : {"disk.file", "disk.rbd", "net.br-ext", "net.default", "net.user", "cdrom.null"})
        EXPECT_TRUE(devices.contains(d)) << d << " missing from " << devices.dump();
    EXPECT_FALSE(devices["disk.file"].get<std::string>().empty()) << "device description comes from the template";
    auto metas = call("GET", "/conf/template/meta/").json()["templates"];
    EXPECT_EQ(metas, json::array({"meta-data", "network-config", "user-data"}));
}

TEST_F(Catalog, SshPublicKeyIsAnEd25519Line) {
    auto r = call("GET", "/conf/ssh_pubkey/");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body.rfind("ssh-ed25519 ", 0), 0u) << r.body;
    EXPECT_EQ(call("GET", "/conf/ssh_pubkey/").body, r.body) << "the key pair must be stable";
}

// ---- hosts ----

// What simplekvm's admin UI sends and reads: its host form sends "n/a" for every unticked
// device box; the host's reply has desc and name; netstat answers stats.rx and stats.tx.
TEST_F(Catalog, SimplekvmsHostFormAndTheFieldsItsUiReads) {
    json body = host("h-form");
    body["disk.file"] = "on";
    body["net.user"] = "n/a";
    auto r = post("/conf/host/", body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["name"], "h-form");
    EXPECT_TRUE(r.json()["desc"].is_string()) << r.body;
    auto devices = call("GET", "/tpl/device/h-form").json()["device"];
    ASSERT_EQ(devices.size(), 1u) << devices.dump();
    EXPECT_EQ(devices[0]["name"], "disk.file") << "n/a enables nothing";
    body["net.user"] = "maybe";
    EXPECT_EQ(post("/conf/host/", body).status, 400);
    // test:///default's own running domain "test" has the NIC aa:bb:cc:dd:ee:ff.
    std::string uuid;
    const json list = call("GET", "/vm/list/h-form").json();
    for (const auto& g : list["guest"])
        if (g["name"] == "test") uuid = g["uuid"];
    ASSERT_FALSE(uuid.empty()) << list.dump();
    auto stats = call("GET", "/vm/netstat/h-form/" + uuid + "?dev=aa:bb:cc:dd:ee:ff");
    ASSERT_EQ(stats.status, 200) << stats.body;
    EXPECT_TRUE(stats.json()["stats"]["rx"].is_number()) << stats.body;
    EXPECT_TRUE(stats.json()["stats"]["tx"].is_number()) << stats.body;
    EXPECT_EQ(stats.json()["dev"], "aa:bb:cc:dd:ee:ff");
    EXPECT_EQ(stats.json()["uuid"], uuid);
    ASSERT_EQ(call("DELETE", "/conf/host/?name=h-form").status, 200);
}

TEST_F(Catalog, HostIsAddedWithItsDevicesAndListedWithVariables) {
    json body = host("h-add");
    body["disk.file"] = "on";
    body["net.user"] = "on";
    auto r = post("/conf/host/", body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["name"], "h-add");

    auto listed = find(call("GET", "/tpl/host/").json()["host"], "name", "h-add");
    ASSERT_TRUE(listed.is_object());
    EXPECT_EQ(listed["url"], "test:///default");
    EXPECT_EQ(listed["sshport"], 22);
    auto vars = listed["vars"];
    EXPECT_TRUE(vars.contains("vm_ram_mb")) << vars.dump();  // from the domain template
    EXPECT_TRUE(vars.contains("vm_sshkey")) << vars.dump();  // from user-data
    EXPECT_FALSE(vars.contains("vm_uuid")) << "reserved variables are not listed";
    EXPECT_FALSE(vars.contains("host")) << "server-supplied variables are not listed";
    for (const char* nic : {"vm_ipaddr", "vm_gateway", "vm_dns", "vm_interface"})
        EXPECT_TRUE(vars.contains(nic)) << nic << ": network-config reads it through vm_nics: " << vars.dump();
    EXPECT_FALSE(vars.contains("vm_nics")) << "the server builds vm_nics";
    EXPECT_NE(vars["vm_ram_mb"], "n/a");

    auto devices = call("GET", "/tpl/device/h-add").json()["device"];
    ASSERT_EQ(devices.size(), 2u) << devices.dump();
    auto disk = find(devices, "name", "disk.file");
    EXPECT_EQ(disk["kvmhost"], "h-add");
    EXPECT_EQ(disk["devtype"], "disk");
    EXPECT_TRUE(disk["vars"].contains("vm_disk_type")) << disk.dump();
}

TEST_F(Catalog, ReplacingAHostReplacesItsDeviceList) {
    json body = host("h-replace");
    body["disk.file"] = "on";
    ASSERT_EQ(post("/conf/host/", body).status, 200);
    body.erase("disk.file");
    body["cdrom.null"] = "on";
    body["url"] = "qemu+ssh://root@192.0.2.9/system";
    ASSERT_EQ(post("/conf/host/", body).status, 200);
    auto devices = call("GET", "/tpl/device/h-replace").json()["device"];
    ASSERT_EQ(devices.size(), 1u) << devices.dump();
    EXPECT_EQ(devices[0]["name"], "cdrom.null");
    EXPECT_EQ(find(call("GET", "/tpl/host/").json()["host"], "name", "h-replace")["url"],
              "qemu+ssh://root@192.0.2.9/system");
}

TEST_F(Catalog, DeletingAHostRemovesItsDevices) {
    json body = host("h-del");
    body["net.user"] = "on";
    ASSERT_EQ(post("/conf/host/", body).status, 200);
    auto r = call("DELETE", "/conf/host/?name=h-del");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(find(call("GET", "/tpl/host/").json()["host"], "name", "h-del").is_null());
    EXPECT_EQ(call("GET", "/tpl/device/h-del").json()["device"], json::array());
    expect_refused(call("DELETE", "/conf/host/?name=h-del"), 404, "name", "no host named 'h-del'");
    expect_refused(call("DELETE", "/conf/host/"), 400, "name", "required");
}

// Every field of every catalog body, wrong-typed or hostile: never a 5xx, and a refused body
// changes nothing (the listing is the same before and after).
TEST_F(Catalog, WrongTypedOrHostileFieldsAreRefusedWithoutA5xxAndChangeNothing) {
    images_->add("/gold/typed.qcow2", 200, 1u << 20);
    images_->add("/iso/typed.iso", 200, 1u << 20);
    const std::vector<json> wrong{1,  -1, 1.5, true, nullptr, json::array(), json::array({"a"}), json::object(),
                                  json{{"a", 1}}, std::string("a\u0000b", 3), "../../etc/passwd",
                                  "<x>'\"$(id)`;|&", std::string(100000, 'a')};
    const std::vector<std::tuple<std::string, std::string, json>> bodies{
        {"/conf/host/", "/tpl/host/", host("h-typed")},
        {"/conf/gold/", "/tpl/gold/",
         json{{"name", "typed"}, {"arch", "x86_64"}, {"uri", "/gold/typed.qcow2"}, {"size", "1"}, {"desc", "d"}}},
        {"/conf/iso/", "/tpl/iso/", json{{"name", "typed"}, {"uri", "/iso/typed.iso"}, {"desc", "d"}}},
    };
    int refused = 0;
    for (const auto& [route, listing, good] : bodies) {
        for (const auto& [field, _] : good.items()) {
            for (const auto& value : wrong) {
                const auto before = call("GET", listing).body;
                json body = good;
                body[field] = value;
                auto r = post(route, body);
                const std::string shown = route + " " + field + "=" + value.dump().substr(0, 40);
                EXPECT_LT(r.status, 500) << shown << ": " << r.body;
                EXPECT_GE(r.status, 200) << shown << ": " << r.error;
                if (r.status >= 400) {
                    ++refused;
                    EXPECT_EQ(r.json().value("result", ""), "ERR") << shown << ": " << r.body;
                    EXPECT_EQ(call("GET", listing).body, before) << shown << " was refused but changed the catalog";
                }
            }
            // Whatever was accepted is removed again (a number is taken as a name: simplekvm's
            // clients send numbers as strings), so the next field starts from the same catalog.
            for (const std::string& name : {good.value("name", ""), std::string("1"), std::string("-1")})
                call("DELETE", route + "?name=" + name + "&arch=x86_64");
        }
    }
    EXPECT_GT(refused, 50);
    // The three bodies of the issue that answered 500/997 before.
    EXPECT_EQ(post("/conf/host/", {{"name", 1}}).status, 400);
    EXPECT_EQ(post("/conf/gold/", {{"name", "x"}, {"arch", json::array({"a"})}}).status, 400);
    EXPECT_EQ(post("/conf/iso/", {{"name", json::array({"x"})}}).status, 400);
}

TEST_F(Catalog, HostValidationNamesTheField) {
    auto with = [](const std::string& field, const json& value) {
        json body = host("h-bad");
        body[field] = value;
        return body;
    };
    expect_refused(post("/conf/host/", with("name", "bad/name")), 400, "name", "letters, digits");
    expect_refused(post("/conf/host/", with("name", std::string(65, 'a'))), 400, "name", "1 to 64");
    expect_refused(post("/conf/host/", with("tpl", "nosuch")), 400, "tpl", "no domain template named 'nosuch'");
    expect_refused(post("/conf/host/", with("url", "http://example/system")), 400, "url", "the scheme must be");
    // libvirt's test driver echoes the first line of the file it cannot parse: never for a caller.
    auto shadow = post("/conf/host/", with("url", "test:///etc/shadow"));
    expect_refused(shadow, 400, "url", "test:///default only");
    EXPECT_EQ(shadow.body.find("root:"), std::string::npos) << shadow.body;
    expect_refused(post("/conf/host/", with("url", "qemu+ssh://h/system?command=/bin/sh")), 400, "url", "'command'");
    expect_refused(post("/conf/host/", with("url", "qemu+unix:///system?socket=/tmp/x")), 400, "url", "'socket'");
    expect_refused(post("/conf/host/", with("url", "qemu+ssh:///system")), 400, "url", "needs a host");
    expect_refused(post("/conf/host/", with("arch", "ppc64")), 400, "arch", "x86_64 or aarch64");
    expect_refused(post("/conf/host/", with("ipaddr", "not an address!")), 400, "ipaddr", "neither an IP");
    expect_refused(post("/conf/host/", with("sshport", "99999")), 400, "sshport", "1 to 65535");
    expect_refused(post("/conf/host/", with("sshport", "22x")), 400, "sshport", "whole number");
    expect_refused(post("/conf/host/", with("sshuser", "")), 400, "sshuser", "must not be empty");
    expect_refused(post("/conf/host/", with("disk.nosuch", "on")), 400, "disk.nosuch", "no device template");
    expect_refused(post("/conf/host/", with("colour", "blue")), 400, "colour", "unknown field");
    expect_refused(post("/conf/host/", with("pool", "a pool")), 400, "pool", "letters, digits");
    expect_refused(post("/conf/host/", with("pool_path", "relative/dir")), 400, "pool_path", "absolute path");
    expect_refused(post("/conf/host/", with("pool_path", "/var/../etc")), 400, "pool_path", "without '..'");
    expect_refused(post("/conf/host/", with("pool_path", "/a'b")), 400, "pool_path", "quotes");
    expect_refused(post("/conf/host/", with("meta_iso", "nfs")), 400, "meta_iso", "give url (qemu on the host");
    expect_refused(post("/conf/host/", with("meta_iso", true)), 400, "meta_iso", "must be a string");
    json missing = host("h-bad");
    missing.erase("url");
    auto r = post("/conf/host/", missing);
    expect_refused(r, 400, "url", "required");
    EXPECT_EQ(r.json()["code"], 800);
    expect_refused(call("POST", "/conf/host/", "{not json"), 400, "body", "malformed JSON");
    EXPECT_TRUE(find(call("GET", "/tpl/host/").json()["host"], "name", "h-bad").is_null())
        << "a refused host must not be stored";
}

TEST_F(Catalog, AHostKeepsItsStoragePoolFields) {
    json body = host("h-pool");
    body["pool"] = "vmdisks";
    body["pool_path"] = "/srv/vmdisks";
    ASSERT_EQ(post("/conf/host/", body).status, 200);
    json listed = find(call("GET", "/tpl/host/").json()["host"], "name", "h-pool");
    EXPECT_EQ(listed["pool"], "vmdisks");
    EXPECT_EQ(listed["pool_path"], "/srv/vmdisks");
    EXPECT_FALSE(listed.contains("meta_iso")) << "absent means url";
    body["meta_iso"] = "pool";
    ASSERT_EQ(post("/conf/host/", body).status, 200);
    EXPECT_EQ(find(call("GET", "/tpl/host/").json()["host"], "name", "h-pool")["meta_iso"], "pool");
    body["meta_iso"] = "url";
    ASSERT_EQ(post("/conf/host/", body).status, 200);
    EXPECT_EQ(find(call("GET", "/tpl/host/").json()["host"], "name", "h-pool")["meta_iso"], "url");
    ASSERT_EQ(call("DELETE", "/conf/host/?name=h-pool").status, 200);
}

TEST_F(Catalog, ListingsOfANameThatMatchesNothingAreEmptyAndOfAMalformedOne400) {
    auto devices = call("GET", "/tpl/device/nosuch");
    ASSERT_EQ(devices.status, 200) << devices.body;
    EXPECT_EQ(devices.json()["device"], json::array());
    auto golds = call("GET", "/tpl/gold/riscv64");
    ASSERT_EQ(golds.status, 200) << golds.body;
    EXPECT_EQ(golds.json()["gold"], json::array());
    EXPECT_TRUE(golds.json().contains("server"));
    EXPECT_EQ(call("GET", "/tpl/device/bad%20name").status, 400);
    EXPECT_EQ(call("GET", "/tpl/gold/x86%2064").status, 400);
}

// ---- gold images ----

TEST_F(Catalog, GoldOnTheImageServerIsCheckedBySizeAndListed) {
    images_->add("/gold/debian12.qcow2", 200, 600u << 20);
    auto r = post("/conf/gold/", {{"name", "debian12"},
                                  {"arch", "x86_64"},
                                  {"uri", "/gold/debian12.qcow2"},
                                  {"size", "2"},
                                  {"desc", "Debian 12"}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.json()["desc"].is_string()) << r.body;  // what simplekvm's UI reads
    EXPECT_EQ(r.json()["name"], "debian12");
    EXPECT_EQ(r.json()["arch"], "x86_64");
    EXPECT_GE(images_->hits("/gold/debian12.qcow2"), 1) << "the uri must be checked on GOLD_SRV";
    auto listed = call("GET", "/tpl/gold/x86_64").json();
    EXPECT_EQ(listed["server"], images_->host_port());
    auto gold = find(listed["gold"], "name", "debian12");
    EXPECT_EQ(gold["size"], 2ull << 30);
    EXPECT_EQ(gold["desc"], "Debian 12");
    EXPECT_TRUE(find(listed["gold"], "name", "").is_object()) << "the blank data-disk entry is listed";
    EXPECT_TRUE(find(call("GET", "/tpl/gold/aarch64").json()["gold"], "name", "debian12").is_null());

    ASSERT_EQ(call("DELETE", "/conf/gold/?name=debian12&arch=x86_64").status, 200);
    EXPECT_TRUE(find(call("GET", "/tpl/gold/").json()["gold"], "name", "debian12").is_null());
    expect_refused(call("DELETE", "/conf/gold/?name=debian12&arch=x86_64"), 404, "name", "no x86_64 gold");
}

TEST_F(Catalog, GoldValidationNamesTheField) {
    images_->add("/gold/big.qcow2", 200, 3ull << 30);
    images_->add("/gold/moved.qcow2", 302, 0, "Location: " + images_->url("/gold/big.qcow2") + "\r\n");
    auto gold = [](const std::string& uri, const json& size) {
        return json{{"name", "g1"}, {"arch", "x86_64"}, {"uri", uri}, {"size", size}, {"desc", ""}};
    };
    auto too_small = post("/conf/gold/", gold("/gold/big.qcow2", "2"));
    expect_refused(too_small, 400, "size", "more than the size of 2 GiB");
    EXPECT_EQ(too_small.json()["code"], 403);
    expect_refused(post("/conf/gold/", gold("/gold/moved.qcow2", "2")), 400, "size", "more than");  // redirect followed
    expect_refused(post("/conf/gold/", gold("/gold/missing.qcow2", "2")), 400, "uri", "HTTP 404");
    expect_refused(post("/conf/gold/", gold("http://127.0.0.1:1/x.qcow2", "2")), 400, "uri", "not reachable");
    expect_refused(post("/conf/gold/", gold("ftp://host/x", "2")), 400, "uri", "not an image URI");
    expect_refused(post("/conf/gold/", gold("/gold/big.qcow2", "abc")), 400, "size", "number of GiB");
    expect_refused(post("/conf/gold/", gold("/gold/big.qcow2", 0)), 400, "size", "above 0");
    json bad_arch = gold("/gold/big.qcow2", "4");
    bad_arch["arch"] = "mips";
    expect_refused(post("/conf/gold/", bad_arch), 400, "arch", "x86_64 or aarch64");
    json bad_name = gold("/gold/big.qcow2", "4");
    bad_name["name"] = "../etc";
    expect_refused(post("/conf/gold/", bad_name), 400, "name", "letters, digits");
    expect_refused(call("DELETE", "/conf/gold/?name=g1"), 400, "arch", "required");
    EXPECT_TRUE(find(call("GET", "/tpl/gold/").json()["gold"], "name", "g1").is_null());
}

TEST_F(Catalog, LocalGoldFilesMustStayInsideTheGoldFolder) {
    const std::string dir = files_->file("gold");
    auto gold = [](const std::string& uri) {
        return json{{"name", "local"}, {"arch", "x86_64"}, {"uri", uri}, {"size", "1"}, {"desc", ""}};
    };
    EXPECT_EQ(post("/conf/gold/", gold("file://" + dir + "/local.qcow2")).status, 200);
    expect_refused(post("/conf/gold/", gold("file://" + dir + "/../gold/../../../etc/passwd")), 400, "uri",
                   "outside the image folder");
    std::filesystem::create_symlink("/etc/passwd", dir + "/escape.qcow2");
    expect_refused(post("/conf/gold/", gold("file://" + dir + "/escape.qcow2")), 400, "uri", "outside");
    expect_refused(post("/conf/gold/", gold("file://" + dir + "/absent.qcow2")), 400, "uri", "not an existing file");
}

// ---- ISOs ----

TEST_F(Catalog, IsoIsCheckedListedAndDeleted) {
    images_->add("/iso/tools.iso", 200, 1 << 20);
    ASSERT_EQ(post("/conf/iso/", {{"name", "tools"}, {"uri", "/iso/tools.iso"}, {"desc", "tools"}}).status, 200);
    auto listed = call("GET", "/tpl/iso/").json();
    EXPECT_EQ(listed["server"], images_->host_port());
    EXPECT_EQ(find(listed["iso"], "name", "tools")["uri"], "/iso/tools.iso");
    EXPECT_EQ(find(listed["iso"], "name", "")["desc"], "MetaData ISO");
    expect_refused(post("/conf/iso/", {{"name", "gone"}, {"uri", "/iso/gone.iso"}}), 400, "uri", "HTTP 404");
    expect_refused(post("/conf/iso/", {{"name", "x y"}, {"uri", "/iso/tools.iso"}}), 400, "name", "letters");
    expect_refused(post("/conf/iso/", {{"name", "n"}}), 400, "uri", "required");
    ASSERT_EQ(call("DELETE", "/conf/iso/?name=tools").status, 200);
    expect_refused(call("DELETE", "/conf/iso/?name=tools"), 404, "name", "no ISO named 'tools'");
}

// ---- template CRUD ----

TEST_F(Catalog, TemplateCrudParsesBeforeSaving) {
    const std::string text = "{#- extra NIC -#}\n<interface type='user'><model type='{{ vm_net_model }}'/></interface>";
    ASSERT_EQ(call("PUT", "/conf/template/device/net.extra", text).status, 200);
    auto got = call("GET", "/conf/template/device/net.extra");
    EXPECT_EQ(got.body, text);
    EXPECT_EQ(call("GET", "/conf/devices/").json()["devices"]["net.extra"], "extra NIC");

    auto broken = call("PUT", "/conf/template/device/net.extra", "<x>{% if vm_a %}never closed</x>");
    expect_refused(broken, 400, "template", "net.extra:1:");
    EXPECT_EQ(call("GET", "/conf/template/device/net.extra").body, text) << "a broken template must not be saved";

    expect_refused(call("PUT", "/conf/template/device/extra", text), 400, "name", "<disk|net|cdrom>.<name>");
    expect_refused(call("PUT", "/conf/template/widget/x", text), 400, "kind", "domain, device, meta or action");
    expect_refused(call("GET", "/conf/template/meta/nosuch"), 404, "name", "no meta template");
    ASSERT_EQ(call("DELETE", "/conf/template/device/net.extra").status, 200);
    EXPECT_EQ(call("GET", "/conf/template/device/net.extra").status, 404);
}

TEST_F(Catalog, TemplatesInUseCannotBeDeleted) {
    json body = host("h-uses");
    body["net.default"] = "on";
    ASSERT_EQ(post("/conf/host/", body).status, 200);
    expect_refused(call("DELETE", "/conf/template/domain/domain"), 409, "name", "in use by host(s)");
    expect_refused(call("DELETE", "/conf/template/device/net.default"), 409, "name", "h-uses");
    ASSERT_EQ(call("DELETE", "/conf/host/?name=h-uses").status, 200);
}

TEST_F(Catalog, ChangesAreAudited) {
    ASSERT_EQ(post("/conf/host/", host("h-audit")).status, 200);
    // Refused by the route's input (no handler ran): audited under the route.
    (void)post("/conf/host/", json{{"name", "h-audit3"}});
    json unknown_tpl = host("h-audit2");
    unknown_tpl["tpl"] = "nosuch";
    (void)post("/conf/host/", unknown_tpl);
    auto r = call("GET", "/api/audit?limit=5");
    ASSERT_EQ(r.status, 200) << r.body;
    auto entries = r.json()["audit"];
    ASSERT_GE(entries.size(), 3u);
    EXPECT_EQ(entries[0]["action"], "host.put");  // newest first: the refused one
    EXPECT_EQ(entries[0]["target"], "h-audit2");
    EXPECT_NE(entries[0]["result"], "ok");
    EXPECT_EQ(entries[1]["action"], "POST /conf/host/");
    EXPECT_EQ(entries[1]["target"], "/conf/host/");
    EXPECT_EQ(entries[1]["result"], "'tpl' is required");
    entries.erase(entries.begin());
    EXPECT_EQ(entries[1]["target"], "h-audit");
    EXPECT_EQ(entries[1]["result"], "ok");
    EXPECT_EQ(entries[1]["who"], "admin");
    auto older = call("GET", "/api/audit?limit=1&before=" + entries[0]["id"].get<std::string>()).json()["audit"];
    ASSERT_EQ(older.size(), 1u);
    EXPECT_EQ(older[0]["id"], entries[1]["id"]);
    expect_refused(call("GET", "/api/audit?limit=0"), 400, "limit", "1 to 1000");
}

// ---- backup and restore ----

TEST(CatalogBackup, BackupWipeRestoreReproducesEveryRecord) {
    Daemon d;
    auto token = d.login();
    auto call = [&](const std::string& method, const std::string& path, const std::string& body = {}) {
        return http_request(method, d.url() + path, body, bearer(token));
    };
    json body = {{"name", "h-bak"},   {"tpl", "domain"},       {"url", "test:///default"},
                 {"arch", "x86_64"},  {"ipaddr", "127.0.0.1"}, {"sshport", 22},
                 {"sshuser", "root"}, {"disk.file", "on"},     {"meta_iso", "pool"}};
    ASSERT_EQ(call("POST", "/conf/host/", body.dump()).status, 200);
    const std::string edited = "{#- edited -#}\ninstance-id: {{ vm_uuid }}\n# 中文注释\n";
    ASSERT_EQ(call("PUT", "/conf/template/meta/meta-data", edited).status, 200);
    auto before_hosts = call("GET", "/tpl/host/").json();
    auto before_devices = call("GET", "/tpl/device/").json();

    auto archive = call("GET", "/conf/backup/");
    ASSERT_EQ(archive.status, 200) << archive.body;
    EXPECT_EQ(archive.header("content-type"), "application/gzip");
    EXPECT_NE(archive.header("content-disposition").find(".tgz"), std::string::npos);

    ASSERT_EQ(call("DELETE", "/conf/host/?name=h-bak").status, 200);
    ASSERT_EQ(call("PUT", "/conf/template/meta/meta-data", "instance-id: changed").status, 200);

    auto restored = http_upload(d.url() + "/conf/restore/", "file", "backup.tgz", archive.body, bearer(token));
    ASSERT_EQ(restored.status, 200) << restored.body;
    auto report = restored.json();
    EXPECT_EQ(report["total"], report["apply"]);
    EXPECT_TRUE(report["skip"].empty()) << report.dump();
    EXPECT_TRUE(report["desc"].is_string()) << "simplekvm's UI shows desc after each action: " << report.dump();
    EXPECT_EQ(call("GET", "/conf/template/meta/meta-data").body, edited);
    EXPECT_EQ(call("GET", "/tpl/host/").json(), before_hosts);
    EXPECT_EQ(call("GET", "/tpl/device/").json(), before_devices);
}

TEST(CatalogBackup, AHostileOrBrokenUploadChangesNothing) {
    Daemon d;
    auto token = d.login();
    auto hosts = [&] { return http_get(d.url() + "/tpl/host/", bearer(token)).json(); };
    auto before = hosts();
    auto garbage = http_upload(d.url() + "/conf/restore/", "file", "x.tgz", std::string(5000, '\x1f'), bearer(token));
    EXPECT_EQ(garbage.status, 400) << garbage.body;
    EXPECT_NE(garbage.json().value("desc", "").find("not a kvmhub backup"), std::string::npos) << garbage.body;
    auto wrong_field = http_upload(d.url() + "/conf/restore/", "upload", "x.tgz", "data", bearer(token));
    EXPECT_EQ(wrong_field.status, 400);
    EXPECT_EQ(wrong_field.json()["name"], "file");
    auto not_multipart = http_post(d.url() + "/conf/restore/", "{}", bearer(token));
    EXPECT_EQ(not_multipart.status, 400) << not_multipart.body;
    EXPECT_EQ(hosts(), before);
    // Refused restores are audited too.
    auto audit = http_get(d.url() + "/api/audit?limit=1", bearer(token)).json()["audit"];
    ASSERT_EQ(audit.size(), 1u);
    EXPECT_EQ(audit[0]["action"], "POST /conf/restore/");  // not multipart: refused by the route's input
    EXPECT_NE(audit[0]["result"], "ok");
}

TEST(CatalogDemo, FirstStartRegistersTheDemoHostOnTheTestDriver) {
    Daemon d(DaemonOptions{.env = {{"KVMHUB_DEMO", "true"}}});
    auto hosts = http_get(d.url() + "/tpl/host/", bearer(d.login())).json()["host"];
    bool found = false;
    for (const auto& h : hosts)
        if (h["name"] == "demo") found = h["url"] == "test:///default";
    EXPECT_TRUE(found) << hosts.dump();
}

}  // namespace
}  // namespace kvmhub::test
