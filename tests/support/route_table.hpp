// The daemon's own route table (`kvmhubd routes`), for tests that must cover every route.
#pragma once

#include <string>
#include <vector>

namespace kvmhub::test {

struct RouteInfo {
    std::string method, pattern, access, effect, surface;
};

std::vector<RouteInfo> route_table();

// A concrete path for a pattern: {host} and {uuid} get the given values, any other {param}
// "x1", and a {rest*} segment "a/b".
std::string concrete(const std::string& pattern, const std::string& host = "x1", const std::string& uuid = "x1");

}  // namespace kvmhub::test
