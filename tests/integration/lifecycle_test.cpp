// Starting, configuring and stopping the daemon; the user subcommand.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/local.hpp"
#include "support/raw_socket.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::test {
namespace {

TEST(Shutdown, SigtermLetsAnInFlightRequestFinishThenExitsZero) {
    Daemon d;
    RawSocket busy(d.port());
    std::string body = R"({"username":"admin","password":")" + d.admin_password() + "\"}";
    // The server answers "100 Continue" only once it has the headers: the request is in flight.
    busy.send(
        "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n");
    ASSERT_NE(busy.read_until("100 Continue").find("100 Continue"), std::string::npos);
    RawSocket idle(d.port());
    kill(d.pid(), SIGTERM);
    ASSERT_TRUE(d.wait_for_output("shutting down"));
    busy.send(body);
    std::string reply;
    EXPECT_TRUE(busy.read_until_closed(reply)) << "the server kept the connection open after shutdown";
    EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
    EXPECT_NE(reply.find("\"token\""), std::string::npos) << reply;
    std::string nothing;
    EXPECT_TRUE(idle.read_until_closed(nothing)) << "an idle connection was not closed";
    EXPECT_EQ(d.wait_exit(std::chrono::seconds(60)), 0) << d.output();
}

TEST(Shutdown, NewConnectionsAreRefusedOnceStopping) {
    Daemon d;
    EXPECT_EQ(d.stop(SIGINT), 0) << d.output();
    auto r = http_get(d.url() + "/healthz");
    EXPECT_FALSE(r.error.empty());
}

// A generated first password goes to a file only kvmhubd's user reads, never into the log; a
// password the operator chose is never echoed either.
TEST(Startup, FirstStartWritesARandomAdminPasswordToAFileNotTheLog) {
    TempDir dir;
    std::string data = dir.file("data");
    auto start_with = [](const std::string& data_dir, const std::string& password) {
        Daemon d(DaemonOptions{.args = {"--data-dir", data_dir}, .admin_password = password});
        d.stop();
        return d.output();
    };
    // An empty KVMHUB_ADMIN_PASSWORD means: pick one.
    std::string first = start_with(data, "");
    const std::string file = data + "/initial-admin-password";
    EXPECT_NE(first.find("created user 'admin'; its password is in " + file), std::string::npos) << first;
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::string password = read_file(file);
    ASSERT_FALSE(password.empty());
    password.pop_back();  // the newline
    EXPECT_GE(password.size(), 16u);
    EXPECT_EQ(first.find(password), std::string::npos) << "the password is in the log";
    Daemon d(DaemonOptions{.args = {"--data-dir", data}, .admin_password = ""});
    EXPECT_EQ(http_post(d.url() + "/api/login", nlohmann::json{{"username", "admin"}, {"password", password}}.dump())
                  .status,
              200);
    d.stop();
    EXPECT_EQ(d.output().find("created user"), std::string::npos) << d.output();

    TempDir other;
    const std::string chosen = start_with(other.file("data"), "chosen-password-4711");
    EXPECT_NE(chosen.find("created user 'admin' with the password of KVMHUB_ADMIN_PASSWORD"), std::string::npos)
        << chosen;
    EXPECT_EQ(chosen.find("chosen-password-4711"), std::string::npos) << chosen;
}

TEST(Startup, InvalidConfigNamesTheKeyAndExitsTwo) {
    TempDir dir;
    auto bad_env = run_kvmhubd({"--data-dir", dir.file("d")}, {}, {{"KVMHUB_LISTEN", "127.0.0.1:notaport"}});
    EXPECT_EQ(bad_env.exit_code, 2) << bad_env.output;
    EXPECT_NE(bad_env.output.find("KVMHUB_LISTEN"), std::string::npos) << bad_env.output;

    std::ofstream(dir.file("bad.toml")) << "[http]\nlisen = \"127.0.0.1:1\"\n";
    auto bad_file = run_kvmhubd({"--config", dir.file("bad.toml")});
    EXPECT_EQ(bad_file.exit_code, 2) << bad_file.output;
    EXPECT_NE(bad_file.output.find("http.lisen"), std::string::npos) << bad_file.output;

    auto bad_flag = run_kvmhubd({"--no-such-flag"});
    EXPECT_EQ(bad_flag.exit_code, 2) << bad_flag.output;
}

TEST(Startup, HelpListsTheFlags) {
    auto help = run_kvmhubd({"--help"});
    EXPECT_EQ(help.exit_code, 0);
    for (const char* flag : {"--config", "--listen", "--data-dir", "--log-level"})
        EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
}

TEST(Startup, PortInUseIsAClearError) {
    Daemon first;
    TempDir dir;
    auto second = run_kvmhubd({"--data-dir", dir.file("d"), "--listen", "127.0.0.1:" + std::to_string(first.port())},
                              {}, {{"KVMHUB_DEMO", "false"}});
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.output.find("cannot listen"), std::string::npos) << second.output;
}

TEST(UserCommand, AddsAUserWhoCanLogInAndPasswdChangesIt) {
    TempDir dir;
    std::string data = dir.file("data");
    auto add = run_kvmhubd({"--data-dir", data, "user", "add", "alice"}, "alice-pass-1\n");
    ASSERT_EQ(add.exit_code, 0) << add.output;
    auto again = run_kvmhubd({"--data-dir", data, "user", "add", "alice"}, "x-pass\n");
    EXPECT_NE(again.exit_code, 0);
    EXPECT_NE(again.output.find("alice"), std::string::npos) << again.output;

    Daemon d(DaemonOptions{.args = {"--data-dir", data}});
    auto body = [](const std::string& p) { return nlohmann::json{{"username", "alice"}, {"password", p}}.dump(); };
    EXPECT_EQ(http_post(d.url() + "/api/login", body("alice-pass-1")).status, 200);
    // The daemon keeps running while the CLI changes the password in the same store.
    auto passwd = run_kvmhubd({"--data-dir", data, "user", "passwd", "alice"}, "alice-pass-2\n");
    ASSERT_EQ(passwd.exit_code, 0) << passwd.output;
    EXPECT_EQ(http_post(d.url() + "/api/login", body("alice-pass-1")).status, 401);
    EXPECT_EQ(http_post(d.url() + "/api/login", body("alice-pass-2")).status, 200);
}

}  // namespace
}  // namespace kvmhub::test
