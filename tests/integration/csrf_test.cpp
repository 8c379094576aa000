// Cross-site request forgery: a request whose only credential is the `token` cookie changes
// state only with the browser's word that it comes from kvmhub's own pages (Sec-Fetch-Site,
// else Origin, else Referer), and a cookie websocket needs kvmhub's Origin. Bearer clients and
// reads are unaffected. Header rules over libcurl, then the same in headless Chromium: a page of
// another origin (another port of the same host: same site, so the cookie goes along) links,
// form-posts, fetches and opens a websocket to kvmhub with a logged-in admin's cookie.
#include <gtest/gtest.h>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/route_table.hpp"
#include "support/static_server.hpp"
#include "support/vm_fixtures.hpp"
#include "support/ws_client.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class Csrf : public ::testing::Test {
protected:
    explicit Csrf(std::map<std::string, std::string> env = {}) : daemon_({.env = std::move(env)}) {
        token_ = daemon_.login();
        auto added =
            http_post(daemon_.url() + "/conf/host/", host_body("t1", "test:///default").dump(), bearer(token_));
        EXPECT_EQ(added.status, 200) << added.body;
        uuid_ = first_vm();
    }

    std::string first_vm() {
        auto list = http_get(daemon_.url() + "/vm/list/t1", bearer(token_)).json();
        for (const auto& g : list["guest"]) return g.value("uuid", "");
        return {};
    }
    bool vm_exists() {
        auto list = http_get(daemon_.url() + "/vm/list/t1", bearer(token_)).json();
        for (const auto& g : list["guest"])
            if (g.value("uuid", "") == uuid_) return true;
        return false;
    }
    std::string desc() {
        auto one = http_get(daemon_.url() + "/vm/list/t1/" + uuid_, bearer(token_)).json();
        return one["guest"].value("desc", "");
    }
    HttpResponse with_cookie(const std::string& method, const std::string& path, std::vector<std::string> headers,
                             const std::string& body = {}) {
        headers.push_back("Cookie: token=" + token_);
        return http_request(method, daemon_.url() + path, body, HttpOptions{.headers = headers});
    }
    std::string origin() const { return "http://127.0.0.1:" + std::to_string(daemon_.port()); }
    std::string other_origin() const { return "http://127.0.0.1:" + std::to_string(daemon_.port() + 1); }

    Daemon daemon_;
    std::string token_;
    std::string uuid_;
};

TEST_F(Csrf, ACookieAloneChangesNothingWithoutProofOfKvmhubsOrigin) {
    ASSERT_FALSE(uuid_.empty());
    const std::string path = "/vm/delete/t1/" + uuid_;
    const std::vector<std::vector<std::string>> attempts{
        {},
        {"Sec-Fetch-Site: cross-site"},
        {"Sec-Fetch-Site: same-site", "Origin: " + other_origin()},
        {"Sec-Fetch-Site: none"},
        {"Origin: http://evil.example"},
        {"Origin: " + other_origin()},
        {"Origin: null"},
        {"Referer: " + other_origin() + "/page.html"},
        {"Referer: " + origin() + ".evil.example/page.html"},
        // The browser's Sec-Fetch-Site wins over a matching Origin a script cannot forge anyway.
        {"Sec-Fetch-Site: cross-site", "Origin: " + origin()},
    };
    for (const auto& headers : attempts) {
        for (const char* method : {"GET", "POST"}) {
            auto r = with_cookie(method, path, headers);
            std::string shown = method;
            for (const auto& h : headers) shown += " | " + h;
            EXPECT_EQ(r.status, 403) << shown << "\n" << r.body;
            EXPECT_EQ(r.json().value("name", ""), "origin") << shown << "\n" << r.body;
        }
    }
    EXPECT_TRUE(vm_exists()) << "a refused request deleted the VM";
    // simplekvm's other state-changing GETs and kvmhub's POSTs are covered by the same rule.
    EXPECT_EQ(with_cookie("GET", "/vm/desc/t1/" + uuid_ + "?vm_desc=pwned", {"Sec-Fetch-Site: cross-site"}).status,
              403);
    EXPECT_EQ(with_cookie("GET", "/vm/ctrl_url/t1/" + uuid_, {"Sec-Fetch-Site: same-site"}).status, 403);
    EXPECT_EQ(with_cookie("GET", "/vm/display/t1/" + uuid_, {"Sec-Fetch-Site: cross-site"}).status, 403);
    EXPECT_EQ(
        with_cookie("POST", "/conf/host/", {"Origin: http://evil.example"}, host_body("x", "test:///default").dump())
            .status,
        403);
    EXPECT_NE(desc(), "pwned");
    auto hosts = http_get(daemon_.url() + "/tpl/host/", bearer(token_)).json();
    for (const auto& h : hosts["host"]) EXPECT_NE(h.value("name", ""), "x");
}

// Over the router's own table: every method but GET changes state, and every admin route that
// changes state refuses a cross-site cookie before its handler runs.
TEST_F(Csrf, EveryStateChangingAdminRouteRefusesACrossSiteCookie) {
    int changing = 0;
    for (const auto& route : route_table()) {
        EXPECT_TRUE(route.effect == "reads" || route.effect == "changes") << route.pattern << " " << route.effect;
        if (route.method != "GET") {
            EXPECT_EQ(route.effect, "changes") << route.method << " " << route.pattern << " says it only reads";
        }
        if (route.access != "admin" || route.effect != "changes") continue;
        ++changing;
        auto r = with_cookie(route.method, concrete(route.pattern, "t1", uuid_), {"Sec-Fetch-Site: same-site"}, "{}");
        EXPECT_EQ(r.status, 403) << route.method << " " << route.pattern << ": " << r.body;
        EXPECT_EQ(r.json().value("name", ""), "origin") << route.method << " " << route.pattern << ": " << r.body;
    }
    EXPECT_GE(changing, 30) << "the route table lost its state-changing admin routes";
    EXPECT_TRUE(vm_exists());
}

