#include "tmpl/template.hpp"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tmpl_test_util.hpp"

namespace kvmhub::tmpl {
namespace {

using nlohmann::json;
using testing::parse_error;
using testing::render;

TEST(TemplateSyntax, CopiesTextAndPrintsVariables) {
    EXPECT_EQ(render("plain text"), "plain text");
    EXPECT_EQ(render("<name>{{ vm_name }}</name>", {{"vm_name", "web1"}}), "<name>web1</name>");
    EXPECT_EQ(render("{{vm_name}}{{   vm_name   }}", {{"vm_name", "a"}}), "aa");
    EXPECT_EQ(render(""), "");
}

TEST(TemplateSyntax, CommentsRenderNothing) {
    EXPECT_EQ(render("a{# note {{ x }} {% if %} #}b"), "ab");
    EXPECT_EQ(render("a{# multi\nline #}b"), "ab");
}

TEST(TemplateSyntax, PrintsValuesLikePython) {
    EXPECT_EQ(render("{{ none }} {{ None }} {{ true }} {{ False }} {{ 42 }} {{ -7 }}"), "None None True False 42 -7");
    EXPECT_EQ(render("{{ 5 / 2 }} {{ 4 / 2 }} {{ 1.0 }} {{ 1e20 }} {{ 0.00001 }} {{ 0.1 + 0.2 }} {{ -0.0 }}"),
              "2.5 2.0 1.0 1e+20 1e-05 0.30000000000000004 -0.0");
    EXPECT_EQ(render("{{ 1e15 * 1.0 }} {{ 1e16 * 1.0 }} {{ 1e300 * 1e300 }}"), "1000000000000000.0 1e+16 inf");
    EXPECT_EQ(render(R"({{ [1, 'a', none, true, "it's", 2.5, [], ['x\n']] }})"),
              R"([1, 'a', None, True, "it's", 2.5, [], ['x\n']])");
    EXPECT_EQ(render("{{ d }}", {{"d", {{"b", 1}, {"a", "x"}}}}), "{'a': 'x', 'b': 1}");
}

TEST(TemplateSyntax, DecodesStringEscapes) {
    EXPECT_EQ(render(R"({{ 'a\nb' }}|{{ 'it\'s' }}|{{ "say \"hi\"" }}|{{ 'back\\slash' }})"),
              "a\nb|it's|say \"hi\"|back\\slash");
    EXPECT_EQ(render(R"({{ 'tab\there' }}|{{ '\x41\u00e9' }}|{{ 'keep\q' }}|{{ 'a' "b" }})"),
              "tab\there|A\xc3\xa9|keep\\q|ab");
}

TEST(TemplateSyntax, ReadsAttributesAndItems) {
    const json ctx = {{"vm", {{"disks", {"vda", "vdb"}}, {"name", "web"}}}, {"key", "name"}};
    EXPECT_EQ(
        render("{{ vm.name }} {{ vm['name'] }} {{ vm[key] }} {{ vm.disks[1] }} {{ vm.disks.0 }} {{ vm.disks[-1] }}",
               ctx),
        "web web web vdb vda vdb");
    EXPECT_EQ(render("[{{ vm.missing }}][{{ vm.disks[5] }}][{{ vm.name.x }}][{{ none.x }}]", ctx), "[][][][]");
    EXPECT_EQ(render("{{ 'abc'[1] }}{{ 'abc'[-1] }}{{ 'h\xc3\xa9llo'[1] }}"), "bc\xc3\xa9");
}

TEST(TemplateSyntax, DoesArithmeticWithJinjaPrecedence) {
    EXPECT_EQ(render("{{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 10 / 4 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7.5 // 2 }}"),
              "3 9 2.5 3 -4 3.0");
    EXPECT_EQ(render("{{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 % 2 }}"), "1 2 -2 1.5");
    EXPECT_EQ(render("{{ 2 ** 10 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ 2 ** -1 }} {{ 3 * 2 ** 2 }}"),
              "1024 4 64 0.5 12");
    EXPECT_EQ(render("{{ -x }} {{ +x }} {{ - - 3 }} {{ true + 1 }} {{ 2 * 1.5 }}", {{"x", 4}}), "-4 4 3 2 3.0");
    EXPECT_EQ(render("{{ 'a' + 'b' }} {{ [1, 2] + [3] }} {{ 'ab' * 3 }} {{ 2 * 'x' }} {{ [0] * 3 }} [{{ 'x' * -1 }}]"),
              "ab [1, 2, 3] ababab xx [0, 0, 0] []");
}

TEST(TemplateSyntax, ConcatenatesAnythingWithTilde) {
    EXPECT_EQ(render("{{ 'a' ~ 1 ~ none ~ true ~ 2.0 ~ [1] ~ missing ~ 'z' }}"), "a1NoneTrue2.0[1]z");
    EXPECT_EQ(render("{{ 'vd' ~ 'abc'[1] }}"), "vdb");
}

TEST(TemplateSyntax, ComparesLikePython) {
    EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 1 == '1' }} {{ 'a' < 'b' }}"),
              "True False True True False True");
    EXPECT_EQ(render("{{ [1, 2] < [1, 3] }} {{ [1] < [1, 0] }} {{ [1, [2]] == [1, [2]] }} {{ none == none }}"),
              "True True True True");
    EXPECT_EQ(render("{{ 2 >= 2 }} {{ 2 <= 1 }} {{ 1 != 2 }} {{ 'x' != 'x' }}"), "True False True False");
}

