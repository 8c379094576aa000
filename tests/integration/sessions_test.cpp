// Sessions that end: every token names a session kept in the store, and the daemon reads that
// record on every admin request, so deleting or disabling a user, a password change, logout and
// an admin's revocation end tokens at once, also when the offline CLI made the change.
#include <sodium.h>

#include <array>
#include <chrono>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "auth/base64.hpp"
#include "auth/secrets.hpp"
#include "store/sqlite_store.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"

namespace kvmhub::test {
namespace {

using json = nlohmann::json;

std::string login_body(const std::string& user, const std::string& password) {
    return json{{"username", user}, {"password", password}}.dump();
}

HttpResponse login_as(const Daemon& d, const std::string& user, const std::string& password) {
    return http_post(d.url() + "/api/login", login_body(user, password));
}

std::string token_of(const Daemon& d, const std::string& user, const std::string& password) {
    auto r = login_as(d, user, password);
    EXPECT_EQ(r.status, 200) << user << ": " << r.body;
    return r.json().value("token", std::string());
}

// The status an admin route gives this token.
long conf_status(const Daemon& d, const std::string& token) {
    return http_get(d.url() + "/conf/", bearer(token)).status;
}

CommandResult cli(const Daemon& d, const std::vector<std::string>& args, const std::string& input = {}) {
    std::vector<std::string> all{"--data-dir", d.data_dir(), "user"};
    all.insert(all.end(), args.begin(), args.end());
    return run_kvmhubd(all, input);
}

void cli_add(const Daemon& d, const std::string& name, const std::string& password) {
    auto r = cli(d, {"add", name}, password + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.output;
}

json claims_of(const std::string& token) {
    const auto dot1 = token.find('.');
    const auto dot2 = token.find('.', dot1 + 1);
    auto raw = auth::base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    return raw ? json::parse(*raw, nullptr, false) : json();
}

std::string sid_of(const std::string& token) {
    return claims_of(token).value("sid", std::string());
}

// The daemon's own store file, opened beside it (as the CLI does).
std::unique_ptr<store::SqliteStore> open_store(const Daemon& d) {
    static SystemClock clock;
    auto s = store::SqliteStore::open(d.data_dir() + "/kvmhub.db", clock);
    EXPECT_TRUE(s.has_value());
    if (!s) return nullptr;
    return std::move(*s);
}

// An HS256 token of ours with any payload, signed with the daemon's key.
std::string signed_with_daemon_key(const Daemon& d, const json& payload) {
    auto store = open_store(d);
    auto secret = auth::load_or_create_secret(*store, auth::kJwtSecretKey, auth::kJwtSecretBytes);
    EXPECT_TRUE(secret.has_value());
    const std::string input =
        auth::base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + auth::base64url_encode(payload.dump());
    crypto_auth_hmacsha256_state st;
    std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret->data()), secret->size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    crypto_auth_hmacsha256_final(&st, mac.data());
    return input + "." + auth::base64url_encode(std::string(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

std::string origin(const Daemon& d) {
    return "http://127.0.0.1:" + std::to_string(d.port());
}

HttpOptions cookie(const std::string& token, std::vector<std::string> more = {}) {
    more.push_back("Cookie: token=" + token);
    return HttpOptions{.headers = more};
}

TEST(Sessions, CliUserDelWhileAliceHoldsATokenMakesHerNextRequest401) {
    Daemon d;
    cli_add(d, "alice", "alice-pass");
    const auto alice = token_of(d, "alice", "alice-pass");
    const auto admin = d.login();
    ASSERT_EQ(conf_status(d, alice), 200);
    auto del = cli(d, {"del", "alice"});
    ASSERT_EQ(del.exit_code, 0) << del.output;
    EXPECT_NE(del.output.find("sessions ended"), std::string::npos) << del.output;
    // The daemon made no write: it learns of it by reading the session record per request.
    auto r = http_get(d.url() + "/conf/", bearer(alice));
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.json().value("name", ""), "session") << r.body;
    EXPECT_EQ(http_get(d.url() + "/api/refresh", bearer(alice)).status, 401);
    EXPECT_EQ(http_get(d.url() + "/conf/", cookie(alice)).status, 401);
    EXPECT_EQ(login_as(d, "alice", "alice-pass").status, 401);
    EXPECT_EQ(conf_status(d, admin), 200) << "another user's session is not touched";
}

TEST(Sessions, CliUserDisableEndsHerSessionsAndRefusesHerLoginUntilEnabled) {
    Daemon d;
    cli_add(d, "alice", "alice-pass");
    const auto alice = token_of(d, "alice", "alice-pass");
    ASSERT_EQ(conf_status(d, alice), 200);
    auto disable = cli(d, {"disable", "alice"});
    ASSERT_EQ(disable.exit_code, 0) << disable.output;
    EXPECT_EQ(conf_status(d, alice), 401);
    // The same answer as a wrong password: no telling a disabled account from a wrong guess.
    auto disabled = login_as(d, "alice", "alice-pass");
    auto wrong = login_as(d, "alice", "not-her-password");
    EXPECT_EQ(disabled.status, 401);
    EXPECT_EQ(disabled.body, wrong.body);
    auto enable = cli(d, {"enable", "alice"});
    ASSERT_EQ(enable.exit_code, 0) << enable.output;
    const auto again = token_of(d, "alice", "alice-pass");
    EXPECT_EQ(conf_status(d, again), 200);
    EXPECT_EQ(conf_status(d, alice), 401) << "enabling does not bring old sessions back";
}

TEST(Sessions, CliUserPasswdEndsAllOfHerSessions) {
    Daemon d;
    cli_add(d, "alice", "alice-pass");
    const auto one = token_of(d, "alice", "alice-pass");
    const auto two = token_of(d, "alice", "alice-pass");
    const auto admin = d.login();
    ASSERT_EQ(conf_status(d, one), 200);
    ASSERT_EQ(conf_status(d, two), 200);
    auto passwd = cli(d, {"passwd", "alice"}, "alice-pass-2\n");
    ASSERT_EQ(passwd.exit_code, 0) << passwd.output;
    EXPECT_EQ(conf_status(d, one), 401);
    EXPECT_EQ(conf_status(d, two), 401);
    EXPECT_EQ(conf_status(d, admin), 200);
    EXPECT_EQ(login_as(d, "alice", "alice-pass").status, 401);
    EXPECT_EQ(conf_status(d, token_of(d, "alice", "alice-pass-2")), 200);
}

TEST(Sessions, AdminApiDeleteAndDisableEndHerSessions) {
    Daemon d;
    const auto admin = d.login();
    auto added = http_post(d.url() + "/api/users", login_body("alice", "alice-pass"), bearer(admin));
    ASSERT_EQ(added.status, 200) << added.body;
    const auto alice = token_of(d, "alice", "alice-pass");
    ASSERT_EQ(conf_status(d, alice), 200);

    auto disable = http_post(d.url() + "/api/users/alice/disable", "", bearer(admin));
    ASSERT_EQ(disable.status, 200) << disable.body;
    EXPECT_EQ(conf_status(d, alice), 401);
    EXPECT_EQ(login_as(d, "alice", "alice-pass").status, 401);
    auto users = http_get(d.url() + "/api/users", bearer(admin)).json();
    bool listed_disabled = false;
    for (const auto& u : users["users"])
        if (u["name"] == "alice") listed_disabled = u["disabled"] == true;
    EXPECT_TRUE(listed_disabled) << users.dump();

    ASSERT_EQ(http_post(d.url() + "/api/users/alice/enable", "{}", bearer(admin)).status, 200);
    const auto again = token_of(d, "alice", "alice-pass");
    ASSERT_EQ(conf_status(d, again), 200);
    auto del = http_request("DELETE", d.url() + "/api/users/alice", {}, bearer(admin));
    ASSERT_EQ(del.status, 200) << del.body;
    EXPECT_EQ(conf_status(d, again), 401);
    EXPECT_EQ(login_as(d, "alice", "alice-pass").status, 401);
    auto after = http_get(d.url() + "/api/users", bearer(admin)).json();
    for (const auto& u : after["users"]) EXPECT_NE(u["name"], "alice");
    EXPECT_EQ(http_request("DELETE", d.url() + "/api/users/alice", {}, bearer(admin)).status, 404);
    EXPECT_EQ(conf_status(d, admin), 200);
}

TEST(Sessions, AdminApiPasswordChangeEndsOtherSessions) {
    Daemon d;
    const auto admin = d.login();
    cli_add(d, "alice", "alice-pass");
    const auto mine = token_of(d, "alice", "alice-pass");
    const auto other = token_of(d, "alice", "alice-pass");
    // Alice changes her own password: the session she did it from stays, her other one ends.
    auto own =
        http_post(d.url() + "/api/users/alice/password", json{{"password", "alice-pass-2"}}.dump(), bearer(mine));
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_EQ(conf_status(d, mine), 200);
    EXPECT_EQ(conf_status(d, other), 401);
    EXPECT_EQ(login_as(d, "alice", "alice-pass").status, 401);
    // An admin changes alice's password: every session of alice ends, the admin's stays.
    auto by_admin =
        http_post(d.url() + "/api/users/alice/password", json{{"password", "alice-pass-3"}}.dump(), bearer(admin));
    ASSERT_EQ(by_admin.status, 200) << by_admin.body;
    EXPECT_EQ(conf_status(d, mine), 401);
    EXPECT_EQ(conf_status(d, admin), 200);
    EXPECT_EQ(conf_status(d, token_of(d, "alice", "alice-pass-3")), 200);
    EXPECT_EQ(http_post(d.url() + "/api/users/nobody/password", json{{"password", "x"}}.dump(), bearer(admin)).status,
              404);
}

TEST(Sessions, BearerLogoutEndsItsSessionOnly) {
    Daemon d;
    const auto one = d.login();
    const auto two = d.login();
    auto out = http_post(d.url() + "/logout", "", bearer(one));
    ASSERT_EQ(out.status, 200) << out.body;
    EXPECT_NE(out.header("set-cookie").find("Max-Age=0"), std::string::npos);
    EXPECT_EQ(conf_status(d, one), 401);
    EXPECT_EQ(http_get(d.url() + "/api/refresh", bearer(one)).status, 401);
    EXPECT_EQ(conf_status(d, two), 200);
    // GET /logout (simplekvm's) does the same.
    ASSERT_EQ(http_get(d.url() + "/logout", bearer(two)).status, 200);
    EXPECT_EQ(conf_status(d, two), 401);
    // Logging out again, or with nothing, still answers OK and clears the cookie.
    EXPECT_EQ(http_post(d.url() + "/logout", "", bearer(two)).status, 200);
}

TEST(Sessions, CookieLogoutFromAnotherOriginIsRefusedAndKeepsTheSession) {
    Daemon d;
    const auto token = d.login();
    for (const auto& headers : std::vector<std::vector<std::string>>{
             {"Sec-Fetch-Site: cross-site"}, {"Sec-Fetch-Site: same-site"}, {"Origin: http://evil.example"}, {}}) {
        auto r = http_get(d.url() + "/logout", cookie(token, headers));
        EXPECT_EQ(r.status, 403) << (headers.empty() ? "no origin" : headers[0]) << ": " << r.body;
        EXPECT_EQ(r.json().value("name", ""), "origin");
        EXPECT_EQ(r.header("set-cookie"), "") << "a refused logout leaves the cookie too";
        EXPECT_EQ(conf_status(d, token), 200) << "the session is kept";
    }
    // From kvmhub's own page the cookie logout ends the session.
    auto own = http_post(d.url() + "/logout", "", cookie(token, {"Origin: " + origin(d)}));
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_NE(own.header("set-cookie").find("Max-Age=0"), std::string::npos);
    EXPECT_EQ(conf_status(d, token), 401);
    // A cookie that is no longer valid (or garbage) is simply cleared, from anywhere.
    for (const std::string& stale : {token, std::string("garbage")}) {
        auto r = http_get(d.url() + "/logout", cookie(stale, {"Sec-Fetch-Site: cross-site"}));
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_NE(r.header("set-cookie").find("Max-Age=0"), std::string::npos);
    }
}

TEST(Sessions, AdminEndsOneSessionById) {
    Daemon d;
    const auto admin = d.login();
    cli_add(d, "alice", "alice-pass");
    const auto one = token_of(d, "alice", "alice-pass");
    const auto two = token_of(d, "alice", "alice-pass");
    auto listed = http_get(d.url() + "/api/sessions?user=alice", bearer(admin));
    ASSERT_EQ(listed.status, 200) << listed.body;
    std::set<std::string> ids;
    const json alices = listed.json()["sessions"];
    for (const auto& s : alices) {
        EXPECT_EQ(s["user"], "alice");
        EXPECT_EQ(s["current"], false);
        EXPECT_EQ(s["ip"], "127.0.0.1");
        EXPECT_GT(s["ends"].get<std::int64_t>(), s["created"].get<std::int64_t>());
        ids.insert(s["id"].get<std::string>());
    }
    EXPECT_EQ(ids, (std::set<std::string>{sid_of(one), sid_of(two)}));
    auto all = http_get(d.url() + "/api/sessions", bearer(admin)).json();
    ASSERT_EQ(all["sessions"].size(), 3u) << all.dump();
    for (const auto& s : all["sessions"]) EXPECT_EQ(s["current"], s["id"] == sid_of(admin)) << s.dump();

    auto end = http_request("DELETE", d.url() + "/api/sessions/" + sid_of(one), {}, bearer(admin));
    ASSERT_EQ(end.status, 200) << end.body;
    EXPECT_EQ(conf_status(d, one), 401);
    EXPECT_EQ(conf_status(d, two), 200);
    EXPECT_EQ(conf_status(d, admin), 200);
    auto again = http_request("DELETE", d.url() + "/api/sessions/" + sid_of(one), {}, bearer(admin));
    EXPECT_EQ(again.status, 404) << again.body;
    EXPECT_EQ(again.json().value("name", ""), "sid");
}

TEST(Sessions, ASessionPastItsLifetimeCannotBeRefreshed) {
    Daemon d;
    const auto token = d.login();
    const std::string key = "/sessions/admin/" + sid_of(token);
    // Move the session's end to 2 s from now, beside the daemon (as another process would).
    {
        auto store = open_store(d);
        auto kv = store->get(key);
        ASSERT_TRUE(kv && *kv);
        json record = json::parse((*kv)->value);
        record["ends"] = std::time(nullptr) + 2;
        ASSERT_TRUE(store->put(key, record.dump()));
    }
    const std::int64_t ends = std::time(nullptr) + 2;
    auto r = http_get(d.url() + "/api/refresh", bearer(token));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_LE(r.json()["expires_at"].get<std::int64_t>(), ends) << "a refresh stops at the session's end";
    const auto fresh = r.json()["token"].get<std::string>();
    EXPECT_EQ(sid_of(fresh), sid_of(token));
    std::this_thread::sleep_for(std::chrono::milliseconds(3100));
    for (const auto& t : {token, fresh}) {
        auto late = http_post(d.url() + "/api/refresh", "", bearer(t));
        EXPECT_EQ(late.status, 401) << late.body;
        EXPECT_EQ(conf_status(d, t), 401);
    }
    EXPECT_EQ(conf_status(d, d.login()), 200) << "a new login opens a new session";
}

TEST(Sessions, RefreshNeverExtendsATokenPastTheSessionsEnd) {
    // The shortest settings: tokens and sessions of 60 s, so every refresh must stop at the end.
    Daemon d(DaemonOptions{.env = {{"KVMHUB_SESSION_LIFETIME", "60"}, {"KVMHUB_TOKEN_TTL", "60"}}});
    auto login = login_as(d, "admin", d.admin_password());
    ASSERT_EQ(login.status, 200);
    std::string token = login.json()["token"];
    auto sessions = http_get(d.url() + "/api/sessions", bearer(token)).json()["sessions"];
    ASSERT_EQ(sessions.size(), 1u);
    const std::int64_t ends = sessions[0]["ends"];
    EXPECT_EQ(ends - sessions[0]["created"].get<std::int64_t>(), 60);
    EXPECT_EQ(login.json()["expires_at"], ends);
    for (int i = 1; i <= 3; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1100));
        auto r = http_post(d.url() + "/api/refresh", "", bearer(token));
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.json()["expires_at"], ends) << "refresh " << i;
        EXPECT_EQ(claims_of(r.json()["token"])["exp"], ends);
        const std::string set_cookie = r.header("set-cookie");
        const auto max_age = std::stoll(set_cookie.substr(set_cookie.find("Max-Age=") + 8));
        EXPECT_LE(max_age, ends - std::time(nullptr) + 1) << set_cookie;
        token = r.json()["token"];
        EXPECT_EQ(claims_of(token)["cnt"], i);
    }
    auto after = http_get(d.url() + "/api/sessions", bearer(token)).json()["sessions"];
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0]["ends"], ends);
    EXPECT_EQ(after[0]["refreshes"], 3);
}