TEST_F(Csrf, KvmhubsOwnPagesChangeStateWithTheCookie) {
    ASSERT_FALSE(uuid_.empty());
    const std::string path = "/vm/desc/t1/" + uuid_ + "?vm_desc=";
    auto r = with_cookie("POST", path + "one", {"Sec-Fetch-Site: same-origin"});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(desc(), "one");
    r = with_cookie("POST", path + "two", {"Origin: " + origin()});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(desc(), "two");
    r = with_cookie("POST", path + "three", {"Referer: " + origin() + "/kvmhub/console.html"});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(desc(), "three");
}

TEST_F(Csrf, BearerClientsAndReadsNeedNoOriginProof) {
    ASSERT_FALSE(uuid_.empty());
    auto r = http_request("POST", daemon_.url() + "/vm/desc/t1/" + uuid_ + "?vm_desc=from%20curl", {},
                          HttpOptions{.headers = {"Authorization: Bearer " + token_, "Sec-Fetch-Site: cross-site"}});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(desc(), "from curl");
    // Reading with the cookie from a link elsewhere is harmless: the other site cannot read the reply.
    EXPECT_EQ(with_cookie("GET", "/vm/list/", {"Sec-Fetch-Site: cross-site"}).status, 200);
    EXPECT_EQ(with_cookie("GET", "/tpl/host/", {}).status, 200);
}

TEST_F(Csrf, ACookieWebsocketNeedsKvmhubsOrigin) {
    ASSERT_FALSE(uuid_.empty());
    const std::string target = "/vm/console_log/t1/" + uuid_;
    const std::string cookie = "Cookie: token=" + token_;
    for (const auto& headers :
         std::vector<std::vector<std::string>>{{cookie},
                                               {cookie, "Origin: " + other_origin()},
                                               {cookie, "Origin: " + origin(), "Sec-Fetch-Site: same-site"}}) {
        auto ws = WsClient::connect(daemon_.port(), target, WsOptions{.headers = headers});
        ASSERT_TRUE(ws) << headers.size();
        EXPECT_TRUE(ws->wait_closed(10s));
        EXPECT_EQ(ws->close_code(), 4403) << ws->close_reason();
    }
    auto own = WsClient::connect(daemon_.port(), target, WsOptions{.headers = {cookie, "Origin: " + origin()}});
    ASSERT_TRUE(own);
    own->wait_closed(10s);
    EXPECT_NE(own->close_code(), 4403) << own->close_reason();
}

class CsrfBehindAProxy : public Csrf {
protected:
    CsrfBehindAProxy() : Csrf({{"KVMHUB_PUBLIC_ORIGIN", "https://kvm.example.com"}}) {}
};

TEST_F(CsrfBehindAProxy, ThePublicOriginIsKvmhubsOrigin) {
    ASSERT_FALSE(uuid_.empty());
    const std::string path = "/vm/desc/t1/" + uuid_ + "?vm_desc=";
    auto r = with_cookie("POST", path + "proxied", {"Origin: https://kvm.example.com"});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(desc(), "proxied");
    r = with_cookie("POST", path + "direct", {"Origin: " + origin()});
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(desc(), "proxied");
}

// The same, as a browser does it: headless Chromium with the admin's cookie visits a page of
// another origin, then one of kvmhub's own pages.
TEST_F(Csrf, AnotherOriginsPageInTheAdminsBrowserGets403AndKvmhubsPagesKeepWorking) {
    ASSERT_FALSE(uuid_.empty());
    StaticServer evil;
    const std::string change = "/vm/delete/t1/" + uuid_;
    evil.add_body("/evil.html", "<!doctype html><html><body><a id=\"link\" href=\"" + daemon_.url() + change +
                                    "\">win a prize</a><form id=\"form\" method=\"POST\" action=\"" + daemon_.url() +
                                    change + "\"><button id=\"submit\">go</button></form></body></html>");
    auto run = run_command(
        {"node", KVMHUB_SOURCE_DIR "/tests/browser/csrf.js", daemon_.url(), evil.url("/evil.html"), token_, change,
         "/vm/console_log/t1/" + uuid_, "/vm/desc/t1/" + uuid_ + "?vm_desc=set%20by%20a%20kvmhub%20page"},
        {}, {{"NODE_PATH", KVMHUB_SOURCE_DIR "/ui/node_modules"}}, 180s);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const std::string& out = run.output;
    EXPECT_NE(out.find("evil link: 403\n"), std::string::npos) << out;
    EXPECT_NE(out.find("evil form: 403\n"), std::string::npos) << out;
    EXPECT_NE(out.find("evil fetch: sent"), std::string::npos) << out;
    EXPECT_NE(out.find("evil websocket: 4403\n"), std::string::npos) << out;
    EXPECT_NE(out.find("own fetch: 200 "), std::string::npos) << out;
    EXPECT_EQ(out.find("own websocket: 4403"), std::string::npos) << out;
    EXPECT_TRUE(vm_exists()) << "the other origin's page deleted the VM\n" << out;
    EXPECT_EQ(desc(), "set by a kvmhub page") << out;
}

}  // namespace
}  // namespace kvmhub::test
