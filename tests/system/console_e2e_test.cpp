// Browser consoles on a real guest: the tiny test guest on qemu:///system (TCG) with a VNC
// display on the host's loopback and a serial console. Through kvmhubd's websocket proxy:
// RFB (greeting, security None, ServerInit, a FramebufferUpdate) straight and through an ssh
// tunnel (a real sshd on loopback), the serial console (a
// command typed into the guest's shell and its output), the serial log, and headless
// Chromium on noVNC's page (the canvas shows the guest's screen).
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "support/http_client.hpp"
#include "support/sshd.hpp"
#include "support/vm_fixtures.hpp"
#include "support/ws_client.hpp"
#include "system/one_guest.hpp"
#include "system/system_support.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Websocket messages as one byte stream, for a protocol (RFB) that does not care about frames.
class ByteReader {
public:
    explicit ByteReader(WsClient& ws) : ws_(ws) {}
    // Exactly n bytes, or fewer when the connection ended or time ran out.
    std::string take(std::size_t n, std::chrono::seconds timeout = 60s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (buffer_.size() < n && std::chrono::steady_clock::now() < deadline) {
            auto next = ws_.read(1s);
            if (next)
                buffer_ += *next;
            else if (ws_.closed())
                break;
        }
        std::string out = buffer_.substr(0, n);
        buffer_.erase(0, out.size());
        return out;
    }

private:
    WsClient& ws_;
    std::string buffer_;
};

std::uint32_t be32(const std::string& s, std::size_t at) {
    auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])); };
    return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}
std::uint16_t be16(const std::string& s, std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) | static_cast<unsigned char>(s[at + 1]));
}

class ConsoleE2e : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        guest_ = new OneGuest;
        guest_->setup("console");
        if (guest_->uuid().empty()) return;
        ASSERT_EQ(guest_->get("/vm/start/kvm1/" + guest_->uuid()).status, 200);
        ASSERT_TRUE(guest_->wait_ready()) << read_file(guest_->serial_log());
        started_ = true;
    }
    static void TearDownTestSuite() {
        delete guest_;
        guest_ = nullptr;
    }
    void SetUp() override {
        if (!started_) GTEST_FAIL() << "the guest did not start";
    }

    static json display(const std::string& query) {
        auto r = guest_->get("/vm/display/kvm1/" + guest_->uuid() + query);
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json();
    }
    static int port() { return guest_->daemon().port(); }

    static OneGuest* guest_;
    static bool started_;
};
OneGuest* ConsoleE2e::guest_ = nullptr;
bool ConsoleE2e::started_ = false;

// RFB through the proxy: the greeting, security None, ServerInit, and a FramebufferUpdate.
void speak_rfb(WsClient& ws) {
    ByteReader in(ws);
    const std::string greeting = in.take(12);
    ASSERT_EQ(greeting.substr(0, 8), "RFB 003.") << greeting;
    ASSERT_TRUE(ws.send("RFB 003.008\n"));
    const std::string count = in.take(1);
    ASSERT_EQ(count.size(), 1u);
    const std::string types = in.take(static_cast<unsigned char>(count[0]));
    ASSERT_NE(types.find('\x01'), std::string::npos) << "security type None offered";
    ASSERT_TRUE(ws.send(std::string(1, '\x01')));
    const std::string result = in.take(4);
    ASSERT_EQ(result.size(), 4u);
    EXPECT_EQ(be32(result, 0), 0u) << "security handshake OK";
    ASSERT_TRUE(ws.send(std::string(1, '\x01')));  // ClientInit: shared
    const std::string init = in.take(24);
    ASSERT_EQ(init.size(), 24u);
    const std::uint16_t width = be16(init, 0);
    const std::uint16_t height = be16(init, 2);
    EXPECT_GT(width, 0);
    EXPECT_GT(height, 0);
    const std::string name = in.take(be32(init, 20));
    EXPECT_FALSE(name.empty());
    std::string request{'\x03', '\x00', 0, 0, 0, 0};  // FramebufferUpdateRequest, whole screen
    request += static_cast<char>(width >> 8);
    request += static_cast<char>(width & 0xff);
    request += static_cast<char>(height >> 8);
    request += static_cast<char>(height & 0xff);
    ASSERT_TRUE(ws.send(request));
    const std::string update = in.take(4);
    ASSERT_EQ(update.size(), 4u);
    EXPECT_EQ(update[0], '\x00') << "FramebufferUpdate";
    EXPECT_GE(be16(update, 2), 1) << "at least one rectangle";
}

TEST_F(ConsoleE2e, SpeaksRfbThroughTheProxyUpToAFramebufferUpdate) {
    json shown = display("?disp=vnc");
    EXPECT_EQ(shown["disp"], "vnc");
    auto ws = WsClient::connect(
        port(), "/vm/websockify/kvm1/" + guest_->uuid() + "?ticket=" + shown["ticket"].get<std::string>(),
        WsOptions{.protocols = {"binary"}});
    ASSERT_NE(ws, nullptr);
    EXPECT_EQ(ws->protocol(), "binary");
    speak_rfb(*ws);
    EXPECT_TRUE(ws->close());
}