TEST(Sessions, RefreshKeepsSimplekvmsShape) {
    Daemon d;
    const auto token = d.login();
    for (const std::string method : {"GET", "POST"}) {
        auto r = http_request(method, d.url() + "/api/refresh", {}, bearer(token));
        ASSERT_EQ(r.status, 200) << method << " " << r.body;
        auto j = r.json();
        std::set<std::string> keys;
        for (const auto& [k, v] : j.items()) keys.insert(k);
        EXPECT_EQ(keys, (std::set<std::string>{"result", "token", "expires", "expires_at"})) << j.dump();
        EXPECT_EQ(j["result"], "OK");
        EXPECT_NEAR(j["expires"].get<std::int64_t>(), 3600, 2) << "simplekvm's expires: the lifetime in seconds";
        EXPECT_NEAR(j["expires_at"].get<std::int64_t>(), std::time(nullptr) + 3600, 2);
        const std::string fresh = j["token"];
        EXPECT_NE(fresh, token);
        EXPECT_EQ(sid_of(fresh), sid_of(token)) << "a refresh stays in its session";
        auto set_cookie = r.header("set-cookie");
        EXPECT_NE(set_cookie.find("token=" + fresh + ";"), std::string::npos) << set_cookie;
        EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
        EXPECT_EQ(conf_status(d, fresh), 200);
    }
}

