#include "http/router.hpp"

#include <gtest/gtest.h>

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

Router sealed(std::vector<Route> routes) {
    Router router;
    router.set_guard(Access::Admin, std::make_shared<AllowUser>());
    router.add(std::move(routes));
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
    router.add({{Method::Get, "/x", Access::Unset, Effect::Reads, Surface::Admin, reply_with("x"), 0}});
    auto sealed = router.seal();
    ASSERT_FALSE(sealed.has_value());
    EXPECT_NE(sealed.error().desc.find("no access class"), std::string::npos);
}

TEST(Router, RefusesARouteThatDoesNotSayWhetherItChangesState) {
    Router router;
    router.add({{Method::Get, "/x", Access::Public, Effect::Unset, Surface::Admin, reply_with("x"), 0}});
    auto sealed = router.seal();
    ASSERT_FALSE(sealed.has_value());
    EXPECT_NE(sealed.error().desc.find("does not say whether it changes state"), std::string::npos);
}

TEST(Router, RefusesAnAdminRouteWithoutGuard) {
    Router router;
    router.add({{Method::Get, "/x", Access::Admin, Effect::Reads, Surface::Admin, reply_with("x"), 0}});
    EXPECT_FALSE(router.seal().has_value());
}

TEST(Router, RefusesATenantRouteWithoutGuard) {
    Router router;
    router.set_guard(Access::Admin, std::make_shared<AllowUser>());
    router.add({{Method::Get, "/user/vm/{h}", Access::Tenant, Effect::Reads, Surface::Tenant, reply_with("x"), 0}});
    EXPECT_FALSE(router.seal().has_value());
}

TEST(Router, RefusesDuplicatesAndMisplacedRestSegments) {
    Router dup;
    dup.add({{Method::Get, "/x", Access::Public, Effect::Reads, Surface::Admin, reply_with("a"), 0},
             {Method::Get, "/x", Access::Public, Effect::Reads, Surface::Admin, reply_with("b"), 0}});
    EXPECT_FALSE(dup.seal().has_value());
    Router rest;
    rest.add({{Method::Get, "/{a*}/x", Access::Public, Effect::Reads, Surface::Admin, reply_with("a"), 0}});
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

}  // namespace
}  // namespace kvmhub::http
