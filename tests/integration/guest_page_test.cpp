// The tenant page and the tenant's consoles through the real daemon on libvirt's test:///default
// driver, with a listener that serves only the `tenant` surface: /guest.html and every asset the
// page and the consoles need are there, admin routes are not; /user/vm/display answers a console
// page whose websocket is /user/vm/websockify, which takes only a ticket minted for the link it
// is called with (revoked or expired links, other VMs, admin tickets: refused). Headless
// Chromium (tests/browser/guest_page.js) shows the page's messages for bad links.
#include <chrono>
#include <ctime>
#include <fstream>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "auth/links.hpp"
#include "support/console_fixtures.hpp"
#include "support/daemon.hpp"
#include "support/echo_server.hpp"
#include "support/http_client.hpp"
#include "support/local.hpp"
#include "support/route_table.hpp"
#include "support/temp_dir.hpp"
#include "support/vm_fixtures.hpp"
#include "support/ws_client.hpp"

namespace kvmhub::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A tenant link as the page holds it: the token's query, appended to every call.
struct Link {
    std::string id, token, query, url;
    std::int64_t expiry = 0;
};

// The websocket target ("/user/vm/websockify/...?ticket=...") of a display answer.
std::string websocket_target(const json& shown) {
    const std::string page = shown.value("page", "");
    const auto at = page.find("path=");
    if (at == std::string::npos) return {};
    return "/" + percent_decode(page.substr(at + 5, page.find('&', at) - at - 5));
}

class GuestPage : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        echo_ = new EchoServer;
        dir_ = new TempDir;
        std::ofstream(dir_->file("kvmhub.toml")) << R"(
[[listener]]
name = "admin"
listen = "127.0.0.1:0"
serves = ["admin", "metadata"]

[[listener]]
name = "tenant"
listen = "127.0.0.1:0"
serves = ["tenant"]
)";
        daemon_ = new Daemon(DaemonOptions{
            .args = {"--config", dir_->file("kvmhub.toml")}, .wait_ready = false, .default_listen = false});
        const int admin_port = daemon_->listener_port("admin");
        tenant_port_ = daemon_->listener_port("tenant");
        ASSERT_TRUE(admin_port && tenant_port_) << daemon_->output();
        admin_url_ = new std::string("http://127.0.0.1:" + std::to_string(admin_port));
        tenant_url_ = new std::string("http://127.0.0.1:" + std::to_string(tenant_port_));
        token_ = new std::string(daemon_->login(*admin_url_));
        auto put = http_request("PUT", *admin_url_ + "/conf/template/domain/consoletest", kConsoleDomainTemplate,
                                bearer(*token_));
        ASSERT_EQ(put.status, 200) << put.body;
        auto host = admin("POST", "/conf/host/", host_body("t1", "test:///default", "consoletest").dump());
        ASSERT_EQ(host.status, 200) << host.body;
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete dir_;
        delete echo_;
        delete token_;
        delete admin_url_;
        delete tenant_url_;
    }

    static HttpResponse admin(const std::string& method, const std::string& path, const std::string& body = {}) {
        return http_request(method, *admin_url_ + path, body, bearer(*token_));
    }
    // A /user/vm/<cmd> call on the tenant listener.
    static HttpResponse user(const std::string& cmd, const std::string& uuid, const Link& link,
                             const std::string& extra = {}) {
        return http_get(*tenant_url_ + "/user/vm/" + cmd + "/t1/" + uuid + "?" + link.query + extra);
    }
    // A VM of the test driver whose VNC port is the echo server's; running unless told otherwise.
    static std::string vm(bool start = true) {
        auto r =
            admin("POST", "/vm/create/t1",
                  json{{"vm_ram_mb", 64}, {"vm_vnc_port", echo_->port()}, {"vm_serial_log", "/nonexistent"}}.dump());
        EXPECT_EQ(r.status, 200) << r.body;
        const std::string uuid = r.json().value("uuid", "");
        if (start) {
            EXPECT_EQ(admin("GET", "/vm/start/t1/" + uuid).status, 200);
        }
        return uuid;
    }
    static Link link(const std::string& uuid, std::int64_t lifetime = 3600, const std::string& extra = {}) {
        Link l;
        l.expiry = std::time(nullptr) + lifetime;
        auto r = admin("GET", "/vm/ctrl_url/t1/" + uuid + "?epoch=" + std::to_string(l.expiry) + extra);
        EXPECT_EQ(r.status, 200) << r.body;
        l.id = r.json().value("id", "");
        l.token = r.json().value("token", "");
        l.url = r.json().value("link", "");
        auto decoded = auth::decode_token(l.token);
        EXPECT_TRUE(decoded) << l.token;
        if (decoded) l.query = "k=" + decoded->k + "&e=" + decoded->e + "&l=" + decoded->l;
        return l;
    }
    // /user/vm/display for the link; the answer's JSON.
    static json display(const std::string& uuid, const Link& l, const std::string& extra = {}) {
        auto r = user("display", uuid, l, extra);
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json();
    }
    static std::unique_ptr<WsClient> ws(int port, const std::string& target) {
        return WsClient::connect(port, target, WsOptions{.protocols = {"binary"}});
    }
    static std::unique_ptr<WsClient> tenant_ws(const std::string& target) { return ws(tenant_port_, target); }
    // The tenant websocket path of `uuid` with `ticket` and the link's query.
    static std::string tenant_target(const std::string& uuid, const std::string& ticket, const Link& l) {
        return "/user/vm/websockify/t1/" + uuid + "?ticket=" + ticket + "&" + l.query;
    }
    // Runs tests/browser/guest_page.js on `url` with `steps`; its output (exit code checked).
    static std::string browse(const std::string& url, const std::vector<std::string>& steps, int want_exit = 0) {
        std::vector<std::string> argv{"node", KVMHUB_SOURCE_DIR "/tests/browser/guest_page.js", url};
        argv.insert(argv.end(), steps.begin(), steps.end());
        auto run = run_command(argv, {}, {{"NODE_PATH", KVMHUB_SOURCE_DIR "/ui/node_modules"}}, 120s);
        EXPECT_EQ(run.exit_code, want_exit) << run.output;
        return run.output;
    }

    static EchoServer* echo_;
    static TempDir* dir_;
    static Daemon* daemon_;
    static std::string* token_;
    static std::string* admin_url_;
    static std::string* tenant_url_;
    static int tenant_port_;
};
EchoServer* GuestPage::echo_ = nullptr;
TempDir* GuestPage::dir_ = nullptr;
Daemon* GuestPage::daemon_ = nullptr;
std::string* GuestPage::token_ = nullptr;
std::string* GuestPage::admin_url_ = nullptr;
std::string* GuestPage::tenant_url_ = nullptr;
int GuestPage::tenant_port_ = 0;

