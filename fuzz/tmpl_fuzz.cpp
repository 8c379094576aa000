// libFuzzer target for the template engine: any input must parse or fail cleanly, and whatever parses must
// render (or fail) without crashing, hanging or leaking, with and without autoescape.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tmpl/template.hpp"

namespace {

const nlohmann::json& context() {
    static const nlohmann::json ctx = {
        {"vm_name", "web<1>"},
        {"vm_desc", "</description><devices><disk type='file'>"},
        {"vm_ram_mb", 1024},
        {"vm_vcpus", "2"},
        {"vm_graph", "vnc"},
        {"vm_empty", ""},
        {"vm_ratio", 2.5},
        {"vm_flag", true},
        {"vm_none", nullptr},
        {"vm_list", {1, "a", nullptr, true, 2.5, {"x", "y"}}},
        {"vm_dict", {{"a", {{"b", {1, 2}}}}, {"name", "n\xc3\xa9"}}},
    };
    return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using kvmhub::tmpl::RenderOptions;
    using kvmhub::tmpl::Template;
    const std::string_view source(reinterpret_cast<const char*>(data), size);
    auto parsed = Template::parse("fuzz", source);
    if (!parsed) return 0;
    const Template& t = *parsed;
    (void)t.variables();
    (void)kvmhub::tmpl::user_variables(t);
    (void)t.description();

    // Small limits keep each input fast; the limits themselves are part of what is being tested.
    std::uint64_t counter = 0;
    RenderOptions options;
    options.max_output_bytes = 1 << 16;
    options.max_items = 2000;
    options.max_steps = 100'000;
    options.random = [&counter] { return counter++; };
    for (bool autoescape : {false, true}) {
        options.autoescape = autoescape;
        counter = 0;
        auto first = t.render(context(), options);
        counter = 0;
        auto second = t.render(context(), options);
        // Rendering is a pure function of template, context and options.
        if (first.has_value() != second.has_value()) __builtin_trap();
        if (first && *first != *second) __builtin_trap();
        if (!first && first.error().desc != second.error().desc) __builtin_trap();
    }
    return 0;
}
