#include "support/route_table.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/daemon.hpp"

namespace kvmhub::test {

std::vector<RouteInfo> route_table() {
    auto result = run_kvmhubd({"routes"}, {}, {{"KVMHUB_DEMO", "false"}});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    auto j = nlohmann::json::parse(result.output);
    std::vector<RouteInfo> out;
    for (const auto& r : j) out.push_back({r["method"], r["pattern"], r["access"], r["effect"], r["surface"]});
    return out;
}

std::string concrete(const std::string& pattern, const std::string& host, const std::string& uuid) {
    std::string out;
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] != '{') {
            out += pattern[i];
            continue;
        }
        size_t end = pattern.find('}', i);
        const std::string name = pattern.substr(i + 1, end - i - 1);
        if (name.ends_with("*"))
            out += "a/b";
        else if (name == "host")
            out += host;
        else if (name == "uuid")
            out += uuid;
        else
            out += "x1";
        i = end;
    }
    return out;
}

}  // namespace kvmhub::test
