// The consoles of a domain, read from its live definition.
#include "virt/console_xml.hpp"
#include "virt/error.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt::ops {

Result<ConsoleInfo> console_info(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    auto active = is_active(dom->get(), "console");
    if (!active) return tl::unexpected(active.error());
    // SECURE: the graphics password is part of what the browser needs.
    unsigned flags = VIR_DOMAIN_XML_SECURE | (*active ? 0u : static_cast<unsigned>(VIR_DOMAIN_XML_INACTIVE));
    auto xml = take_string(virDomainGetXMLDesc(dom->get(), flags));
    if (!xml) return tl::unexpected(last_error("console"));
    auto info = parse_console_xml(*xml);
    if (!info) return info;
    info->running = *active;
    return info;
}

}  // namespace kvmhub::virt::ops
