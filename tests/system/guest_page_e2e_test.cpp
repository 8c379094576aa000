// The tenant page on a real guest: the tiny test guest on qemu:///system (TCG) with a VNC
// display and a serial console, and headless Chromium on the URL ctrl_url answers
// (tests/browser/guest_page.js): the page shows the VM stopped, a click on Start runs it (libvirt
// says so too), the Screen button opens the tenant's noVNC console on the guest's screen, and a
// click on Force stop powers it off.
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include <gtest/gtest.h>

#include "system/one_guest.hpp"
#include "system/system_support.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class GuestPageE2e : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // CTRL_SRV is this daemon, so the URL ctrl_url answers opens as it is.
        const int port = free_port();
        guest_ = new OneGuest;
        guest_->setup("guestpage", {.args = {"--listen", "127.0.0.1:" + std::to_string(port)},
                                    .env = {{"KVMHUB_CTRL_SRV", "127.0.0.1:" + std::to_string(port)}},
                                    .default_listen = false});
    }
    static void TearDownTestSuite() {
        delete guest_;
        guest_ = nullptr;
    }
    void SetUp() override {
        if (guest_->uuid().empty()) GTEST_FAIL() << "the guest was not created";
    }

    // libvirt's own word on the domain's state ("running", "shut off").
    static std::string domstate() {
        auto r = virsh({"domstate", guest_->uuid()});
        std::string s = r.output;
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        return s;
    }
    static CommandResult browse(const std::string& url, const std::vector<std::string>& steps) {
        std::vector<std::string> argv{"node", KVMHUB_SOURCE_DIR "/tests/browser/guest_page.js", url};
        argv.insert(argv.end(), steps.begin(), steps.end());
        return run_command(argv, {}, {{"NODE_PATH", KVMHUB_SOURCE_DIR "/ui/node_modules"}}, 300s);
    }

    static OneGuest* guest_;
};
OneGuest* GuestPageE2e::guest_ = nullptr;

TEST_F(GuestPageE2e, ATenantStartsWatchesAndForceStopsTheGuestByClicks) {
    const std::string& uuid = guest_->uuid();
    const std::string base = guest_->daemon().url();
    auto link = guest_->get("/vm/ctrl_url/kvm1/" + uuid + "?epoch=" + std::to_string(std::time(nullptr) + 3600));
    ASSERT_EQ(link.status, 200) << link.body;
    const std::string url = link.json()["link"];
    ASSERT_EQ(url.rfind(base + "/guest.html?token=", 0), 0u) << url;
    ASSERT_EQ(domstate(), "shut off");

    auto started = browse(url, {"expect-state:SHUTOFF", "click:start", "expect-state:RUNNING"});
    ASSERT_EQ(started.exit_code, 0) << started.output;
    EXPECT_EQ(domstate(), "running");
    // The screen shows something once the guest has booted.
    ASSERT_TRUE(guest_->wait_ready()) << read_file(guest_->serial_log());

    // Kept next to the test guest for a person to look at (build/test-guest/guest-page-*.png).
    const std::string screen = test_guest_dir() + "/guest-page-console.png";
    const std::string after = test_guest_dir() + "/guest-page-stopped.png";
    ::unlink(screen.c_str());
    auto stopped = browse(url, {"expect-state:RUNNING", "screen-not-blank:" + screen, "click:force",
                                "expect-state:SHUTOFF", "shot:" + after});
    EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
    EXPECT_NE(stopped.output.find("console: " + base + "/novnc/vnc_lite.html?"), std::string::npos) << stopped.output;
    EXPECT_NE(stopped.output.find("path=user%2Fvm%2Fwebsockify%2Fkvm1%2F" + uuid), std::string::npos) << stopped.output;
    EXPECT_TRUE(eventually([] { return domstate() == "shut off"; }, 30s)) << domstate();
    struct stat st {};
    EXPECT_EQ(stat(screen.c_str(), &st), 0);
}

}  // namespace
}  // namespace kvmhub::test
