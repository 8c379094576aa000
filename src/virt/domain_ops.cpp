#include <array>

#include "common/log.hpp"
#include "virt/domain_xml.hpp"
#include "virt/error.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt::ops {
namespace {

// Runs `action` on a running domain; Conflict when it is not running.
template <typename Action>
Status on_running(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& op,
                  Action action) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    if (auto running = require_running(dom->get(), uuid, op); !running) return running;
    if (action(dom->get()) < 0) return tl::unexpected(last_error(op));
    return {};
}

}  // namespace

Result<std::string> define(virConnectPtr conn, const HostRef& host, const std::string& xml) {
    auto parsed = parse_domain_xml(xml, Errc::BadInput);
    if (!parsed) return tl::unexpected(parsed.error());
    // virDomainDefineXML silently replaces a definition with the same uuid: check first.
    if (!parsed->uuid.empty()) {
        DomainPtr existing(virDomainLookupByUUIDString(conn, parsed->uuid.c_str()));
        if (existing != nullptr) {
            return fail(Errc::Conflict, "uuid", "a VM with uuid " + parsed->uuid + " exists on host " + host.name);
        }
        if (Error err = last_error("uuid"); err.code != Errc::NotFound) return tl::unexpected(std::move(err));
    }
    if (!parsed->name.empty()) {
        DomainPtr existing(virDomainLookupByName(conn, parsed->name.c_str()));
        if (existing != nullptr) {
            return fail(Errc::Conflict, "name", "a VM named " + parsed->name + " exists on host " + host.name);
        }
        if (Error err = last_error("name"); err.code != Errc::NotFound) return tl::unexpected(std::move(err));
    }
    DomainPtr dom(virDomainDefineXML(conn, xml.c_str()));
    if (dom == nullptr) return tl::unexpected(last_error("xml"));
    std::array<char, VIR_UUID_STRING_BUFLEN> uuid{};
    if (virDomainGetUUIDString(dom.get(), uuid.data()) < 0) return tl::unexpected(last_error("define"));
    return std::string(uuid.data());
}

Result<std::string> persistent_xml(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    return domain_xml(dom->get(), true, "xml");
}

Status start(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    auto active = is_active(dom->get(), "start");
    if (!active) return tl::unexpected(active.error());
    if (*active) return fail(Errc::Conflict, "state", "VM " + uuid + " is already running");
    if (virDomainCreate(dom->get()) < 0) return tl::unexpected(last_error("start"));
    return {};
}

Status shutdown(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    return on_running(conn, host, uuid, "shutdown", virDomainShutdown);
}

Status destroy(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    return on_running(conn, host, uuid, "destroy", virDomainDestroy);
}

Status reset(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    return on_running(conn, host, uuid, "reset", [](virDomainPtr dom) { return virDomainReset(dom, 0); });
}

Status undefine(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    auto active = is_active(dom->get(), "undefine");
    if (!active) return tl::unexpected(active.error());
    if (*active && virDomainDestroy(dom->get()) < 0) return tl::unexpected(last_error("undefine"));

    // Everything the domain leaves behind goes with it; drivers that reject a flag (the
    // test driver, older daemons) get asked again with fewer.
    constexpr unsigned kMetadata = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
    constexpr std::array<unsigned, 4> attempts{
        kMetadata | VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
        kMetadata | VIR_DOMAIN_UNDEFINE_NVRAM, kMetadata, 0};
    for (unsigned flags : attempts) {
        if (virDomainUndefineFlags(dom->get(), flags) == 0) return {};
        if (flags == 0 || !is_unsupported(last_error_number())) break;
        log::get("virt")->debug("undefine flags rejected, retrying with fewer host={} flags={}", host.name, flags);
        last_error("undefine");
    }
    return tl::unexpected(last_error("undefine"));
}

}  // namespace kvmhub::virt::ops
