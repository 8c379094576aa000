// Browser consoles through the real daemon on libvirt's in-process test:///default driver:
// /vm/display/ (errors, tickets), the websocket proxy to a local TCP echo server standing in
// for the VM's VNC port (handshake, subprotocol, relay, ping/pong, idle and session limits,
// takeover/refusal, clean close both ways), /vm/console_log/, and the static web assets.
#include <signal.h>

#include <cctype>
#include <fstream>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "auth/base64.hpp"
#include "integration/console_daemon.hpp"
#include "support/console_fixtures.hpp"
#include "support/echo_server.hpp"
#include "support/local.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Console : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        echo_ = new EchoServer;
        d_ = new ConsoleDaemon;
    }
    static void TearDownTestSuite() {
        delete d_;
        delete echo_;
    }
    static void expect_error(const HttpResponse& r, long status, const std::string& field, const std::string& text) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.json()["result"], "ERR") << r.body;
        EXPECT_EQ(r.json()["name"], field) << r.body;
        EXPECT_NE(r.json().value("desc", "").find(text), std::string::npos) << r.body;
    }
    static EchoServer* echo_;
    static ConsoleDaemon* d_;
};
EchoServer* Console::echo_ = nullptr;
ConsoleDaemon* Console::d_ = nullptr;

TEST_F(Console, DisplayRefusesStoppedUnknownAndBadRequests) {
    auto stopped = d_->vm(echo_->port(), false);
    expect_error(d_->get("/vm/display/t1/" + stopped), 409, "state", "not running");
    expect_error(d_->get("/vm/display/t1/6f1c1c9e-9b4e-4c53-9a53-2d1fbb3c2b11"), 404, "uuid", "no VM");
    expect_error(d_->get("/vm/display/nohost/6f1c1c9e-9b4e-4c53-9a53-2d1fbb3c2b11"), 404, "name", "nohost");
    auto running = d_->vm(echo_->port());
    expect_error(d_->get("/vm/display/t1/" + running + "?disp=rdp"), 400, "disp", "vnc, spice, console");
    expect_error(d_->get("/vm/display/t1/" + running + "?disp=spice"), 409, "disp", "no spice display");
    expect_error(d_->get("/vm/display/t1/" + running + "?timeout_mins=soon"), 400, "timeout_mins", "whole number");
    expect_error(d_->get("/vm/display/t1/" + running + "?timeout_mins=0"), 400, "timeout_mins", "from 1 to");
    expect_error(d_->get("/vm/display/t1/" + running + "?prefix=kvm"), 400, "prefix", "starting with '/'");
    expect_error(d_->get("/vm/display/t1/" + running + "?colour=red"), 400, "colour", "unknown parameter");
    auto no_graphics = d_->vm(0);
    expect_error(d_->get("/vm/display/t1/" + no_graphics), 409, "disp", "no VNC or SPICE display");
    EXPECT_EQ(http_get(d_->daemon().url() + "/vm/display/t1/" + running).status, 401) << "admin only";
}

TEST_F(Console, DisplayAnswersTheNoVncPageWithATicketInItsPath) {
    auto uuid = d_->vm(echo_->port());
    json shown = d_->display(uuid, "?prefix=/kvm&timeout_mins=5");
    EXPECT_EQ(shown["result"], "OK");
    EXPECT_EQ(shown["disp"], "vnc");
    const std::string ticket = shown["ticket"];
    EXPECT_GE(ticket.size(), 40u);
    const std::string page = shown["page"];
    EXPECT_EQ(page.rfind("/kvm/novnc/vnc_lite.html?password=s3cret&path=", 0), 0u) << page;
    EXPECT_NE(page.find("path=kvm%2Fvm%2Fwebsockify%2Ft1%2F" + uuid + "%3Fticket%3D" + ticket), std::string::npos)
        << page;
    EXPECT_EQ(shown["expire"].get<std::string>().size(), 19u) << shown;
    json serial = d_->display(uuid, "?disp=console");
    EXPECT_EQ(serial["disp"], "console");
    EXPECT_EQ(serial["display"].get<std::string>().rfind("/kvmhub/console.html?path=vm%2Fwebsockify%2F", 0), 0u)
        << serial;
    EXPECT_NE(serial["ticket"], shown["ticket"]);
}

