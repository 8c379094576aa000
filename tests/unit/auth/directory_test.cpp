// What auth/directory.cpp decides before it talks to any server (the binds themselves are
// tested against a real slapd: integration.DirectoryLogin.*).
#include "auth/directory.hpp"

#include <gtest/gtest.h>

namespace kvmhub::auth {
namespace {

// Port 1 on loopback: nothing listens, so an attempted connection would answer HostUnavailable.
LdapConfig nowhere() {
    LdapConfig config;
    config.url = "ldap://127.0.0.1:1";
    config.base_dn = "ou=people,dc=example";
    config.timeout = std::chrono::seconds(1);
    return config;
}

TEST(Directory, TheDnIsTheUidFormatWithTheNameThenTheBaseDn) {
    LdapConfig config = nowhere();
    EXPECT_EQ(Directory(config).dn("alice"), "uid=alice,ou=people,dc=example");
    config.uid_format = "cn={uid}";
    config.base_dn = "";
    EXPECT_EQ(Directory(config).dn("bob"), "cn=bob");
}

TEST(Directory, AnEmptyPasswordOrANameThatIsNoValidUserNameNeverConnects) {
    const Directory directory(nowhere());
    for (auto [user, password] : std::initializer_list<std::pair<const char*, const char*>>{
             {"alice", ""}, {"alice,ou=admins", "x"}, {"*", "x"}, {"a=b", "x"}, {"", "x"}}) {
        auto bound = directory.bind(user, password);
        ASSERT_FALSE(bound) << user;
        EXPECT_EQ(bound.error().code, Errc::Unauthorized) << user << ": " << bound.error().desc;
    }
    auto tried = directory.bind("alice", "x");
    ASSERT_FALSE(tried);
    EXPECT_EQ(tried.error().code, Errc::HostUnavailable) << "a valid login does connect: " << tried.error().desc;
    EXPECT_EQ(tried.error().where, "ldap");
}

TEST(Directory, BlockWinsOverAllowAndAnEmptyAllowListAllowsEveryone) {
    LdapConfig config = nowhere();
    EXPECT_TRUE(Directory(config).permits("anyone"));
    config.block = {"bob"};
    config.allow = {"alice", "bob"};
    const Directory directory(config);
    EXPECT_TRUE(directory.permits("alice"));
    EXPECT_EQ(directory.permits("bob").error().code, Errc::Forbidden);
    EXPECT_EQ(directory.permits("carol").error().code, Errc::Forbidden);
    EXPECT_FALSE(Directory(LdapConfig{}).permits("alice")) << "no directory: no directory user";
}

}  // namespace
}  // namespace kvmhub::auth
