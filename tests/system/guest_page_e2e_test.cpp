// The tenant page on a real guest: the tiny test guest on qemu:///system (TCG) with a VNC
// display and a serial console, and headless Chromium on the URL ctrl_url answers
// (tests/browser/guest_page.js): the page shows the VM stopped, a click on Start runs it (libvirt
// says so too), the Screen button opens the tenant's noVNC console on the guest's screen, and a
// click on Force stop powers it off.
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include <gtest/gtest.h>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/vm_fixtures.hpp"
#include "system/system_support.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class GuestPageE2e : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir;
        ASSERT_EQ(chmod(dir_->path().c_str(), 0755), 0);  // qemu runs as libvirt-qemu
        pool_ = new std::string("kvmhub-guestpage-" + std::to_string(getpid()));
        auto pool = virsh({"pool-create-as", *pool_, "dir", "--target", dir_->path().string()});
        ASSERT_EQ(pool.exit_code, 0) << pool.output;
        // CTRL_SRV is this daemon, so the URL ctrl_url answers opens as it is.
        const int port = free_port();
        daemon_ = new Daemon({.args = {"--listen", "127.0.0.1:" + std::to_string(port)},
                              .env = {{"KVMHUB_CTRL_SRV", "127.0.0.1:" + std::to_string(port)}},
                              .default_listen = false});
        token_ = new std::string(daemon_->login());
        auto tpl = http_request("PUT", daemon_->url() + "/conf/template/domain/testguest",
                                read_file(KVMHUB_SOURCE_DIR "/tests/system/testguest.tpl"), bearer(*token_));
        ASSERT_EQ(tpl.status, 200) << tpl.body;
        auto added = http_post(daemon_->url() + "/conf/host/", host_body("kvm1", "qemu:///system", "testguest").dump(),
                               bearer(*token_));
        ASSERT_EQ(added.status, 200) << added.body;
        auto vol = virsh({"vol-create-as", *pool_, "guestpage.qcow2", "64M", "--format", "qcow2"});
        ASSERT_EQ(vol.exit_code, 0) << vol.output;
        json body = {{"vm_name", "guestpage"},
                     {"vm_vcpus", 1},
                     {"vm_ram_mb", 256},
                     {"vm_graph", "vnc"},
                     {"vm_kernel", test_guest_dir() + "/vmlinuz"},
                     {"vm_initrd", test_guest_dir() + "/initrd.img"},
                     {"vm_disk", dir_->file("guestpage.qcow2")},
                     {"vm_serial_log", dir_->file("guestpage.serial.log")}};
        auto created = http_post(daemon_->url() + "/vm/create/kvm1", body.dump(), bearer(*token_));
        ASSERT_EQ(created.status, 200) << created.body;
        uuid_ = new std::string(created.json().value("uuid", ""));
    }
    static void TearDownTestSuite() {
        if (uuid_ && !uuid_->empty()) {
            virsh({"destroy", *uuid_});
            virsh({"undefine", *uuid_});
        }
        delete daemon_;
        virsh({"pool-destroy", *pool_});
        delete token_;
        delete uuid_;
        delete pool_;
        delete dir_;
    }
    void SetUp() override {
        if (uuid_ == nullptr || uuid_->empty()) GTEST_FAIL() << "the guest was not created";
    }

    // libvirt's own word on the domain's state ("running", "shut off").
    static std::string domstate() {
        auto r = virsh({"domstate", *uuid_});
        std::string s = r.output;
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        return s;
    }
    static CommandResult browse(const std::string& url, const std::vector<std::string>& steps) {
        std::vector<std::string> argv{"node", KVMHUB_SOURCE_DIR "/tests/browser/guest_page.js", url};
        argv.insert(argv.end(), steps.begin(), steps.end());
        return run_command(argv, {}, {{"NODE_PATH", KVMHUB_SOURCE_DIR "/ui/node_modules"}}, 300s);
    }

    static TempDir* dir_;
    static std::string* pool_;
    static Daemon* daemon_;
    static std::string* token_;
    static std::string* uuid_;
};
TempDir* GuestPageE2e::dir_ = nullptr;
std::string* GuestPageE2e::pool_ = nullptr;
Daemon* GuestPageE2e::daemon_ = nullptr;
std::string* GuestPageE2e::token_ = nullptr;
std::string* GuestPageE2e::uuid_ = nullptr;

TEST_F(GuestPageE2e, ATenantStartsWatchesAndForceStopsTheGuestByClicks) {
    auto link =
        http_get(daemon_->url() + "/vm/ctrl_url/kvm1/" + *uuid_ + "?epoch=" + std::to_string(std::time(nullptr) + 3600),
                 bearer(*token_));
    ASSERT_EQ(link.status, 200) << link.body;
    const std::string url = link.json()["url"];
    ASSERT_EQ(url.rfind(daemon_->url() + "/guest.html?token=", 0), 0u) << url;
    ASSERT_EQ(domstate(), "shut off");

    auto started = browse(url, {"expect-state:SHUTOFF", "click:start", "expect-state:RUNNING"});
    ASSERT_EQ(started.exit_code, 0) << started.output;
    EXPECT_EQ(domstate(), "running");
    // The screen shows something once the guest has booted.
    const bool ready = eventually(
        [] {
            return read_file(dir_->file("guestpage.serial.log")).find("kvmhub-test-guest: ready") != std::string::npos;
        },
        180s);
    ASSERT_TRUE(ready) << read_file(dir_->file("guestpage.serial.log"));

    // Kept next to the test guest for a person to look at (build/test-guest/guest-page-*.png).
    const std::string screen = test_guest_dir() + "/guest-page-console.png";
    const std::string after = test_guest_dir() + "/guest-page-stopped.png";
    ::unlink(screen.c_str());
    auto stopped = browse(url, {"expect-state:RUNNING", "screen-not-blank:" + screen, "click:force",
                                "expect-state:SHUTOFF", "shot:" + after});
    EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
    EXPECT_NE(stopped.output.find("console: " + daemon_->url() + "/novnc/vnc_lite.html?"), std::string::npos)
        << stopped.output;
    EXPECT_NE(stopped.output.find("path=user%2Fvm%2Fwebsockify%2Fkvm1%2F" + *uuid_), std::string::npos)
        << stopped.output;
    EXPECT_TRUE(eventually([] { return domstate() == "shut off"; }, 30s)) << domstate();
    struct stat st {};
    EXPECT_EQ(stat(screen.c_str(), &st), 0);
}

}  // namespace
}  // namespace kvmhub::test