// simplekvm's admin UI opens display + "/" + encodeURIComponent(atob(access) + "&token=" + token
// + "&disp=" + disp + "&expire=" + expire); the console that page opens works, once.
TEST_F(Console, SimplekvmsUiBuildsAWorkingConsoleUrlFromTheDisplayReply) {
    auto uuid = d_->vm(echo_->port());
    json shown = d_->display(uuid);
    EXPECT_EQ(shown["token"], uuid) << "simplekvm's token is the VM";
    EXPECT_EQ(shown["uuid"], uuid);
    EXPECT_EQ(shown["desc"], "vnc");
    const std::string url = shown["display"].get<std::string>() + "/" +
                            encode_uri_component(atob(shown["access"]) + "&token=" + shown["token"].get<std::string>() +
                                                 "&disp=" + shown["disp"].get<std::string>() +
                                                 "&expire=" + shown["expire"].get<std::string>());
    EXPECT_EQ(url.rfind("/novnc/vnc_lite.html?password=s3cret&path=", 0), 0u) << url;
    const std::string path = novnc_path(url);
    EXPECT_EQ(path.rfind("vm/websockify/t1/" + uuid + "/?ticket=" + shown["ticket"].get<std::string>() + "&token=", 0),
              0u)
        << path;
    // The browser's URL parser sends the space of `expire` as %20.
    std::string target = "/" + path;
    for (auto at = target.find(' '); at != std::string::npos; at = target.find(' ')) target.replace(at, 1, "%20");
    auto ws = d_->ws(target, WsOptions{.protocols = {"binary"}});
    ASSERT_NE(ws, nullptr) << target;
    ASSERT_TRUE(ws->send("RFB 003.008\n"));
    EXPECT_EQ(ws->read_until("RFB 003.008\n"), "RFB 003.008\n");
    EXPECT_TRUE(ws->close());
    expect_refused(d_->ws(target), 4403, "already used");
    EXPECT_EQ(novnc_path(shown["page"]), "vm/websockify/t1/" + uuid + "?ticket=" + shown["ticket"].get<std::string>())
        << "kvmhub's own pages open `page` as it is";
}

// simplekvm's older /vm/console/ is display?disp=console.
TEST_F(Console, TheOlderConsoleRouteIsTheSerialDisplay) {
    auto uuid = d_->vm(echo_->port());
    auto r = d_->get("/vm/console/t1/" + uuid);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["disp"], "console");
    EXPECT_EQ(r.json()["page"].get<std::string>().rfind("/kvmhub/console.html?path=vm%2Fwebsockify%2F", 0), 0u)
        << r.body;
}

TEST_F(Console, RelaysBinaryFramesToTheGraphicsPortAndClosesCleanly) {
    auto uuid = d_->vm(echo_->port());
    const int before = echo_->accepted();
    auto ws = d_->console(uuid, d_->display(uuid)["ticket"], WsOptions{.protocols = {"binary"}});
    ASSERT_NE(ws, nullptr);
    EXPECT_EQ(ws->protocol(), "binary");
    std::string payload("RFB\0\x01\xff binary", 14);
    ASSERT_TRUE(ws->send(payload));
    EXPECT_EQ(ws->read_until(payload), payload);
    std::string big(200000, 'x');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
    ASSERT_TRUE(ws->send(big));
    EXPECT_EQ(ws->read_until(big, 20s), big);
    EXPECT_EQ(echo_->accepted(), before + 1);
    EXPECT_TRUE(ws->close());
    EXPECT_TRUE(echo_->wait_open(0)) << "the proxy closes its TCP connection when the client leaves";
}

