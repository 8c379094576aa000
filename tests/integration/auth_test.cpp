// Login, throttling, refresh, logout, and the admin routes' refusal of every bad token.
#include <gtest/gtest.h>

#include "auth/base64.hpp"
#include "auth/jwt.hpp"
#include "auth/secrets.hpp"
#include "store/sqlite_store.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/route_table.hpp"

namespace kvmhub::test {
namespace {

std::string login_body(const std::string& user, const std::string& password) {
    return nlohmann::json{{"username", user}, {"password", password}}.dump();
}

TEST(Login, RightPasswordGivesATokenAndACookie) {
    Daemon d;
    auto r = http_post(d.url() + "/api/login", login_body("admin", d.admin_password()));
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = r.json();
    EXPECT_EQ(j["result"], "OK");
    ASSERT_TRUE(j["token"].is_string());
    EXPECT_NEAR(j["expires"].get<std::int64_t>(), 3600, 2) << "the lifetime in seconds, as simplekvm";
    EXPECT_NEAR(j["expires_at"].get<std::int64_t>(), std::time(nullptr) + 3600, 2);
    auto cookie = r.header("set-cookie");
    EXPECT_NE(cookie.find("token=" + j["token"].get<std::string>()), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
    EXPECT_NE(cookie.find("SameSite=Lax"), std::string::npos);
    // The token opens admin routes as a bearer token and as the cookie.
    EXPECT_EQ(http_get(d.url() + "/conf/", bearer(j["token"])).status, 200);
    EXPECT_EQ(http_get(d.url() + "/conf/", HttpOptions{{"Cookie: token=" + j["token"].get<std::string>()}}).status,
              200);
}

TEST(Login, WrongPasswordAndUnknownUserGetTheSame401) {
    Daemon d;
    auto wrong = http_post(d.url() + "/api/login", login_body("admin", "not-the-password"));
    auto unknown = http_post(d.url() + "/api/login", login_body("nobody", "whatever"));
    ASSERT_EQ(wrong.status, 401);
    ASSERT_EQ(unknown.status, 401);
    EXPECT_EQ(wrong.json()["desc"], unknown.json()["desc"]);
    EXPECT_TRUE(wrong.json()["token"].is_null());
    EXPECT_EQ(d.output().find("not-the-password"), std::string::npos) << "a password reached the log";
}

TEST(Login, RepeatedFailuresLockTheUserEvenWithTheRightPassword) {
    Daemon d(DaemonOptions{.env = {{"KVMHUB_LOGIN_MAX_FAILURES_PER_USER", "3"}}});
    for (int i = 0; i < 3; ++i) ASSERT_EQ(http_post(d.url() + "/api/login", login_body("admin", "bad")).status, 401);
    auto locked = http_post(d.url() + "/api/login", login_body("admin", d.admin_password()));
    ASSERT_EQ(locked.status, 429) << locked.body;
    EXPECT_EQ(locked.json()["result"], "ERR");
    EXPECT_GT(std::stoi(locked.header("retry-after")), 0);
}

TEST(Login, RepeatedFailuresFromOneAddressLockThatAddress) {
    Daemon d(DaemonOptions{.env = {{"KVMHUB_LOGIN_MAX_FAILURES_PER_IP", "4"}}});
    for (int i = 0; i < 4; ++i)
        ASSERT_EQ(http_post(d.url() + "/api/login", login_body("user" + std::to_string(i), "bad")).status, 401);
    auto locked = http_post(d.url() + "/api/login", login_body("admin", d.admin_password()));
    EXPECT_EQ(locked.status, 429) << locked.body;
}

TEST(Login, RefreshIssuesAWorkingNewToken) {
    Daemon d;
    auto token = d.login();
    auto r = http_get(d.url() + "/api/refresh", bearer(token));
    ASSERT_EQ(r.status, 200) << r.body;
    auto fresh = r.json()["token"].get<std::string>();
    EXPECT_NE(fresh, token);
    EXPECT_EQ(http_get(d.url() + "/conf/", bearer(fresh)).status, 200);
}

TEST(Login, LogoutClearsTheCookie) {
    Daemon d;
    auto r = http_get(d.url() + "/logout");
    ASSERT_EQ(r.status, 200);
    auto cookie = r.header("set-cookie");
    EXPECT_NE(cookie.find("token=;"), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("Max-Age=0"), std::string::npos) << cookie;
}

// Tokens that must never open an admin route, each with the reason.
std::vector<std::pair<std::string, std::string>> bad_tokens(const Daemon& d) {
    SystemClock system_clock;
    auto store = store::SqliteStore::open(d.data_dir() + "/kvmhub.db", system_clock);
    EXPECT_TRUE(store.has_value());
    auto secret = auth::load_or_create_secret(**store, auth::kJwtSecretKey, auth::kJwtSecretBytes);
    EXPECT_TRUE(secret.has_value());
    ManualClock an_hour_ago(std::chrono::system_clock::now() - std::chrono::hours(1));
    auto expired =
        auth::TokenSigner(*secret, an_hour_ago).issue("admin", "AAAAAAAAAAAAAAAAAAAAAA", std::chrono::seconds(60));
    auto foreign = auth::TokenSigner(std::string(32, 'k'), system_clock)
                       .issue("admin", "AAAAAAAAAAAAAAAAAAAAAA", std::chrono::seconds(600));
    auto valid =
        auth::TokenSigner(*secret, system_clock).issue("admin", "AAAAAAAAAAAAAAAAAAAAAA", std::chrono::seconds(600));
    std::string payload = valid->token.substr(valid->token.find('.') + 1);
    payload = payload.substr(0, payload.find('.'));
    std::string none_header = auth::base64url_encode(R"({"alg":"none","typ":"JWT"})");
    return {
        {"", "no Authorization header"},
        {"Authorization: Basic YWRtaW46YWRtaW4=", "basic auth"},
        {"Authorization: Bearer", "empty bearer"},
        {"Authorization: Bearer not-a-jwt", "malformed"},
        {"Authorization: Bearer a.b.c", "garbage parts"},
        {"Authorization: Bearer " + foreign->token, "signed with another secret"},
        {"Authorization: Bearer " + none_header + "." + payload + ".", "alg none"},
        {"Authorization: Bearer " + expired->token, "expired"},
        {"Cookie: token=" + expired->token, "expired cookie"},
        // Signed with the daemon's key, unexpired, but naming a session the store does not have.
        {"Authorization: Bearer " + valid->token, "no such session"},
        {"Cookie: token=" + valid->token, "no such session, cookie"},
    };
}

TEST(AdminRoutes, EveryAdminRouteRefusesEveryBadToken) {
    Daemon d;
    auto routes = route_table();
    auto tokens = bad_tokens(d);
    int admin_routes = 0;
    for (const auto& route : routes) {
        if (route.access != "admin") continue;
        ++admin_routes;
        for (const auto& [header, why] : tokens) {
            HttpOptions options;
            if (!header.empty()) options.headers.push_back(header);
            auto r = http_request(route.method, d.url() + concrete(route.pattern), "{}", options);
            EXPECT_EQ(r.status, 401) << route.method << " " << route.pattern << " with " << why << ": " << r.body;
            EXPECT_EQ(r.json()["result"], "ERR") << route.pattern << " " << why;
        }
    }
    EXPECT_GE(admin_routes, 3) << "the route table lost its admin routes";
}

TEST(AdminRoutes, EveryRouteHasAnAccessClass) {
    for (const auto& route : route_table()) {
        EXPECT_TRUE(route.access == "public" || route.access == "admin" || route.access == "tenant")
            << route.pattern << " has access " << route.access;
    }
}

}  // namespace
}  // namespace kvmhub::test
