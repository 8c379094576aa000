// Internals shared by config.cpp (TOML file), config_env.cpp (environment) and
// config_fields.cpp (the schema of scalar settings). Not for use outside common/config*.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "common/config.hpp"

namespace kvmhub::config_detail {

// A scalar setting as read from the file or the environment, before it is range-checked and stored.
using Scalar = std::variant<std::string, std::int64_t, bool>;

enum class Kind { String, Int, Bool };

// One scalar setting. The same entry serves the TOML key, its KVMHUB_ variable and its
// simplekvm alias, so every layer gets the same checks and the same messages.
struct Field {
    std::string_view key{};    // dotted TOML key, e.g. "http.body_limit"
    std::string_view env{};    // KVMHUB_* variable, empty if the setting is file-only
    std::string_view alias{};  // simplekvm variable, empty if none
    Kind kind = Kind::String;
    std::int64_t min = 0;  // Int: inclusive range
    std::int64_t max = 0;
    std::string_view unit{};                           // Int: appended to range messages ("bytes", "seconds")
    std::span<const std::string_view> choices{};       // String: allowed values; empty = any
    const char* (*check)(std::string_view) = nullptr;  // String: returns what is wrong, or nullptr
    void (*set)(Config&, const Scalar&) = nullptr;
};

std::span<const Field> fields();
const Field* find_field(std::string_view key);

// Range/choice/format checks for `value`, then stores it. `where` names the source (key or variable).
Status store_field(Config& config, const Field& field, const Scalar& value, const std::string& where);

// What a TOML/env layer learned that the Config itself does not record.
struct LoadState {
    bool backend_explicit = false;  // store.backend or KVMHUB_STORE_BACKEND was given
};

Status apply_environment(Config& config, const Environment& env, LoadState& state);

Status check_etcd_endpoint(const std::string& endpoint, const std::string& where);

// " (did you mean X?)" for the candidate nearest to `name` when it is a plausible typo, else "".
std::string suggestion(std::string_view name, std::span<const std::string_view> candidates);

}  // namespace kvmhub::config_detail
