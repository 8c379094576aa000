// A re-render of a VM's cloud-init seed takes the metadata service address (META_SRV) of the
// running configuration, not the one the VM was created under. Needs a VM that outlives a
// kvmhubd restart: one defined (never started) on qemu:///system. (A test+unix:// node does
// not do: libvirtd gives each connection its own copy of the node.)
#include <gtest/gtest.h>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/vm_fixtures.hpp"
#include "system/system_support.hpp"

namespace kvmhub::test {
namespace {

using nlohmann::json;

// A vendor-data that names the metadata service, as a phone-home URL would.
constexpr const char* kVendorData = "#cloud-config\nphone_home:\n  url: \"http://{{ META_SRV }}/{{ vm_uuid }}/\"\n";

TEST(MetaSrv, ARenderAfterARestartWithAnotherMetaSrvUsesTheNewAddress) {
    TempDir dir;
    const std::string data = dir.file("data");
    std::string uuid;
    // A failed test leaves no domain behind.
    struct Undefine {
        std::string& uuid;
        ~Undefine() {
            if (!uuid.empty()) virsh({"undefine", uuid});
        }
    } undefine{uuid};
    {
        Daemon first({.env = {{"KVMHUB_META_SRV", "192.0.2.1:8080"}}, .data_dir = data});
        const auto token = first.login();
        ASSERT_EQ(http_request("PUT", first.url() + "/conf/template/meta/vendor-data", kVendorData, bearer(token)).status,
                  200);
        ASSERT_EQ(http_post(first.url() + "/conf/host/", host_body("n1", "qemu:///system").dump(), bearer(token))
                      .status,
                  200);
        auto created = http_post(first.url() + "/vm/create/n1", json{{"vm_name", "moved"}, {"vm_ram_mb", 64}, {"vm_ram_mb_max", 64}}.dump(), bearer(token));
        ASSERT_EQ(created.status, 200) << created.body;
        uuid = created.json()["uuid"];
        EXPECT_NE(http_get(first.url() + "/" + uuid + "/vendor-data").body.find("http://192.0.2.1:8080/" + uuid + "/"),
                  std::string::npos);
        // A client cannot set the server's values through metadata.
        auto spoofed = http_post(first.url() + "/vm/metadata/n1/" + uuid,
                                 R"({"META_SRV":"evil.example:1","META_HOST":"evil.example"})", bearer(token));
        ASSERT_EQ(spoofed.status, 200) << spoofed.body;
        const std::string vendor = http_get(first.url() + "/" + uuid + "/vendor-data").body;
        EXPECT_NE(vendor.find("http://192.0.2.1:8080/"), std::string::npos) << vendor;
        EXPECT_EQ(vendor.find("evil"), std::string::npos) << vendor;
        EXPECT_EQ(first.stop(), 0);
    }
    Daemon second({.env = {{"KVMHUB_META_SRV", "198.51.100.7:80"}}, .data_dir = data});
    const auto token = second.login();
    // Served as stored until something renders it again...
    EXPECT_NE(http_get(second.url() + "/" + uuid + "/vendor-data").body.find("http://192.0.2.1:8080/"),
              std::string::npos);
    // ...such as an explicit re-render (an empty metadata body).
    auto rendered = http_post(second.url() + "/vm/metadata/n1/" + uuid, "{}", bearer(token));
    ASSERT_EQ(rendered.status, 200) << rendered.body;
    const std::string vendor = http_get(second.url() + "/" + uuid + "/vendor-data").body;
    EXPECT_NE(vendor.find("http://198.51.100.7:80/" + uuid + "/"), std::string::npos) << vendor;
    EXPECT_EQ(vendor.find("192.0.2.1"), std::string::npos) << vendor;
    EXPECT_EQ(http_get(second.url() + "/vm/delete/n1/" + uuid, bearer(token)).status, 200);
    EXPECT_NE(virsh({"dominfo", uuid}).exit_code, 0);
    uuid.clear();
}

}  // namespace
}  // namespace kvmhub::test
