// A Jinja2-compatible template engine for the subset that domain, device and cloud-init templates use.
//
// Language (Jinja2's syntax): `{{ expr }}`, `{# comment #}`, `{% if/elif/else/endif %}`,
// `{% for x in seq %}...{% else %}...{% endfor %}` with loop.index/index0/first/last/length/revindex/revindex0,
// `{% set x = expr %}`, `{% macro name(a, b='x') %}...{% endmacro %}` called as `name(...)` inside expressions,
// and expressions with literals (strings with \n \t \' \" \\ \xNN \uNNNN escapes, ints, floats, true/false/True/
// False, none/None, lists), variables, `.attr`, `[key]`, `== != < > <= >=` (chained like Python), and/or/not,
// in/not in, `~`, `+ - * / %`, unary -/+, `x if c else y`, `is [not] defined/undefined/none/string/number/...`,
// range(), and the filters default/d, e/escape, lower, upper, int, string, trim, replace, join, length/count,
// random, tojson, b64encode.
//
// Whitespace follows Jinja's defaults so simplekvm templates render byte for byte the same:
//   - trim_blocks=False: the newline after a `{% %}` tag is kept;
//   - lstrip_blocks=False: spaces before a tag are kept;
//   - keep_trailing_newline=False: one newline at the very end of the template is dropped;
//   - `{%-`, `{{-`, `{#-` strip all whitespace (newlines included) before the tag, `-%}`, `-}}`, `-#}` after it;
//   - `\r\n` and `\r` become `\n`.
// Values print like Python: none → "None", true → "True", 5/2 → "2.5", 4/2 → "2.0", lists as "['a', 1]".
//
// Undefined variables render as "" and are false, as with Jinja's default Undefined; unlike Jinja,
// `.attr` and `[key]` on an undefined value give undefined instead of an error (so `a.b.c is defined` works).
// Arithmetic, ordering, `|int` and `|tojson` on undefined are errors, as in Jinja.
//
// Deliberate differences from Jinja: integers are 64-bit (overflow is an error, not a bigint); lower/upper
// change ASCII letters only; `tojson` output is not "safe", so autoescape escapes it like any string; no
// dict literals, tuples, slices, method calls (`x.split()`), block set, includes or inheritance.
//
// Parsed templates are immutable and cheap to copy; render() is const and may run on many threads at once.
// Nothing here throws: errors come back as values carrying "<name>:<line>:<column>: <reason>".
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.hpp"

namespace kvmhub::tmpl {

// Where and why parsing or rendering failed. Lines and columns count from 1; columns count UTF-8 characters.
struct TemplateError {
    std::string name;
    int line = 0;
    int column = 0;
    std::string reason;

    std::string message() const;  // "domain:12:5: unknown filter 'upperr'"
};

struct RenderOptions {
    // XML-escape (& < > " ') every {{ }} output unless it is already safe (macro results, |e).
    bool autoescape = false;
    // Seed of |random; 0 seeds from std::random_device on first use.
    std::uint64_t random_seed = 0;
    // When set, |random draws from this instead of a seeded generator (tests and fuzzing inject it).
    std::function<std::uint64_t()> random;
    // Caps the output and every string built on the way (a macro's text, a concatenation).
    std::size_t max_output_bytes = std::size_t{16} << 20;
    // Caps range() lengths and list sizes.
    std::size_t max_items = 100'000;
    // Caps the work of one render: every expression, statement, loop iteration and list element handled.
    std::uint64_t max_steps = 10'000'000;
    // Caps nested macro calls (recursion).
    int max_call_depth = 64;
};

class Template {
public:
    using RenderOptions = tmpl::RenderOptions;

    // Fails with Error{Errc::BadInput, "template", "<name>:<line>:<col>: <reason>"}; `detail`, when given,
    // receives the same error in parts (for editors that point at the line).
    static Result<Template> parse(std::string name, std::string_view source, TemplateError* detail = nullptr);

    // `context` must be a JSON object (or null for none); its members are the template's variables.
    Result<std::string> render(const nlohmann::json& context, const RenderOptions& options = {},
                               TemplateError* detail = nullptr) const;

    // Undeclared variables the template reads anywhere (macro bodies included), minus names bound by
    // set/for/macro arguments and loop; sorted, unique.
    const std::vector<std::string>& variables() const;
    // The text of a comment that opens the template (`{#- text -#}`), trimmed; empty if there is none.
    const std::string& description() const;
    const std::string& name() const;

    struct Impl;

private:
    explicit Template(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const Impl> impl_;
};

// Names of variables the server sets itself; user_variables() leaves them out.
const std::vector<std::string>& reserved_variables();

// variables() minus reserved_variables(): what a user may supply when creating a VM.
std::vector<std::string> user_variables(const Template& tmpl);

}  // namespace kvmhub::tmpl
