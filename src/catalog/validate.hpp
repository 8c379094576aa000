// Field checks shared by the catalog services. Each failure names the field and says what
// is expected, so an API client can fix its request from the message alone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/result.hpp"

namespace kvmhub::catalog {

// [A-Za-z0-9._-]{1,64}; also never "." or "..", so a name is always safe as a path segment.
Status check_name(std::string_view field, std::string_view value);
// x86_64 or aarch64.
Status check_arch(std::string_view field, std::string_view value);
// A libvirt connection URI kvmhub may connect to: qemu[+ssh|libssh2|tls|tcp|unix]://[user@]host[:port]
// /system|session with only harmless query parameters, or test:///default; file-backed test
// URIs (test:///<file>, test+unix:///<file>) only when `allow_test_files` (a setting for tests).
Status check_libvirt_uri(std::string_view field, std::string_view value, bool allow_test_files);
// An IP literal or a DNS host name.
Status check_host(std::string_view field, std::string_view value);

// A required JSON string field, non-empty (simplekvm's 800 when blank).
Result<std::string> string_field(const nlohmann::json& body, const std::string& field);
// Optional string field: "" when absent.
Result<std::string> optional_string_field(const nlohmann::json& body, const std::string& field);
// A TCP port given as a number or a numeric string.
Result<std::uint16_t> port_field(const nlohmann::json& body, const std::string& field);

}  // namespace kvmhub::catalog
