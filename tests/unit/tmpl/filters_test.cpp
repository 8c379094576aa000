#include "tmpl/filters.hpp"

#include <cstdint>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tmpl_test_util.hpp"

namespace kvmhub::tmpl {
namespace {

using nlohmann::json;
using testing::parse_error;
using testing::render;

TEST(TmplFilters, DefaultReplacesOnlyUndefinedUnlessAskedToReplaceFalseValues) {
    EXPECT_EQ(render("{{ x|default('y') }}|{{ ''|default('y') }}|{{ ''|default('y', true) }}"), "y||y");
    EXPECT_EQ(render("{{ none|default('y') }}|{{ none|default('y', true) }}|{{ false|d('y', true) }}"), "None|y|y");
    EXPECT_EQ(render("{{ 0|d('y', true) }}|{{ 'x'|default('y', true) }}|[{{ x|default }}]|{{ x|d(x)|d(3) }}"),
              "y|x|[]|3");
}

TEST(TmplFilters, DefaultChainsPickTheFirstUsefulValue) {
    const std::string src = "{{ vm_ram_mb_max | default(vm_ram_mb, true) | default(8192, true) }}";
    EXPECT_EQ(render(src), "8192");
    EXPECT_EQ(render(src, {{"vm_ram_mb", 2048}}), "2048");
    EXPECT_EQ(render(src, {{"vm_ram_mb_max", ""}, {"vm_ram_mb", 2048}}), "2048");
    EXPECT_EQ(render(src, {{"vm_ram_mb_max", 4096}, {"vm_ram_mb", 2048}}), "4096");
    EXPECT_EQ(render(src, {{"vm_ram_mb_max", ""}, {"vm_ram_mb", ""}}), "8192");
}

TEST(TmplFilters, EscapeEscapesXmlSpecialCharactersOnce) {
    EXPECT_EQ(render(R"({{ '<a href="x">&\'</a>'|e }})"), "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;");
    EXPECT_EQ(render("{{ '<b>'|escape|e|escape }}"), "&lt;b&gt;");
    EXPECT_EQ(render("{{ 5|e }}{{ none|e }}{{ x|e }}"), "5None");
}

TEST(TmplFilters, LowerAndUpperChangeAsciiLetters) {
    EXPECT_EQ(render("{{ 'AbC-1'|lower }} {{ 'AbC-1'|upper }} {{ true|upper }} {{ none|lower }}"),
              "abc-1 ABC-1 TRUE none");
    EXPECT_EQ(render("{{ 'sp\xc3\xa9'|upper }}"), "SP\xc3\xa9");  // documented: non-ASCII letters stay
}

TEST(TmplFilters, IntParsesLikeJinja) {
    EXPECT_EQ(render("{{ '42'|int }} {{ ' 42 '|int }} {{ '-3'|int }} {{ '+5'|int }} {{ '1_000'|int }} {{ '4.7'|int }}"),
              "42 42 -3 5 1000 4");
    EXPECT_EQ(render("{{ '1e3'|int }} {{ ' -4.5e1 '|int }} {{ 3.9|int }} {{ -3.9|int }} {{ true|int }} {{ 7|int }}"),
              "1000 -45 3 -3 1 7");
    EXPECT_EQ(render("{{ 'x'|int }} {{ ''|int }} {{ '0x1A'|int }} {{ '1__0'|int }} {{ '_1'|int }} {{ 'inf'|int }}"),
              "0 0 0 0 0 0");
    EXPECT_EQ(render("{{ none|int }} {{ [1]|int }} {{ 'x'|int(7) }} {{ 'x'|int('n/a') }}"), "0 0 7 n/a");
    EXPECT_EQ(render("{{ vm_vcpus|int + 1 }}", {{"vm_vcpus", "3"}}), "4");
}

TEST(TmplFilters, IntOfUndefinedOrHugeNumbersIsAnError) {
    EXPECT_EQ(render("{{ x|int }}"), "RENDER ERROR: t:1:6: 'x' is undefined");
    EXPECT_EQ(render("{{ '99999999999999999999'|int }}"),
              "RENDER ERROR: t:1:27: '99999999999999999999' is out of the integer range");
}

TEST(TmplFilters, StringConvertsLikePythonStr) {
    EXPECT_EQ(render("{{ 5|string ~ 1 }} {{ [1, 'a']|string }} {{ 2.0|string }} {{ none|string }}"),
              "51 [1, 'a'] 2.0 None");
}

TEST(TmplFilters, TrimStripsWhitespaceOrGivenCharacters) {
    EXPECT_EQ(render("[{{ '  x y \\n\\t'|trim }}] [{{ 'xxaxx'|trim('x') }}] [{{ '   '|trim }}]"), "[x y] [a] []");
}

TEST(TmplFilters, ReplaceLikePython) {
    EXPECT_EQ(render("{{ 'a-b-c'|replace('-', '_') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'x'|replace('y', 'z') }}"),
              "a_b_c bba x");
    EXPECT_EQ(render("{{ 'abc'|replace('', '-') }} [{{ ''|replace('', 'x') }}] {{ 'aaa'|replace('', '-', 2) }}"),
              "-a-b-c- [x] -a-aa");
}

TEST(TmplFilters, JoinJoinsListsStringsAndDictKeys) {
    EXPECT_EQ(render("{{ [1, 2, 3]|join(',') }} {{ [1, 2]|join }} {{ 'abc'|join('.') }} {{ ['a', 'b']|join(1) }}"),
              "1,2,3 12 a.b.c a1b");
    EXPECT_EQ(render("{{ d|join(',') }}[{{ x|join(',') }}]", {{"d", {{"b", 1}, {"a", 2}}}}), "a,b[]");
    EXPECT_EQ(render("{{ 5|join }}"), "RENDER ERROR: t:1:6: cannot join a int");
}

TEST(TmplFilters, LengthCountsCharactersItemsAndKeys) {
    EXPECT_EQ(render("{{ [1, 2]|length }} {{ 'h\xc3\xa9llo'|length }} {{ d|length }} {{ x|length }} {{ ''|count }}",
                     {{"d", {{"b", 1}}}}),
              "2 5 1 0 0");
    EXPECT_EQ(render("{{ 5|length }}"), "RENDER ERROR: t:1:6: object of type 'int' has no length");
}

TEST(TmplFilters, RandomIsDeterministicWithASeedOrAnInjectedGenerator) {
    RenderOptions seeded;
    seeded.random_seed = 42;
    const std::string src = "{% for i in range(20) %}{{ ['a', 'b', 'c', 'd']|random }}{% endfor %}";
    const std::string first = render(src, json::object(), seeded);
    EXPECT_EQ(first.size(), 20u);
    EXPECT_EQ(render(src, json::object(), seeded), first);
    EXPECT_NE(first.find_first_not_of(first[0]), std::string::npos);  // not one letter 20 times

    RenderOptions injected;
    std::uint64_t n = 0;
    injected.random = [&n] { return n++; };
    EXPECT_EQ(render(src, json::object(), injected), "abcdabcdabcdabcdabcd");
    n = 0;
    EXPECT_EQ(render("{{ 'xyz'|random }}[{{ missing|random }}]", json::object(), injected), "x[]");
    EXPECT_EQ(render("{{ []|random }}", json::object(), injected),
              "RENDER ERROR: t:1:7: cannot pick a random item from an empty sequence");
}

TEST(TmplFilters, ToJsonMatchesJinja) {
    const json ctx = {{"d", {{"b", 1}, {"a", {1, 2.5, nullptr, true}}}}};
    EXPECT_EQ(render("{{ d|tojson }}", ctx), R"({"a": [1, 2.5, null, true], "b": 1})");
    EXPECT_EQ(render("{{ '<a>'|tojson }} {{ \"'&\"|tojson }} {{ 'x\\n\\t\"\\\\'|tojson }}"),
              R"("\u003ca\u003e" "\u0027\u0026" "x\n\t\"\\")");
    EXPECT_EQ(
        render(
            "{{ '\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80'|tojson }} {{ 1e20|tojson }} {{ 3.0|tojson }} {{ none|tojson }}"),
        R"("\u00e9\u20ac\ud83d\ude00" 1e+20 3.0 null)");
    EXPECT_EQ(render("{{ x|tojson }}"), "RENDER ERROR: t:1:6: 'x' is undefined");
}

TEST(TmplFilters, ToJsonReplacesInvalidUtf8) {
    auto out = to_json(Value(std::string("a\xff\xc3(")), 1000);
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, R"("a\ufffd\ufffd(")");
    EXPECT_EQ(to_json(Value(std::string("\xed\xa0\x80")), 1000).value(), R"("\ufffd")");  // an encoded surrogate
}

TEST(TmplFilters, B64EncodeUsesStandardPaddedBase64) {
    EXPECT_EQ(render("{{ 'hello'|b64encode }} {{ ''|b64encode }} {{ 'a'|b64encode }} {{ 'ab'|b64encode }}"),
              "aGVsbG8=  YQ== YWI=");
    EXPECT_EQ(base64_encode("\xfb\xff\xfe"), "+//+");
    EXPECT_EQ(render("{{ '#cloud-config\\n'|b64encode }}"), "I2Nsb3VkLWNvbmZpZwo=");
}

TEST(TmplFilters, FiltersChainLeftToRight) {
    EXPECT_EQ(render("{{ '  Web-01 '|trim|lower|replace('-', '_') }}"), "web_01");
    EXPECT_EQ(render("{{ x|default('A')|lower ~ -1|string }}"), "a-1");
}

TEST(TmplFilters, FiltersBindTighterThanOperators) {
    EXPECT_EQ(render("{{ 'a' ~ 'b'|upper }} {{ 2 + '3'|int * 2 }} {{ -1|string }}"), "aB 8 -1");
}

TEST(TmplFilters, UnknownFiltersAndWrongArgumentCountsFailAtParse) {
    EXPECT_EQ(parse_error("{{ x|upperr }}"), "t:1:6: unknown filter 'upperr'");
    EXPECT_EQ(parse_error("{{ x|replace('a') }}"), "t:1:6: filter 'replace' takes 2 to 3 arguments, got 1");
    EXPECT_EQ(parse_error("{{ x|lower(1) }}"), "t:1:6: filter 'lower' takes 0 arguments, got 1");
    EXPECT_EQ(parse_error("{{ x|join(',', 1) }}"), "t:1:6: filter 'join' takes 0 to 1 arguments, got 2");
    EXPECT_EQ(parse_error("{{ x|default(boolean=true) }}"), "t:1:14: filters take positional arguments only");
    EXPECT_EQ(parse_error("{{ x is foo }}"), "t:1:9: unknown test 'foo'");
}

TEST(TmplFilters, OddAndEvenNeedIntegers) {
    EXPECT_EQ(render("{{ 'a' is odd }}"), "RENDER ERROR: t:1:11: test 'odd' needs an integer, got 'str'");
}

}  // namespace
}  // namespace kvmhub::tmpl
