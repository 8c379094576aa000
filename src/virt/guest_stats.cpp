#include <strings.h>
#include <algorithm>
#include <array>
#include <cstdlib>
#include <optional>

#include "virt/domain_xml.hpp"
#include "virt/error.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt::ops {
namespace {

// The array virDomainInterfaceAddresses hands over, freed element by element.
class InterfaceList {
public:
    InterfaceList() = default;
    InterfaceList(const InterfaceList&) = delete;
    InterfaceList& operator=(const InterfaceList&) = delete;
    ~InterfaceList() {
        for (int i = 0; i < count; ++i) virDomainInterfaceFree(items[i]);
        std::free(items);
    }

    virDomainInterfacePtr* items = nullptr;
    int count = 0;
};

std::vector<InterfaceAddresses> convert(const InterfaceList& list) {
    std::vector<InterfaceAddresses> out;
    for (int i = 0; i < list.count; ++i) {
        const auto& iface = *list.items[i];
        InterfaceAddresses entry;
        entry.name = iface.name != nullptr ? iface.name : "";
        entry.mac = iface.hwaddr != nullptr ? iface.hwaddr : "";
        for (unsigned j = 0; j < iface.naddrs; ++j) {
            const auto& a = iface.addrs[j];
            if (a.addr == nullptr) continue;
            entry.addrs.emplace_back(std::string(a.addr) + "/" + std::to_string(a.prefix),
                                     a.type == VIR_IP_ADDR_TYPE_IPV6 ? "ipv6" : "ipv4");
        }
        out.push_back(std::move(entry));
    }
    return out;
}

bool has_addresses(const std::vector<InterfaceAddresses>& ifaces) {
    return std::any_of(ifaces.begin(), ifaces.end(), [](const auto& i) { return !i.addrs.empty(); });
}

}  // namespace

Result<std::uint64_t> block_size(virConnectPtr conn, const HostRef& host, const std::string& uuid,
                                 const std::string& dev) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    auto xml = domain_xml(dom->get(), false, "block_size");
    if (!xml) return tl::unexpected(xml.error());
    auto parsed = parse_domain_xml(*xml, Errc::HostError);
    if (!parsed) return tl::unexpected(parsed.error());
    // libvirt answers an unknown device with "invalid argument"; the caller asked for a disk
    // that is not there, which is NotFound.
    if (std::none_of(parsed->disks.begin(), parsed->disks.end(), [&](const DiskInfo& d) { return d.dev == dev; })) {
        return fail(Errc::NotFound, "dev", "VM " + uuid + " has no disk " + dev);
    }
    virDomainBlockInfo info{};
    if (virDomainGetBlockInfo(dom->get(), dev.c_str(), &info, 0) < 0) return tl::unexpected(last_error("block_size"));
    return static_cast<std::uint64_t>(info.capacity);
}

Result<std::pair<std::uint64_t, std::uint64_t>> net_stats(virConnectPtr conn, const HostRef& host,
                                                          const std::string& uuid, const std::string& mac) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    if (auto running = require_running(dom->get(), uuid, "net_stats"); !running) return tl::unexpected(running.error());
    auto xml = domain_xml(dom->get(), false, "net_stats");
    if (!xml) return tl::unexpected(xml.error());
    auto parsed = parse_domain_xml(*xml, Errc::HostError);
    if (!parsed) return tl::unexpected(parsed.error());
    auto target = std::find_if(parsed->targets.begin(), parsed->targets.end(),
                               [&](const InterfaceTarget& t) { return strcasecmp(t.mac.c_str(), mac.c_str()) == 0; });
    if (target == parsed->targets.end()) {
        return fail(Errc::NotFound, "mac", "VM " + uuid + " has no interface with MAC " + mac);
    }
    if (target->dev.empty()) {
        return fail(Errc::HostError, "mac", "interface " + mac + " of VM " + uuid + " has no host device to measure");
    }
    virDomainInterfaceStatsStruct stats{};
    if (virDomainInterfaceStats(dom->get(), target->dev.c_str(), &stats, sizeof stats) < 0) {
        return tl::unexpected(last_error("net_stats"));
    }
    // -1 means the driver does not count that direction.
    auto counter = [](long long v) { return v < 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(v); };
    return std::make_pair(counter(stats.rx_bytes), counter(stats.tx_bytes));
}

Result<std::vector<InterfaceAddresses>> addresses(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    if (auto running = require_running(dom->get(), uuid, "addresses"); !running) return tl::unexpected(running.error());
    // The agent knows every address; leases only those handed out by libvirt's DHCP; ARP
    // only what the host has recently talked to. Take the first source that knows any.
    constexpr std::array<unsigned, 3> sources{VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
                                              VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
                                              VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP};
    std::optional<std::vector<InterfaceAddresses>> answered;
    std::optional<Error> failure;
    for (unsigned source : sources) {
        InterfaceList list;
        list.count = virDomainInterfaceAddresses(dom->get(), &list.items, source, 0);
        if (list.count < 0) {
            list.count = 0;
            failure = last_error("addresses");
            continue;
        }
        auto found = convert(list);
        if (has_addresses(found)) return found;
        if (!answered) answered = std::move(found);
    }
    if (answered) return std::move(*answered);
    return tl::unexpected(std::move(*failure));
}

}  // namespace kvmhub::virt::ops
