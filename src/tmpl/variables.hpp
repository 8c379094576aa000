// Which variables a template reads without setting them itself: the inputs the UI asks for.
#pragma once

#include <string>
#include <vector>

#include "tmpl/ast.hpp"

namespace kvmhub::tmpl {

// Sorted and unique. Reads are matched against bindings in source order (so `{% set x = x|default(1) %}`
// still reports x), except inside macro bodies, which see everything their enclosing scope binds: macros
// run when called, usually after the template has set everything up.
std::vector<std::string> find_variables(const Body& body);

}  // namespace kvmhub::tmpl
