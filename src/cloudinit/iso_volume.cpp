#include "cloudinit/iso_volume.hpp"

#include <fmt/format.h>

#include "cloudinit/iso.hpp"
#include "common/log.hpp"

namespace kvmhub::cloudinit {

std::string iso_volume_name(const std::string& uuid) {
    return fmt::format("cidata-{}.iso", uuid);
}

std::optional<virt::PoolSpec> iso_volume_pool(const std::vector<virt::DiskInfo>& disks, const std::string& uuid,
                                              const virt::PoolSpec& host_pool) {
    const std::string name = iso_volume_name(uuid);
    for (const auto& disk : disks) {
        if (disk.device != "cdrom") continue;
        if (disk.type == "volume" && disk.vol.ends_with("/" + name)) {
            std::string pool = disk.vol.substr(0, disk.vol.size() - name.size() - 1);
            // Only the host's own pool has a known folder (to define it again when it is gone).
            if (pool == host_pool.name) return host_pool;
            return virt::PoolSpec{pool, ""};
        }
        if (disk.type == "file" && disk.vol == host_pool.path + "/" + name) return host_pool;
    }
    return std::nullopt;
}

Status publish_iso_volume(virt::Hypervisor& hypervisor, const virt::HostRef& host, const virt::PoolSpec& pool,
                          const std::string& uuid, const std::map<std::string, std::string>& files) {
    auto iso = build_cidata_iso(files);
    if (!iso) return tl::unexpected(iso.error());
    const std::string name = iso_volume_name(uuid);
    auto failed = [&](Error err) {
        log::get("cloudinit")
            ->warn("cidata volume not written host={} pool={} vol={} error={}", host.name, pool.name, name, err.desc);
        err.where = "meta_iso";
        err.desc = fmt::format("the cidata ISO of VM {} was not written into pool '{}' (host {} has meta_iso=pool): {}",
                               uuid, pool.name, host.name, err.desc);
        return tl::unexpected(std::move(err));
    };
    if (!pool.path.empty()) {
        if (auto ready = hypervisor.ensure_pool(host, pool); !ready) return failed(ready.error());
    }
    auto written = hypervisor.put_volume_content(host, pool.name, name, *iso);
    if (!written) return failed(written.error());
    log::get("cloudinit")
        ->info("wrote cidata volume host={} pool={} vol={} bytes={}", host.name, pool.name, name, iso->size());
    return {};
}

}  // namespace kvmhub::cloudinit