TEST_F(Console, NoSubprotocolIsChosenWhenBinaryIsNotOffered) {
    auto uuid = d_->vm(echo_->port());
    auto plain = d_->console(uuid, d_->display(uuid)["ticket"]);
    ASSERT_NE(plain, nullptr);
    EXPECT_EQ(plain->protocol(), "");
    ASSERT_TRUE(plain->send("ping?"));
    EXPECT_EQ(plain->read_until("ping?"), "ping?");
    plain->close();
    auto other = d_->console(uuid, d_->display(uuid)["ticket"], WsOptions{.protocols = {"chat", " binary"}});
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(other->protocol(), "binary");
    other->close();
}

TEST_F(Console, TicketIsSingleUseAndBoundToItsVmAndKind) {
    auto a = d_->vm(echo_->port());
    auto b = d_->vm(echo_->port());
    const std::string ticket = d_->display(a)["ticket"];
    expect_refused(d_->console(b, ticket), 4403, "another VM");
    expect_refused(d_->ws("/vm/websockify/t1/" + a + "?disp=console&ticket=" + ticket), 4403, "vnc console");
    auto first = d_->console(a, ticket);  // refusals above did not use it up
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(first->send("one"));
    EXPECT_EQ(first->read_until("one"), "one");
    EXPECT_TRUE(first->close());
    expect_refused(d_->console(a, ticket), 4403, "already used");
    expect_refused(d_->console(a, "forged-ticket"), 4403, "unknown");
    expect_refused(d_->ws("/vm/websockify/t1/" + a), 4401, "ticket is required");
}

TEST_F(Console, PlainHttpOnTheWebsocketRoutesIsRefused) {
    auto uuid = d_->vm(echo_->port());
    const std::string ticket = d_->display(uuid)["ticket"];
    auto r = http_get(d_->daemon().url() + "/vm/websockify/t1/" + uuid + "?ticket=" + ticket);
    expect_error(r, 400, "upgrade", "websocket endpoint");
    auto ws = d_->console(uuid, ticket);  // a plain GET does not consume the ticket
    ASSERT_NE(ws, nullptr);
    ws->close();
    EXPECT_EQ(http_get(d_->daemon().url() + "/vm/console_log/t1/" + uuid).status, 401);
}

TEST_F(Console, TargetClosingEndsTheSessionWithACloseFrame) {
    EchoServer own;
    auto uuid = d_->vm(own.port());
    auto ws = d_->console(uuid, d_->display(uuid)["ticket"]);
    ASSERT_NE(ws, nullptr);
    ASSERT_TRUE(own.wait_open(1));
    own.close_all();
    ASSERT_TRUE(ws->wait_closed(10s));
    EXPECT_EQ(ws->close_code(), 1000);
    EXPECT_EQ(ws->close_reason(), "the console closed");
}

TEST_F(Console, UnreachableTargetIsReportedInTheCloseFrame) {
    int port;
    {
        EchoServer gone;
        port = gone.port();
    }
    auto uuid = d_->vm(port);
    expect_refused(d_->console(uuid, d_->display(uuid)["ticket"]), 4502, "cannot reach the console");
}

TEST_F(Console, ASecondConsoleTakesTheFirstOver) {
    auto uuid = d_->vm(echo_->port());
    auto first = d_->console(uuid, d_->display(uuid)["ticket"]);
    ASSERT_NE(first, nullptr);
    auto second = d_->console(uuid, d_->display(uuid)["ticket"]);
    ASSERT_NE(second, nullptr);
    ASSERT_TRUE(first->wait_closed(10s));
    EXPECT_EQ(first->close_code(), 4409);
    EXPECT_EQ(first->close_reason(), "taken over by another console session");
    ASSERT_TRUE(second->send("still here"));
    EXPECT_EQ(second->read_until("still here"), "still here");
    second->close();
}

TEST_F(Console, ClientPingsAreAnswered) {
    auto uuid = d_->vm(echo_->port());
    auto ws = d_->console(uuid, d_->display(uuid)["ticket"]);
    ASSERT_NE(ws, nullptr);
    ASSERT_TRUE(ws->ping());
    ASSERT_TRUE(ws->send("after ping"));
    EXPECT_EQ(ws->read_until("after ping"), "after ping");
    EXPECT_EQ(ws->pongs_received(), 1);
    ws->close();
}

