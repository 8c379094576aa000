// The filters (`x|name(args)`) and tests (`x is name`) the language offers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "tmpl/ast.hpp"
#include "tmpl/value.hpp"

namespace kvmhub::tmpl {

// What a filter may need from the render in progress.
struct FilterEnv {
    bool autoescape = false;
    std::size_t max_bytes = 0;  // no string may grow past this
    Budget* budget = nullptr;   // work charged for long inputs; a filter may give up once it is exhausted
    std::uint64_t (*random)(void* state) = nullptr;
    void* random_state = nullptr;
};

using FilterResult = tl::expected<Value, std::string>;  // the error is a reason; the caller adds the position
using FilterFn = FilterResult (*)(FilterEnv& env, const Value& input, const std::vector<Value>& args);

struct FilterDef {
    std::string_view name;
    int min_args;
    int max_args;
    FilterFn fn;
};

const FilterDef* find_filter(std::string_view name);
std::optional<TestKind> find_test(std::string_view name);
// False for an odd/even test on a non-number, which is an error for the caller to report.
std::optional<bool> run_test(TestKind test, const Value& v);

// Python's json.dumps(v, sort_keys=True) made HTML-safe the way Jinja's tojson does (<, >, &, ' as \uXXXX).
tl::expected<std::string, std::string> to_json(const Value& v, std::size_t limit);

// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);

}  // namespace kvmhub::tmpl
