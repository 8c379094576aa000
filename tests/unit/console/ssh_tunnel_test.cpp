// The ssh console tunnel in process against a real OpenSSH server (tests/support/sshd) that
// forwards to a TCP echo server standing in for a VNC port: relay both ways, host key pinning
// (trust on first use, a changed key refused until forgotten), a refused key, an unreachable
// sshd, the console closing, and no thread or fd left behind after many sessions.
#include "console/ssh_tunnel.hpp"

#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

#include "auth/ssh_identity.hpp"
#include "support/daemon.hpp"
#include "support/echo_server.hpp"
#include "support/local.hpp"
#include "support/sshd.hpp"
#include "support/stores.hpp"

namespace kvmhub::console {
namespace {

using namespace std::chrono_literals;
using test::eventually;

// What a pipe delivered, for the test thread to wait on.
struct Received {
    std::mutex mutex;
    std::condition_variable changed;
    std::string data;
    bool closed = false;
    std::string reason;

    BytePipe::Sink sink() {
        return {.data =
                    [this](std::string_view bytes) {
                        std::lock_guard lock(mutex);
                        data += bytes;
                        changed.notify_all();
                    },
                .closed =
                    [this](std::string why) {
                        std::lock_guard lock(mutex);
                        closed = true;
                        reason = std::move(why);
                        changed.notify_all();
                    }};
    }
    bool wait_for(const std::string& text, std::chrono::seconds timeout = 10s) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, timeout, [&] { return data.find(text) != std::string::npos; });
    }
    bool wait_closed(std::chrono::seconds timeout = 10s) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, timeout, [&] { return closed; });
    }
};

class SshTunnel : public ::testing::Test {
protected:
    void SetUp() override {
        auto key = auth::ensure_ssh_identity(*store_);
        ASSERT_TRUE(key) << key.error().desc;
        public_key_ = *key;
        private_key_ = (*store_->get(auth::kSshPrivateKey))->value;
        sshd_ = std::make_unique<test::Sshd>(test::SshdOptions{.authorized_keys = public_key_ + "\n"});
        ASSERT_TRUE(sshd_->running()) << sshd_->error();
    }
    SshTarget target(int to_port) const {
        return SshTarget{"h1",
                         "127.0.0.1",
                         static_cast<std::uint16_t>(sshd_->port()),
                         test::current_user(),
                         "127.0.0.1",
                         static_cast<std::uint16_t>(to_port)};
    }
    Result<std::shared_ptr<BytePipe>> open(int to_port) {
        return open_ssh_tunnel(target(to_port), private_key_, pins_, 10s);
    }

    std::unique_ptr<store::Store> store_ = test::open_memory_store();
    SystemClock clock_;
    HostKeyPins pins_{*store_, clock_};
    std::string public_key_;
    std::string private_key_;
    std::unique_ptr<test::Sshd> sshd_;
    test::EchoServer echo_{"RFB 003.008\n"};
};

TEST_F(SshTunnel, RelaysBothWaysThroughSshd) {
    auto pipe = open(echo_.port());
    ASSERT_TRUE(pipe) << pipe.error().desc;
    Received got;
    (*pipe)->start(got.sink());
    ASSERT_TRUE(got.wait_for("RFB 003.008\n")) << got.data;
    std::string big(300000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 13);
    ASSERT_TRUE((*pipe)->write("hello through ssh"));
    ASSERT_TRUE((*pipe)->write(big));
    ASSERT_TRUE(got.wait_for("hello through ssh" + big, 30s)) << got.data.size();
    // sshd opened the channel to the echo server: the bytes went through it.
    EXPECT_TRUE(sshd_->wait_for_channel_to(echo_.port())) << sshd_->log();
    (*pipe)->close();
    EXPECT_TRUE(echo_.wait_open(0));
    EXPECT_TRUE(eventually([] { return running_ssh_tunnels() == 0; }, 10s));
    EXPECT_FALSE(got.closed) << "no closed() for an end asked for with close()";
    EXPECT_FALSE((*pipe)->write("late"));
}

TEST_F(SshTunnel, ConsoleClosingEndsThePipeCleanly) {
    auto pipe = open(echo_.port());
    ASSERT_TRUE(pipe) << pipe.error().desc;
    Received got;
    (*pipe)->start(got.sink());
    ASSERT_TRUE(got.wait_for("RFB"));
    echo_.close_all();
    ASSERT_TRUE(got.wait_closed());
    EXPECT_EQ(got.reason, "");
    EXPECT_TRUE(eventually([] { return running_ssh_tunnels() == 0; }, 10s));
}

