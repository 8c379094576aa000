// Directory logins against a real slapd on loopback (tests/support/slapd.hpp): a bind as the user
// with its password, the allow and block lists of simplekvm's auth service (JWT_ALLOWS,
// JWT_BLOCKS), StartTLS and ldaps with the directory's CA, and a session like a local one.
#include <chrono>

#include <gtest/gtest.h>

#include "support/blackhole.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/slapd.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

HttpResponse login(const Daemon& d, const std::string& user, const std::string& password) {
    return http_post(d.url() + "/api/login", json{{"username", user}, {"password", password}}.dump());
}

class DirectoryLogin : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        slapd_ = new Slapd({{"alice", "alice-pass"}, {"bob", "bob-pass"}, {"admin", "directory-admin-pass"}});
    }
    static void TearDownTestSuite() {
        delete slapd_;
        slapd_ = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(slapd_->running()) << slapd_->error(); }

    // The daemon's environment for this directory, as simplekvm names the settings.
    static std::map<std::string, std::string> env(std::map<std::string, std::string> extra = {}) {
        std::map<std::string, std::string> out{
            {"LDAP_SRV_URL", slapd_->ldap_url()}, {"LDAP_BASE_DN", Slapd::people()}, {"LDAP_UID_FMT", "uid={uid}"}};
        for (auto& [k, v] : extra) out[k] = v;
        return out;
    }

    static Slapd* slapd_;
};
Slapd* DirectoryLogin::slapd_ = nullptr;

TEST_F(DirectoryLogin, ASlapdUserLogsInAndItsSessionIsListedAndEndedByLogout) {
    Daemon d({.env = env()});
    auto r = login(d, "alice", "alice-pass");
    ASSERT_EQ(r.status, 200) << r.body << d.output();
    const std::string token = r.json()["token"];
    EXPECT_EQ(http_get(d.url() + "/conf/", bearer(token)).status, 200) << "an allowed directory user is an admin";
    EXPECT_NE(slapd_->log().find("uid=alice,ou=people,dc=kvmhub,dc=test"), std::string::npos)
        << "the bind went to slapd as the user's DN";

    auto sessions = http_get(d.url() + "/api/sessions", bearer(d.login()));
    ASSERT_EQ(sessions.status, 200) << sessions.body;
    bool listed = false;
    const json listing = sessions.json();
    for (const json& s : listing["sessions"])
        if (s["user"] == "alice") listed = s["source"] == "directory";
    EXPECT_TRUE(listed) << sessions.body;

    EXPECT_EQ(http_post(d.url() + "/logout", "", bearer(token)).status, 200);
    EXPECT_EQ(http_get(d.url() + "/conf/", bearer(token)).status, 401) << "logout ended the directory session";
}

TEST_F(DirectoryLogin, AWrongPasswordOrAnUnknownUserIsRefusedAndCountsTowardTheLockout) {
    Daemon d({.env = env({{"KVMHUB_LOGIN_MAX_FAILURES_PER_USER", "2"}})});
    auto wrong = login(d, "alice", "bob-pass");
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    EXPECT_EQ(wrong.json()["desc"], "wrong user name or password");
    auto unknown = login(d, "nobody", "alice-pass");
    EXPECT_EQ(unknown.status, 401) << unknown.body;
    EXPECT_EQ(unknown.json()["desc"], wrong.json()["desc"]) << "the same answer for an unknown user";
    EXPECT_EQ(login(d, "alice", "wrong-again").status, 401);
    EXPECT_EQ(login(d, "alice", "alice-pass").status, 429) << "two failures lock the name, directory or not";
}

// (auth/directory.cpp refuses it too, before connecting: unit.Directory.*)
TEST_F(DirectoryLogin, AnEmptyPasswordIsRefusedBeforeAnyBind) {
    Daemon d({.env = env()});
    const std::string before = slapd_->log();
    auto r = login(d, "alice", "");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json()["name"], "password") << r.body;
    EXPECT_EQ(slapd_->log(), before) << "no connection to the directory at all";
}

TEST_F(DirectoryLogin, AUserInTheBlockListIsRefusedWithItsPassword) {
    Daemon d({.env = env({{"JWT_BLOCKS", R"(["bob"])"}})});
    auto r = login(d, "bob", "bob-pass");
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(r.json()["name"], "username");
    EXPECT_NE(r.json()["desc"].get<std::string>().find("ldap.block"), std::string::npos) << r.body;
    EXPECT_EQ(login(d, "bob", "wrong").status, 401) << "without the password nobody learns the name is blocked";
    EXPECT_EQ(login(d, "alice", "alice-pass").status, 200) << "others still log in";
}

TEST_F(DirectoryLogin, WhenTheAllowListIsSetOnlyItsUsersLogIn) {
    Daemon d({.env = env({{"JWT_ALLOWS", R"(["alice"])"}})});
    EXPECT_EQ(login(d, "alice", "alice-pass").status, 200);
    auto r = login(d, "bob", "bob-pass");
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_NE(r.json()["desc"].get<std::string>().find("ldap.allow"), std::string::npos) << r.body;
}

