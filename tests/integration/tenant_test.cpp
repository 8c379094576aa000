// Tenant links through the real daemon on libvirt's test:///default driver: ctrl_url, the
// /user/vm/* routes, tampering, expiry, revocation, rights, key rotation, and every admin route
// refusing tenant credentials (enumerated from the route table).
#include <chrono>
#include <ctime>
#include <regex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "auth/base64.hpp"
#include "auth/links.hpp"
#include "common/clock.hpp"
#include "store/sqlite_store.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/route_table.hpp"
#include "support/vm_fixtures.hpp"

namespace kvmhub::test {
namespace {

using nlohmann::json;

constexpr const char* kCtrlSrv = "ctrl.example.test:1443";

// A link as the tenant page sees it: the VM and the query it appends to every call.
struct TenantLink {
    std::string host, uuid, k, e, l, id, token;
    std::string query() const { return "?k=" + k + "&e=" + e + "&l=" + l; }
};

class Tenant : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        daemon_ = new Daemon(DaemonOptions{.env = {{"KVMHUB_CTRL_SRV", kCtrlSrv}}});
        token_ = new std::string(daemon_->login());
        auto r = http_post(daemon_->url() + "/conf/host/", host_body("t1", "test:///default").dump(), bearer(*token_));
        ASSERT_EQ(r.status, 200) << r.body;
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete token_;
    }

    static HttpResponse admin(const std::string& method, const std::string& path, const std::string& body = {}) {
        return http_request(method, daemon_->url() + path, body, bearer(*token_));
    }
    static HttpResponse user(const std::string& method, const std::string& cmd, const TenantLink& link,
                             const std::string& extra = {}, const std::string& host = {},
                             const std::string& uuid = {}) {
        const std::string path = "/user/vm/" + cmd + "/" + (host.empty() ? link.host : host) + "/" +
                                 (uuid.empty() ? link.uuid : uuid) + link.query() + extra;
        return http_request(method, daemon_->url() + path, {});
    }
    static std::string create_vm() {
        auto r = admin("POST", "/vm/create/t1", json{{"vm_desc", "tenant VM"}, {"vm_ram_mb", 256}}.dump());
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json().value("uuid", "");
    }
    static std::string state(const std::string& uuid) {
        return admin("GET", "/vm/list/t1/" + uuid).json()["guest"].value("state", "");
    }
    // ctrl_url, and the link decoded from its token the way the tenant page does.
    static TenantLink make_link(const std::string& uuid, std::int64_t epoch, const std::string& extra = {}) {
        auto r = admin("GET", "/vm/ctrl_url/t1/" + uuid + "?epoch=" + std::to_string(epoch) + extra);
        EXPECT_EQ(r.status, 200) << r.body;
        TenantLink link;
        link.token = r.json().value("token", "");
        link.id = r.json().value("id", "");
        auto decoded = auth::base64url_decode(link.token);
        EXPECT_TRUE(decoded.has_value()) << link.token;
        if (!decoded) return link;
        static const std::regex shape(R"(^([^/?]+)/([^/?]+)\?k=([A-Za-z0-9_-]{43})&e=(\d+)&l=([A-Za-z0-9_-]+)$)");
        std::smatch m;
        EXPECT_TRUE(std::regex_match(*decoded, m, shape)) << *decoded;
        if (m.empty()) return link;
        link.host = m[1];
        link.uuid = m[2];
        link.k = m[3];
        link.e = m[4];
        link.l = m[5];
        return link;
    }
    static std::int64_t in(std::int64_t seconds) { return std::time(nullptr) + seconds; }
    static void expect_error(const HttpResponse& r, long status, const std::string& why) {
        EXPECT_EQ(r.status, status) << why << ": " << r.body;
        EXPECT_EQ(r.json()["result"], "ERR") << why << ": " << r.body;
    }
    // The audit entries (newest first) whose actor is `who`.
    static std::vector<json> audit_of(const std::string& who) {
        std::vector<json> out;
        const json page = admin("GET", "/api/audit?limit=1000").json();
        for (const auto& e : page["audit"])
            if (e["who"] == who) out.push_back(e);
        return out;
    }

    static Daemon* daemon_;
    static std::string* token_;
};
Daemon* Tenant::daemon_ = nullptr;
std::string* Tenant::token_ = nullptr;

