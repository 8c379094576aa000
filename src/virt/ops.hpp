// What each Hypervisor method does on a host, given an open connection. These run on a
// worker thread (see calls.hpp) and block; they own nothing beyond the call.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <libvirt/libvirt.h>
#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "virt/handles.hpp"
#include "virt/hypervisor.hpp"

namespace kvmhub::virt::ops {

// Lookups shared by the operations (domain_lookup.cpp).
bool is_uuid(std::string_view text);
Result<DomainPtr> find_domain(virConnectPtr conn, const HostRef& host, const std::string& uuid);
Result<bool> is_active(virDomainPtr dom, const std::string& op);
// The live definition of a running domain, the persistent one otherwise (or when `inactive`).
Result<std::string> domain_xml(virDomainPtr dom, bool inactive, const std::string& op);
// Conflict unless the domain runs: most operations need a running guest.
Status require_running(virDomainPtr dom, const std::string& uuid, const std::string& op);
const char* state_name(int state);

// host_ops.cpp
struct UriParts {
    std::string driver;  // qemu, test, ... (the scheme without its +transport)
    bool local = false;  // the daemon runs on this machine: no host part, local transport
};
UriParts split_uri(std::string_view uri);
Result<HostCapabilities> capabilities(virConnectPtr conn, const HostRef& host);
Result<NodeInfo> node_info(virConnectPtr conn, const HostRef& host);
Status delete_volume(virConnectPtr conn, const HostRef& host, const std::string& path);

// guest_info.cpp
Result<GuestInfo> read_guest(virDomainPtr dom);
Result<std::vector<GuestInfo>> guests(virConnectPtr conn, const HostRef& host);
Result<GuestInfo> guest(virConnectPtr conn, const HostRef& host, const std::string& uuid);

// domain_ops.cpp
Result<std::string> define(virConnectPtr conn, const HostRef& host, const std::string& xml);
Result<std::string> persistent_xml(virConnectPtr conn, const HostRef& host, const std::string& uuid);
Status start(virConnectPtr conn, const HostRef& host, const std::string& uuid);
Status shutdown(virConnectPtr conn, const HostRef& host, const std::string& uuid);
Status destroy(virConnectPtr conn, const HostRef& host, const std::string& uuid);
Status reset(virConnectPtr conn, const HostRef& host, const std::string& uuid);
Status undefine(virConnectPtr conn, const HostRef& host, const std::string& uuid);

// domain_settings.cpp
Status set_description(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& desc);
Status set_memory(virConnectPtr conn, const HostRef& host, const std::string& uuid, std::uint64_t kib);
Status set_vcpus(virConnectPtr conn, const HostRef& host, const std::string& uuid, int vcpus);
Status set_mdconfig(virConnectPtr conn, const HostRef& host, const std::string& uuid, const nlohmann::json& values);

// snapshots.cpp
Result<SnapshotList> snapshots(virConnectPtr conn, const HostRef& host, const std::string& uuid);
Status create_snapshot(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& name);
Status revert_snapshot(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& name);
Status delete_snapshot(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& name);

// guest_stats.cpp
Result<std::uint64_t> block_size(virConnectPtr conn, const HostRef& host, const std::string& uuid,
                                 const std::string& dev);
Result<std::pair<std::uint64_t, std::uint64_t>> net_stats(virConnectPtr conn, const HostRef& host,
                                                          const std::string& uuid, const std::string& mac);
Result<std::vector<InterfaceAddresses>> addresses(virConnectPtr conn, const HostRef& host, const std::string& uuid);

// console_ops.cpp
Result<ConsoleInfo> console_info(virConnectPtr conn, const HostRef& host, const std::string& uuid);

// storage.cpp
Status ensure_pool(virConnectPtr conn, const HostRef& host, const PoolSpec& spec);
Result<VolumeInfo> volume(virConnectPtr conn, const HostRef& host, const std::string& pool, const std::string& name);
Result<std::vector<VolumeInfo>> volumes(virConnectPtr conn, const HostRef& host, const std::string& pool,
                                        const std::string& prefix);
Result<VolumeInfo> create_volume(virConnectPtr conn, const HostRef& host, const std::string& pool,
                                 const VolumeSpec& spec);
Result<VolumeInfo> copy_volume(virConnectPtr conn, const HostRef& host, const std::string& pool,
                               const std::string& source, const VolumeSpec& spec);
Status resize_volume(virConnectPtr conn, const HostRef& host, const std::string& pool, const std::string& name,
                     std::uint64_t capacity);
Result<VolumeInfo> upload_volume(virConnectPtr conn, const HostRef& host, const std::string& pool,
                                 const VolumeSpec& spec, const std::string& file, const UploadProgress& progress);
Result<VolumeInfo> put_volume_content(virConnectPtr conn, const HostRef& host, const std::string& pool,
                                      const std::string& name, const std::string& content);
Result<std::string> volume_content(virConnectPtr conn, const HostRef& host, const std::string& pool,
                                   const std::string& name, std::uint64_t max_bytes);

// devices.cpp
Result<DeviceUse> device_use(virConnectPtr conn, const HostRef& host, const std::string& uuid);
Result<std::string> attach_device(virConnectPtr conn, const HostRef& host, const std::string& uuid,
                                  const std::string& xml);
Result<DiskInfo> detach_disk(virConnectPtr conn, const HostRef& host, const std::string& uuid,
                             const std::string& target);
Status detach_nic(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& mac);
Status update_device(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& xml);

}  // namespace kvmhub::virt::ops