TEST(TemplateSyntax, TestsMembershipOfStringsListsAndDictKeys) {
    const json ctx = {{"d", {{"k", 1}}}, {"bus", "virtio"}};
    EXPECT_EQ(
        render("{{ 'irt' in bus }} {{ 'x' not in bus }} {{ 1 in [1, 2] }} {{ 3 in [1, 2] }} {{ 1.0 in [1] }}", ctx),
        "True True True False True");
    EXPECT_EQ(render("{{ 'k' in d }} {{ 'z' in d }} {{ 'z' not in d }}", ctx), "True False True");
}

TEST(TemplateSyntax, AndOrReturnTheDecidingOperand) {
    EXPECT_EQ(render("{{ 1 and 2 }} {{ 0 and 2 }} {{ 0 or 'x' }} {{ '' or [] }} {{ not 0 }} {{ not not 'a' }}"),
              "2 0 x [] True True");
    EXPECT_EQ(render("{{ missing or 'fallback' }} {{ true and not false }}"), "fallback True");
}

TEST(TemplateSyntax, ConditionalExpressions) {
    EXPECT_EQ(
        render("{{ 'a' if true }}|{{ 'a' if false }}|{{ 'a' if false else 'b' }}|{{ 1 if x else 2 if 1 else 3 }}"),
        "a||b|2");
}

TEST(TemplateSyntax, IsTests) {
    const json ctx = {{"n", nullptr}, {"d", json::object()}, {"s", ""}};
    EXPECT_EQ(render("{{ x is defined }} {{ x is not defined }} {{ x is undefined }} {{ not x is defined }}", ctx),
              "False True True True");
    EXPECT_EQ(render("{{ n is none }} {{ n is not none }} {{ x is none }} {{ s is defined }} {{ n is defined }}", ctx),
              "True False False True True");
    EXPECT_EQ(render("{{ 1 is number }} {{ 'a' is string }} {{ 3 is odd }} {{ 4 is even }} {{ d is mapping }}", ctx),
              "True True True True True");
    EXPECT_EQ(render("{{ [1] is sequence }} {{ 1 is integer }} {{ 1.5 is float }} {{ true is boolean }}"),
              "True True True True");
    EXPECT_EQ(render("{{ false is false }} {{ 1 is true }} {{ true is true }}"), "True False True");
}

