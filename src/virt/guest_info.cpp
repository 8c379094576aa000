#include <array>

#include "virt/domain_xml.hpp"
#include "virt/error.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt::ops {

Result<GuestInfo> read_guest(virDomainPtr dom) {
    GuestInfo out;
    virDomainInfo info{};
    if (virDomainGetInfo(dom, &info) < 0) return tl::unexpected(last_error("guest"));
    std::array<char, VIR_UUID_STRING_BUFLEN> uuid{};
    if (virDomainGetUUIDString(dom, uuid.data()) < 0) return tl::unexpected(last_error("guest"));
    out.uuid = uuid.data();
    const char* name = virDomainGetName(dom);  // owned by the handle
    if (name == nullptr) return tl::unexpected(last_error("guest"));
    out.name = name;
    out.state = state_name(info.state);
    out.curmem_kib = info.memory;
    out.maxmem_kib = info.maxMem;
    out.curcpu = info.nrVirtCpu;
    out.cputime_ns = info.cpuTime;

    auto xml = domain_xml(dom, false, "guest");
    if (!xml) return tl::unexpected(xml.error());
    // Title and description come from the same XML rather than two virDomainGetMetadata
    // round trips per guest; they are the same elements.
    auto parsed = parse_domain_xml(*xml, Errc::HostError);
    if (!parsed) return tl::unexpected(parsed.error());
    out.title = std::move(parsed->title);
    out.desc = std::move(parsed->description);
    out.maxcpu = parsed->max_vcpus;
    out.mdconfig = std::move(parsed->mdconfig);
    out.disks = std::move(parsed->disks);
    out.nets = std::move(parsed->nets);
    return out;
}

Result<std::vector<GuestInfo>> guests(virConnectPtr conn, const HostRef&) {
    virDomainPtr* raw = nullptr;
    int count = virConnectListAllDomains(conn, &raw, 0);
    if (count < 0) return tl::unexpected(last_error("guests"));
    std::vector<DomainPtr> doms;
    doms.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) doms.emplace_back(raw[i]);
    std::free(raw);

    std::vector<GuestInfo> out;
    out.reserve(doms.size());
    for (const auto& dom : doms) {
        auto guest = read_guest(dom.get());
        if (guest) {
            out.push_back(std::move(*guest));
        } else if (guest.error().code != Errc::NotFound) {
            return tl::unexpected(guest.error());
        }
        // NotFound: undefined between listing and reading; it is simply gone.
    }
    return out;
}

Result<GuestInfo> guest(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    return read_guest(dom->get());
}

}  // namespace kvmhub::virt::ops