TEST_F(GuestPage, TheTenantListenerServesThePageAndEveryAssetItNeeds) {
    const std::string uuid = vm(false);
    const Link l = link(uuid);
    // ctrl_url's URL is <scheme>://CTRL_SRV/guest.html?token=...: its path is on the tenant listener.
    const auto at = l.url.find("/guest.html?token=");
    ASSERT_NE(at, std::string::npos) << l.url;
    auto page = http_get(*tenant_url_ + l.url.substr(at));
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(page.header("cache-control"), "no-cache");
    EXPECT_NE(page.body.find("kvmhub/guest.js"), std::string::npos);
    for (const char* asset : {"/kvmhub/guest.js", "/kvmhub/guest.css", "/kvmhub/console.html", "/kvmhub/console.js",
                              "/xterm/lib/xterm.js", "/xterm-addon-fit/lib/addon-fit.js", "/novnc/vnc_lite.html"}) {
        auto r = http_get(*tenant_url_ + asset);
        EXPECT_EQ(r.status, 200) << asset << " " << r.body;
        EXPECT_FALSE(r.body.empty()) << asset;
    }
    EXPECT_EQ(http_get(*tenant_url_ + "/kvmhub/../CMakeLists.txt").status, 404);
    // The tenant calls work there, and nowhere else: the admin listener does not serve tenants.
    auto list = user("list", uuid, l);
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(list.json()["guest"]["state"], "SHUTOFF");
    EXPECT_EQ(http_get(*admin_url_ + "/user/vm/list/t1/" + uuid + "?" + l.query).status, 404);
}

TEST_F(GuestPage, TheTenantListReplySaysWhatTheLinkAllowsAndUntilWhen) {
    const std::string uuid = vm(false);
    const json all = user("list", uuid, link(uuid)).json();
    EXPECT_EQ(all["link"]["rights"], json::array({"cdrom", "console", "reset", "snapshot", "start", "stop", "view"}))
        << all;
    const Link viewer = link(uuid, 600, "&rights=view,console");
    const json some = user("list", uuid, viewer).json();
    EXPECT_EQ(some["link"]["rights"], json::array({"console", "view"})) << some;
    EXPECT_EQ(some["link"]["expiry"], viewer.expiry);
    EXPECT_EQ(some["link"]["id"], viewer.id);
    EXPECT_EQ(some.dump().find(viewer.token), std::string::npos) << "no token or signature in the reply";
}