TEST(TemplateSyntax, IfElifElse) {
    const std::string src = "{% if x == 1 %}one{% elif x == 2 %}two{% elif x == 3 %}three{% else %}other{% endif %}";
    EXPECT_EQ(render(src, {{"x", 1}}), "one");
    EXPECT_EQ(render(src, {{"x", 2}}), "two");
    EXPECT_EQ(render(src, {{"x", 3}}), "three");
    EXPECT_EQ(render(src, {{"x", 9}}), "other");
    EXPECT_EQ(render(src), "other");
    EXPECT_EQ(render("{% if x %}yes{% endif %}|{%if x%}a{%else%}b{%endif%}"), "|b");
}

TEST(TemplateSyntax, ForLoopsExposeLoopVariables) {
    EXPECT_EQ(
        render("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ x }}{% if loop.first %}F{% endif "
               "%}{% if loop.last %}L{% endif %} {% endfor %}"),
        "10aF 21b 32cL ");
    EXPECT_EQ(render("{% for x in 'ab' %}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }},{% endfor %}"),
              "221,210,");
}

TEST(TemplateSyntax, ForLoopElseRunsOnEmptySequences) {
    EXPECT_EQ(render("{% for x in [] %}item{% else %}empty{% endfor %}"), "empty");
    EXPECT_EQ(render("{% for x in missing %}item{% else %}empty{% endfor %}"), "empty");
    EXPECT_EQ(render("{% for x in [1] %}item{% else %}empty{% endfor %}"), "item");
}

TEST(TemplateSyntax, ForLoopsIterateDictKeysAndCharacters) {
    EXPECT_EQ(render("{% for k in d %}{{ k }}={{ d[k] }};{% endfor %}", {{"d", {{"b", 1}, {"a", 2}}}}), "a=2;b=1;");
    EXPECT_EQ(render("{% for c in 'h\xc3\xa9' %}[{{ c }}]{% endfor %}"), "[h][\xc3\xa9]");
}

TEST(TemplateSyntax, NestedLoopsShadowLoopAndDoNotLeakSets) {
    EXPECT_EQ(render("{% for x in [1, 2] %}{% for y in [3] %}{{ loop.index }}{{ x }}{{ y }} {% endfor %}{{ loop.index "
                     "}}{% endfor %}"),
              "113 1123 2");
    // As in Jinja: a set inside a loop body is local to that iteration.
    EXPECT_EQ(render("{% for i in [1, 2] %}{{ y }}{% set y = i %}{{ y }}{% endfor %}{{ y }}", {{"y", 9}}), "91929");
}

TEST(TemplateSyntax, SetAssignsInTheCurrentScope) {
    EXPECT_EQ(render("{% set x = 1 %}{{ x }}{% set x = x + 1 %}{{ x }}"), "12");
    EXPECT_EQ(render("{% if true %}{% set q = 5 %}{% endif %}{{ q }}"), "5");
    EXPECT_EQ(render("{% set vm_ram_mb = vm_ram_mb | default(1024) %}{{ vm_ram_mb }}"), "1024");
    EXPECT_EQ(render("{% set vm_ram_mb = vm_ram_mb | default(1024) %}{{ vm_ram_mb }}", {{"vm_ram_mb", 4096}}), "4096");
}

TEST(TemplateSyntax, RangeLikePython) {
    EXPECT_EQ(render("{{ range(3)|join(',') }}|{{ range(1, 4)|join(',') }}|{{ range(1, 10, 3)|join(',') }}"),
              "0,1,2|1,2,3|1,4,7");
    EXPECT_EQ(render("{{ range(5, 0, -2)|join(',') }}|{{ range(0)|length }}|{{ range(3, 1)|length }}"), "5,3,1|0|0");
    EXPECT_EQ(render("{% for i in range(2) %}<vcpu id='{{ i }}'/>{% endfor %}"), "<vcpu id='0'/><vcpu id='1'/>");
}

TEST(TemplateMacros, TakeArgumentsDefaultsAndKeywords) {
    const std::string defs = "{% macro m(a, b='B') %}{{ a }}{{ b }}{{ c }}{% endmacro %}";
    EXPECT_EQ(render(defs + "{{ m(1) }}|{{ m(1, 2) }}|{{ m(b=3, a=4) }}|{{ m() }}", {{"c", "C"}}), "1BC|12C|43C|BC");
    EXPECT_EQ(render("{% macro m(a, b=a ~ '!') %}{{ b }}{% endmacro %}{{ m('x') }}"), "x!");
}

