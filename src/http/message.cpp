#include "http/message.hpp"

#include "http/websocket.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace kvmhub::http {
namespace {

const std::string* find_field(const Fields& fields, std::string_view name) {
    for (const auto& [key, value] : fields)
        if (key == name) return &value;
    return nullptr;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

const char* method_name(Method m) {
    switch (m) {
        case Method::Get:
            return "GET";
        case Method::Head:
            return "HEAD";
        case Method::Post:
            return "POST";
        case Method::Put:
            return "PUT";
        case Method::Delete:
            return "DELETE";
        case Method::Patch:
            return "PATCH";
        case Method::Options:
            return "OPTIONS";
        case Method::Other:
            return "OTHER";
    }
    return "OTHER";
}

Method parse_method(std::string_view name) {
    static constexpr std::pair<std::string_view, Method> kMethods[] = {
        {"GET", Method::Get},       {"HEAD", Method::Head},   {"POST", Method::Post},       {"PUT", Method::Put},
        {"DELETE", Method::Delete}, {"PATCH", Method::Patch}, {"OPTIONS", Method::Options},
    };
    for (const auto& [text, method] : kMethods)
        if (text == name) return method;
    return Method::Other;
}

bool is_websocket_request(const Request& request) {
    const std::string* upgrade = request.header("upgrade");
    if (request.method != Method::Get || upgrade == nullptr) return false;
    std::string lower(trim(*upgrade));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower == "websocket";
}

Reply refuse_websocket(const Error& error) {
    Reply refused = Reply::error(error);
    auto up = std::make_shared<WebsocketUpgrade>();
    up->refuse_code = 4000 + refused.status;
    up->refuse_reason = error.desc;
    refused.upgrade = std::move(up);
    return refused;
}

const std::string* Request::header(std::string_view lower_name) const {
    return find_field(headers, lower_name);
}
const std::string* Request::query_param(std::string_view name) const {
    return find_field(query, name);
}
const std::string* Request::param(std::string_view name) const {
    return find_field(params, name);
}

std::string Request::cookie(std::string_view name) const {
    const std::string* header_value = header("cookie");
    if (header_value == nullptr) return {};
    std::string_view rest = *header_value;
    while (!rest.empty()) {
        auto semi = rest.find(';');
        std::string_view pair = trim(rest.substr(0, semi));
        rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
        auto eq = pair.find('=');
        if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name) {
            std::string_view value = trim(pair.substr(eq + 1));
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
                value = value.substr(1, value.size() - 2);
            return std::string(value);
        }
    }
    return {};
}

Reply Reply::ok(const nlohmann::json& object) {
    nlohmann::json body = nlohmann::json::object();
    body["result"] = "OK";
    if (object.is_object())
        for (const auto& [key, value] : object.items()) body[key] = value;
    Reply reply;
    reply.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return reply;
}

Reply Reply::ok() {
    return ok(nlohmann::json());
}

Reply Reply::ok_serialized(std::string_view object) {
    Reply reply;
    std::string_view rest = object.substr(1);  // after the '{'
    reply.body.reserve(object.size() + 16);
    reply.body = R"({"result":"OK")";
    if (rest != "}") reply.body += ',';
    reply.body += rest;
    return reply;
}

Reply Reply::text(std::string body, std::string content_type) {
    Reply reply;
    reply.content_type = std::move(content_type);
    reply.body = std::move(body);
    return reply;
}

Reply Reply::streamed(std::function<void(const StreamWrite& write)> produce, std::string content_type) {
    Reply r;
    r.content_type = std::move(content_type);
    r.stream = std::move(produce);
    // Proxies (nginx) must pass every line on at once instead of buffering the stream.
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("X-Accel-Buffering", "no");
    return r;
}

Reply Reply::error(const Error& error) {
    nlohmann::json body = {
        {"result", "ERR"}, {"code", legacy_code(error)}, {"name", error.where}, {"desc", error.desc}};
    Reply reply;
    reply.status = http_status(error.code);
    reply.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return reply;
}

int http_status(Errc code) {
    switch (code) {
        case Errc::BadInput:
            return 400;
        case Errc::Unauthorized:
            return 401;
        case Errc::Forbidden:
            return 403;
        case Errc::NotFound:
            return 404;
        case Errc::Conflict:
            return 409;
        case Errc::Gone:
            return 410;
        case Errc::TooLarge:
            return 413;
        case Errc::Throttled:
            return 429;
        case Errc::HostError:
            return 502;
        case Errc::HostUnavailable:
            return 503;
        case Errc::HostTimeout:
            return 504;
        case Errc::Internal:
            return 500;
    }
    return 500;
}

int legacy_code(const Error& error) {
    if (error.legacy != 0) return error.legacy;
    switch (error.code) {
        case Errc::BadInput:
            return 998;
        case Errc::NotFound:
            return 404;
        case Errc::HostError:
        case Errc::HostUnavailable:
        case Errc::HostTimeout:
            return 996;
        case Errc::Internal:
            return 997;
        default:
            return http_status(error.code);
    }
}

}  // namespace kvmhub::http
