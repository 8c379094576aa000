#include "console/graphics_route.hpp"

#include <fmt/format.h>

#include "console/ssh_login.hpp"

namespace kvmhub::console {
namespace {

bool is_loopback(std::string_view address) {
    return address.starts_with("127.") || address == "::1" || address == "localhost";
}

bool is_wildcard(std::string_view address) {
    return address == "0.0.0.0" || address == "::";
}

}  // namespace

bool uri_is_local(std::string_view uri) {
    const std::string host = uri_authority(uri).host;
    return host.empty() || is_loopback(host);
}

Result<GraphicsRoute> graphics_route(const std::string& host, const nlohmann::json& record,
                                     const virt::GraphicsInfo& graphics, const std::string& uuid) {
    const std::string ipaddr = record.value("ipaddr", "");
    const std::string mode = record.value("console_tunnel", "auto");
    const std::string& listen = graphics.listen;
    // libvirt's default listen address for VNC and SPICE is the host's loopback.
    const bool on_loopback = listen.empty() || is_loopback(listen);
    const bool local_host = is_loopback(ipaddr) || uri_is_local(record.value("url", ""));
    GraphicsRoute route;
    route.port = graphics.port;
    if (mode == "ssh" || (mode == "auto" && on_loopback && !local_host)) {
        // Through the host's sshd: the graphics as the host itself sees them.
        route.tunnel = true;
        route.address = listen.empty() || listen == "localhost" || is_wildcard(listen) ? "127.0.0.1" : listen;
    } else if (is_wildcard(listen)) {
        route.address = ipaddr;
    } else if (on_loopback) {
        if (!local_host)
            return fail(Errc::Conflict, "disp",
                        fmt::format("the graphics of VM {} listen on host {}'s loopback and its console_tunnel is "
                                    "off; set it to auto or ssh for kvmhub to reach them through ssh, or make them "
                                    "listen on 0.0.0.0 or the host's address",
                                    uuid, host));
        route.address = listen.empty() || listen == "localhost" ? "127.0.0.1" : listen;
    } else {
        route.address = listen;
    }
    if (route.address.empty())
        return fail(Errc::Conflict, "ipaddr", "host " + host + " has no ipaddr to reach its consoles on");
    return route;
}

}  // namespace kvmhub::console