// Every admin route, called on the tenant-only listener with a valid admin token: not there.
TEST_F(GuestPage, AdminRoutesAreNotReachableOnTheTenantListener) {
    const std::string uuid = vm(false);
    int admin_routes = 0;
    for (const auto& route : route_table()) {
        if (route.surface != "admin" || route.access == "public") continue;
        ++admin_routes;
        auto r = http_request(route.method, *tenant_url_ + concrete(route.pattern, "t1", uuid), "{}", bearer(*token_));
        EXPECT_EQ(r.status, 404) << route.method << " " << route.pattern << ": " << r.body;
    }
    EXPECT_GE(admin_routes, 40);
    EXPECT_EQ(http_post(*tenant_url_ + "/api/login", R"({"username":"admin","password":"x"})").status, 404);
    EXPECT_EQ(http_get(*tenant_url_ + "/vm/websockify/t1/" + uuid + "?ticket=x").status, 404);
    EXPECT_EQ(admin("GET", "/vm/list/t1/" + uuid).json()["guest"]["state"], "SHUTOFF");
}

TEST_F(GuestPage, TenantDisplayAnswersAPageOnTheTenantWebsocketPath) {
    const std::string uuid = vm();
    const Link l = link(uuid);
    const json shown = display(uuid, l);
    EXPECT_EQ(shown["result"], "OK");
    EXPECT_EQ(shown["disp"], "vnc");
    const std::string ticket = shown["ticket"];
    const std::string page = shown["page"];
    EXPECT_EQ(page.rfind("/novnc/vnc_lite.html?password=s3cret&path=user%2Fvm%2Fwebsockify%2Ft1%2F" + uuid +
                             "%3Fticket%3D" + ticket + "%26k%3D",
                         0),
              0u)
        << page;
    EXPECT_EQ(websocket_target(shown), tenant_target(uuid, ticket, l));
    const json serial = display(uuid, l, "&disp=console&prefix=/kvm");
    EXPECT_EQ(
        serial["display"].get<std::string>().rfind("/kvm/kvmhub/console.html?path=kvm%2Fuser%2Fvm%2Fwebsockify%2F", 0),
        0u)
        << serial;

    // The page's websocket relays to the VM's console.
    auto console = tenant_ws(websocket_target(shown));
    ASSERT_NE(console, nullptr);
    EXPECT_EQ(console->protocol(), "binary");
    ASSERT_TRUE(console->send("hello VM"));
    EXPECT_EQ(console->read_until("hello VM"), "hello VM");
    EXPECT_TRUE(console->close());
    expect_refused(tenant_ws(websocket_target(shown)), 4403, "already used");

    // Both steps are in the audit log under the link, never with the ticket.
    const std::string audit = admin("GET", "/api/audit?limit=1000").body;
    EXPECT_EQ(audit.find(ticket), std::string::npos);
    int seen = 0;
    const json entries = json::parse(audit)["audit"];
    for (const auto& e : entries)
        if (e["who"] == "link:" + l.id && (e["action"] == "vm.display" || e["action"] == "vm.console")) ++seen;
    EXPECT_GE(seen, 3) << audit;
}

TEST_F(GuestPage, ATenantTicketLivesNoLongerThanItsLink) {
    const std::string uuid = vm();
    const Link l = link(uuid, 120);
    const json shown = display(uuid, l, "&timeout_mins=240");
    std::tm tm{};
    const std::string expire = shown["expire"];  // UTC "YYYY-mm-dd HH:MM:SS"
    ASSERT_NE(strptime(expire.c_str(), "%Y-%m-%d %H:%M:%S", &tm), nullptr) << expire;
    EXPECT_LE(timegm(&tm), l.expiry) << expire;
    EXPECT_EQ(user("display", uuid, l, "&timeout_mins=soon").status, 400);
    EXPECT_EQ(user("display", uuid, l, "&colour=red").status, 400);
}