TEST_F(Console, ConsoleLogFollowsTheSerialLogFile) {
    TempDir dir;
    const std::string log = dir.file("serial.log");
    std::ofstream(log) << "boot line 1\nboot line 2\n";
    auto uuid = d_->vm(echo_->port(), true, log);
    auto ws = d_->ws("/vm/console_log/t1/" + uuid, WsOptions{.headers = {"Authorization: Bearer " + d_->token()}});
    ASSERT_NE(ws, nullptr);
    EXPECT_NE(ws->read_until("boot line 2\n").find("boot line 1\nboot line 2\n"), std::string::npos);
    std::ofstream(log, std::ios::app) << "login: ";
    EXPECT_NE(ws->read_until("login: ").find("login: "), std::string::npos);
    ASSERT_TRUE(ws->send("typed"));  // read-only: dropped, the session goes on
    std::ofstream(log, std::ios::app) << "more\n";
    EXPECT_NE(ws->read_until("more\n").find("more\n"), std::string::npos);
    EXPECT_TRUE(ws->close());

    auto missing = d_->vm(echo_->port());
    expect_refused(
        d_->ws("/vm/console_log/t1/" + missing, WsOptions{.headers = {"Authorization: Bearer " + d_->token()}}), 4404,
        "cannot read the serial log");
}

