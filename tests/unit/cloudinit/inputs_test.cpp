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

}  // namespace
}  // namespace kvmhub::cloudinit
