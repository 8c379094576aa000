#include "api/tenant_guard.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "auth/links.hpp"

namespace kvmhub::api {

std::string_view tenant_right(std::string_view pattern) {
    constexpr std::string_view kPrefix = "/user/vm/";
    if (!pattern.starts_with(kPrefix)) return {};
    pattern.remove_prefix(kPrefix.size());
    const std::string_view cmd = pattern.substr(0, pattern.find('/'));
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> kRights{{
        {"list", "view"},
        {"start", "start"},
        {"reset", "reset"},
        {"stop", "stop"},
        {"snapshot", "snapshot"},
        {"revert_snapshot", "snapshot"},
        {"delete_snapshot", "snapshot"},
        {"cdrom", "cdrom"},
        {"getiso", "cdrom"},
        {"display", "console"},
        {"websockify", "console"},
    }};
    for (const auto& [name, right] : kRights)
        if (name == cmd) return right;
    return {};
}

Result<std::string> TenantGuard::check(const http::Route&, const http::Request& request) const {
    const std::string* host = request.param("host");
    const std::string* uuid = request.param("uuid");
    const std::string_view right = tenant_right(request.route);
    if (host == nullptr || uuid == nullptr || right.empty())
        return fail(Errc::Forbidden, "link", fmt::format("route {} is not open to tenant links", request.route));
    auto query = [&](std::string_view name) {
        const std::string* value = request.query_param(name);
        return value ? std::string_view(*value) : std::string_view();
    };
    auto link = links_.verify(*host, *uuid, query("k"), query("e"), query("l"));
    if (!link) return tl::unexpected(link.error());
    if (!link->allows(right))
        return fail(Errc::Forbidden, "link", fmt::format("this tenant link does not allow '{}'", right));
    return "link:" + link->id;
}

}  // namespace kvmhub::api
