// The shipped templates render into XML that libvirt accepts (its test:///default driver
// parses and validates definitions like the real one), and values cannot inject elements.
#include "catalog/shipped.hpp"

#include <gtest/gtest.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <nlohmann/json.hpp>

#include "cloudinit/seed.hpp"
#include "common/cfree.hpp"
#include "tmpl/template.hpp"
#include "virt/probe.hpp"

namespace kvmhub::catalog {
namespace {

using nlohmann::json;

std::string render(std::string_view kind, std::string_view name, const json& context) {
    for (const auto& t : shipped_templates()) {
        if (t.kind != kind || t.name != name) continue;
        auto parsed = tmpl::Template::parse(std::string(name), t.source);
        EXPECT_TRUE(parsed) << parsed.error().desc;
        if (!parsed) return {};
        auto out = parsed->render(context, tmpl::Template::RenderOptions{.autoescape = kind != "meta"});
        EXPECT_TRUE(out) << out.error().desc;
        return out.value_or("");
    }
    ADD_FAILURE() << "no shipped template " << kind << "/" << name;
    return {};
}

json vm_context() {
    return {{"vm_uuid", "6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50"},
            {"vm_arch", "x86_64"},
            {"vm_name", "web1"},
            {"vm_desc", "测试 VM"},
            {"vm_vcpus", 2},
            {"vm_ram_mb", 2048},
            {"vm_create", "2026-11-22 10:00:00"},
            {"vm_creater", "admin"},
            {"vm_graph", "vnc"},
            {"vm_last_disk", "vdb"},
            {"META_SRV", "127.0.0.1:8080"},
            {"META_HOST", "127.0.0.1"},
            {"META_PORT", "8080"},
            {"host", {{"domain_type", "test"}, {"pool", "default-pool"}}}};
}

class ShippedTemplates : public ::testing::Test {
protected:
    void SetUp() override {
        virt::quiet_libvirt_errors();
        conn_.reset(virConnectOpen("test:///default"));
        ASSERT_TRUE(conn_);
    }
    // Defines the rendered domain on the test driver; returns libvirt's error, or "" on success.
    std::string define(const std::string& xml) {
        CPtr<virDomain, virDomainFree> dom(virDomainDefineXML(conn_.get(), xml.c_str()));
        if (!dom) return virGetLastErrorMessage();
        dom_ = std::move(dom);
        return {};
    }
    CPtr<virConnect, virConnectClose> conn_;
    CPtr<virDomain, virDomainFree> dom_;
};

TEST_F(ShippedTemplates, DomainRendersToADefinitionLibvirtAccepts) {
    std::string xml = render("domain", "domain", vm_context());
    ASSERT_EQ(define(xml), "") << xml;
    EXPECT_NE(xml.find("<name>web1-6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50</name>"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<currentMemory unit='MiB'>2048</currentMemory>"), std::string::npos) << xml;
    EXPECT_NE(xml.find("current='2'"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<graphics type='vnc'"), std::string::npos) << xml;
    EXPECT_NE(xml.find("name='/6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50/cidata.iso'"), std::string::npos) << xml;
}

TEST_F(ShippedTemplates, DomainTypeFollowsTheHostAndDefaultsToQemu) {
    json context = vm_context();
    context.erase("host");
    EXPECT_NE(render("domain", "domain", context).find("<domain type='qemu'>"), std::string::npos);
    context["host"] = {{"domain_type", "kvm"}};
    std::string kvm = render("domain", "domain", context);
    EXPECT_NE(kvm.find("<domain type='kvm'>"), std::string::npos);
    EXPECT_NE(kvm.find("host-model"), std::string::npos) << "x86_64 with KVM uses host-model by default";
}

TEST_F(ShippedTemplates, TheCidataCdromIsIdeOnPcAndSataOnQ35) {
    std::string pc = render("domain", "domain", vm_context());
    EXPECT_NE(pc.find("<target dev='hda' bus='ide'/>"), std::string::npos) << pc;
    json context = vm_context();
    context["vm_machine"] = "pc-q35-7.2";
    std::string q35 = render("domain", "domain", context);
    EXPECT_NE(q35.find("<target dev='sda' bus='sata'/>"), std::string::npos) << q35;
}

TEST_F(ShippedTemplates, NoCloudModePutsTheSeedInTheSmbiosSerial) {
    json context = vm_context();
    context["vm_meta_enum"] = "NOCLOUD";
    std::string xml = render("domain", "domain", context);
    EXPECT_NE(xml.find("ds=nocloud-net;s=http://127.0.0.1:8080/6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50/"),
              std::string::npos);
    EXPECT_EQ(xml.find("cidata.iso"), std::string::npos);
    EXPECT_EQ(define(xml), "") << xml;
}

TEST_F(ShippedTemplates, OnAPoolIsoHostTheCdromReadsTheCidataVolumeInsteadOfHttp) {
    json context = vm_context();
    context["host"]["meta_iso"] = "pool";
    context["META_ISO_VOL"] = "cidata-6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50.iso";
    std::string xml = render("domain", "domain", context);
    EXPECT_NE(xml.find("<disk type='volume' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n      <source "
                       "pool='default-pool' volume='cidata-6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50.iso'/>\n      "
                       "<target dev='hda' bus='ide'/>\n      <readonly/>"),
              std::string::npos)
        << xml;
    EXPECT_EQ(xml.find("cidata.iso"), std::string::npos) << "no http source on a pool host: " << xml;
    EXPECT_EQ(xml.find("protocol='http'"), std::string::npos) << xml;
    EXPECT_EQ(define(xml), "") << xml;
    context["host"]["meta_iso"] = "url";
    EXPECT_NE(render("domain", "domain", context).find("<source protocol='http' name='/6f1c3e4a"), std::string::npos);
    context["host"]["meta_iso"] = "pool";
    context["vm_meta_enum"] = "NOCLOUD";
    EXPECT_EQ(render("domain", "domain", context).find("device='cdrom'"), std::string::npos)
        << "NOCLOUD has no CD-ROM, whatever the host setting";
}

TEST_F(ShippedTemplates, AnAarch64DomainGetsUefiAndTheVirtMachine) {
    json context = vm_context();
    context["vm_arch"] = "aarch64";
    context["vm_uefi"] = "/usr/share/AAVMF/AAVMF_CODE.fd";
    std::string xml = render("domain", "domain", context);
    EXPECT_NE(xml.find("machine='virt'"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<loader readonly='yes' type='pflash'>/usr/share/AAVMF/AAVMF_CODE.fd</loader>"),
              std::string::npos)
        << xml;
    EXPECT_NE(xml.find("bus='scsi'"), std::string::npos) << "aarch64 virt has no SATA: " << xml;
}

TEST_F(ShippedTemplates, ADescriptionCannotInjectDevices) {
    json context = vm_context();
    context["vm_desc"] = "</description><devices><disk type='file'><source file='/etc/shadow'/></disk>";
    std::string xml = render("domain", "domain", context);
    EXPECT_EQ(xml.find("<source file='/etc/shadow'/>"), std::string::npos) << xml;
    EXPECT_NE(xml.find("&lt;/description&gt;&lt;devices&gt;"), std::string::npos) << xml;
    ASSERT_EQ(define(xml), "") << xml;
    CPtr<char, free> desc(virDomainGetMetadata(dom_.get(), VIR_DOMAIN_METADATA_DESCRIPTION, nullptr, 0));
    ASSERT_TRUE(desc);
    EXPECT_EQ(std::string(desc.get()), context["vm_desc"].get<std::string>());
}

TEST_F(ShippedTemplates, DeviceTemplatesRenderToDevicesLibvirtAccepts) {
    // The test driver cannot attach devices, so each device goes into a domain definition.
    const std::string domain = render("domain", "domain", vm_context());
    for (const char* device : {"net.user", "net.default", "net.br-ext", "cdrom.null", "disk.rbd", "disk.file"}) {
        json context = vm_context();
        context["vm_last_disk"] = std::string(device) == "cdrom.null" ? "hdb" : "vdb";
        context["rbd_secret_uuid"] = "0a0b0c0d-0000-4000-8000-000000000001";
        std::string with_device = domain;
        with_device.insert(with_device.rfind("</devices>"), render("device", device, context));
        EXPECT_EQ(define(with_device), "") << device << "\n" << with_device;
    }
}

TEST_F(ShippedTemplates, MetaTemplatesQuoteValuesAsJsonStrings) {
    json context = vm_context();
    context["vm_password"] = "$6$salt$hash: with colon";
    context["vm_sshkey"] = "ssh-ed25519 AAAA user@host";
    context["vm_ipaddr"] = "192.0.2.10/24";
    context["vm_gateway"] = "192.0.2.1";
    std::string user_data = render("meta", "user-data", context);
    EXPECT_EQ(user_data.rfind("#cloud-config\n", 0), 0u) << user_data;
    EXPECT_NE(user_data.find("passwd: \"$6$salt$hash: with colon\""), std::string::npos) << user_data;
    EXPECT_NE(user_data.find("ssh_authorized_keys: [\"ssh-ed25519 AAAA user@host\"]"), std::string::npos)
        << user_data;
    context["vm_sshkey"] = json::array({"ssh-ed25519 AAAA a@b", "ssh-rsa BBBB c@d"});
    EXPECT_NE(render("meta", "user-data", context)
                  .find("ssh_authorized_keys: [\"ssh-ed25519 AAAA a@b\", \"ssh-rsa BBBB c@d\"]"),
              std::string::npos);
    EXPECT_EQ(render("meta", "network-config", context), "") << "no NIC: cloud-init's own fallback";
    context["vm_nics"] = cloudinit::nic_configs(context, {"52:54:00:aa:bb:01", "52:54:00:aa:bb:02"});
    std::string network = render("meta", "network-config", context);
    EXPECT_EQ(network,
              "version: 2\n"
              "ethernets:\n"
              "  \"nic0\":\n"
              "    match:\n"
              "      macaddress: \"52:54:00:aa:bb:01\"\n"
              "    addresses: [\"192.0.2.10/24\"]\n"
              "    gateway4: \"192.0.2.1\"\n"
              "  \"nic1\":\n"
              "    match:\n"
              "      macaddress: \"52:54:00:aa:bb:02\"\n"
              "    dhcp4: true")
        << "matched by MAC, no set-name, the default route as gateway4, the second NIC on DHCP";
    context["vm_interface"] = "lan0";
    context["vm_nics"] = cloudinit::nic_configs(context, {"52:54:00:aa:bb:01"});
    EXPECT_NE(render("meta", "network-config", context)
                  .find("  \"lan0\":\n    match:\n      macaddress: "
                        "\"52:54:00:aa:bb:01\"\n    set-name: \"lan0\"\n"),
              std::string::npos)
        << render("meta", "network-config", context);
    EXPECT_EQ(render("meta", "meta-data", context),
              "instance-id: \"6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50\"\nlocal-hostname: \"web1\"");
}

TEST_F(ShippedTemplates, NoDefaultPasswordOrKeyIsShipped) {
    json context = vm_context();
    std::string user_data = render("meta", "user-data", context);
    EXPECT_EQ(user_data.find(" passwd:"), std::string::npos) << user_data;
    EXPECT_EQ(user_data.find("ssh_authorized_keys"), std::string::npos) << user_data;
    EXPECT_NE(user_data.find("lock_passwd: true"), std::string::npos) << user_data;
}

}  // namespace
}  // namespace kvmhub::catalog
