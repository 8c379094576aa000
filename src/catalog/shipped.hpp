// The templates and the variables table that ship with kvmhub (templates/ in the source
// tree, embedded at build time by cmake/embed_templates.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace kvmhub::catalog {

struct ShippedTemplate {
    std::string_view kind;  // domain, device, meta
    std::string_view name;
    std::string_view source;
};

const std::vector<ShippedTemplate>& shipped_templates();
// JSON object {"variable":"description"}.
std::string_view shipped_variables();

}  // namespace kvmhub::catalog
