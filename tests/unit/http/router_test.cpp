#include "http/router.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kvmhub::http {
namespace {

const std::vector<Surface> kAll{Surface::Admin, Surface::Tenant, Surface::Metadata};

Handler reply_with(std::string text) {
    return [text](Request&) { return Reply::text(text); };
}

class AllowUser final : public AccessGuard {
public:
    Result<std::string> check(const Route&, const Request& r) const override {
        if (r.header("x-user")) return *r.header("x-user");
        return fail(Errc::Unauthorized, "token", "no user");
    }
};

// Routes whose input is only their path parameters, as text: for the tests of matching.
std::vector<Route> declared(std::vector<Route> routes) {
    for (Route& r : routes) {
        if (r.input.declared) continue;
        r.input = Input::none().other_query(Extras::Ignore);
        for (std::size_t at = r.pattern.find('{'); at != std::string::npos; at = r.pattern.find('{', at + 1)) {
            std::string param = r.pattern.substr(at + 1, r.pattern.find('}', at) - at - 1);
            if (param.ends_with('*')) param.pop_back();
            r.input.path(text(param, 1024));
        }
    }
    return routes;
}

Router sealed(std::vector<Route> routes) {
    Router router;
    router.set_guard(Access::Admin, std::make_shared<AllowUser>());
    router.add(declared(std::move(routes)));
    EXPECT_TRUE(router.seal().has_value());
    return router;
}

TEST(Router, MatchesLiteralAndParameterSegments) {
    auto router = sealed({
        {Method::Get, "/vm/list/{host}", Access::Public, Effect::Reads, Surface::Admin, reply_with("host"), 0},
        {Method::Get, "/vm/list/{host}/{uuid}", Access::Public, Effect::Reads, Surface::Admin, reply_with("one"), 0},
    });
    auto m = router.match(Method::Get, "/vm/list/h1/abc", kAll);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->route->pattern, "/vm/list/{host}/{uuid}");
    ASSERT_EQ(m->params.size(), 2u);
    EXPECT_EQ(m->params[0], (std::pair<std::string, std::string>{"host", "h1"}));
    EXPECT_EQ(m->params[1], (std::pair<std::string, std::string>{"uuid", "abc"}));
    EXPECT_EQ(router.match(Method::Get, "/vm/list/h1", kAll)->route->pattern, "/vm/list/{host}");
}

TEST(Router, EmptyParameterDoesNotMatch) {
    auto router =
        sealed({{Method::Get, "/vm/list/{host}", Access::Public, Effect::Reads, Surface::Admin, reply_with("x"), 0}});
    EXPECT_FALSE(router.match(Method::Get, "/vm/list/", kAll).has_value());
}

TEST(Router, RestSegmentTakesTheRemainingPath) {
    auto router =
        sealed({{Method::Get, "/iso/{path*}", Access::Public, Effect::Reads, Surface::Metadata, reply_with("f"), 0}});
    auto m = router.match(Method::Get, "/iso/a/b/c.iso", kAll);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->params[0].second, "a/b/c.iso");
}

TEST(Router, TrailingSlashIsOptional) {
    auto router =
        sealed({{Method::Post, "/conf/host/", Access::Public, Effect::Changes, Surface::Admin, reply_with("h"), 0}});
    EXPECT_TRUE(router.match(Method::Post, "/conf/host/", kAll).has_value());
    EXPECT_TRUE(router.match(Method::Post, "/conf/host", kAll).has_value());
}

TEST(Router, OtherMethodOnAKnownPathListsTheAllowedOnes) {
    auto router = sealed({
        {Method::Get, "/x", Access::Public, Effect::Reads, Surface::Admin, reply_with("g"), 0},
        {Method::Post, "/x", Access::Public, Effect::Changes, Surface::Admin, reply_with("p"), 0},
    });
    std::string allowed;
    auto m = router.match(Method::Delete, "/x", kAll, &allowed);
    ASSERT_FALSE(m.has_value());
    EXPECT_EQ(allowed, "GET, POST");
    EXPECT_EQ(m.error().legacy, 405);
}

