#include "tmpl/parser.hpp"

#include <string>

#include <gtest/gtest.h>

#include "tmpl_test_util.hpp"

namespace kvmhub::tmpl {
namespace {

using testing::parse_error;

TEST(TmplParser, ReportsTheTemplateNameLineAndColumn) {
    TemplateError detail;
    auto t = Template::parse("domain", "<domain>\n  <name>{{ vm_name|upperr }}</name>\n", &detail);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, Errc::BadInput);
    EXPECT_EQ(t.error().where, "template");
    EXPECT_EQ(t.error().desc, "domain:2:20: unknown filter 'upperr'");
    EXPECT_EQ(detail.name, "domain");
    EXPECT_EQ(detail.line, 2);
    EXPECT_EQ(detail.column, 20);
    EXPECT_EQ(detail.reason, "unknown filter 'upperr'");
    EXPECT_EQ(detail.message(), "domain:2:20: unknown filter 'upperr'");
}

TEST(TmplParser, CountsColumnsInCharactersNotBytes) {
    EXPECT_EQ(parse_error("\xc3\xa9\xc3\xa9{{ x|nope }}"), "t:1:8: unknown filter 'nope'");
}

TEST(TmplParser, UnclosedTagsNameWhereTheyStarted) {
    EXPECT_EQ(parse_error("a\nb\n  {% if x \n\nmore"), "t:5:5: unclosed '{%' started at line 3");
    EXPECT_EQ(parse_error("{{ x "), "t:1:6: unclosed '{{' started at line 1");
    EXPECT_EQ(parse_error("x\n{# comment"), "t:2:11: unclosed '{#' started at line 2");
    EXPECT_EQ(parse_error("{{ 'abc }}"), "t:1:4: unterminated string");
}

TEST(TmplParser, MissingEndTagsNameTheOpeningTag) {
    EXPECT_EQ(parse_error("a\nb\nc\n  {% if x %}\nbody"), "t:5:5: 'if' at 4:3 has no matching endif");
    EXPECT_EQ(parse_error("{% for x in y %}{% if x %}{% endif %}"), "t:1:38: 'for' at 1:1 has no matching endfor");
    EXPECT_EQ(parse_error("{% macro m() %}x"), "t:1:17: 'macro' at 1:1 has no matching endmacro");
    EXPECT_EQ(parse_error("{% if a %}{% else %}x"), "t:1:22: 'if' at 1:1 has no matching endif");
}

TEST(TmplParser, MisplacedEndTagsSayWhatWasExpected) {
    EXPECT_EQ(parse_error("{% if x %}{% endfor %}"),
              "t:1:14: unexpected 'endfor': expected 'endif' to close the 'if' at 1:1");
    EXPECT_EQ(parse_error("text {% endif %}"), "t:1:9: unexpected 'endif': no block is open");
    EXPECT_EQ(parse_error("{% if 1 %}{% else %}{% else %}{% endif %}"),
              "t:1:24: unexpected 'else': expected 'endif' to close the 'if' at 1:1");
    EXPECT_EQ(parse_error("{% if 1 %}{% else %}{% elif 2 %}{% endif %}"),
              "t:1:24: unexpected 'elif': expected 'endif' to close the 'if' at 1:1");
}

TEST(TmplParser, UnknownAndUnsupportedTags) {
    EXPECT_EQ(parse_error("x\n {% foo %}"), "t:2:5: unknown tag 'foo'");
    EXPECT_EQ(parse_error("{% include 'x' %}"), "t:1:4: tag 'include' is not supported");
    EXPECT_EQ(parse_error("{% %}"), "t:1:4: expected a tag name, got '%}'");
}

TEST(TmplParser, UnexpectedTokens) {
    EXPECT_EQ(parse_error("{{ }}"), "t:1:4: expected an expression, got '}}'");
    EXPECT_EQ(parse_error("{{ 1 }"), "t:1:7: unclosed '{{' started at line 1");
    EXPECT_EQ(parse_error("{{ a b }}"), "t:1:6: expected '}}', got 'b'");
    EXPECT_EQ(parse_error("{{ 'a' ~ }}"), "t:1:10: expected an expression, got '}}'");
    EXPECT_EQ(parse_error("{% if x %}{% endif extra %}"), "t:1:20: expected '%}', got 'extra'");
    EXPECT_EQ(parse_error("{{ @ }}"), "t:1:4: unexpected character '@'");
    EXPECT_EQ(parse_error("{{ [1, 2 }}"), "t:1:10: expected ',', got '}}'");
    EXPECT_EQ(parse_error("{% set x %}a{% endset %}"), "t:1:10: block assignments ({% set x %}...) are not supported");
    EXPECT_EQ(parse_error("{% set true = 1 %}"), "t:1:8: cannot assign to 'true'");
    EXPECT_EQ(parse_error("{% for a, b in x %}{% endfor %}"),
              "t:1:9: unpacking several loop variables is not supported");
    EXPECT_EQ(parse_error("{{ (1, 2) }}"), "t:1:6: tuples are not supported; use a list [a, b]");
    EXPECT_EQ(parse_error("{{ {'a': 1} }}"), "t:1:4: dict literals are not supported");
    EXPECT_EQ(parse_error("{{ x[1:2] }}"), "t:1:7: slices are not supported");
    EXPECT_EQ(parse_error("{{ 99999999999999999999 }}"), "t:1:4: integer literal is too large");
    EXPECT_EQ(parse_error("{% macro m(a=1, b) %}{% endmacro %}"),
              "t:1:17: argument 'b' without a default follows one with a default");
    EXPECT_EQ(parse_error("{% macro m(a, a) %}{% endmacro %}"), "t:1:15: duplicate argument 'a'");
}

TEST(TmplParser, CallsToUnknownFunctionsFailAtParse) {
    EXPECT_EQ(parse_error("line\n  {{ getcpuu() }}"), "t:2:6: unknown macro or function 'getcpuu'");
    EXPECT_EQ(parse_error("{{ vm_ipaddr.split('/') }}"),
              "t:1:19: cannot call method 'split': only macros and range() can be called");
    EXPECT_EQ(parse_error("{% macro getcpu() %}{% endmacro %}{{ getcpu() }}{{ range(2) }}"), "");
}

TEST(TmplParser, DeepNestingIsAnErrorNotACrash) {
    std::string ifs;
    for (int i = 0; i < 65; ++i) ifs += "{% if true %}";
    for (int i = 0; i < 65; ++i) ifs += "{% endif %}";
    EXPECT_EQ(parse_error(ifs), "t:1:833: blocks are nested more than 64 deep");

    std::string ok;
    for (int i = 0; i < 64; ++i) ok += "{% for x in [1] %}";
    for (int i = 0; i < 64; ++i) ok += "{% endfor %}";
    EXPECT_EQ(parse_error(ok), "");

    EXPECT_NE(parse_error("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}"), "");
    EXPECT_NE(parse_error("{{ " + std::string(100000, '[') + " }}"), "");
    std::string nots = "{{ ";
    for (int i = 0; i < 50000; ++i) nots += "not ";
    EXPECT_NE(parse_error(nots + "1 }}"), "");
    EXPECT_NE(parse_error("{{ " + std::string(100000, '-') + "1 }}"), "");
}

TEST(TmplParser, LongOperatorChainsAreFlatOrCapped) {
    std::string concat = "{{ 'a'";
    for (int i = 0; i < 5000; ++i) concat += " ~ 'a'";
    EXPECT_EQ(parse_error(concat + " }}"), "");  // ~, and, or and filters do not nest

    std::string sum = "{{ 1";
    for (int i = 0; i < 5000; ++i) sum += " + 1";
    EXPECT_EQ(parse_error(sum + " }}"), "t:1:514: expression is nested more than 128 deep");

    std::string filters = "{{ x";
    for (int i = 0; i < 5000; ++i) filters += "|lower";
    EXPECT_NE(parse_error(filters + " }}"), "");
}

TEST(TmplParser, BuildsOneStatementPerTag) {
    auto parsed = parse_template("{% if a %}{{ b }}{% endif %}");
    ASSERT_TRUE(parsed);
    ASSERT_EQ(parsed->body.size(), 1u);
    EXPECT_EQ(parsed->body[0].kind, Stmt::Kind::If);
}

}  // namespace
}  // namespace kvmhub::tmpl