TEST(TemplateMacros, SeeTopLevelVariablesAsTheyAreWhenCalled) {
    EXPECT_EQ(render("{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }}"), "2");
    EXPECT_EQ(render("{% macro m() %}{{ vm_name }}{% endmacro %}{{ m() }}", {{"vm_name", "web"}}), "web");
}

TEST(TemplateMacros, CallOtherMacrosDefinedLater) {
    EXPECT_EQ(render("{% macro a() %}[{{ b() }}]{% endmacro %}{% macro b() %}B{% endmacro %}{{ a() }}"), "[B]");
}

TEST(TemplateMacros, RecurseAndCloseOverTheirDefiningScope) {
    EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}"),
              "54321");
    EXPECT_EQ(render("{% macro outer(v) %}{% macro inner() %}[{{ v }}]{% endmacro %}{{ inner() }}{% endmacro %}"
                     "{{ outer(1) }}{{ outer(2) }}"),
              "[1][2]");
    EXPECT_EQ(render("{% for i in [1, 2] %}{% macro m() %}{{ i }}{% endmacro %}{{ m() }}{% endfor %}"), "12");
}

TEST(TemplateMacros, CanBePassedAndReturnText) {
    EXPECT_EQ(render("{% macro m(f) %}{{ f(1) }}{% endmacro %}{% macro g(x) %}g{{ x }}{% endmacro %}{{ m(g) }}"), "g1");
    EXPECT_EQ(render("{% macro m() %}abc{% endmacro %}{% set y = m() %}{{ y|length }}{{ m()|upper }}{{ m() ~ '!' }}"),
              "3ABCabc!");
    EXPECT_EQ(render("{% macro m() %}{% set x = 5 %}{{ x }}{% endmacro %}{{ m() }}[{{ x }}]"), "5[]");
}

TEST(TemplateMacros, RejectBadCalls) {
    EXPECT_EQ(render("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}"),
              "RENDER ERROR: t:1:34: macro 'm' takes at most 1 argument");
    EXPECT_EQ(render("{% macro m(a) %}{% endmacro %}{{ m(z=2) }}"),
              "RENDER ERROR: t:1:34: macro 'm' has no argument 'z'");
    EXPECT_EQ(render("{% macro m(a) %}{% endmacro %}{{ m(1, a=2) }}"),
              "RENDER ERROR: t:1:34: macro 'm' got argument 'a' twice");
    // Like Jinja, a macro exists from its definition on.
    EXPECT_EQ(render("{{ m() }}{% macro m() %}x{% endmacro %}"), "RENDER ERROR: t:1:4: 'm' is undefined");
    EXPECT_EQ(render("{% set m = 1 %}{{ m() }}"), "RENDER ERROR: t:1:19: 'm' is not a macro (it is of type 'int')");
}

TEST(TemplateUndefined, RendersEmptyAndIsFalse) {
    EXPECT_EQ(render("[{{ vm_graph }}]{% if vm_graph %}set{% else %}unset{% endif %}"), "[]unset");
    EXPECT_EQ(render("{% if vm_graph in ['vnc', 'spice'] %}graphics{% endif %}"), "");
    EXPECT_EQ(render("{{ x == x }} {{ x != 'a' }} {{ 'a' in x }} {{ x in ['a'] }} {{ not x }}"),
              "True True False False True");
    EXPECT_EQ(render("{{ x|length }}|{{ x|lower }}|{{ x|join(',') }}|{{ x|string }}|{{ x|e }}|{{ x|trim }}"), "0|||||");
}

TEST(TemplateUndefined, AttributesAndItemsOfUndefinedAreUndefined) {
    EXPECT_EQ(render("[{{ a.b }}][{{ a.b.c }}][{{ a['b'][0] }}]"), "[][][]");
    EXPECT_EQ(render("{{ a.b.c is defined }} {{ a.b.c|default('d') }}"), "False d");
}