TEST(Sessions, BadInputToEveryNewRoute) {
    Daemon d;
    const auto admin = d.login();
    struct Case {
        std::string method, path, body, field;
    };
    const std::string long_name(65, 'a');
    const std::vector<Case> cases{
        {"GET", "/api/users?x=1", "", "x"},
        {"POST", "/api/users", "", "body"},
        {"POST", "/api/users", "not json", "body"},
        {"POST", "/api/users", "[]", "body"},
        {"POST", "/api/users", "{}", "username"},
        {"POST", "/api/users", R"({"username":5,"password":"p"})", "username"},
        {"POST", "/api/users", R"({"username":null,"password":"p"})", "username"},
        {"POST", "/api/users", R"({"username":"../x","password":"p"})", "username"},
        {"POST", "/api/users", R"({"username":")" + long_name + R"(","password":"p"})", "username"},
        {"POST", "/api/users", R"({"username":"bob"})", "password"},
        {"POST", "/api/users", R"({"username":"bob","password":""})", "password"},
        {"POST", "/api/users", R"({"username":"bob","password":["p"]})", "password"},
        {"POST", "/api/users", R"({"username":"bob","password":"p","admin":true})", "admin"},
        {"POST", "/api/users", R"({"username":"admin","password":"p"})", "username"},  // exists: 409
        {"POST", "/api/users/a:b/password", R"({"password":"p"})", "username"},
        {"POST", "/api/users/" + long_name + "/password", R"({"password":"p"})", "username"},
        {"POST", "/api/users/admin/password", "", "body"},
        {"POST", "/api/users/admin/password", "{}", "password"},
        {"POST", "/api/users/admin/password", R"({"password":7})", "password"},
        {"POST", "/api/users/admin/password", R"({"password":"p","old":"q"})", "old"},
        {"POST", "/api/users/admin/password", R"({"password":")" + std::string(1100, 'x') + R"("})", "password"},
        {"POST", "/api/users/admin/password?user=x", R"({"password":"p"})", "user"},
        {"POST", "/api/users/a:b/disable", "", "username"},
        {"POST", "/api/users/admin/disable", "x", "body"},
        {"POST", "/api/users/admin/disable", R"({"now":true})", "now"},
        {"POST", "/api/users/nobody/disable", "", "username"},  // 404
        {"POST", "/api/users/a:b/enable", "", "username"},
        {"POST", "/api/users/nobody/enable", "", "username"},  // 404
        {"DELETE", "/api/users/a:b", "", "username"},
        {"DELETE", "/api/users/nobody", "", "username"},  // 404
        {"DELETE", "/api/users/admin", "[1]", "body"},
        {"GET", "/api/sessions?user=../x", "", "user"},
        {"GET", "/api/sessions?who=admin", "", "who"},
        {"DELETE", "/api/sessions/a.b", "", "sid"},
        {"DELETE", "/api/sessions/" + long_name, "", "sid"},
        {"DELETE", "/api/sessions/no-such-session", "", "sid"},  // 404
    };
    for (const auto& c : cases) {
        auto r = http_request(c.method, d.url() + c.path, c.body, bearer(admin));
        EXPECT_GE(r.status, 400) << c.method << " " << c.path << " " << c.body.substr(0, 80) << ": " << r.body;
        EXPECT_LT(r.status, 500) << c.method << " " << c.path << " " << c.body.substr(0, 80) << ": " << r.body;
        EXPECT_EQ(r.json().value("result", ""), "ERR") << c.path << ": " << r.body;
        EXPECT_EQ(r.json().value("name", ""), c.field)
            << c.method << " " << c.path << " " << c.body.substr(0, 80) << ": " << r.body;
    }
    // Plain bad input is 400 exactly; only the lookups of something absent are 404.
    EXPECT_EQ(http_post(d.url() + "/api/users", "{}", bearer(admin)).status, 400);
    EXPECT_EQ(http_post(d.url() + "/api/users/a:b/disable", "", bearer(admin)).status, 400);
    EXPECT_EQ(http_request("DELETE", d.url() + "/api/sessions/a.b", {}, bearer(admin)).status, 400);
    EXPECT_EQ(http_get(d.url() + "/api/sessions?user=../x", bearer(admin)).status, 400);
    // Nothing changed, and the admin's session is intact.
    auto users = http_get(d.url() + "/api/users", bearer(admin)).json()["users"];
    ASSERT_EQ(users.size(), 1u) << users.dump();
    EXPECT_EQ(users[0]["disabled"], false);
    EXPECT_EQ(login_as(d, "admin", d.admin_password()).status, 200) << "the password was not changed";
    EXPECT_EQ(conf_status(d, admin), 200);
}

