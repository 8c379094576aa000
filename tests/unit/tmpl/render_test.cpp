#include "tmpl/render.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tmpl_test_util.hpp"

namespace kvmhub::tmpl {
namespace {

using nlohmann::json;
using testing::render;
using testing::render_escaped;

TEST(TmplRenderEscaping, AutoescapeTurnsMarkupInValuesIntoText) {
    const json ctx = {{"vm_desc", "</description><devices><disk type='file'>"}};
    EXPECT_EQ(render_escaped("<description>{{ vm_desc }}</description>", ctx),
              "<description>&lt;/description&gt;&lt;devices&gt;&lt;disk type=&#39;file&#39;&gt;</description>");
    EXPECT_EQ(render_escaped(R"(<x a="{{ v }}"/>)", {{"v", "\" onload=\"x"}}), R"(<x a="&#34; onload=&#34;x"/>)");
    EXPECT_EQ(render_escaped("{{ a }}&{{ b }}", {{"a", "<"}, {"b", "&amp;"}}), "&lt;&&amp;amp;");
}

TEST(TmplRenderEscaping, TemplateTextIsNeverEscaped) {
    EXPECT_EQ(render_escaped("<a href='x'>&amp;</a>"), "<a href='x'>&amp;</a>");
}

TEST(TmplRenderEscaping, EscapeFilterOutputIsNotEscapedTwice) {
    EXPECT_EQ(render_escaped("{{ v|e }} {{ v|e|e }} {{ v|escape|upper }}", {{"v", "<a>"}}),
              "&lt;a&gt; &lt;a&gt; &LT;A&GT;");
}

TEST(TmplRenderEscaping, MacroOutputIsNotEscapedTwice) {
    const std::string defs = "{% macro disk(dev) %}<target dev='{{ dev }}'/>{% endmacro %}";
    EXPECT_EQ(render_escaped(defs + "{{ disk('vda') }}"), "<target dev='vda'/>");
    EXPECT_EQ(render_escaped(defs + "{{ disk(\"v'a\") }}"), "<target dev='v&#39;a'/>");
    // Mixing safe text with plain text escapes only the plain part (Jinja's markup_join).
    EXPECT_EQ(render_escaped(defs + "{{ disk('a') ~ '<b>' }}|{{ '<b>' ~ disk('a') }}|{{ '<' ~ '>' }}"),
              "<target dev='a'/>&lt;b&gt;|&lt;b&gt;<target dev='a'/>|&lt;&gt;");
    EXPECT_EQ(render_escaped(defs + "{{ [disk('a'), '<'] | join('&') }}|{{ ['<', '>'] | join('&') }}"),
              "<target dev='a'/>&amp;&lt;|&lt;&amp;&gt;");
    EXPECT_EQ(render_escaped(defs + "{{ disk('1')|replace('1', '<2>') }}|{{ disk('a')|trim }}"),
              "<target dev='&lt;2&gt;'/>|<target dev='a'/>");
}

TEST(TmplRenderEscaping, ToJsonIsEscapedLikeAnyString) {
    EXPECT_EQ(render_escaped("{{ v|tojson }}", {{"v", "a\"b"}}), "&#34;a\\&#34;b&#34;");
    EXPECT_EQ(render("{{ v|tojson }}", {{"v", "a\"b"}}), "\"a\\\"b\"");
}

TEST(TmplRenderEscaping, ValuesOtherThanStringsAreEscapedAsTheyPrint) {
    EXPECT_EQ(render_escaped("{{ none }}{{ x }}{{ 1 }}{{ [1, '<'] }}"), "None1[1, &#39;&lt;&#39;]");
}

TEST(TmplRenderEscaping, WithoutAutoescapeNothingIsEscapedImplicitly) {
    EXPECT_EQ(render("{{ v }}|{{ v|e }}", {{"v", "<a>"}}), "<a>|&lt;a&gt;");
    // Jinja returns plain strings from macros when not autoescaping, so |e escapes their output.
    EXPECT_EQ(render("{% macro m() %}<x>{% endmacro %}{{ m() }}|{{ m()|e }}"), "<x>|&lt;x&gt;");
}

TEST(TmplRenderErrors, TypeErrorsPointAtTheOperator) {
    TemplateError detail;
    auto t = Template::parse("domain", "<a>\n  {{ 'a' - 1 }}</a>");
    ASSERT_TRUE(t);
    auto out = t->render(json::object(), {}, &detail);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::BadInput);
    EXPECT_EQ(out.error().desc, "domain:2:10: unsupported operand types for -: 'str' and 'int'");
    EXPECT_EQ(detail.line, 2);
    EXPECT_EQ(detail.column, 10);
    EXPECT_EQ(render("{{ 'a' + 1 }}"), "RENDER ERROR: t:1:8: unsupported operand types for +: 'str' and 'int'");
    EXPECT_EQ(render("{{ [1] - [1] }}"), "RENDER ERROR: t:1:8: unsupported operand types for -: 'list' and 'list'");
    EXPECT_EQ(render("{{ -'a' }}"), "RENDER ERROR: t:1:4: bad operand type for unary -: 'str'");
    EXPECT_EQ(render("{{ 1 < 'a' }}"), "RENDER ERROR: t:1:6: '<' is not supported between 'int' and 'str'");
    EXPECT_EQ(render("{{ 3 in 'abc' }}"),
              "RENDER ERROR: t:1:6: 'in <string>' requires a string on the left, not 'int'");
    EXPECT_EQ(render("{{ 1 in 5 }}"), "RENDER ERROR: t:1:6: argument of type 'int' is not iterable");
    EXPECT_EQ(render("{{ '%s' % 1 }}"), "RENDER ERROR: t:1:9: string formatting with % is not supported");
    EXPECT_EQ(render("\n{% for x in 5 %}{% endfor %}"), "RENDER ERROR: t:2:13: 'int' object is not iterable");
}

TEST(TmplRenderErrors, DivisionByZeroAndOverflowAreErrors) {
    EXPECT_EQ(render("{{ 1 / 0 }}"), "RENDER ERROR: t:1:6: division by zero");
    EXPECT_EQ(render("{{ 1 // 0 }}"), "RENDER ERROR: t:1:6: integer division by zero");
    EXPECT_EQ(render("{{ 1 % 0 }}"), "RENDER ERROR: t:1:6: integer modulo by zero");
    EXPECT_EQ(render("{{ 1.5 % 0 }}"), "RENDER ERROR: t:1:8: float modulo by zero");
    EXPECT_EQ(render("{{ 9223372036854775807 + 1 }}"),
              "RENDER ERROR: t:1:24: integer overflow in 9223372036854775807 + 1");
    EXPECT_EQ(render("{{ 2 ** 63 }}"), "RENDER ERROR: t:1:6: integer overflow in 2 ** 63");
    EXPECT_EQ(render("{{ -(-9223372036854775807 - 1) }}"),
              "RENDER ERROR: t:1:4: integer overflow in -(-9223372036854775808)");
    EXPECT_EQ(render("{{ (-9223372036854775807 - 1) // -1 }}"),
              "RENDER ERROR: t:1:31: integer overflow in "
              "-9223372036854775808 // -1");
    EXPECT_EQ(render("{{ (-9223372036854775807 - 1) % -1 }}"), "0");
    EXPECT_EQ(render("{{ 1e308 * 10 }} {{ 0 ** -1 }}"), "RENDER ERROR: t:1:23: 0 cannot be raised to a negative power");
}

TEST(TmplRenderLimits, HugeRangesAreRefused) {
    EXPECT_EQ(render("{% for i in range(1000000000) %}x{% endfor %}"),
              "RENDER ERROR: t:1:13: range() of more than 100000 items");
    EXPECT_EQ(render("{{ range(-9223372036854775807 - 1, 9223372036854775807)|length }}"),
              "RENDER ERROR: t:1:4: range() of more than 100000 items");
    EXPECT_EQ(render("{{ range(100000)|length }}"), "100000");
    EXPECT_EQ(render("{{ range(1, 2, 0) }}"), "RENDER ERROR: t:1:4: range() step must not be zero");
    EXPECT_EQ(render("{{ range('a') }}"), "RENDER ERROR: t:1:4: range() takes integers, got 'str'");
}

TEST(TmplRenderLimits, MacroRecursionIsCapped) {
    EXPECT_EQ(render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
              "RENDER ERROR: t:1:19: macro calls are nested more than 64 deep");
    EXPECT_EQ(render("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% endif %}x{% endmacro %}{{ f(60)|length }}"), "61");
}

TEST(TmplRenderLimits, DeepExpressionsInsideRecursionAreCapped) {
    std::string nots;
    for (int i = 0; i < 50; ++i) nots += "not ";
    const std::string src = "{% macro f(n) %}{% if n %}{{ " + nots + "f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}";
    EXPECT_EQ(render(src).substr(0, 13), "RENDER ERROR:");
    EXPECT_NE(render(src).find("nested too deeply to render"), std::string::npos);
}

TEST(TmplRenderLimits, OutputIsCapped) {
    RenderOptions small;
    small.max_output_bytes = 100;
    EXPECT_EQ(render("{% for i in range(200) %}x{% endfor %}", json::object(), small),
              "RENDER ERROR: t:1:26: output grows past the limit of 100 bytes");
    EXPECT_EQ(render("{{ 'x' * 1000 }}", json::object(), small),
              "RENDER ERROR: t:1:8: text grows past the limit of 100 bytes");
    EXPECT_EQ(render("{{ 'x' * 9223372036854775807 }}"),
              "RENDER ERROR: t:1:8: text grows past the limit of 16777216 bytes");
    // Doubling a string in recursive macros stops at the cap instead of exhausting memory.
    EXPECT_EQ(render("{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ f('ab', 60) }}"),
              "RENDER ERROR: t:1:37: text grows past the limit of 16777216 bytes");
}

TEST(TmplRenderLimits, WorkIsCapped) {
    RenderOptions few;
    few.max_steps = 10'000;
    EXPECT_EQ(
        render("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", json::object(), few),
        "RENDER ERROR: t:1:39: rendering takes more than 10000 steps");
    EXPECT_EQ(render("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"), "");
}

TEST(TmplRenderLimits, ListSizeAndNestingAreCapped) {
    EXPECT_EQ(render("{{ ([1] * 60000 + [2] * 60000)|length }}"),
              "RENDER ERROR: t:1:17: list grows past the limit of 100000 items");
    std::string nest = "{% set l = [] %}";
    for (int i = 0; i < 70; ++i) nest += "{% set l = [l] %}";
    EXPECT_EQ(render(nest + "{{ l|length }}"), "RENDER ERROR: t:1:1099: lists are nested more than 64 deep");
}

TEST(TmplRenderLimits, ComparingSharedNestedListsIsBounded) {
    // Each step doubles the tree that == would walk; the step budget stops it.
    std::string src = "{% set a = [1] %}{% set b = [1] %}";
    for (int i = 0; i < 60; ++i) src += "{% set a = [a, a] %}{% set b = [b, b] %}";
    RenderOptions few;
    few.max_steps = 100'000;
    EXPECT_EQ(render(src + "{{ a == b }}", json::object(), few).substr(0, 13), "RENDER ERROR:");
}

TEST(TmplRenderLimits, DeepContextIsRefused) {
    json deep = 1;
    for (int i = 0; i < 100; ++i) deep = json::array({deep});
    EXPECT_EQ(render("{{ x }}", {{"x", deep}}), "RENDER ERROR: t:1:1: variable 'x': context is nested too deeply");
}

TEST(TmplRender, ScopesLookUpInnermostFirst) {
    Scope outer;
    outer.set("a", Value(1));
    Scope inner{&outer, {}};
    inner.set("a", Value(2));
    ASSERT_NE(inner.find("a"), nullptr);
    EXPECT_EQ(inner.find("a")->as_int(), 2);
    EXPECT_EQ(outer.find("a")->as_int(), 1);
    EXPECT_EQ(inner.find("b"), nullptr);
}

}  // namespace
}  // namespace kvmhub::tmpl