TEST_F(Console, StaticAssetsAreServedSafely) {
    auto page = http_get(d_->daemon().url() + "/kvmhub/console.html");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(page.header("cache-control"), "no-cache");
    EXPECT_NE(page.body.find("xterm"), std::string::npos);
    auto js = http_get(d_->daemon().url() + "/xterm/lib/xterm.js");
    EXPECT_EQ(js.status, 200);
    EXPECT_EQ(js.header("content-type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(js.header("cache-control"), "public, max-age=86400");
    auto again = http_get(d_->daemon().url() + "/xterm/lib/xterm.js",
                          HttpOptions{.headers = {"If-None-Match: " + js.header("etag")}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
    auto novnc = http_get(d_->daemon().url() + "/novnc/vnc_lite.html");
    EXPECT_EQ(novnc.status, 200) << "Debian's novnc package";
    // Pages: a CSP with no inline code but the page's own by hash, no framing, no referrer.
    for (const auto* p : {&page, &novnc}) {
        const std::string csp = p->header("content-security-policy");
        EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
        EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
        EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
        EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
        EXPECT_EQ(p->header("x-frame-options"), "DENY");
        EXPECT_EQ(p->header("referrer-policy"), "no-referrer");
        EXPECT_EQ(p->header("x-content-type-options"), "nosniff");
    }
    EXPECT_NE(novnc.header("content-security-policy").find("'sha256-"), std::string::npos)
        << "noVNC's inline module is allowed by its hash";
    EXPECT_EQ(page.header("content-security-policy").find("'sha256-"), std::string::npos)
        << "kvmhub's own page has no inline code";
    EXPECT_EQ(js.header("x-content-type-options"), "nosniff");
    for (const char* bad : {"/kvmhub/../CMakeLists.txt", "/kvmhub/%2e%2e/CMakeLists.txt",
                            "/kvmhub/%2E%2E%2Fpackage.json", "/kvmhub/.hidden", "/kvmhub/", "/kvmhub//console.html",
                            "/xterm/..%2F..%2Fpackage.json", "/kvmhub/nothing.html"}) {
        auto r = http_get(d_->daemon().url() + bad);
        EXPECT_EQ(r.status, 404) << bad << " " << r.body;
    }
}

// Short limits: a daemon of its own.
TEST(ConsoleLimits, IdleSessionsAndOldTicketsEnd) {
    EchoServer echo;
    ConsoleDaemon d(ConsoleDaemon::Env{{"KVMHUB_CONSOLE_IDLE_TIMEOUT", "3"}, {"KVMHUB_CONSOLE_PING_INTERVAL", "1"}});
    auto uuid = d.vm(echo.port());
    auto ws = d.console(uuid, d.display(uuid)["ticket"]);
    ASSERT_NE(ws, nullptr);
    ASSERT_TRUE(ws->wait_closed(20s));
    EXPECT_EQ(ws->close_code(), 4408);
    EXPECT_EQ(ws->close_reason(), "the console session was idle for 3 s");
    EXPECT_GE(ws->pings_received(), 1) << "keepalive pings every ping_interval of silence";
}

TEST(ConsoleLimits, TicketsExpireAndSessionsEndAtTheirTimeLimit) {
    EchoServer echo;
    ConsoleDaemon d(ConsoleDaemon::Env{{"KVMHUB_CONSOLE_MAX_TICKET_TTL", "2"}});
    auto uuid = d.vm(echo.port());
    const std::string old = d.display(uuid)["ticket"];
    auto ws = d.console(uuid, d.display(uuid)["ticket"]);
    ASSERT_NE(ws, nullptr);
    // Busy all along, so only the session limit (the ticket's 2 s) can end it.
    for (int i = 0; i < 100 && !ws->closed(); ++i) {
        ws->send("tick");
        ws->read(100ms);
    }
    ASSERT_TRUE(ws->wait_closed(10s));
    EXPECT_EQ(ws->close_code(), 4408);
    EXPECT_EQ(ws->close_reason(), "the console session reached its time limit of 2 s");
    {
        auto late = d.console(uuid, old);
        ASSERT_NE(late, nullptr);
        ASSERT_TRUE(late->wait_closed(10s));
        EXPECT_EQ(late->close_code(), 4410);
        EXPECT_NE(late->close_reason().find("expired"), std::string::npos);
    }
}

TEST(ConsoleLimits, ASecondConsoleIsRefusedWhenTakeoverIsOff) {
    EchoServer echo;
    ConsoleDaemon d(ConsoleDaemon::Env{{"KVMHUB_CONSOLE_TAKEOVER", "false"}});
    auto uuid = d.vm(echo.port());
    auto first = d.console(uuid, d.display(uuid)["ticket"]);
    ASSERT_NE(first, nullptr);
    const std::string second_ticket = d.display(uuid)["ticket"];
    auto second = d.console(uuid, second_ticket);
    ASSERT_NE(second, nullptr);
    ASSERT_TRUE(second->wait_closed(10s));
    EXPECT_EQ(second->close_code(), 4409);
    EXPECT_NE(second->close_reason().find("another console session is open"), std::string::npos);
    ASSERT_TRUE(first->send("mine"));
    EXPECT_EQ(first->read_until("mine"), "mine");
    EXPECT_TRUE(first->close());
    // The first session is released right after its close handshake; until then the ticket is
    // refused without being taken.
    std::unique_ptr<WsClient> third;
    for (int i = 0; i < 50; ++i) {
        third = d.console(uuid, second_ticket);
        ASSERT_NE(third, nullptr);
        if (!third->wait_closed(1s)) break;
        EXPECT_EQ(third->close_code(), 4409) << third->close_reason();
    }
    ASSERT_FALSE(third->closed()) << "the ticket works once the first console is gone";
    ASSERT_TRUE(third->send("now"));
    EXPECT_EQ(third->read_until("now"), "now");
    third->close();
}

TEST(ConsoleLimits, ShutdownClosesConsolesCleanly) {
    EchoServer echo;
    ConsoleDaemon d;
    auto uuid = d.vm(echo.port());
    auto ws = d.console(uuid, d.display(uuid)["ticket"]);
    ASSERT_NE(ws, nullptr);
    ASSERT_TRUE(ws->send("before"));
    EXPECT_EQ(ws->read_until("before"), "before");
    ::kill(d.daemon().pid(), SIGTERM);
    ASSERT_TRUE(ws->wait_closed(20s));
    EXPECT_EQ(ws->close_code(), 1001);
    EXPECT_EQ(ws->close_reason(), "kvmhub is shutting down");
    EXPECT_EQ(d.daemon().wait_exit(30s), 0) << d.daemon().output();
}

}  // namespace
}  // namespace kvmhub::test