TEST(Router, HeadUsesTheGetRoute) {
    auto router = sealed({{Method::Get, "/x", Access::Public, Effect::Reads, Surface::Admin, reply_with("g"), 0}});
    EXPECT_TRUE(router.match(Method::Head, "/x", kAll).has_value());
}

TEST(Router, RoutesAreOnlyVisibleOnTheirSurface) {
    auto router = sealed({{Method::Get, "/conf/", Access::Admin, Effect::Reads, Surface::Admin, reply_with("c"), 0}});
    auto m = router.match(Method::Get, "/conf/", {Surface::Metadata});
    ASSERT_FALSE(m.has_value());
    EXPECT_EQ(m.error().code, Errc::NotFound);
}

// The static assets are declared once per surface (routes_ui.cpp): one pattern, two routes.
TEST(Router, OnePatternOnTwoSurfacesIsTwoRoutes) {
    auto router =
        sealed({{Method::Get, "/ui/{path*}", Access::Public, Effect::Reads, Surface::Admin, reply_with("a"), 0},
                {Method::Get, "/ui/{path*}", Access::Public, Effect::Reads, Surface::Tenant, reply_with("t"), 0}});
    for (Surface s : {Surface::Admin, Surface::Tenant}) {
        auto m = router.match(Method::Get, "/ui/page.html", {s});
        ASSERT_TRUE(m.has_value()) << surface_name(s);
        EXPECT_EQ(m->route->surface, s);
    }
    EXPECT_FALSE(router.match(Method::Get, "/ui/page.html", {Surface::Metadata}).has_value());
}

TEST(Router, RefusesARouteWithoutAccessClass) {
    Router router;
    router.add(declared({{Method::Get, "/x", Access::Unset, Effect::Reads, Surface::Admin, reply_with("x"), 0}}));
    auto sealed = router.seal();
    ASSERT_FALSE(sealed.has_value());
    EXPECT_NE(sealed.error().desc.find("no access class"), std::string::npos);
}

TEST(Router, RefusesARouteThatDoesNotSayWhetherItChangesState) {
    Router router;
    router.add(declared({{Method::Get, "/x", Access::Public, Effect::Unset, Surface::Admin, reply_with("x"), 0}}));
    auto sealed = router.seal();
    ASSERT_FALSE(sealed.has_value());
    EXPECT_NE(sealed.error().desc.find("does not say whether it changes state"), std::string::npos);
}

TEST(Router, RefusesAnAdminRouteWithoutGuard) {
    Router router;
    router.add(declared({{Method::Get, "/x", Access::Admin, Effect::Reads, Surface::Admin, reply_with("x"), 0}}));
    EXPECT_FALSE(router.seal().has_value());
}

TEST(Router, RefusesATenantRouteWithoutGuard) {
    Router router;
    router.set_guard(Access::Admin, std::make_shared<AllowUser>());
    router.add(
        declared({{Method::Get, "/user/vm/{h}", Access::Tenant, Effect::Reads, Surface::Tenant, reply_with("x"), 0}}));
    EXPECT_FALSE(router.seal().has_value());
}

TEST(Router, RefusesDuplicatesAndMisplacedRestSegments) {
    Router dup;
    dup.add(declared({{Method::Get, "/x", Access::Public, Effect::Reads, Surface::Admin, reply_with("a"), 0},
                      {Method::Get, "/x", Access::Public, Effect::Reads, Surface::Admin, reply_with("b"), 0}}));
    EXPECT_FALSE(dup.seal().has_value());
    Router rest;
    rest.add(declared({{Method::Get, "/{a*}/x", Access::Public, Effect::Reads, Surface::Admin, reply_with("a"), 0}}));
    EXPECT_FALSE(rest.seal().has_value());
}

TEST(Router, AuthorizeRunsTheGuardAndRecordsThePrincipal) {
    auto router = sealed({{Method::Get, "/conf/", Access::Admin, Effect::Reads, Surface::Admin, reply_with("c"), 0}});
    const Route& route = router.routes().front();
    Request anonymous;
    auto refused = router.authorize(route, anonymous);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, Errc::Unauthorized);
    Request known;
    known.headers.emplace_back("x-user", "alice");
    ASSERT_TRUE(router.authorize(route, known).has_value());
    EXPECT_EQ(known.principal, "alice");
}

