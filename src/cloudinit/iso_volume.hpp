// The cidata ISO as a volume in the host's storage pool, for hosts that cannot reach the
// metadata service (host field meta_iso=pool): kvmhub builds the ISO in memory and writes it
// into the volume cidata-<uuid>.iso over the libvirt connection, at create and at every
// re-render, and the VM's CD-ROM reads the volume instead of http://<META_SRV>/<uuid>/cidata.iso.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "virt/hypervisor.hpp"

namespace kvmhub::cloudinit {

// cidata-<uuid>.iso: one per VM, so delete removes exactly the VM's own.
std::string iso_volume_name(const std::string& uuid);

// The pool holding the cidata volume that a CD-ROM of `disks` reads: a <disk type='volume'>
// naming cidata-<uuid>.iso (`host_pool` when it is that pool, else a pool known by name only),
// or a file source <host_pool.path>/cidata-<uuid>.iso. nullopt when no CD-ROM uses the volume.
std::optional<virt::PoolSpec> iso_volume_pool(const std::vector<virt::DiskInfo>& disks, const std::string& uuid,
                                              const virt::PoolSpec& host_pool);

// Builds the cidata ISO of `files` and makes it the content of the VM's volume in `pool`
// (the pool is defined and started first when missing and its folder is known). On failure
// the volume keeps its previous content, or is not made; the error says which, and names the
// volume, the pool and the host.
Status publish_iso_volume(virt::Hypervisor& hypervisor, const virt::HostRef& host, const virt::PoolSpec& pool,
                          const std::string& uuid, const std::map<std::string, std::string>& files);

}  // namespace kvmhub::cloudinit
