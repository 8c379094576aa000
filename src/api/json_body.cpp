#include "api/json_body.hpp"

#include <fmt/format.h>

namespace kvmhub::api {

Result<nlohmann::json> parse_json_object(std::string_view body, int depth_limit) {
    if (body.empty()) return fail(Errc::BadInput, "body", "the request body is empty; send a JSON object");
    bool too_deep = false;
    // Returning false drops a value that is too deep, so no deep structure is ever built.
    auto depth_guard = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > depth_limit) too_deep = true;
        return depth <= depth_limit;
    };
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(body, depth_guard);
    } catch (const nlohmann::json::parse_error& e) {
        return fail(Errc::BadInput, "body",
                    fmt::format("malformed JSON at byte {}: {}", e.byte,
                                std::string_view(e.what()).substr(std::string_view(e.what()).find(' ') + 1)));
    }
    if (too_deep) return fail(Errc::BadInput, "body", fmt::format("JSON nested deeper than {} levels", depth_limit));
    if (!doc.is_object())
        return fail(Errc::BadInput, "body", fmt::format("expected a JSON object, got {}", doc.type_name()));
    return doc;
}

Result<std::string> required_string(const nlohmann::json& object, const std::string& field) {
    auto it = object.find(field);
    if (it == object.end() || it->is_null())
        return fail(Errc::BadInput, field, fmt::format("'{}' is required", field), 800);
    if (!it->is_string())
        return fail(Errc::BadInput, field, fmt::format("'{}' must be a string, got {}", field, it->type_name()));
    auto value = it->get<std::string>();
    if (value.empty()) return fail(Errc::BadInput, field, fmt::format("'{}' must not be empty", field), 800);
    return value;
}

std::string string_or_empty(const nlohmann::json& object, const std::string& field) {
    if (!object.is_object()) return {};
    auto it = object.find(field);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace kvmhub::api