TEST_F(DirectoryLogin, ASessionOfAUserBlockedSinceItsLoginEndsOnTheNextRequest) {
    std::string data_dir;
    std::string token;
    {
        Daemon d({.env = env()});
        token = login(d, "bob", "bob-pass").json().value("token", "");
        ASSERT_EQ(http_get(d.url() + "/conf/", bearer(token)).status, 200);
        data_dir = d.data_dir();
        d.stop();
        // The same store and signing key, restarted with bob in the block list (comma form).
        Daemon again({.env = env({{"KVMHUB_LDAP_BLOCK", "carol, bob"}}), .data_dir = data_dir});
        auto r = http_get(again.url() + "/conf/", bearer(token));
        EXPECT_EQ(r.status, 401) << r.body;
        EXPECT_NE(r.body.find("ldap.block"), std::string::npos) << r.body;
    }
}

TEST_F(DirectoryLogin, ALocalUserOfTheSameNameNeverReachesTheDirectory) {
    Daemon d({.env = env()});
    EXPECT_EQ(login(d, "admin", "directory-admin-pass").status, 401) << "the directory's admin is not kvmhub's";
    EXPECT_EQ(login(d, "admin", d.admin_password()).status, 200);
}

TEST_F(DirectoryLogin, StartTlsWithTheDirectorysCaLogsInAndAnotherCaIsRefused) {
    {
        Daemon d({.env = env({{"KVMHUB_LDAP_STARTTLS", "true"}, {"KVMHUB_LDAP_CA_FILE", slapd_->ca_file()}})});
        auto r = login(d, "alice", "alice-pass");
        EXPECT_EQ(r.status, 200) << r.body << d.output();
        EXPECT_NE(slapd_->log().find("EXT oid=1.3.6.1.4.1.1466.20037"), std::string::npos) << "StartTLS was asked";
    }
    Daemon d({.env = env({{"KVMHUB_LDAP_STARTTLS", "true"}, {"KVMHUB_LDAP_CA_FILE", slapd_->other_ca_file()}})});
    auto r = login(d, "alice", "alice-pass");
    EXPECT_EQ(r.status, 503) << "a certificate the CA did not sign: no bind at all, in clear or not: " << r.body;
    EXPECT_EQ(r.json()["name"], "ldap") << r.body;
}

TEST_F(DirectoryLogin, LdapsWithTheDirectorysCaLogsIn) {
    Daemon d({.env = env({{"LDAP_SRV_URL", slapd_->ldaps_url()}, {"KVMHUB_LDAP_CA_FILE", slapd_->ca_file()}})});
    auto r = login(d, "alice", "alice-pass");
    EXPECT_EQ(r.status, 200) << r.body << d.output();
}

TEST_F(DirectoryLogin, ADirectoryThatNeverAnswersCostsOneTimeoutAndLocalLoginsStillWork) {
    Blackhole silent;
    Daemon d({.env = env({{"LDAP_SRV_URL", "ldap://127.0.0.1:" + std::to_string(silent.port())},
                          {"KVMHUB_LDAP_TIMEOUT", "2"}})});
    const auto start = std::chrono::steady_clock::now();
    auto r = login(d, "alice", "alice-pass");
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.json()["name"], "ldap") << r.body;
    EXPECT_LT(took, 10s) << "ldap.timeout bounds the wait";
    EXPECT_EQ(login(d, "admin", d.admin_password()).status, 200);
}

TEST_F(DirectoryLogin, BadDirectorySettingsStopTheDaemonNamingTheSetting) {
    TempDir dir;
    const auto start = [&](std::map<std::string, std::string> settings) {
        return run_kvmhubd({"--data-dir", dir.file("d"), "--listen", "127.0.0.1:0"}, {}, settings);
    };
    auto url = start({{"LDAP_SRV_URL", "http://ldap.example"}});
    EXPECT_EQ(url.exit_code, 2);
    EXPECT_NE(url.output.find("LDAP_SRV_URL"), std::string::npos) << url.output;
    auto format = start({{"LDAP_UID_FMT", "{uid}"}});
    EXPECT_EQ(format.exit_code, 2);
    EXPECT_NE(format.output.find("LDAP_UID_FMT"), std::string::npos) << format.output;
    auto list = start({{"JWT_ALLOWS", R"(["alice", 3])"}});
    EXPECT_EQ(list.exit_code, 2);
    EXPECT_NE(list.output.find("JWT_ALLOWS"), std::string::npos) << list.output;
    auto tls = start({{"LDAP_SRV_URL", "ldaps://ldap.example"}, {"KVMHUB_LDAP_STARTTLS", "1"}});
    EXPECT_EQ(tls.exit_code, 2);
    EXPECT_NE(tls.output.find("ldap.starttls"), std::string::npos) << tls.output;
}

}  // namespace
}  // namespace kvmhub::test
