// Logging: one spdlog logger per folder ("http", "store", ...), all writing to stderr.
// Lines are a fixed sentence followed by key=value fields; secrets are never logged.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace kvmhub::log {

// Sets the level of every logger, present and future. Returns false for an unknown level name.
bool set_level(std::string_view level);

// The logger for `component`, created on first use.
std::shared_ptr<spdlog::logger> get(const std::string& component);

}  // namespace kvmhub::log
