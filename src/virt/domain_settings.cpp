#include <fmt/format.h>
#include <libvirt/virterror.h>

#include "virt/domain_xml.hpp"
#include "virt/error.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt::ops {
namespace {

// The persistent definition always; the running guest too when there is one, so the change
// is visible now and survives the next power cycle.
Result<unsigned> affect_flags(virDomainPtr dom, const std::string& op) {
    auto active = is_active(dom, op);
    if (!active) return tl::unexpected(active.error());
    unsigned flags = VIR_DOMAIN_AFFECT_CONFIG;
    if (*active) flags |= VIR_DOMAIN_AFFECT_LIVE;
    return flags;
}

// Applies `change(flags)`. A driver that cannot change the live guest and the definition in
// one call (the test driver, for memory) gets two: the definition first, then the guest.
template <typename Change>
Status apply(unsigned flags, const std::string& op, Change change) {
    if (change(flags) == 0) return {};
    constexpr unsigned kBoth = VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_AFFECT_LIVE;
    if ((flags & kBoth) != kBoth || last_error_number() != VIR_ERR_INVALID_ARG) return tl::unexpected(last_error(op));
    last_error(op);
    if (change(VIR_DOMAIN_AFFECT_CONFIG) < 0 || change(VIR_DOMAIN_AFFECT_LIVE) < 0) {
        return tl::unexpected(last_error(op));
    }
    return {};
}

Status set_metadata(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& op, int type,
                    const std::string& value, const char* key, const char* uri) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    auto flags = affect_flags(dom->get(), op);
    if (!flags) return tl::unexpected(flags.error());
    return apply(*flags, op,
                 [&](unsigned f) { return virDomainSetMetadata(dom->get(), type, value.c_str(), key, uri, f); });
}

}  // namespace

Status set_description(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& desc) {
    return set_metadata(conn, host, uuid, "description", VIR_DOMAIN_METADATA_DESCRIPTION, desc, nullptr, nullptr);
}

Status set_memory(virConnectPtr conn, const HostRef& host, const std::string& uuid, std::uint64_t kib) {
    if (kib == 0) return fail(Errc::BadInput, "memory", "memory must be above 0");
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    virDomainInfo info{};
    if (virDomainGetInfo(dom->get(), &info) < 0) return tl::unexpected(last_error("memory"));
    // libvirt would refuse too, but with a message that does not say which setting to raise.
    if (kib > info.maxMem) {
        return fail(Errc::BadInput, "memory",
                    fmt::format("memory {} MiB is above the VM's maximum {} MiB; raise vm_ram_mb_max", kib / 1024,
                                info.maxMem / 1024));
    }
    auto flags = affect_flags(dom->get(), "memory");
    if (!flags) return tl::unexpected(flags.error());
    return apply(*flags, "memory", [&](unsigned f) { return virDomainSetMemoryFlags(dom->get(), kib, f); });
}

Status set_vcpus(virConnectPtr conn, const HostRef& host, const std::string& uuid, int vcpus) {
    if (vcpus < 1) return fail(Errc::BadInput, "vcpus", "a VM needs at least 1 vCPU");
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    auto xml = domain_xml(dom->get(), true, "vcpus");
    if (!xml) return tl::unexpected(xml.error());
    auto parsed = parse_domain_xml(*xml, Errc::HostError);
    if (!parsed) return tl::unexpected(parsed.error());
    if (vcpus > parsed->max_vcpus) {
        return fail(Errc::BadInput, "vcpus",
                    fmt::format("{} vCPUs is above the VM's maximum of {} vCPUs", vcpus, parsed->max_vcpus));
    }
    auto flags = affect_flags(dom->get(), "vcpus");
    if (!flags) return tl::unexpected(flags.error());
    return apply(*flags, "vcpus",
                 [&](unsigned f) { return virDomainSetVcpusFlags(dom->get(), static_cast<unsigned>(vcpus), f); });
}

Status set_mdconfig(virConnectPtr conn, const HostRef& host, const std::string& uuid, const nlohmann::json& values) {
    auto element = mdconfig_element(values);
    if (!element) return tl::unexpected(element.error());
    return set_metadata(conn, host, uuid, "mdconfig", VIR_DOMAIN_METADATA_ELEMENT, *element, kMdconfigPrefix,
                        kMdconfigUri);
}

}  // namespace kvmhub::virt::ops