// simplekvm's older /vm/ui/ is ctrl_url.
TEST_F(Tenant, TheOlderUiRouteMakesALinkAsCtrlUrlDoes) {
    const std::string uuid = create_vm();
    auto r = admin("GET", "/vm/ui/t1/" + uuid + "?epoch=" + std::to_string(in(3600)));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["url"], std::string("http://") + kCtrlSrv + "/guest.html");
    EXPECT_FALSE(r.json().value("token", "").empty());
}

TEST_F(Tenant, CtrlUrlGivesTheTenantPageUrlAndASignedToken) {
    const std::string uuid = create_vm();
    const std::int64_t epoch = in(3600);
    auto r = admin("GET", "/vm/ctrl_url/t1/" + uuid + "?epoch=" + std::to_string(epoch));
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = r.json();
    EXPECT_EQ(j["result"], "OK");
    const std::string token = j["token"];
    const std::string id = j["id"];
    EXPECT_EQ(j["url"], std::string("http://") + kCtrlSrv + "/guest.html")
        << "the page: simplekvm's UI appends ?token=";
    EXPECT_EQ(j["link"], j["url"].get<std::string>() + "?token=" + token);
    EXPECT_EQ(j["uuid"], uuid);
    EXPECT_TRUE(std::regex_match(j["expire"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")))
        << j["expire"];
    EXPECT_EQ(j["expiry"], epoch);
    auto decoded = auth::base64url_decode(token);
    ASSERT_TRUE(decoded);
    const std::string prefix = "t1/" + uuid + "?k=";
    ASSERT_EQ(decoded->compare(0, prefix.size(), prefix), 0) << *decoded;
    EXPECT_NE(decoded->find("&e=" + std::to_string(epoch) + "&l=" + id), std::string::npos) << *decoded;
    // POST works the same, and the VM's links are listed without their signatures.
    auto again = admin("POST", "/vm/ctrl_url/t1/" + uuid + "?epoch=" + std::to_string(epoch));
    ASSERT_EQ(again.status, 200) << again.body;
    auto listed = admin("GET", "/api/links?host=t1&uuid=" + uuid);
    ASSERT_EQ(listed.status, 200) << listed.body;
    ASSERT_EQ(listed.json()["links"].size(), 2u);
    const json all = listed.json()["links"];
    json first;
    for (const auto& l : all)
        if (l["id"] == id) first = l;
    EXPECT_EQ(first["id"], id);
    EXPECT_EQ(first["creator"], "admin");
    EXPECT_EQ(first["state"], "active");
    EXPECT_EQ(first["expiry"], epoch);
    auto parts = auth::decode_token(token);
    ASSERT_TRUE(parts) << parts.error().desc;
    EXPECT_EQ(listed.body.find(parts->k), std::string::npos) << "a listing shows no signature";
    auto audit = admin("GET", "/api/audit?limit=50").body;
    EXPECT_NE(audit.find("t1/" + uuid + "/link/" + id), std::string::npos) << "link.create is audited";
}

// Passwords, tokens and link keys never reach kvmhubd's log (its access log writes the path
// only, never the query, where links carry their key).
TEST_F(Tenant, NoSecretReachesTheLog) {
    const std::string uuid = create_vm();
    const TenantLink link = make_link(uuid, in(3600));
    ASSERT_EQ(user("GET", "list", link).status, 200);
    ASSERT_EQ(user("GET", "list", link, "&force=true").status / 100, 4);
    EXPECT_EQ(http_post(daemon_->url() + "/api/login", R"({"username":"admin","password":"wrong-pass-123"})").status,
              401);
    ASSERT_EQ(http_get(daemon_->url() + "/vm/list/", HttpOptions{.headers = {"Cookie: token=" + *token_}}).status,
              200);
    const std::string log = daemon_->output();
    ASSERT_NE(log.find("/user/vm/list/"), std::string::npos) << "the access log is on: " << log.substr(0, 2000);
    for (const std::string& secret : {daemon_->admin_password(), std::string("wrong-pass-123"), *token_, link.k,
                                      link.token}) {
        ASSERT_GE(secret.size(), 10u);
        EXPECT_EQ(log.find(secret), std::string::npos) << "a secret is in the log: " << secret.substr(0, 6) << "...";
    }
}

TEST_F(Tenant, CtrlUrlRefusesBadInputAndCreatesNothing) {
    const std::string uuid = create_vm();
    const std::string base = "/vm/ctrl_url/t1/" + uuid;
    const struct {
        std::string query;
        long status;
        std::string field;
    } cases[] = {
        {"", 400, "epoch"},
        {"?epoch=", 400, "epoch"},
        {"?epoch=tomorrow", 400, "epoch"},
        {"?epoch=" + std::to_string(in(-10)), 400, "epoch"},
        {"?epoch=" + std::to_string(in(367 * 86400)), 400, "epoch"},
        {"?epoch=" + std::to_string(in(60)) + "&rights=view,destroy", 400, "rights"},
        {"?epoch=" + std::to_string(in(60)) + "&bogus=1", 400, "bogus"},
    };
    for (const auto& c : cases) {
        auto r = admin("GET", base + c.query);
        expect_error(r, c.status, c.query);
        EXPECT_EQ(r.json()["name"], c.field) << c.query << ": " << r.body;
    }
    expect_error(admin("GET", "/vm/ctrl_url/t1/00000000-0000-4000-8000-000000000000?epoch=" + std::to_string(in(60))),
                 404, "unknown VM");
    expect_error(admin("GET", "/vm/ctrl_url/nohost/" + uuid + "?epoch=" + std::to_string(in(60))), 404, "unknown host");
    EXPECT_TRUE(admin("GET", "/api/links?host=t1&uuid=" + uuid).json()["links"].empty());
    expect_error(admin("GET", "/api/links?host=t1"), 400, "no uuid");
    expect_error(admin("GET", "/api/links?host=t1&uuid=nope"), 400, "bad uuid");
    expect_error(admin("DELETE", "/api/links/no-such-link"), 404, "revoke unknown");
}

TEST_F(Tenant, EveryTenantCommandWorksWithAGoodLinkAndIsAudited) {
    const std::string uuid = create_vm();
    const TenantLink link = make_link(uuid, in(3600));
    ASSERT_FALSE(link.k.empty());

    auto list = user("GET", "list", link);
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(list.json()["guest"]["uuid"], uuid);
    EXPECT_EQ(list.json()["guest"]["state"], "SHUTOFF");

    ASSERT_EQ(user("GET", "start", link).status, 200);
    EXPECT_EQ(state(uuid), "RUNNING");
    EXPECT_EQ(user("GET", "reset", link).status, 200);
    EXPECT_EQ(user("POST", "reset", link).status, 200);
    ASSERT_EQ(user("GET", "stop", link, "&force=true").status, 200);
    EXPECT_EQ(state(uuid), "SHUTOFF");
    ASSERT_EQ(user("POST", "start", link).status, 200);
    EXPECT_EQ(state(uuid), "RUNNING");
    auto graceful = user("GET", "stop", link);
    EXPECT_EQ(graceful.status, 200) << graceful.body;
    if (state(uuid) == "RUNNING") {
        ASSERT_EQ(user("POST", "stop", link).status, 200);  // POST = force
    }
    EXPECT_EQ(state(uuid), "SHUTOFF");
    ASSERT_EQ(user("POST", "start", link).status, 200);
    ASSERT_EQ(user("POST", "stop", link).status, 200) << "POST stop powers off";
    EXPECT_EQ(state(uuid), "SHUTOFF");

    ASSERT_EQ(user("POST", "snapshot", link, "&name=snap1").status, 200);
    auto snaps = user("GET", "snapshot", link);
    ASSERT_EQ(snaps.status, 200) << snaps.body;
    EXPECT_EQ(snaps.json()["names"], json::array({"snap1"})) << snaps.body;
    EXPECT_EQ(user("GET", "revert_snapshot", link, "&name=snap1").status, 200);
    EXPECT_EQ(user("POST", "delete_snapshot", link, "&name=snap1").status, 200);
    EXPECT_EQ(user("GET", "snapshot", link).json()["num"], 0);
    auto iso = user("GET", "getiso", link);
    ASSERT_EQ(iso.status, 200) << iso.body;
    EXPECT_TRUE(iso.json()["iso"].is_array());
    // cdrom reaches the VM service: the test VM has no CD-ROM sdz, so the service says so.
    expect_error(user("POST", "cdrom", link, "&dev=sdz"), 404, "cdrom on a VM without that CD-ROM");
    // The handlers' own checks still apply.
    expect_error(user("GET", "start", link, "&bogus=1"), 400, "unknown parameter");
    expect_error(user("GET", "revert_snapshot", link), 400, "no name");

    std::set<std::string> actions;
    for (const auto& e : audit_of("link:" + link.id)) {
        actions.insert(e["action"].get<std::string>());
        EXPECT_EQ(e["target"].get<std::string>().find("t1/" + uuid), 0u) << e.dump();
    }
    for (const char* a : {"vm.list", "vm.start", "vm.reset", "vm.stop", "vm.snapshot", "vm.snapshot_list",
                          "vm.revert_snapshot", "vm.delete_snapshot", "vm.cdrom", "iso.list"})
        EXPECT_TRUE(actions.count(a)) << a << " not audited with the link as actor";
}

TEST_F(Tenant, TamperedLinksAreForbiddenAndChangeNothing) {
    const std::string uuid = create_vm();
    const std::string other = create_vm();
    const TenantLink good = make_link(uuid, in(3600));
    const TenantLink second = make_link(uuid, in(3600));
    auto flip = [](std::string s, size_t at) {
        s[at] = s[at] == 'A' ? 'B' : 'A';
        return s;
    };
    std::vector<std::pair<TenantLink, std::string>> bad;
    auto with = [&](auto change, const std::string& why) {
        TenantLink t = good;
        change(t);
        bad.emplace_back(t, why);
    };
    with([&](TenantLink& t) { t.k = flip(t.k, 0); }, "k first char");
    with([&](TenantLink& t) { t.k = flip(t.k, t.k.size() - 1); }, "k last char");
    with([&](TenantLink& t) { t.k = second.k; }, "k of another link");
    with([&](TenantLink& t) { t.k = ""; }, "k empty");
    with([&](TenantLink& t) { t.e = std::to_string(std::stoll(t.e) + 1); }, "e + 1");
    with([&](TenantLink& t) { t.e = std::to_string(std::stoll(t.e) + 86400 * 300); }, "e later");
    with([&](TenantLink& t) { t.e = "0" + t.e; }, "e leading zero");
    with([&](TenantLink& t) { t.l = second.l; }, "l of another link");
    with([&](TenantLink& t) { t.l = "x" + t.l; }, "l changed");
    with([&](TenantLink& t) { t.uuid = other; }, "uuid of another VM");
    with([&](TenantLink& t) { t.host = "t2"; }, "host");
    for (const auto& [t, why] : bad) {
        expect_error(user("GET", "list", t), 403, why);
        expect_error(user("GET", "start", t), 403, why);
    }
    EXPECT_EQ(state(uuid), "SHUTOFF");
    EXPECT_EQ(state(other), "SHUTOFF");
    // Parts missing: no link at all, even with an admin token.
    expect_error(http_get(daemon_->url() + "/user/vm/list/t1/" + uuid), 403, "no link");
    expect_error(http_get(daemon_->url() + "/user/vm/start/t1/" + uuid, bearer(*token_)), 403, "admin token only");
    expect_error(http_get(daemon_->url() + "/user/vm/list/t1/" + uuid + "?k=" + good.k + "&e=" + good.e), 403, "no l");
    EXPECT_EQ(user("GET", "list", good).status, 200) << "the untouched link works";
}

TEST_F(Tenant, ALinkForVmANeverActsOnVmB) {
    const std::string a = create_vm();
    const std::string b = create_vm();
    const TenantLink link = make_link(a, in(3600));
    for (const char* cmd : {"list", "start", "reset", "stop", "snapshot", "getiso"})
        expect_error(user("GET", cmd, link, {}, "t1", b), 403, std::string("VM B with A's link: ") + cmd);
    expect_error(user("POST", "snapshot", link, "&name=x", "t1", b), 403, "snapshot on B");
    EXPECT_EQ(state(b), "SHUTOFF");
    EXPECT_EQ(admin("GET", "/vm/snapshot/t1/" + b).json()["num"], 0);
}

TEST_F(Tenant, AnExpiredLinkIsGone) {
    const std::string uuid = create_vm();
    const std::int64_t epoch = in(2);
    const TenantLink link = make_link(uuid, epoch);
    // Wait for the daemon's clock (the system clock) to pass the expiry: at most ~2 s.
    while (std::time(nullptr) < epoch) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto r = user("GET", "list", link);
    expect_error(r, 410, "expired");
    expect_error(user("GET", "start", link), 410, "expired start");
    EXPECT_EQ(state(uuid), "SHUTOFF");
    TenantLink tampered = link;
    tampered.host = "t9";
    expect_error(user("GET", "list", tampered), 403, "expired and tampered");
    EXPECT_EQ(admin("GET", "/api/links?host=t1&uuid=" + uuid).json()["links"][0]["state"], "expired");
}

TEST_F(Tenant, ARevokedLinkIsForbidden) {
    const std::string uuid = create_vm();
    const TenantLink link = make_link(uuid, in(3600));
    const TenantLink kept = make_link(uuid, in(3600));
    ASSERT_EQ(user("GET", "list", link).status, 200);
    auto revoked = admin("DELETE", "/api/links/" + link.id);
    ASSERT_EQ(revoked.status, 200) << revoked.body;
    EXPECT_EQ(revoked.json()["link"]["state"], "revoked");
    expect_error(user("GET", "list", link), 403, "revoked");
    expect_error(user("GET", "start", link), 403, "revoked");
    EXPECT_EQ(user("GET", "list", kept).status, 200) << "another link of the VM still works";
    const json listed = admin("GET", "/api/links?host=t1&uuid=" + uuid).json()["links"];
    ASSERT_EQ(listed.size(), 2u);
    for (const auto& l : listed) {
        const bool is_revoked = l["id"] == link.id;
        EXPECT_EQ(l["state"], is_revoked ? "revoked" : "active") << l.dump();
        EXPECT_EQ(l["revoked_by"], is_revoked ? "admin" : "") << l.dump();
    }
    bool audited = false;
    for (const auto& e : audit_of("admin")) audited = audited || (e["action"] == "link.revoke" && e["result"] == "ok");
    EXPECT_TRUE(audited);
}

TEST_F(Tenant, RightsLimitWhatALinkMayDo) {
    const std::string uuid = create_vm();
    const TenantLink viewer = make_link(uuid, in(3600), "&rights=view");
    EXPECT_EQ(user("GET", "list", viewer).status, 200);
    expect_error(user("GET", "start", viewer), 403, "start without the right");
    expect_error(user("POST", "snapshot", viewer, "&name=x"), 403, "snapshot without the right");
    expect_error(user("GET", "getiso", viewer), 403, "getiso without cdrom");
    expect_error(user("POST", "cdrom", viewer, "&dev=sda"), 403, "cdrom without the right");
    EXPECT_EQ(state(uuid), "SHUTOFF");
}

// Every route the router marks tenant: refused without a link and with a link of another VM.
TEST_F(Tenant, EveryTenantRouteRefusesMissingAndForeignLinks) {
    const std::string uuid = create_vm();
    const std::string other = create_vm();
    const TenantLink foreign = make_link(other, in(3600));
    int tenant_routes = 0;
    for (const auto& route : route_table()) {
        if (route.access != "tenant") continue;
        ++tenant_routes;
        EXPECT_EQ(route.surface, "tenant") << route.pattern;
        const std::string path = daemon_->url() + concrete(route.pattern, "t1", uuid);
        expect_error(http_request(route.method, path, {}), 403, route.method + " " + route.pattern + " no link");
        expect_error(http_request(route.method, path, {}, bearer(*token_)), 403,
                     route.method + " " + route.pattern + " admin token");
        expect_error(http_request(route.method, path + foreign.query(), {}), 403,
                     route.method + " " + route.pattern + " foreign link");
    }
    EXPECT_GE(tenant_routes, 14) << "the route table lost tenant routes";
    EXPECT_EQ(state(uuid), "SHUTOFF");
}

// Every route the router marks admin: a tenant's link, token or both never open it (401).
TEST_F(Tenant, EveryAdminRouteRefusesTenantCredentials) {
    const std::string uuid = create_vm();
    const TenantLink link = make_link(uuid, in(3600));
    int admin_routes = 0;
    for (const auto& route : route_table()) {
        if (route.access != "admin") continue;
        ++admin_routes;
        const std::string path = daemon_->url() + concrete(route.pattern, "t1", uuid);
        const std::string sep = path.find('?') == std::string::npos ? "?" : "&";
        const std::string what = route.method + " " + route.pattern;
        expect_error(http_request(route.method, path + link.query(), "{}"), 401, what + " with the link query");
        expect_error(http_request(route.method, path, "{}", bearer(link.token)), 401, what + " token as bearer");
        expect_error(http_request(route.method, path, "{}", HttpOptions{{"Cookie: token=" + link.token}}), 401,
                     what + " token as cookie");
        expect_error(http_request(route.method, path + sep + "token=" + link.token, "{}"), 401,
                     what + " token as query");
    }
    EXPECT_GE(admin_routes, 40);
    EXPECT_EQ(state(uuid), "SHUTOFF");
    EXPECT_EQ(admin("GET", "/api/links?host=t1&uuid=" + uuid).json()["links"].size(), 1u);
}

TEST_F(Tenant, RotationKeepsOldLinksWithinTheGrace) {
    const std::string uuid = create_vm();
    const TenantLink old_link = make_link(uuid, in(3600));
    auto rotated = admin("POST", "/api/links/rotate");
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    EXPECT_TRUE(rotated.json()["key"].is_string());
    EXPECT_TRUE(rotated.json()["previous"].is_string());
    EXPECT_NEAR(rotated.json()["previous_valid_until"].get<double>(), double(in(24 * 3600)), 5.0)
        << "default grace 24 h";
    const TenantLink new_link = make_link(uuid, in(3600));
    EXPECT_EQ(user("GET", "list", old_link).status, 200) << "old key within the grace";
    EXPECT_EQ(user("GET", "list", new_link).status, 200);
    EXPECT_NE(old_link.k, new_link.k);
}

TEST(TenantKeys, RotationWithoutGraceRefusesOldLinksAndKeysNeverShow) {
    Daemon d(DaemonOptions{.env = {{"KVMHUB_TENANT_KEY_GRACE", "0"}}});
    const std::string token = d.login();
    ASSERT_EQ(http_post(d.url() + "/conf/host/", host_body("t1", "test:///default").dump(), bearer(token)).status, 200);
    auto created = http_post(d.url() + "/vm/create/t1", json{{"vm_ram_mb", 256}}.dump(), bearer(token));
    ASSERT_EQ(created.status, 200) << created.body;
    const std::string uuid = created.json()["uuid"];
    auto link_of = [&] {
        auto r = http_get(d.url() + "/vm/ctrl_url/t1/" + uuid + "?epoch=" + std::to_string(std::time(nullptr) + 600),
                          bearer(token));
        EXPECT_EQ(r.status, 200) << r.body;
        return *auth::decode_token(r.json()["token"].get<std::string>());
    };
    auto list = [&](const auth::TenantToken& t) {
        return http_get(d.url() + "/user/vm/list/t1/" + uuid + "?k=" + t.k + "&e=" + t.e + "&l=" + t.l);
    };
    const auth::TenantToken before = link_of();
    ASSERT_EQ(list(before).status, 200);
    // The signing key is in the store, and nowhere an admin or a log reader can see it.
    {
        SystemClock clock;
        auto store = store::SqliteStore::open(d.data_dir() + "/kvmhub.db", clock);
        ASSERT_TRUE(store);
        auto ring = (*store)->get(auth::kLinkKeysKey);
        ASSERT_TRUE(ring && *ring);
        const std::string key = json::parse((*ring)->value)["keys"][0]["key"];
        EXPECT_EQ(http_get(d.url() + "/conf/", bearer(token)).body.find(key), std::string::npos);
        EXPECT_EQ(d.output().find(key), std::string::npos);
    }
    ASSERT_EQ(http_post(d.url() + "/api/links/rotate", "", bearer(token)).status, 200);
    EXPECT_EQ(list(before).status, 403) << "signed with a key retired with no grace";
    EXPECT_EQ(list(link_of()).status, 200) << "a new link works";
    EXPECT_EQ(http_post(d.url() + "/api/links/rotate", "", HttpOptions{}).status, 401) << "rotation is admin-only";
}

}  // namespace
}  // namespace kvmhub::test
