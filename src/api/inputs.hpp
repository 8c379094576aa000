// The inputs the route tables share (http/schema.hpp): path parameters, the vm_* template
// variables with their static lists (machine types, buses, models), and the check of those
// lists against the host's architecture.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.hpp"
#include "http/schema.hpp"

namespace kvmhub::api {

// {host} (a catalog name) and {uuid}.
http::Input host_path();
http::Input vm_path();
// VM routes: vm_path() where the tenant link parts k, e and l may come along (the tenant
// guard checks them; admin routes ignore them, as simplekvm did).
http::Input vm_command();

// The vm_* variables a create, a metadata change or an attach may carry; other variables are
// passed to the templates as they are (http::Extras::TemplateVars).
std::vector<http::Field> vm_variables();
// The variables of an attach: vm_variables() plus size, gold and clone.
std::vector<http::Field> attach_variables();

// The machine types, disk buses, NIC, video and sound models kvmhub's templates know.
const std::vector<std::string>& vm_machines();
const std::vector<std::string>& vm_disk_buses();
const std::vector<std::string>& vm_net_models();
const std::vector<std::string>& vm_videos();
const std::vector<std::string>& vm_sounds();

// The variables of `body` that depend on the host's architecture (the host-capabilities
// cache holds only arch and domain type): vm_machine must be a machine of that architecture.
Status check_for_arch(const nlohmann::json& body, const std::string& arch);

}  // namespace kvmhub::api