// The same guest seen through a second host record on the same libvirt, whose consoles go
// through ssh: sshd on loopback with the manager's key opens the channel to the VNC port.
TEST_F(ConsoleE2e, SpeaksRfbThroughAnSshTunnel) {
    auto key = guest_->get("/conf/ssh_pubkey/");
    ASSERT_EQ(key.status, 200) << key.body;
    Sshd sshd(SshdOptions{.authorized_keys = key.body});
    ASSERT_TRUE(sshd.running()) << sshd.error();
    json host = host_body("kvmssh", "qemu:///system", "testguest");
    host["sshport"] = std::to_string(sshd.port());
    host["sshuser"] = current_user();
    host["console_tunnel"] = "ssh";
    auto added = guest_->post("/conf/host/", host.dump());
    ASSERT_EQ(added.status, 200) << added.body;
    auto shown = guest_->get("/vm/display/kvmssh/" + guest_->uuid() + "?disp=vnc");
    ASSERT_EQ(shown.status, 200) << shown.body;
    auto ws = WsClient::connect(
        port(), "/vm/websockify/kvmssh/" + guest_->uuid() + "?ticket=" + shown.json()["ticket"].get<std::string>(),
        WsOptions{.protocols = {"binary"}});
    ASSERT_NE(ws, nullptr);
    speak_rfb(*ws);
    EXPECT_TRUE(ws->close());
    // sshd opened the channel to qemu's VNC port: the RFB bytes went through it.
    auto vnc = virsh({"vncdisplay", guest_->uuid()});
    ASSERT_EQ(vnc.exit_code, 0) << vnc.output;
    const int vnc_port = 5900 + std::stoi(vnc.output.substr(vnc.output.find(':') + 1));
    EXPECT_TRUE(sshd.wait_for_channel_to(vnc_port)) << sshd.log();
    EXPECT_TRUE(guest_->daemon().wait_for_output("via=ssh"));
    auto removed =
        http_request("DELETE", guest_->daemon().url() + "/conf/host/?name=kvmssh", "", bearer(guest_->token()));
    EXPECT_EQ(removed.status, 200) << removed.body;
}

TEST_F(ConsoleE2e, SerialConsoleRunsACommandInTheGuestShell) {
    json shown = display("?disp=console");
    EXPECT_EQ(shown["disp"], "console");
    auto ws = WsClient::connect(
        port(), "/vm/websockify/kvm1/" + guest_->uuid() + "?ticket=" + shown["ticket"].get<std::string>(),
        WsOptions{.protocols = {"binary"}});
    ASSERT_NE(ws, nullptr);
    ASSERT_TRUE(ws->send("\n"));
    EXPECT_NE(ws->read_until("# ", 60s).find("# "), std::string::npos) << "a shell prompt";
    ASSERT_TRUE(ws->send("echo kvmhub-$((6*7))\n"));
    const std::string out = ws->read_until("kvmhub-42", 60s);
    EXPECT_NE(out.find("kvmhub-42"), std::string::npos) << out;
    EXPECT_TRUE(ws->close());
}

TEST_F(ConsoleE2e, ConsoleLogShowsTheBootLines) {
    auto ws = WsClient::connect(port(), "/vm/console_log/kvm1/" + guest_->uuid(),
                                WsOptions{.headers = {"Authorization: Bearer " + guest_->token()}});
    ASSERT_NE(ws, nullptr);
    const std::string log = ws->read_until("kvmhub-test-guest: ready", 60s);
    EXPECT_NE(log.find("kvmhub-test-guest: ready"), std::string::npos) << log;
    EXPECT_TRUE(ws->close());
}

TEST_F(ConsoleE2e, ChromiumShowsTheGuestScreenOnNoVncsPage) {
    const std::string page = display("?disp=vnc")["page"];
    // Kept next to the test guest for a person to look at (build/test-guest/novnc-screen.png).
    const std::string shot = test_guest_dir() + "/novnc-screen.png";
    ::unlink(shot.c_str());
    auto run =
        run_command({"node", KVMHUB_SOURCE_DIR "/tests/browser/novnc_screen.js", guest_->daemon().url() + page, shot},
                    {}, {{"NODE_PATH", KVMHUB_SOURCE_DIR "/ui/node_modules"}}, 180s);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("canvas not blank"), std::string::npos) << run.output;
    struct stat st {};
    EXPECT_EQ(stat(shot.c_str(), &st), 0);
    EXPECT_GT(st.st_size, 1000);
}

}  // namespace
}  // namespace kvmhub::test
