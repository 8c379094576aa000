// Consoles through an ssh tunnel, the real daemon against a real OpenSSH server
// (tests/support/sshd) that forwards to a TCP echo server standing in for the VM's VNC port:
// hosts with console_tunnel=ssh, the manager's key from /conf/ssh_pubkey/, the relay through
// sshd (its log names the channel), a refused key and a changed host key reported by display
// and by the websocket close frame, forgetting a pin, and no fd or thread left in the daemon.
#include <thread>

#include <gtest/gtest.h>

#include "integration/console_daemon.hpp"
#include "support/echo_server.hpp"
#include "support/local.hpp"
#include "support/sshd.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;

class ConsoleSsh : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        echo_ = new EchoServer("RFB 003.008\n");
        d_ = new ConsoleDaemon;
        auto key = d_->get("/conf/ssh_pubkey/");
        ASSERT_EQ(key.status, 200) << key.body;
        public_key_ = new std::string(key.body);
        // Limited as README.md suggests: channels to the loopback only, no shell.
        sshd_ = new Sshd(SshdOptions{.authorized_keys = R"(restrict,port-forwarding,permitopen="127.0.0.1:*",)"
                                                        R"(command="/bin/false" )" +
                                                        *public_key_});
        ASSERT_TRUE(sshd_->running()) << sshd_->error();
    }
    static void TearDownTestSuite() {
        delete d_;
        delete sshd_;
        delete echo_;
        delete public_key_;
    }
    // Adds (or changes) a host on test:///default whose consoles go through sshd on `port`.
    static void ssh_host(const std::string& name, int port, const std::string& mode = "ssh") {
        json body = host_body(name, "test:///default", "consoletest");
        body["sshport"] = std::to_string(port);
        body["sshuser"] = current_user();
        body["console_tunnel"] = mode;
        auto r = d_->post("/conf/host/", body.dump());
        ASSERT_EQ(r.status, 200) << r.body;
    }
    static void expect_error(const HttpResponse& r, long status, const std::string& text) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_NE(r.json().value("desc", "").find(text), std::string::npos) << r.body;
    }

    static EchoServer* echo_;
    static ConsoleDaemon* d_;
    static std::string* public_key_;
    static Sshd* sshd_;
};
EchoServer* ConsoleSsh::echo_ = nullptr;
ConsoleDaemon* ConsoleSsh::d_ = nullptr;
std::string* ConsoleSsh::public_key_ = nullptr;
Sshd* ConsoleSsh::sshd_ = nullptr;