TEST(Sessions, ATokenFromBeforeSessionsIsRefused) {
    Daemon d;
    const std::int64_t now = std::time(nullptr);
    const json old_style = {{"sub", "admin"}, {"iat", now}, {"exp", now + 600},
                            {"jti", "j"},     {"cnt", 0},   {"typ", "admin"}};
    const auto before = signed_with_daemon_key(d, old_style);
    auto r = http_get(d.url() + "/conf/", bearer(before));
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.json().value("desc", ""), "token predates sessions; log in again");
    EXPECT_EQ(http_get(d.url() + "/api/refresh", bearer(before)).status, 401);
    // Correctly signed, with a session id the store does not know: refused as well.
    json unknown = old_style;
    unknown["sid"] = "AAAAAAAAAAAAAAAAAAAAAA";
    auto u = http_get(d.url() + "/conf/", bearer(signed_with_daemon_key(d, unknown)));
    EXPECT_EQ(u.status, 401) << u.body;
    EXPECT_EQ(u.json().value("name", ""), "session");
    // The control: the same token shape with a real session opens the route.
    json real = old_style;
    real["sid"] = sid_of(d.login());
    EXPECT_EQ(conf_status(d, signed_with_daemon_key(d, real)), 200);
}

TEST(Sessions, TheLastEnabledUserCannotBeRemoved) {
    Daemon d;
    const auto admin = d.login();
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"DELETE", "/api/users/admin"}, {"POST", "/api/users/admin/disable"}}) {
        auto r = http_request(method, d.url() + path, {}, bearer(admin));
        EXPECT_EQ(r.status, 409) << path << ": " << r.body;
        EXPECT_EQ(r.json().value("name", ""), "username");
        EXPECT_NE(r.json().value("desc", "").find("last enabled user"), std::string::npos) << r.body;
    }
    for (const std::string action : {"del", "disable"}) {
        auto r = cli(d, {action, "admin"});
        EXPECT_NE(r.exit_code, 0) << r.output;
        EXPECT_NE(r.output.find("last enabled user"), std::string::npos) << r.output;
    }
    EXPECT_EQ(conf_status(d, admin), 200);
    // A disabled second user does not count; an enabled one does.
    cli_add(d, "alice", "alice-pass");
    ASSERT_EQ(cli(d, {"disable", "alice"}).exit_code, 0);
    EXPECT_EQ(http_request("DELETE", d.url() + "/api/users/admin", {}, bearer(admin)).status, 409);
    ASSERT_EQ(cli(d, {"enable", "alice"}).exit_code, 0);
    auto del = http_request("DELETE", d.url() + "/api/users/admin", {}, bearer(admin));
    EXPECT_EQ(del.status, 200) << del.body;
    EXPECT_EQ(conf_status(d, admin), 401) << "deleting yourself ends your own session too";
    const auto alice = token_of(d, "alice", "alice-pass");
    auto last = http_request("DELETE", d.url() + "/api/users/alice", {}, bearer(alice));
    EXPECT_EQ(last.status, 409) << last.body;
}