TEST(TemplateUndefined, ArithmeticAndOrderingOnUndefinedAreErrors) {
    EXPECT_EQ(render("{{ vm_ram_mb + 1 }}"), "RENDER ERROR: t:1:14: 'vm_ram_mb' is undefined");
    EXPECT_EQ(render("{{ vm.ram * 2 }}"), "RENDER ERROR: t:1:11: 'vm.ram' is undefined");
    EXPECT_EQ(render("{{ x < 1 }}"), "RENDER ERROR: t:1:6: 'x' is undefined");
    EXPECT_EQ(render("{{ -x }}"), "RENDER ERROR: t:1:4: 'x' is undefined");
}

TEST(TemplateWhitespace, KeepsNewlinesAfterBlockTagsLikeJinjaDefaults) {
    EXPECT_EQ(render("a\n{% if true %}\nb\n{% endif %}\nc\n"), "a\n\nb\n\nc");
    EXPECT_EQ(render("  {% for i in [1, 2] %}\n  <x>{{ i }}</x>\n  {% endfor %}\n"),
              "  \n  <x>1</x>\n  \n  <x>2</x>\n  ");
}

TEST(TemplateWhitespace, DropsExactlyOneTrailingNewline) {
    EXPECT_EQ(render("x\n"), "x");
    EXPECT_EQ(render("x\n\n"), "x\n");
    EXPECT_EQ(render("x\r\n"), "x");
    EXPECT_EQ(render("{{ 'a' }}\n"), "a");
}

TEST(TemplateWhitespace, NormalizesLineEndings) {
    EXPECT_EQ(render("a\r\nb\rc\n\n"), "a\nb\nc\n");
}

TEST(TemplateWhitespace, MinusTrimsOnTheSideItIsWritten) {
    EXPECT_EQ(render("a  \n  {%- if true %}  \nb{% endif %}"), "a  \nb");
    EXPECT_EQ(render("a  \n  {% if true -%}  \n b{% endif %}"), "a  \n  b");
    EXPECT_EQ(render("a  \n  {%- if true -%}  \n b \n {%- endif -%}\n c"), "abc");
    EXPECT_EQ(render("x \n {{- 1 }} \n y"), "x1 \n y");
    EXPECT_EQ(render("x \n {{ 1 -}} \n y"), "x \n 1y");
    EXPECT_EQ(render("x \n {{- 1 -}} \n y"), "x1y");
    EXPECT_EQ(render("x \n {#- c #} \n y"), "x \n y");
    EXPECT_EQ(render("x \n {# c -#} \n y"), "x \n y");
    EXPECT_EQ(render("x \n {#- c -#} \n y"), "xy");
}

TEST(TemplateWhitespace, MinusNextToAnExpressionIsTrimmingNotSubtraction) {
    EXPECT_EQ(render("{{ 5 -}}  x"), "5x");
    EXPECT_EQ(render("{{ 5 - 1 }}{{ 5 -1 }}{{-1}}"), "441");
}

TEST(TemplateWhitespace, PlusModifiersAreAccepted) {
    EXPECT_EQ(render("a {%+ if true %}b{% endif +%}  \nc"), "a b  \nc");
}

TEST(TemplateWhitespace, MacroDefinitionsCanBeMadeInvisible) {
    EXPECT_EQ(render("{%- macro m(a) -%}\n  [{{ a }}]\n{%- endmacro -%}\n{{ m(1) }}\n{{ m(2) }}\n"), "[1]\n[2]");
}

TEST(TemplateDescription, ComesFromACommentAtTheVeryStart) {
    auto t = Template::parse("domain", "{#- Default domain for x86_64 -#}\n<domain/>");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->description(), "Default domain for x86_64");
    EXPECT_EQ(t->name(), "domain");
    EXPECT_EQ(t->render(json::object()).value(), "<domain/>");

    t = Template::parse("x", "{#   spaced out \n #}rest");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->description(), "spaced out");
}