TEST_F(SshTunnel, PinsTheHostKeyOnFirstUseAndRefusesAChangedOne) {
    auto first = open(echo_.port());
    ASSERT_TRUE(first) << first.error().desc;
    (*first)->close();
    auto pin = pins_.pinned("h1");
    ASSERT_TRUE(pin);
    ASSERT_TRUE(pin->is_object());
    EXPECT_EQ((*pin)["type"], "ssh-ed25519");
    auto printed = test::run_command({"ssh-keygen", "-l", "-E", "sha256", "-f", sshd_->host_key()});
    EXPECT_NE(printed.output.find((*pin)["fingerprint"].get<std::string>()), std::string::npos)
        << printed.output << " vs " << *pin;
    EXPECT_EQ((*pin)["address"], "127.0.0.1:" + std::to_string(sshd_->port()));

    // The same port, another machine (a new host key).
    const int port = sshd_->port();
    sshd_.reset();
    sshd_ = std::make_unique<test::Sshd>(test::SshdOptions{.authorized_keys = public_key_ + "\n", .port = port});
    ASSERT_TRUE(sshd_->running()) << sshd_->error();
    auto refused = open(echo_.port());
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::HostError);
    EXPECT_EQ(refused.error().desc.rfind(
                  "ssh host key of host h1 changed; if expected, forget the pin: DELETE /api/hosts/h1/ssh_hostkey", 0),
              0u)
        << refused.error().desc;
    EXPECT_NE(refused.error().desc.find((*pin)["fingerprint"].get<std::string>()), std::string::npos);
    EXPECT_EQ(echo_.accepted(), 1) << "nothing reached the console";

    ASSERT_TRUE(pins_.forget("h1"));
    EXPECT_EQ(pins_.forget("h1").error().code, Errc::NotFound);
    auto again = open(echo_.port());
    ASSERT_TRUE(again) << again.error().desc;
    EXPECT_NE((*pins_.pinned("h1"))["fingerprint"], (*pin)["fingerprint"]) << "the new key is pinned";
}

TEST_F(SshTunnel, ARefusedKeyIsReportedWithTheFix) {
    test::TempDir dir;
    ASSERT_EQ(test::run_command({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir.file("other")}).exit_code, 0);
    sshd_ = std::make_unique<test::Sshd>(test::SshdOptions{.authorized_keys = test::read_file(dir.file("other.pub"))});
    ASSERT_TRUE(sshd_->running()) << sshd_->error();
    auto refused = open(echo_.port());
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::HostError);
    EXPECT_NE(refused.error().desc.find("refused kvmhub's key; add GET /conf/ssh_pubkey/ to that user's "
                                        "~/.ssh/authorized_keys"),
              std::string::npos)
        << refused.error().desc;
    EXPECT_NE(refused.error().desc.find(test::current_user() + "@127.0.0.1:" + std::to_string(sshd_->port())),
              std::string::npos)
        << refused.error().desc;
    EXPECT_EQ(echo_.accepted(), 0);
}

TEST_F(SshTunnel, AnUnreachableSshdOrConsoleIsReported) {
    auto no_console = open(test::free_port());
    ASSERT_FALSE(no_console);
    EXPECT_EQ(no_console.error().code, Errc::HostError);
    EXPECT_NE(no_console.error().desc.find("did not open an ssh channel to the console"), std::string::npos)
        << no_console.error().desc;
    sshd_->stop();
    auto no_sshd = open(echo_.port());
    ASSERT_FALSE(no_sshd);
    EXPECT_EQ(no_sshd.error().code, Errc::HostUnavailable);
    EXPECT_NE(no_sshd.error().desc.find("cannot reach the ssh server of host h1 at 127.0.0.1:"), std::string::npos)
        << no_sshd.error().desc;
}

TEST_F(SshTunnel, LeavesNoThreadOrFdBehindAfterManySessions) {
    auto session = [&](int i) {
        auto pipe = open(echo_.port());
        ASSERT_TRUE(pipe) << pipe.error().desc;
        Received got;
        (*pipe)->start(got.sink());
        ASSERT_TRUE(got.wait_for("RFB"));
        const std::string line = "session " + std::to_string(i);
        ASSERT_TRUE((*pipe)->write(line));
        ASSERT_TRUE(got.wait_for(line));
        if (i % 2 == 0) {
            (*pipe)->close();  // the browser leaves
        } else {
            echo_.close_all();  // the console goes away
            ASSERT_TRUE(got.wait_closed());
        }
        pipe->reset();
        ASSERT_TRUE(echo_.wait_open(0));
        ASSERT_TRUE(eventually([] { return running_ssh_tunnels() == 0; }, 10s));
    };
    session(0);  // warms up what stays for the process (libssh's and OpenSSL's state)
    const std::size_t fds = test::dir_entries("/proc/self/fd");
    const std::size_t threads = test::dir_entries("/proc/self/task");
    for (int i = 1; i <= 12; ++i) session(i);
    EXPECT_TRUE(eventually([&] { return test::dir_entries("/proc/self/fd") <= fds; }, 10s))
        << test::dir_entries("/proc/self/fd") << " fds, " << fds << " before";
    EXPECT_TRUE(eventually([&] { return test::dir_entries("/proc/self/task") <= threads; }, 10s))
        << test::dir_entries("/proc/self/task") << " threads, " << threads << " before";
}

}  // namespace
}  // namespace kvmhub::console
