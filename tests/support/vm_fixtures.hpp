// Bodies and lookups the VM tests share.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace kvmhub::test {

// A POST /conf/host/ body for a host on `url` with domain template `tpl`.
inline nlohmann::json host_body(const std::string& name, const std::string& url, const std::string& tpl = "domain") {
    return {{"name", name},          {"tpl", tpl},       {"url", url},        {"arch", "x86_64"},
            {"ipaddr", "127.0.0.1"}, {"sshport", "22"}, {"sshuser", "root"}};
}

// The guest `uuid` in a GET /vm/list/ reply ({} when it is not there).
inline nlohmann::json find_cached(const nlohmann::json& all, const std::string& uuid) {
    for (const auto& host : all["guest"])
        for (const auto& g : host["guests"])
            if (g["uuid"] == uuid) return g;
    return nlohmann::json::object();
}

}  // namespace kvmhub::test