TEST(TemplateDescription, IsEmptyWithoutALeadingComment) {
    for (const char* src : {"<domain/>", " {# late #}", "x{# late #}", "{{ 1 }}{# late #}", ""}) {
        auto t = Template::parse("x", src);
        ASSERT_TRUE(t) << src;
        EXPECT_EQ(t->description(), "") << src;
    }
}

TEST(TemplateVariables, ListsUndeclaredReadsSortedAndUnique) {
    auto t = Template::parse("t",
                             "{{ vm_name }}{{ vm_desc|default('') }}{{ vm_name ~ vm_arch }}{% if vm_graph in "
                             "['vnc'] %}{{ vm_graph }}{% endif %}{{ range(3)|join }}");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->variables(), (std::vector<std::string>{"vm_arch", "vm_desc", "vm_graph", "vm_name"}));
}

TEST(TemplateVariables, LeavesOutNamesTheTemplateBinds) {
    auto t =
        Template::parse("t",
                        "{% set disk = 'vda' %}{{ disk }}"
                        "{% for d in vm_disks %}{{ d }}{{ loop.index }}{% endfor %}"
                        "{% macro dev(bus, kind='disk') %}{{ bus }}{{ kind }}{{ dev }}{% endmacro %}{{ dev('sata') }}");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->variables(), (std::vector<std::string>{"vm_disks"}));
}

TEST(TemplateVariables, IncludesReadsInsideMacroBodies) {
    auto t = Template::parse("t",
                             "{% macro getcpu() %}{{ vm_cpu }}{{ helper() }}{% endmacro %}"
                             "{% macro helper() %}{{ vm_machine }}{% endmacro %}"
                             "<cpu>{{ getcpu() }}</cpu>");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->variables(), (std::vector<std::string>{"vm_cpu", "vm_machine"}));
}

TEST(TemplateVariables, ListsAVariableThatIsReadBeforeItIsSet) {
    auto t = Template::parse("t",
                             "{% set vm_ram_mb = vm_ram_mb | default(1024) %}{{ vm_ram_mb }}{{ later }}"
                             "{% set later = 1 %}");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->variables(), (std::vector<std::string>{"later", "vm_ram_mb"}));
}

TEST(TemplateVariables, UserVariablesDropReservedNames) {
    auto t = Template::parse("t",
                             "{{ vm_uuid }}{{ vm_arch }}{{ vm_create }}{{ vm_creater }}{{ META_SRV }}"
                             "{{ vm_last_disk }}{{ vm_name }}{{ vm_ipaddr }}");
    ASSERT_TRUE(t);
    EXPECT_EQ(user_variables(*t), (std::vector<std::string>{"vm_ipaddr", "vm_name"}));
    EXPECT_EQ(t->variables().size(), 8u);
}

TEST(TemplateRendering, IsSafeFromManyThreadsAtOnce) {
    auto t = Template::parse("t",
                             "{% macro m(n) %}{{ n }}-{{ vm_name }}{% endmacro %}"
                             "{% for i in range(50) %}{{ m(i) }};{% endfor %}");
    ASSERT_TRUE(t);
    std::vector<std::string> results(4);
    std::vector<std::thread> threads;
    for (std::size_t k = 0; k < results.size(); ++k) {
        threads.emplace_back([&, k] {
            const Template copy = *t;  // copies share the parsed form
            for (int round = 0; round < 50; ++round) {
                results[k] = copy.render({{"vm_name", "vm" + std::to_string(k)}}).value_or("error");
            }
        });
    }
    for (auto& th : threads) th.join();
    for (std::size_t k = 0; k < results.size(); ++k) {
        std::string expected;
        for (int i = 0; i < 50; ++i) expected += std::to_string(i) + "-vm" + std::to_string(k) + ";";
        EXPECT_EQ(results[k], expected);
    }
}

TEST(TemplateRendering, AcceptsANullContextAndRefusesNonObjects) {
    auto t = Template::parse("t", "[{{ x }}]");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->render(json()).value(), "[]");
    auto bad = t->render(json::array({1}));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().desc, "t:1:1: the context must be a JSON object");
}

