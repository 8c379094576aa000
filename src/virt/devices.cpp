// Devices of a domain: what targets and MACs its definitions use, attaching, detaching and
// replacing devices in the persistent definition and, while it runs, the live one.
#include <algorithm>
#include <cctype>
#include <sstream>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "virt/domain_xml.hpp"
#include "virt/error.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt::ops {
namespace {

struct Definitions {
    DomainPtr dom;
    bool running = false;
    std::string persistent;
    std::string live;  // "" when not running
};

Result<Definitions> definitions(virConnectPtr conn, const HostRef& host, const std::string& uuid,
                                const std::string& op) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    Definitions out;
    auto active = is_active(dom->get(), op);
    if (!active) return tl::unexpected(active.error());
    out.running = *active;
    auto persistent = domain_xml(dom->get(), true, op);
    if (!persistent) return tl::unexpected(persistent.error());
    out.persistent = std::move(*persistent);
    if (out.running) {
        auto live = domain_xml(dom->get(), false, op);
        if (!live) return tl::unexpected(live.error());
        out.live = std::move(*live);
    }
    out.dom = std::move(*dom);
    return out;
}

unsigned affect(bool config, bool live) {
    unsigned flags = 0;
    if (config) flags |= VIR_DOMAIN_AFFECT_CONFIG;
    if (live) flags |= VIR_DOMAIN_AFFECT_LIVE;
    return flags;
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// The first device element `kind` (disk, interface) of a definition for which `match` holds,
// serialized; "" when there is none.
template <typename Match>
std::string device_element(const std::string& xml, const char* kind, Match match) {
    if (xml.empty()) return {};
    pugi::xml_document doc;
    if (!doc.load_string(xml.c_str())) return {};
    for (auto dev : doc.child("domain").child("devices").children(kind)) {
        if (!match(dev)) continue;
        std::ostringstream out;
        dev.print(out, "", pugi::format_raw);
        return out.str();
    }
    return {};
}

std::vector<std::string> macs_of(const std::string& xml) {
    std::vector<std::string> out;
    pugi::xml_document doc;
    if (xml.empty() || !doc.load_string(xml.c_str())) return out;
    for (auto nic : doc.child("domain").child("devices").children("interface"))
        out.push_back(lower(nic.child("mac").attribute("address").value()));
    return out;
}

Status detach(const Definitions& defs, const std::string& in_config, const std::string& in_live,
              const std::string& op) {
    const std::string& xml = in_config.empty() ? in_live : in_config;
    if (virDomainDetachDeviceFlags(defs.dom.get(), xml.c_str(), affect(!in_config.empty(), !in_live.empty())) < 0)
        return tl::unexpected(last_error(op));
    return {};
}

}  // namespace

Result<DeviceUse> device_use(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    auto defs = definitions(conn, host, uuid, "device_use");
    if (!defs) return tl::unexpected(defs.error());
    DeviceUse out;
    out.running = defs->running;
    for (const std::string* xml : {&defs->persistent, &defs->live}) {
        if (xml->empty()) continue;
        auto parsed = parse_domain_xml(*xml, Errc::HostError);
        if (!parsed) return tl::unexpected(parsed.error());
        for (const auto& disk : parsed->disks)
            if (!disk.dev.empty() && std::find(out.targets.begin(), out.targets.end(), disk.dev) == out.targets.end())
                out.targets.push_back(disk.dev);
        for (const auto& mac : macs_of(*xml))
            if (std::find(out.macs.begin(), out.macs.end(), mac) == out.macs.end()) out.macs.push_back(mac);
    }
    return out;
}

Result<std::string> attach_device(virConnectPtr conn, const HostRef& host, const std::string& uuid,
                                  const std::string& xml) {
    auto defs = definitions(conn, host, uuid, "attach_device");
    if (!defs) return tl::unexpected(defs.error());
    const auto before = macs_of(defs->persistent);
    // libvirt applies the change to a copy of the definition, then to the guest, and keeps
    // the copy only when both worked.
    if (virDomainAttachDeviceFlags(defs->dom.get(), xml.c_str(), affect(true, defs->running)) < 0)
        return tl::unexpected(last_error("attach_device"));
    auto after = domain_xml(defs->dom.get(), true, "attach_device");
    if (!after) return tl::unexpected(after.error());
    for (const auto& mac : macs_of(*after))
        if (std::find(before.begin(), before.end(), mac) == before.end()) return mac;
    return std::string();
}

Result<DiskInfo> detach_disk(virConnectPtr conn, const HostRef& host, const std::string& uuid,
                             const std::string& target) {
    auto defs = definitions(conn, host, uuid, "detach_device");
    if (!defs) return tl::unexpected(defs.error());
    auto is_target = [&](const pugi::xml_node& disk) {
        return target == disk.child("target").attribute("dev").value();
    };
    const std::string in_config = device_element(defs->persistent, "disk", is_target);
    const std::string in_live = device_element(defs->live, "disk", is_target);
    if (in_config.empty() && in_live.empty())
        return fail(Errc::NotFound, "dev", fmt::format("VM {} has no disk or CD-ROM {}", uuid, target));
    auto parsed = parse_domain_xml(in_config.empty() ? defs->live : defs->persistent, Errc::HostError);
    if (!parsed) return tl::unexpected(parsed.error());
    DiskInfo out;
    for (const auto& disk : parsed->disks)
        if (disk.dev == target) out = disk;
    if (auto done = detach(*defs, in_config, in_live, "detach_device"); !done) return tl::unexpected(done.error());
    return out;
}

Status detach_nic(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& mac) {
    auto defs = definitions(conn, host, uuid, "detach_device");
    if (!defs) return tl::unexpected(defs.error());
    const std::string wanted = lower(mac);
    auto is_nic = [&](const pugi::xml_node& nic) {
        return wanted == lower(nic.child("mac").attribute("address").value());
    };
    const std::string in_config = device_element(defs->persistent, "interface", is_nic);
    const std::string in_live = device_element(defs->live, "interface", is_nic);
    if (in_config.empty() && in_live.empty())
        return fail(Errc::NotFound, "dev", fmt::format("VM {} has no NIC with MAC {}", uuid, mac));
    return detach(*defs, in_config, in_live, "detach_device");
}

Status update_device(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& xml) {
    auto defs = definitions(conn, host, uuid, "update_device");
    if (!defs) return tl::unexpected(defs.error());
    if (virDomainUpdateDeviceFlags(defs->dom.get(), xml.c_str(), affect(true, defs->running)) < 0)
        return tl::unexpected(last_error("update_device"));
    return {};
}

}  // namespace kvmhub::virt::ops
