#include "http/message.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kvmhub::http {
namespace {

TEST(Reply, ErrorHasTheCompatShapeAndStatus) {
    auto r = Reply::error(Error{Errc::NotFound, "host", "no host named h9"});
    EXPECT_EQ(r.status, 404);
    auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j, (nlohmann::json{{"result", "ERR"}, {"code", 404}, {"name", "host"}, {"desc", "no host named h9"}}));
}

TEST(Reply, LegacyCodesFollowSimplekvm) {
    EXPECT_EQ(legacy_code(Error{Errc::BadInput, "x", "y"}), 998);
    EXPECT_EQ(legacy_code(Error{Errc::HostError, "x", "y"}), 996);
    EXPECT_EQ(legacy_code(Error{Errc::HostTimeout, "x", "y"}), 996);
    EXPECT_EQ(legacy_code(Error{Errc::BadInput, "x", "y", 800}), 800);
    EXPECT_EQ(legacy_code(Error{Errc::Unauthorized, "x", "y"}), 401);
}

TEST(Reply, EveryErrcHasAStatus) {
    EXPECT_EQ(http_status(Errc::Conflict), 409);
    EXPECT_EQ(http_status(Errc::Gone), 410);
    EXPECT_EQ(http_status(Errc::TooLarge), 413);
    EXPECT_EQ(http_status(Errc::Throttled), 429);
    EXPECT_EQ(http_status(Errc::HostUnavailable), 503);
    EXPECT_EQ(http_status(Errc::HostTimeout), 504);
    EXPECT_EQ(http_status(Errc::Internal), 500);
}

TEST(Reply, OkMergesFieldsAfterResult) {
    auto r = Reply::ok({{"token", "t"}, {"expires", 5}});
    auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["result"], "OK");
    EXPECT_EQ(j["token"], "t");
    EXPECT_EQ(r.status, 200);
}

TEST(Reply, OkSerializedAddsResultToAnObjectText) {
    EXPECT_EQ(Reply::ok_serialized("{}").body, R"({"result":"OK"})");
    auto r = Reply::ok_serialized(R"({"guest":[{"a":1}],"n":2})");
    EXPECT_EQ(r.body, R"({"result":"OK","guest":[{"a":1}],"n":2})");
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.status, 200);
}

TEST(Reply, InvalidUtf8IsReplacedNotThrown) {
    auto r = Reply::error(Error{Errc::BadInput, "vm_desc", std::string("bad \xff byte")});
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded());
    EXPECT_EQ(j["name"], "vm_desc");
}

TEST(Request, CookieParsing) {
    Request r;
    r.headers.emplace_back("cookie", "a=1; token=\"abc.def\" ;theme=dark");
    EXPECT_EQ(r.cookie("token"), "abc.def");
    EXPECT_EQ(r.cookie("theme"), "dark");
    EXPECT_EQ(r.cookie("missing"), "");
}

}  // namespace
}  // namespace kvmhub::http
