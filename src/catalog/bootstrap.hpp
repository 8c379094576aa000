// First start: installs the shipped templates and variable descriptions, and registers the
// demo hosts, each exactly once. A shipped template the admin edited or deleted stays as the
// admin left it; a demo host deleted once is never added back.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"

namespace kvmhub::catalog {

struct BootstrapReport {
    std::vector<std::string> templates_installed;  // "<kind>/<name>"
    std::vector<std::string> hosts_added;
};

// `libvirt_answers(uri)` says whether a libvirt daemon answers at uri (decides the `local` host).
Result<BootstrapReport> bootstrap_catalog(store::Store& store, Catalog& catalog, bool demo,
                                          const std::function<bool(const std::string&)>& libvirt_answers);

}  // namespace kvmhub::catalog
