#include <algorithm>

#include <pugixml.hpp>

#include "common/log.hpp"
#include "virt/error.hpp"
#include "virt/kvm_probe.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt::ops {
namespace {

// Whether the host's qemu driver offers the kvm domain type for `arch`.
bool domain_caps_offer_kvm(virConnectPtr conn, const HostRef& host, const std::string& arch) {
    auto xml = take_string(virConnectGetDomainCapabilities(conn, nullptr, arch.c_str(), nullptr, "kvm", 0));
    if (!xml) {
        log::get("virt")->info("kvm not offered host={} desc={}", host.name, last_error("capabilities").desc);
        return false;
    }
    pugi::xml_document doc;
    if (!doc.load_string(xml->c_str())) return false;
    return std::string_view(doc.child("domainCapabilities").child_value("domain")) == "kvm";
}

}  // namespace

UriParts split_uri(std::string_view uri) {
    std::string_view scheme = uri.substr(0, uri.find(':'));
    auto plus = scheme.find('+');
    std::string_view transport = plus == std::string_view::npos ? "" : scheme.substr(plus + 1);
    std::string_view rest = uri.substr(std::min(uri.size(), scheme.size() + 1));
    std::string_view authority;
    if (rest.starts_with("//")) {
        rest.remove_prefix(2);
        authority = rest.substr(0, rest.find('/'));
    }
    return {std::string(scheme.substr(0, plus)), authority.empty() && (transport.empty() || transport == "unix")};
}

Result<HostCapabilities> capabilities(virConnectPtr conn, const HostRef& host) {
    auto xml = take_string(virConnectGetCapabilities(conn));
    if (!xml) return tl::unexpected(last_error("capabilities"));
    pugi::xml_document doc;
    if (!doc.load_string(xml->c_str())) {
        return fail(Errc::HostError, "capabilities", "host " + host.name + " sent capabilities that do not parse");
    }
    HostCapabilities out;
    out.arch = doc.child("capabilities").child("host").child("cpu").child_value("arch");
    auto uri = split_uri(host.url);
    if (uri.driver == "test") {
        out.domain_type = "test";
    } else if (uri.driver == "qemu") {
        // A local daemon offers kvm whenever /dev/kvm exists, even where KVM guests hang;
        // only a probe on this machine tells. A remote host has to be trusted.
        out.kvm_usable = domain_caps_offer_kvm(conn, host, out.arch) && (!uri.local || local_kvm_usable());
        out.domain_type = out.kvm_usable ? "kvm" : "qemu";
    } else {
        out.domain_type = uri.driver;
    }
    if (uri.driver == "qemu") {
        for (auto guest : doc.child("capabilities").children("guest")) {
            auto arch = guest.child("arch");
            if (out.arch != arch.attribute("name").value()) continue;
            for (auto machine : arch.children("machine")) out.machines.emplace_back(machine.child_value());
            for (auto domain : arch.children("domain"))
                for (auto machine : domain.children("machine")) out.machines.emplace_back(machine.child_value());
        }
        std::sort(out.machines.begin(), out.machines.end());
        out.machines.erase(std::unique(out.machines.begin(), out.machines.end()), out.machines.end());
    }
    return out;
}

Result<NodeInfo> node_info(virConnectPtr conn, const HostRef& host) {
    virNodeInfo info{};
    if (virNodeGetInfo(conn, &info) < 0) return tl::unexpected(last_error("node_info"));
    NodeInfo out;
    out.cpus = static_cast<int>(info.cpus);
    out.mhz = static_cast<int>(info.mhz);
    out.total_kib = info.memory;
    // Returns bytes, and 0 on error (a host with no free memory at all is not a real case).
    // Some drivers cannot tell (the test driver over RPC): the rest of the answer still counts.
    unsigned long long free_bytes = virNodeGetFreeMemory(conn);
    if (free_bytes == 0) {
        log::get("virt")->debug("free memory unknown host={} desc={}", host.name, last_error("node_info").desc);
    }
    out.free_kib = free_bytes / 1024;
    auto hostname = take_string(virConnectGetHostname(conn));
    if (!hostname) return tl::unexpected(last_error("node_info"));
    out.hostname = std::move(*hostname);
    // A null list asks libvirt for the count only.
    int total = virConnectListAllDomains(conn, nullptr, 0);
    int active = total < 0 ? -1 : virConnectListAllDomains(conn, nullptr, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (total < 0 || active < 0) return tl::unexpected(last_error("node_info"));
    out.total_vms = total;
    out.active_vms = active;
    return out;
}

Status delete_volume(virConnectPtr conn, const HostRef& host, const std::string& path) {
    auto slash = path.find('/');
    bool by_path = slash == 0;
    if (!by_path && (slash == std::string::npos || slash + 1 == path.size())) {
        return fail(Errc::BadInput, "path", "volume '" + path + "' is neither an absolute path nor pool/volume");
    }
    VolPtr vol;
    PoolPtr pool;
    if (by_path) {
        vol.reset(virStorageVolLookupByPath(conn, path.c_str()));
    } else {
        pool.reset(virStoragePoolLookupByName(conn, path.substr(0, slash).c_str()));
        if (pool != nullptr) vol.reset(virStorageVolLookupByName(pool.get(), path.substr(slash + 1).c_str()));
    }
    // Read before any handle is freed: every libvirt call, virStoragePoolFree too, clears it.
    if (vol == nullptr) {
        Error err = last_error("path");
        if (err.code == Errc::NotFound) err.desc = "no volume " + path + " on host " + host.name;
        return tl::unexpected(std::move(err));
    }
    if (virStorageVolDelete(vol.get(), 0) < 0) return tl::unexpected(last_error("delete_volume"));
    return {};
}

}  // namespace kvmhub::virt::ops
