#include "http/schema.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/message.hpp"

namespace kvmhub::http {
namespace {

bool ok(const Field& f, std::string_view v) {
    return check_string(f, v).has_value();
}
bool ok_json(const Field& f, const nlohmann::json& v) {
    return check_json(f, v).has_value();
}

TEST(Schema, TextIsUtf8WithoutNulOrControlCharacters) {
    const Field one = text("desc", 8);
    EXPECT_TRUE(ok(one, "héllo"));
    EXPECT_TRUE(ok(one, "<a&'\">"));  // markup is the templates' to escape, not refused
    EXPECT_FALSE(ok(one, "123456789"));
    EXPECT_FALSE(ok(one, std::string("a\0b", 3)));
    EXPECT_FALSE(ok(one, "a\nb"));
    EXPECT_FALSE(ok(one, "a\x1b"));
    EXPECT_FALSE(ok(one, "\xc3"));          // truncated sequence
    EXPECT_FALSE(ok(one, "\xc0\xaf"));      // overlong '/'
    EXPECT_FALSE(ok(one, "\xed\xa0\x80"));  // surrogate
    const Field many = text("body", 64, true);
    EXPECT_TRUE(ok(many, "a\nb\r\n\tc"));
    EXPECT_FALSE(ok(many, std::string("a\0", 2)));
    auto refused = check_string(one, "a\nb");
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().where, "desc");
    EXPECT_EQ(refused.error().code, Errc::BadInput);
}

TEST(Schema, NameIsASafePathSegment) {
    const Field f = name("host");
    EXPECT_TRUE(ok(f, "kvm-01.example_a"));
    for (const char* bad : {".", "..", "../x", "a/b", "a b", "a;b", "a$b", "<x>", "a\\b"})
        EXPECT_FALSE(ok(f, bad)) << bad;
    EXPECT_FALSE(ok(f, std::string(65, 'a')));
    EXPECT_TRUE(ok(f, std::string(64, 'a')));
    EXPECT_TRUE(ok_json(f, 1));  // taken as "1", as the catalog always did
    EXPECT_FALSE(ok_json(f, 1.5));
    EXPECT_FALSE(ok_json(f, nlohmann::json::array({"x"})));
}

TEST(Schema, UuidIsCanonical) {
    const Field f = uuid("uuid");
    EXPECT_TRUE(ok(f, "0f8fad5b-d9cb-469f-a165-70867728950e"));
    EXPECT_FALSE(ok(f, "0f8fad5bd9cb469fa16570867728950e"));
    EXPECT_FALSE(ok(f, "0f8fad5b-d9cb-469f-a165-70867728950g"));
    EXPECT_FALSE(ok(f, "../0f8fad5b-d9cb-469f-a165-7086772895"));
}

TEST(Schema, IntAcceptsNumbersAndDecimalStringsInRange) {
    const Field f = integer("vm_vcpus", 1, 1024);
    EXPECT_TRUE(ok(f, "4"));
    EXPECT_TRUE(ok_json(f, 4));
    EXPECT_TRUE(ok_json(f, "4"));  // simplekvm's clients send numbers as strings
    EXPECT_TRUE(ok_json(f, 4.0));
    EXPECT_FALSE(ok_json(f, 4.5));
    EXPECT_FALSE(ok(f, "0"));
    EXPECT_FALSE(ok(f, "1025"));
    EXPECT_FALSE(ok(f, "4x"));
    EXPECT_FALSE(ok(f, " 4"));
    EXPECT_FALSE(ok(f, "99999999999999999999999"));
    EXPECT_FALSE(ok_json(f, nlohmann::json(18446744073709551615ull)));
    EXPECT_FALSE(ok_json(f, true));
    EXPECT_FALSE(ok_json(f, nlohmann::json::object()));
}

TEST(Schema, BoolIsTrueOrFalse) {
    const Field f = boolean("force");
    EXPECT_TRUE(ok(f, "true"));
    EXPECT_TRUE(ok(f, "false"));
    EXPECT_TRUE(ok_json(f, true));
    EXPECT_FALSE(ok(f, "yes"));
    EXPECT_FALSE(ok(f, "1"));
    EXPECT_FALSE(ok_json(f, 1));
}

TEST(Schema, EnumTakesItsChoicesAndVersionedOnes) {
    const Field f = one_of("vm_machine", {"pc", "q35", "pc-q35-*"});
    EXPECT_TRUE(ok(f, "pc"));
    EXPECT_TRUE(ok(f, "pc-q35-7.2"));
    EXPECT_FALSE(ok(f, "pc-q35-"));
    EXPECT_FALSE(ok(f, "pc-q35-7.2'/>"));
    EXPECT_FALSE(ok(f, "PC"));
    auto refused = check_string(f, "isapc");
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().desc.find("pc, q35 or pc-q35-<version>"), std::string::npos) << refused.error().desc;
}

TEST(Schema, TokenHasNoSlashesSpacesOrMarkup) {
    const Field f = token("ticket", 16);
    EXPECT_TRUE(ok(f, "aB3-_.~+=:@,"));
    for (const char* bad : {"a/b", "a b", "a<b", "a'b", "a;b", "a|b"}) EXPECT_FALSE(ok(f, bad)) << bad;
    EXPECT_FALSE(ok(f, std::string(17, 'a')));
}