TEST(TemplateRendering, SimplekvmStyleDomainSnippet) {
    const std::string src = R"({#- Default domain (x86_64 and aarch64) -#}
{% macro getcpu() -%}
{% if vm_cpu is defined and vm_cpu != '' %}<cpu mode='custom'><model>{{ vm_cpu }}</model></cpu>{% else %}<cpu mode='host-model'/>{% endif %}
{%- endmacro %}
<domain type='kvm'>
  <name>{{ vm_name | default('vmsrv') }}-{{ vm_uuid }}</name>
  <description>{{ vm_desc }}</description>
  <memory unit='MiB'>{{ vm_ram_mb_max | default(vm_ram_mb, true) | default(8192, true) }}</memory>
  <currentMemory unit='MiB'>{{ vm_ram_mb | default(1024) }}</currentMemory>
  {{ getcpu() }}
  <os>
{% if vm_uefi is defined and vm_uefi != '' %}
    <loader readonly='yes' type='pflash'>{{ vm_uefi }}</loader>
{% endif %}
  </os>
{% if vm_graph in ['vnc','spice'] %}
  <graphics type='{{ vm_graph }}' autoport='yes'/>
{% endif %}
</domain>
)";
    auto t = Template::parse("domain", src);
    ASSERT_TRUE(t) << t.error().desc;
    EXPECT_EQ(t->description(), "Default domain (x86_64 and aarch64)");
    EXPECT_EQ(user_variables(*t), (std::vector<std::string>{"vm_cpu", "vm_desc", "vm_graph", "vm_name", "vm_ram_mb",
                                                            "vm_ram_mb_max", "vm_uefi"}));
    RenderOptions xml;
    xml.autoescape = true;
    // Expected outputs are what Jinja2 3.1 renders with autoescape=True.
    EXPECT_EQ(t->render({{"vm_name", "web1"},
                         {"vm_uuid", "u-1"},
                         {"vm_ram_mb", 2048},
                         {"vm_desc", "</description><devices><disk type='file'>"}},
                        xml)
                  .value(),
              "\n<domain type='kvm'>\n  <name>web1-u-1</name>\n"
              "  <description>&lt;/description&gt;&lt;devices&gt;&lt;disk type=&#39;file&#39;&gt;</description>\n"
              "  <memory unit='MiB'>2048</memory>\n  <currentMemory unit='MiB'>2048</currentMemory>\n"
              "  <cpu mode='host-model'/>\n  <os>\n\n  </os>\n\n</domain>");
    EXPECT_EQ(t->render({{"vm_uuid", "u-2"},
                         {"vm_ram_mb_max", ""},
                         {"vm_graph", "spice"},
                         {"vm_uefi", "/usr/share/OVMF/OVMF_CODE.fd"},
                         {"vm_cpu", "Skylake"}},
                        xml)
                  .value(),
              "\n<domain type='kvm'>\n  <name>vmsrv-u-2</name>\n  <description></description>\n"
              "  <memory unit='MiB'>8192</memory>\n  <currentMemory unit='MiB'>1024</currentMemory>\n"
              "  <cpu mode='custom'><model>Skylake</model></cpu>\n  <os>\n\n"
              "    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>\n\n  </os>\n\n"
              "  <graphics type='spice' autoport='yes'/>\n\n</domain>");
}

TEST(TemplateParse, ParsesEveryConstructTogether) {
    EXPECT_EQ(parse_error("{% macro m(a, b=[1, 'x'], c=none) %}{% for i in range(a) %}{% set t = i * 2 %}"
                          "{% if t is defined and not (t > 3 or b[0] in [2]) %}{{ t|string|trim ~ c|default('') }}"
                          "{% elif t %}{{ -t }}{% else %}{% endif %}{% endfor %}{% endmacro %}{{ m(3) }}"),
              "");
}

}  // namespace
}  // namespace kvmhub::tmpl