TEST(Router, RefusesARouteWithoutAnInputSchema) {
    Router router;
    router.add({{Method::Get, "/x", Access::Public, Effect::Reads, Surface::Admin, reply_with("x"), 0}});
    auto refused = router.seal();
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().desc.find("declares no input"), std::string::npos) << refused.error().desc;

    // Path fields must be exactly the pattern's parameters: none missing, none made up.
    Router missing;
    missing.add(
        {Route{Method::Get, "/vm/{host}/{uuid}", Access::Public, Effect::Reads, Surface::Admin, reply_with("x"), 0}
             .accepts(Input::none().path(name("host")))});
    auto no_uuid = missing.seal();
    ASSERT_FALSE(no_uuid.has_value());
    EXPECT_NE(no_uuid.error().desc.find("path fields"), std::string::npos) << no_uuid.error().desc;
    Router extra;
    extra.add(
        {Route{Method::Get, "/vm/{host}", Access::Public, Effect::Reads, Surface::Admin, reply_with("x"), 0}.accepts(
            Input::none().path(name("host")).path(name("other")))});
    EXPECT_FALSE(extra.seal().has_value());

    Router fine;
    fine.add(
        {Route{Method::Get, "/vm/{host}", Access::Public, Effect::Reads, Surface::Admin, reply_with("x"), 0}.accepts(
            Input::none().path(name("host")))});
    EXPECT_TRUE(fine.seal().has_value());
}

TEST(Router, ChecksTheInputBeforeTheHandlerRuns) {
    int ran = 0;
    Router router;
    router.add({Route{Method::Post, "/vm/{host}", Access::Public, Effect::Changes, Surface::Admin,
                      [&ran](Request&) {
                          ++ran;
                          return Reply::ok();
                      },
                      0}
                    .accepts(Input::none()
                                 .path(name("host"))
                                 .query(integer("count", 1, 10).need())
                                 .json()
                                 .body(text("desc", 16).need()))});
    ASSERT_TRUE(router.seal().has_value());
    const Route& route = router.routes().front();
    auto run = [&](std::string host, Fields query, std::string body) {
        Request req;
        req.method = Method::Post;
        req.params = {{"host", std::move(host)}};
        req.query = std::move(query);
        req.body = std::move(body);
        return route.handler(req);
    };
    auto field_of = [](const Reply& r) { return nlohmann::json::parse(r.body).value("name", ""); };

    Reply bad_host = run("../etc", {{"count", "2"}}, R"({"desc":"x"})");
    EXPECT_EQ(bad_host.status, 400);
    EXPECT_EQ(field_of(bad_host), "host");
    Reply missing = run("h1", {}, R"({"desc":"x"})");
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(field_of(missing), "count");
    EXPECT_EQ(nlohmann::json::parse(missing.body)["code"], 800);
    Reply range = run("h1", {{"count", "11"}}, R"({"desc":"x"})");
    EXPECT_EQ(field_of(range), "count");
    Reply unknown = run("h1", {{"count", "2"}, {"other", "1"}}, R"({"desc":"x"})");
    EXPECT_EQ(field_of(unknown), "other");
    EXPECT_EQ(nlohmann::json::parse(unknown.body)["code"], 998);
    Reply typed = run("h1", {{"count", "2"}}, R"({"desc":[1]})");
    EXPECT_EQ(field_of(typed), "desc");
    Reply nul = run("h1", {{"count", "2"}}, R"({"desc":"a\u0000b"})");
    EXPECT_EQ(field_of(nul), "desc");
    Reply broken = run("h1", {{"count", "2"}}, "{\"desc\":");
    EXPECT_EQ(field_of(broken), "body");
    EXPECT_EQ(ran, 0);

    Reply good = run("h1", {{"count", "2"}}, R"({"desc":"fine"})");
    EXPECT_EQ(good.status, 200);
    EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace kvmhub::http