TEST(Sessions, UserChangesAreAudited) {
    Daemon d;
    const auto admin = d.login();
    const std::string secret_password = "a-password-never-logged";
    ASSERT_EQ(http_post(d.url() + "/api/users", login_body("alice", secret_password), bearer(admin)).status, 200);
    ASSERT_EQ(http_post(d.url() + "/api/users/alice/password", json{{"password", secret_password + "2"}}.dump(),
                        bearer(admin))
                  .status,
              200);
    const auto alice = token_of(d, "alice", secret_password + "2");
    ASSERT_EQ(http_request("DELETE", d.url() + "/api/sessions/" + sid_of(alice), {}, bearer(admin)).status, 200);
    ASSERT_EQ(http_post(d.url() + "/api/users/alice/disable", "", bearer(admin)).status, 200);
    ASSERT_EQ(http_post(d.url() + "/api/users/alice/enable", "", bearer(admin)).status, 200);
    ASSERT_EQ(http_request("DELETE", d.url() + "/api/users/alice", {}, bearer(admin)).status, 200);
    ASSERT_EQ(http_request("DELETE", d.url() + "/api/users/admin", {}, bearer(admin)).status, 409);
    cli_add(d, "bob", secret_password);
    ASSERT_EQ(cli(d, {"passwd", "bob"}, secret_password + "3\n").exit_code, 0);
    ASSERT_EQ(cli(d, {"disable", "bob"}).exit_code, 0);
    ASSERT_EQ(cli(d, {"enable", "bob"}).exit_code, 0);
    ASSERT_EQ(cli(d, {"del", "bob"}).exit_code, 0);

    auto page = http_get(d.url() + "/api/audit?limit=100", bearer(admin));
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.body.find(secret_password), std::string::npos) << "a password reached the audit log";
    std::vector<std::string> seen;
    const json entries = page.json()["audit"];
    for (const auto& e : entries) {  // newest first
        const std::string action = e.value("action", "");
        if (!action.starts_with("user.") && !action.starts_with("session.")) continue;
        seen.insert(seen.begin(), e.value("who", "") + " " + e.value("action", "") + " " + e.value("target", "") + " " +
                                      (e.value("result", "") == "ok" ? "ok" : "refused"));
    }
    const std::vector<std::string> expected{
        "admin user.add alice ok",
        "admin user.password alice ok",
        "admin session.end alice/" + sid_of(alice) + " ok",
        "admin user.disable alice ok",
        "admin user.enable alice ok",
        "admin user.delete alice ok",
        "admin user.delete admin refused",
        "cli user.add bob ok",
        "cli user.password bob ok",
        "cli user.disable bob ok",
        "cli user.enable bob ok",
        "cli user.delete bob ok",
    };
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(d.output().find(secret_password), std::string::npos) << "a password reached the log";
}

}  // namespace
}  // namespace kvmhub::test