TEST_F(ConsoleSsh, RelaysTheConsoleThroughSshd) {
    ssh_host("s1", sshd_->port());
    auto uuid = d_->vm(echo_->port(), true, "/nonexistent/serial.log", "s1");
    json shown = d_->display(uuid, "", "s1");
    ASSERT_EQ(shown["disp"], "vnc") << shown;
    auto ws = d_->console(uuid, shown["ticket"], WsOptions{.protocols = {"binary"}}, "s1");
    ASSERT_NE(ws, nullptr);
    EXPECT_EQ(ws->read_until("RFB 003.008\n", 20s), "RFB 003.008\n");
    std::string big(200000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
    ASSERT_TRUE(ws->send(big));
    EXPECT_EQ(ws->read_until(big, 30s), big);
    // sshd itself opened the channel to the "VNC port": the bytes went through it.
    EXPECT_TRUE(sshd_->wait_for_channel_to(echo_->port())) << sshd_->log();
    EXPECT_TRUE(d_->daemon().wait_for_output("via=ssh"));
    EXPECT_TRUE(ws->close());
    EXPECT_TRUE(echo_->wait_open(0)) << "the tunnel closes its channel when the client leaves";

    auto pin = d_->get("/api/hosts/s1/ssh_hostkey");
    ASSERT_EQ(pin.status, 200) << pin.body;
    auto printed = run_command({"ssh-keygen", "-l", "-E", "sha256", "-f", sshd_->host_key()});
    EXPECT_NE(printed.output.find(pin.json().value("fingerprint", "?")), std::string::npos) << pin.body;
    EXPECT_EQ(pin.json()["type"], "ssh-ed25519");
}

TEST_F(ConsoleSsh, TheConsoleClosingEndsTheSessionWithACloseFrame) {
    ssh_host("s1", sshd_->port());
    EchoServer own("hi\n");
    auto uuid = d_->vm(own.port(), true, "/nonexistent/serial.log", "s1");
    auto ws = d_->console(uuid, d_->display(uuid, "", "s1")["ticket"], {}, "s1");
    ASSERT_NE(ws, nullptr);
    EXPECT_EQ(ws->read_until("hi\n", 20s), "hi\n");
    own.close_all();
    ASSERT_TRUE(ws->wait_closed(10s));
    EXPECT_EQ(ws->close_code(), 1000);
    EXPECT_EQ(ws->close_reason(), "the console closed");
}

TEST_F(ConsoleSsh, ARefusedKeyIsReportedByDisplayAndTheWebsocket) {
    TempDir keys;
    ASSERT_EQ(run_command({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keys.file("other")}).exit_code, 0);
    // The same machine (host key) as sshd_, but it trusts another key only.
    Sshd strict(SshdOptions{.authorized_keys = read_file(keys.file("other.pub")), .host_key = sshd_->host_key()});
    ASSERT_TRUE(strict.running()) << strict.error();
    ssh_host("s2", sshd_->port());
    auto uuid = d_->vm(echo_->port(), true, "/nonexistent/serial.log", "s2");
    const std::string ticket = d_->display(uuid, "", "s2")["ticket"];
    ssh_host("s2", strict.port());
    const std::string refused = "ssh host s2 (" + current_user() + "@127.0.0.1:" + std::to_string(strict.port()) +
                                ") refused kvmhub's key; add GET /conf/ssh_pubkey/ to ";
    expect_error(d_->get("/vm/display/s2/" + uuid), 502, refused);
    expect_refused(d_->console(uuid, ticket, {}, "s2"), 4502, refused);
}

TEST_F(ConsoleSsh, AChangedHostKeyIsRefusedUntilThePinIsForgotten) {
    ssh_host("s3", sshd_->port());
    auto uuid = d_->vm(echo_->port(), true, "/nonexistent/serial.log", "s3");
    const std::string ticket = d_->display(uuid, "", "s3")["ticket"];  // pins sshd_'s key
    Sshd other(SshdOptions{.authorized_keys = *public_key_});         // another machine
    ASSERT_TRUE(other.running()) << other.error();
    ssh_host("s3", other.port());
    const std::string changed =
        "ssh host key of host s3 changed; if expected, forget the pin: DELETE /api/hosts/s3/ssh_hostkey";
    expect_error(d_->get("/vm/display/s3/" + uuid), 502, changed);
    expect_refused(d_->console(uuid, ticket, {}, "s3"), 4502, changed);
    EXPECT_EQ(other.log().find("target 127.0.0.1"), std::string::npos) << "no channel to a host kvmhub does not trust";

    auto forgotten = http_request("DELETE", d_->daemon().url() + "/api/hosts/s3/ssh_hostkey", "", bearer(d_->token()));
    EXPECT_EQ(forgotten.status, 200) << forgotten.body;
    json shown = d_->display(uuid, "", "s3");  // pins other's key
    auto ws = d_->console(uuid, shown["ticket"], {}, "s3");
    ASSERT_NE(ws, nullptr);
    EXPECT_EQ(ws->read_until("RFB 003.008\n", 20s), "RFB 003.008\n");
    ws->close();
    auto again = http_request("DELETE", d_->daemon().url() + "/api/hosts/s3/ssh_hostkey", "", bearer(d_->token()));
    EXPECT_EQ(again.status, 200) << again.body;
    expect_error(d_->get("/api/hosts/s3/ssh_hostkey"), 404, "no ssh host key is pinned for host s3");
    expect_error(d_->get("/api/hosts/nohost/ssh_hostkey"), 404, "nohost");
    EXPECT_EQ(http_get(d_->daemon().url() + "/api/hosts/s3/ssh_hostkey").status, 401) << "admin only";
}

TEST_F(ConsoleSsh, TheHostSettingIsValidated) {
    json body = host_body("s4", "test:///default", "consoletest");
    body["console_tunnel"] = "sometimes";
    auto r = d_->post("/conf/host/", body.dump());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json()["name"], "console_tunnel") << r.body;
    EXPECT_NE(r.json().value("desc", "").find("use auto"), std::string::npos) << r.body;
    EXPECT_EQ(d_->get("/api/hosts/s4/ssh_hostkey").status, 404) << "nothing was stored";
    body["console_tunnel"] = "off";
    ASSERT_EQ(d_->post("/conf/host/", body.dump()).status, 200);
    bool found = false;
    const json listed = d_->get("/tpl/host/").json();
    for (const auto& h : listed["host"])
        if (h["name"] == "s4") found = h.value("console_tunnel", "") == "off";
    EXPECT_TRUE(found) << listed;
}

TEST_F(ConsoleSsh, LeavesNoFdOrThreadInTheDaemonAfterManySessions) {
    ssh_host("s5", sshd_->port());
    auto uuid = d_->vm(echo_->port(), true, "/nonexistent/serial.log", "s5");
    const std::string proc = "/proc/" + std::to_string(d_->daemon().pid());
    auto session = [&](int i) {
        auto ws = d_->console(uuid, d_->display(uuid, "", "s5")["ticket"], {}, "s5");
        ASSERT_NE(ws, nullptr);
        ASSERT_EQ(ws->read_until("RFB 003.008\n", 20s), "RFB 003.008\n");
        const std::string line = "session " + std::to_string(i);
        ASSERT_TRUE(ws->send(line));
        ASSERT_EQ(ws->read_until(line), line);
        if (i % 2 == 0) {
            EXPECT_TRUE(ws->close());  // the browser leaves
        } else {
            echo_->close_all();  // the console goes away
            EXPECT_TRUE(ws->wait_closed(10s));
        }
        ASSERT_TRUE(echo_->wait_open(0));
    };
    session(0);
    ASSERT_TRUE(eventually([&] { return echo_->open_connections() == 0; }, 10s));
    std::this_thread::sleep_for(1s);  // the first session's relay thread finishing
    const std::size_t fds = dir_entries(proc + "/fd");
    const std::size_t threads = dir_entries(proc + "/task");
    for (int i = 1; i <= 10; ++i) session(i);
    EXPECT_TRUE(eventually([&] { return dir_entries(proc + "/fd") <= fds; }, 15s))
        << dir_entries(proc + "/fd") << " fds, " << fds << " after the first session";
    EXPECT_TRUE(eventually([&] { return dir_entries(proc + "/task") <= threads; }, 15s))
        << dir_entries(proc + "/task") << " threads, " << threads << " after the first session";
}

}  // namespace
}  // namespace kvmhub::test