TEST(Schema, LinesAreTextOrAListOfOneLineTexts) {
    const Field f = lines("vm_sshkey", 64);
    EXPECT_TRUE(ok_json(f, "ssh-ed25519 AAAA a\nssh-rsa BBBB b"));
    EXPECT_TRUE(ok_json(f, nlohmann::json::array({"ssh-ed25519 AAAA a", "ssh-rsa BBBB b"})));
    EXPECT_FALSE(ok_json(f, nlohmann::json::array({"a\nb"})));
    EXPECT_FALSE(ok_json(f, nlohmann::json::array({1})));
    EXPECT_FALSE(ok_json(f, nlohmann::json::array({std::string(40, 'a'), std::string(40, 'b')})));
    EXPECT_FALSE(ok_json(f, std::string("a\0", 2)));
}

TEST(Schema, ValuesAreScalarsOrFlatLists) {
    const Field f = value("rbd_mons");
    EXPECT_TRUE(ok_json(f, "x"));
    EXPECT_TRUE(ok_json(f, 3));
    EXPECT_TRUE(ok_json(f, true));
    EXPECT_TRUE(ok_json(f, nullptr));
    EXPECT_TRUE(ok_json(f, nlohmann::json::array({"a", 1})));
    EXPECT_FALSE(ok_json(f, nlohmann::json::object()));
    EXPECT_FALSE(ok_json(f, nlohmann::json::array({nlohmann::json::array()})));
    EXPECT_FALSE(ok_json(f, std::string("\x01", 1)));
}

TEST(Schema, RequiredFieldsAreSimplekvms800) {
    Input in = Input::none().query(name("name").need()).json().body(text("desc", 10).need());
    Request req;
    req.body = R"({"desc":"x"})";
    auto missing = check_input(in, req, 8);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().where, "name");
    EXPECT_EQ(missing.error().legacy, 800);
    req.query = {{"name", ""}};
    EXPECT_EQ(check_input(in, req, 8).error().legacy, 800);
    req.query = {{"name", "n1"}};
    req.body = R"({"desc":""})";
    EXPECT_EQ(check_input(in, req, 8).error().where, "desc");
    req.body = R"({"desc":"ok"})";
    EXPECT_TRUE(check_input(in, req, 8).has_value());
    req.query = {{"name", "n1"}, {"name", "n2"}};
    EXPECT_EQ(check_input(in, req, 8).error().where, "name");  // given twice: which one counts?
}

TEST(Schema, ExtrasAreRefusedIgnoredOrTemplateVariables) {
    Request req;
    req.query = {{"zz", "1"}, {"k", "x"}};
    Input refuse = Input::none().ignore_query({"k"});
    auto unknown = check_input(refuse, req, 8);
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error().where, "zz");
    EXPECT_EQ(unknown.error().legacy, 998);
    EXPECT_TRUE(check_input(Input::none().other_query(Extras::Ignore), req, 8).has_value());

    req.query.clear();
    Input vars = Input::none().json(Extras::TemplateVars, true);
    req.body = "";
    EXPECT_TRUE(check_input(vars, req, 8).has_value());  // optional: empty means {}
    req.body = R"({"my_var":"x","list":[1,"a"]})";
    EXPECT_TRUE(check_input(vars, req, 8).has_value());
    req.body = R"({"../x":"x"})";
    EXPECT_FALSE(check_input(vars, req, 8).has_value());
    req.body = R"({"v":{"nested":1}})";
    EXPECT_EQ(check_input(vars, req, 8).error().where, "v");
    Input flags = Input::none().json(Extras::Flags);
    req.body = R"({"disk.file":"on","net.default":""})";
    EXPECT_TRUE(check_input(flags, req, 8).has_value());
    req.body = R"({"disk.file":"maybe"})";
    EXPECT_EQ(check_input(flags, req, 8).error().where, "disk.file");
    Input strict = Input::none().json();
    req.body = R"({"x":1})";
    EXPECT_EQ(check_input(strict, req, 8).error().where, "x");
}

TEST(Schema, BodiesAreCheckedForKindDepthAndEncoding) {
    Request req;
    Input json = Input::none().json(Extras::Ignore);
    req.body = "[1]";
    EXPECT_EQ(check_input(json, req, 8).error().where, "body");
    req.body = "";
    EXPECT_EQ(check_input(json, req, 8).error().where, "body");
    req.body = R"({"a":[[[[[[[[[[1]]]]]]]]]]})";
    EXPECT_EQ(check_input(json, req, 4).error().where, "body");
    req.body = "{\"a\":\"\xff\"}";
    EXPECT_EQ(check_input(json, req, 8).error().where, "body");
    Input text_in = Input::none().text_body();
    req.body = "{{ x }}\n";
    EXPECT_TRUE(check_input(text_in, req, 8).has_value());
    req.body = std::string("a\0", 2);
    EXPECT_FALSE(check_input(text_in, req, 8).has_value());
    Input form_in = Input::none().form();
    req.body = "x";
    EXPECT_FALSE(check_input(form_in, req, 8).has_value());
    req.headers = {{"content-type", "multipart/form-data; boundary=x"}};
    EXPECT_TRUE(check_input(form_in, req, 8).has_value());
}

TEST(Schema, PrintsItselfForTheRoutesListing) {
    Input in = Input::none().path(name("host")).query(integer("n", 1, 3).eg("2"));
    auto j = in.to_json();
    EXPECT_EQ(j["body"], "none");
    ASSERT_EQ(j["fields"].size(), 2u);
    EXPECT_EQ(j["fields"][0]["where"], "path");
    EXPECT_EQ(j["fields"][0]["required"], true);
    EXPECT_EQ(j["fields"][1]["type"], "int");
    EXPECT_EQ(j["fields"][1]["max"], 3);
    EXPECT_EQ(j["fields"][1]["example"], "2");
}

}  // namespace
}  // namespace kvmhub::http
