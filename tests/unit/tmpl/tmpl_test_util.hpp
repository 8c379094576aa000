// Shorthands for template tests: render a source string and get the text or the error as a string.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tmpl/template.hpp"

namespace kvmhub::tmpl::testing {

inline std::string render(std::string_view source, const nlohmann::json& context = nlohmann::json::object(),
                          const RenderOptions& options = {}) {
    auto t = Template::parse("t", source);
    if (!t) return "PARSE ERROR: " + t.error().desc;
    auto out = t->render(context, options);
    if (!out) return "RENDER ERROR: " + out.error().desc;
    return *out;
}

inline std::string render_escaped(std::string_view source, const nlohmann::json& context = nlohmann::json::object()) {
    RenderOptions options;
    options.autoescape = true;
    return render(source, context, options);
}

// The parse error of `source` ("" if it parses).
inline std::string parse_error(std::string_view source) {
    auto t = Template::parse("t", source);
    return t ? std::string() : t.error().desc;
}

}  // namespace kvmhub::tmpl::testing
