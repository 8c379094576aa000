// Request bodies: one parser with a depth cap and errors that say where the JSON broke,
// and field readers that name the field at fault. (The size cap is applied by the server
// before the body is read.)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace kvmhub::api {

// Parses `body` as a JSON object no deeper than `depth_limit`.
Result<nlohmann::json> parse_json_object(std::string_view body, int depth_limit);

// A required, non-empty string field (simplekvm's code 800 for a blank field).
Result<std::string> required_string(const nlohmann::json& object, const std::string& field);

// The field when it is a string, else "" (never throws): for audit targets and messages, read
// before the service has checked the body.
std::string string_or_empty(const nlohmann::json& object, const std::string& field);

}  // namespace kvmhub::api
