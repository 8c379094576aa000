// What an action script is given: its environment and its stdin (simplekvm's attach flow).
#include <nlohmann/json.hpp>

#include "vm/action_runner.hpp"

namespace kvmhub::vm {
namespace {

// Host records keep sshport as a number; older ones (and simplekvm's) may hold a string.
std::string text_of(const nlohmann::json& host, const char* field) {
    auto it = host.find(field);
    if (it == host.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    return it->dump();
}

}  // namespace

std::map<std::string, std::string> action_environment(const nlohmann::json& host, std::string_view device_template,
                                                      const std::map<std::string, std::string>& act_settings) {
    std::map<std::string, std::string> env;
    for (const auto& [name, value] : act_settings)
        if (name.starts_with("ACT_")) env[name] = value;
    env["URL"] = text_of(host, "url");
    env["TYPE"] = std::string(device_template.substr(0, device_template.find('.')));
    env["HOSTIP"] = text_of(host, "ipaddr");
    env["SSHPORT"] = text_of(host, "sshport");
    env["SSHUSER"] = text_of(host, "sshuser");
    return env;
}

std::string action_input(const nlohmann::json& request, std::string_view vm_uuid, std::string_view vm_last_disk,
                         std::string_view gold_url) {
    nlohmann::json input = request.is_object() ? request : nlohmann::json::object();
    input["vm_uuid"] = vm_uuid;
    input["vm_last_disk"] = vm_last_disk;
    if (input.contains("gold") || !gold_url.empty()) input["gold"] = gold_url;
    // Scripts read this with jq; bytes that are not UTF-8 must not make the whole request fail.
    return input.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kvmhub::vm