TEST_F(GuestPage, TheTenantWebsocketTakesOnlyATicketOfItsOwnLink) {
    const std::string a = vm(), b = vm();
    const Link la = link(a), la2 = link(a), lb = link(b);
    const std::string ticket_a = display(a, la)["ticket"];

    expect_refused(tenant_ws("/user/vm/websockify/t1/" + a + "?" + la.query), 4401, "ticket is required");
    // A ticket of VM B (minted with B's link) on VM A with A's link.
    expect_refused(tenant_ws(tenant_target(a, display(b, lb)["ticket"], la)), 4403, "another VM");
    // A's ticket with B's link, on A or on B: the link does not open A, the ticket is not B's.
    expect_refused(tenant_ws(tenant_target(a, ticket_a, lb)), 4403, "link");
    expect_refused(tenant_ws(tenant_target(b, ticket_a, lb)), 4403, "another VM");
    // A's ticket with another link of A.
    expect_refused(tenant_ws(tenant_target(a, ticket_a, la2)), 4403, "another tenant link");
    // An admin's ticket: not on the tenant route, with or without a link.
    auto admin_shown = admin("GET", "/vm/display/t1/" + a);
    ASSERT_EQ(admin_shown.status, 200) << admin_shown.body;
    const std::string admin_ticket = admin_shown.json()["ticket"];
    expect_refused(tenant_ws("/user/vm/websockify/t1/" + a + "?ticket=" + admin_ticket), 4403, "needs a tenant link");
    expect_refused(tenant_ws(tenant_target(a, admin_ticket, la)), 4403, "made by an admin");
    // A tenant's ticket does not open the admin route (where the link would not be checked).
    expect_refused(
        ws(std::stoi(admin_url_->substr(admin_url_->rfind(':') + 1)), "/vm/websockify/t1/" + a + "?ticket=" + ticket_a),
        4403, "belongs to a tenant link");
    // Plain HTTP on the tenant websocket route: the refusal as JSON.
    auto plain = http_get(*tenant_url_ + tenant_target(a, ticket_a, la));
    EXPECT_EQ(plain.status, 400) << plain.body;
    // None of the refusals used the ticket up.
    auto good = tenant_ws(tenant_target(a, ticket_a, la));
    ASSERT_NE(good, nullptr);
    ASSERT_TRUE(good->send("mine"));
    EXPECT_EQ(good->read_until("mine"), "mine");
    good->close();
}

TEST_F(GuestPage, ARevokedLinkLosesItsConsoleTickets) {
    const std::string uuid = vm();
    const Link l = link(uuid);
    const json shown = display(uuid, l);
    ASSERT_EQ(admin("DELETE", "/api/links/" + l.id).status, 200);
    expect_refused(tenant_ws(websocket_target(shown)), 4403, "revoked");
    EXPECT_EQ(user("display", uuid, l).status, 403);
    auto plain = http_get(*tenant_url_ + websocket_target(shown));
    EXPECT_EQ(plain.status, 403) << plain.body;
}

TEST_F(GuestPage, AnExpiredLinkLosesItsConsoleTickets) {
    const std::string uuid = vm();
    const Link l = link(uuid, 2);
    const json shown = display(uuid, l);
    while (std::time(nullptr) < l.expiry) std::this_thread::sleep_for(100ms);
    expect_refused(tenant_ws(websocket_target(shown)), 4410, "expired");
    EXPECT_EQ(user("display", uuid, l).status, 410);
}

TEST_F(GuestPage, ALinkWithoutTheConsoleRightOpensNoConsole) {
    const std::string uuid = vm();
    const Link viewer = link(uuid, 600, "&rights=view,start");
    EXPECT_EQ(user("display", uuid, viewer).status, 403);
    const json shown = display(uuid, link(uuid));
    expect_refused(tenant_ws(tenant_target(uuid, shown["ticket"], viewer)), 4403, "does not allow 'console'");
}

// The page in headless Chromium: what it says for links that cannot work.
TEST_F(GuestPage, ChromiumShowsWhyALinkDoesNotWork) {
    const std::string uuid = vm(false);
    const std::string base = *tenant_url_ + "/guest.html?token=";
    const Link revoked = link(uuid);
    ASSERT_EQ(admin("DELETE", "/api/links/" + revoked.id).status, 200);
    const Link expired = link(uuid, 2);
    std::string out = browse(base + revoked.token, {"expect-message:was revoked"});
    EXPECT_NE(out.find("message: This link is not valid any more"), std::string::npos) << out;
    while (std::time(nullptr) < expired.expiry) std::this_thread::sleep_for(100ms);
    out = browse(base + expired.token, {"expect-message:expired on"});
    EXPECT_NE(out.find("Ask the person who gave it to you for a new one"), std::string::npos) << out;
    browse(*tenant_url_ + "/guest.html", {"expect-message:incomplete or damaged"});
    std::string garbled = link(uuid).token;
    garbled.resize(garbled.size() / 2);
    browse(base + garbled, {"expect-message:incomplete or damaged"});
    // The check can fail: a good link shows no such message.
    out = browse(base + link(uuid).token, {"expect-state:SHUTOFF", "expect-message:was revoked"}, 1);
    EXPECT_NE(out.find("timed out waiting for the message"), std::string::npos) << out;
}

}  // namespace
}  // namespace kvmhub::test
