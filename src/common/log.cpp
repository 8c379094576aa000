#include "common/log.hpp"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace kvmhub::log {
namespace {

std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}

spdlog::level::level_enum& current_level() {
    static spdlog::level::level_enum level = spdlog::level::info;
    return level;
}

}  // namespace

bool set_level(std::string_view level) {
    auto parsed = spdlog::level::from_str(std::string(level));
    // from_str maps unknown names to "off"; only accept "off" when it was asked for.
    if (parsed == spdlog::level::off && level != "off") return false;
    std::lock_guard lock(registry_mutex());
    current_level() = parsed;
    spdlog::set_level(parsed);
    return true;
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
    std::lock_guard lock(registry_mutex());
    if (auto existing = spdlog::get(component)) return existing;
    auto logger = spdlog::stderr_color_mt(component);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
    logger->set_level(current_level());
    return logger;
}

}  // namespace kvmhub::log
