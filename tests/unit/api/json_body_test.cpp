#include "api/json_body.hpp"

#include <gtest/gtest.h>

namespace kvmhub::api {
namespace {

TEST(ParseJsonObject, AcceptsAnObject) {
    auto j = parse_json_object(R"({"a":1,"b":[1,2,{"c":3}]})", 8);
    ASSERT_TRUE(j.has_value());
    EXPECT_EQ((*j)["b"][2]["c"], 3);
}

TEST(ParseJsonObject, ReportsWhereTheSyntaxBroke) {
    auto j = parse_json_object(R"({"a": tru})", 8);
    ASSERT_FALSE(j.has_value());
    EXPECT_EQ(j.error().code, Errc::BadInput);
    EXPECT_EQ(j.error().where, "body");
    EXPECT_NE(j.error().desc.find("at byte"), std::string::npos) << j.error().desc;
}

TEST(ParseJsonObject, RefusesDeepNesting) {
    std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
    auto j = parse_json_object(deep, 64);
    ASSERT_FALSE(j.has_value());
    EXPECT_NE(j.error().desc.find("deeper than 64"), std::string::npos);
    EXPECT_TRUE(parse_json_object(deep, 128).has_value());
}

TEST(ParseJsonObject, RefusesEmptyAndNonObjects) {
    EXPECT_FALSE(parse_json_object("", 8).has_value());
    EXPECT_FALSE(parse_json_object("42", 8).has_value());
    EXPECT_FALSE(parse_json_object("\"s\"", 8).has_value());
}

TEST(RequiredString, NamesTheFieldAndUsesCode800ForBlank) {
    nlohmann::json j = {{"name", ""}, {"n", 3}};
    auto blank = required_string(j, "name");
    ASSERT_FALSE(blank.has_value());
    EXPECT_EQ(blank.error().legacy, 800);
    EXPECT_EQ(blank.error().where, "name");
    auto missing = required_string(j, "other");
    EXPECT_EQ(missing.error().legacy, 800);
    auto wrong = required_string(j, "n");
    ASSERT_FALSE(wrong.has_value());
    EXPECT_NE(wrong.error().desc.find("must be a string"), std::string::npos);
}

}  // namespace
}  // namespace kvmhub::api
