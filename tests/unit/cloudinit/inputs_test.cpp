#include <crypt.h>

#include <gtest/gtest.h>

#include "cloudinit/password.hpp"
#include "cloudinit/seed.hpp"

namespace kvmhub::cloudinit {
namespace {

using nlohmann::json;

TEST(Password, IsASaltedSha512CryptHashThatVerifies) {
    auto a = hash_password("correct horse");
    auto b = hash_password("correct horse");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->rfind("$6$", 0), 0u);
    EXPECT_NE(*a, *b) << "a fresh salt each time";
    crypt_data data{};
    EXPECT_EQ(std::string(crypt_r("correct horse", a->c_str(), &data)), *a);
    EXPECT_NE(std::string(crypt_r("wrong horse", a->c_str(), &data)), *a);
}

TEST(Password, AHashIsKeptAsItIs) {
    const std::string hash = "$6$rounds=5000$abcdefgh$0123456789abcdefghijklmnopqrstuvwxyz";
    EXPECT_TRUE(is_password_hash(hash));
    EXPECT_EQ(*hash_password(hash), hash);
    EXPECT_FALSE(is_password_hash("$6$"));
    EXPECT_FALSE(is_password_hash("plain"));
}

TEST(NormalizeInputs, HashesThePasswordAndSplitsListsOfDnsServersAndKeys) {
    json vars = {{"vm_password", "s3cret"},
                 {"vm_dns", "192.0.2.1, 192.0.2.2\t192.0.2.3"},
                 {"vm_sshkey", "ssh-ed25519 A a@b\r\n\nssh-rsa B c@d\n"},
                 {"vm_name", "keep"}};
    ASSERT_TRUE(normalize_inputs(vars));
    EXPECT_EQ(vars["vm_password"].get<std::string>().rfind("$6$", 0), 0u);
    EXPECT_EQ(vars["vm_dns"], json::array({"192.0.2.1", "192.0.2.2", "192.0.2.3"}));
    EXPECT_EQ(vars["vm_sshkey"], json::array({"ssh-ed25519 A a@b", "ssh-rsa B c@d"}));
    EXPECT_EQ(vars["vm_name"], "keep");
}

TEST(NormalizeInputs, EmptyValuesGoAndWrongTypesAreRefused) {
    json vars = {{"vm_password", ""}, {"vm_dns", json::array()}, {"vm_sshkey", " \n "}};
    ASSERT_TRUE(normalize_inputs(vars));
    EXPECT_TRUE(vars.empty()) << vars.dump();
    json number_password = {{"vm_password", 1234}};
    auto bad = normalize_inputs(number_password);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().where, "vm_password");
    json object_dns = {{"vm_dns", json::array({json::object()})}};
    EXPECT_EQ(normalize_inputs(object_dns).error().where, "vm_dns");
}

TEST(StaticAddress, AddressGatewayAndDnsAreCheckedNamingTheField) {
    EXPECT_TRUE(check_static_address(json::object()));
    EXPECT_TRUE(check_static_address({{"vm_ipaddr", "192.0.2.10/24"},
                                      {"vm_gateway", "192.0.2.1"},
                                      {"vm_dns", json::array({"192.0.2.53", "2001:db8::53"})}}));
    EXPECT_TRUE(check_static_address({{"vm_ipaddr", "2001:db8::5/64"}, {"vm_gateway", "fe80::1"}}));
    const std::pair<json, const char*> refused[] = {
        {{{"vm_ipaddr", "192.0.2.10"}}, "vm_ipaddr"},  // no prefix length
        {{{"vm_ipaddr", "eth0: dhcp"}}, "vm_ipaddr"},
        {{{"vm_ipaddr", 7}}, "vm_ipaddr"},
        {{{"vm_ipaddr", "192.0.2.10/24"}, {"vm_gateway", "router"}}, "vm_gateway"},
        {{{"vm_ipaddr", "192.0.2.10/24"}, {"vm_gateway", "2001:db8::1"}}, "vm_gateway"},  // another family
        {{{"vm_gateway", "192.0.2.1"}}, "vm_gateway"},                                    // DHCP has its own
        {{{"vm_dns", json::array({"192.0.2.53", "ns1.example"})}}, "vm_dns"},
    };
    for (const auto& [vars, field] : refused) {
        auto r = check_static_address(vars);
        ASSERT_FALSE(r) << vars.dump();
        EXPECT_EQ(r.error().where, field) << vars.dump();
        EXPECT_EQ(r.error().code, Errc::BadInput);
    }
}

TEST(NicConfigs, EachNicItsOwnSettingsAndTheVmsGoToTheFirstWithoutAny) {
    json context = {
        {"vm_ipaddr", "192.0.2.10/24"}, {"vm_gateway", "192.0.2.1"}, {"vm_dns", json::array({"192.0.2.53"})}};
    json nics = nic_configs(context, {"52:54:00:00:00:01", "52:54:00:00:00:02"});
    ASSERT_EQ(nics.size(), 2u);
    EXPECT_EQ(nics[0], (json{{"mac", "52:54:00:00:00:01"},
                             {"name", ""},
                             {"ipaddr", "192.0.2.10/24"},
                             {"gateway", "192.0.2.1"},
                             {"dns", json::array({"192.0.2.53"})}}));
    EXPECT_EQ(
        nics[1],
        (json{{"mac", "52:54:00:00:00:02"}, {"name", ""}, {"ipaddr", ""}, {"gateway", ""}, {"dns", json::array()}}))
        << "DHCP";
    // The first NIC has settings of its own: the VM's go to the next one.
    context[kNicSettings] = {{"52:54:00:00:00:01", {{"vm_ipaddr", "198.51.100.7/25"}, {"vm_interface", "wan"}}}};
    nics = nic_configs(context, {"52:54:00:00:00:01", "52:54:00:00:00:02"});
    EXPECT_EQ(nics[0]["ipaddr"], "198.51.100.7/25");
    EXPECT_EQ(nics[0]["name"], "wan");
    EXPECT_EQ(nics[0]["gateway"], "");
    EXPECT_EQ(nics[1]["ipaddr"], "192.0.2.10/24");
    EXPECT_TRUE(nic_configs(context, {}).empty());
}

}  // namespace
}  // namespace kvmhub::cloudinit
