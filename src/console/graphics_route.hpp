// How kvmhub reaches a VM's VNC/SPICE graphics: straight over TCP, or through an ssh channel
// to the host (the host's `console_tunnel`: auto, the default, tunnels when the graphics
// listen on a remote host's loopback; ssh always tunnels; off never does).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "virt/hypervisor.hpp"

namespace kvmhub::console {

struct GraphicsRoute {
    std::string address;  // as seen from kvmhub, or from the host when `tunnel`
    int port = 0;
    bool tunnel = false;
};

// True when the libvirt URI reaches a daemon on this machine (no host part, or a loopback one).
bool uri_is_local(std::string_view uri);

// `record` is the host's catalog record. Conflict when the graphics cannot be reached (on a
// remote host's loopback with console_tunnel off; no ipaddr to reach them on).
Result<GraphicsRoute> graphics_route(const std::string& host, const nlohmann::json& record,
                                     const virt::GraphicsInfo& graphics, const std::string& uuid);

}  // namespace kvmhub::console
