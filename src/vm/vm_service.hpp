// VMs on the catalog's hosts: create from the host's domain template, list (live, and from
// the guest cache for all hosts), lifecycle, changes, snapshots and statistics. The service
// resolves host names through the catalog and talks to hosts only through virt::Hypervisor.
//   /guests/<host>/<uuid>     the cached guest object (api-compat.md shape + name/title/updated)
//   /hostinfo/<host>          the cached host information of the last list or resync
//   /locks/vm/<host>/<uuid>   a mutation in progress (lease: a crashed daemon cannot leave it)
//   /idempotency/<key>        the first reply of a create sent with an Idempotency-Key
// Split over vm_create.cpp, vm_list.cpp, vm_ops.cpp and vm_devices.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "cloudinit/seed.hpp"
#include "common/clock.hpp"
#include "common/config.hpp"
#include "common/result.hpp"
#include "disks/gold_cache.hpp"
#include "disks/provisioner.hpp"
#include "store/store.hpp"
#include "virt/hypervisor.hpp"
#include "vm/tasks.hpp"

namespace kvmhub::vm {

inline constexpr std::string_view kGuestsPrefix = "/guests/";
inline constexpr std::string_view kHostInfoPrefix = "/hostinfo/";

// One progress line for the client of a long operation; false once the client has gone away
// (the operation then stops and undoes what it made).
using ProgressSink = std::function<bool(std::string_view line)>;

class VmService {
public:
    VmService(store::Store& store, catalog::Catalog& catalog, virt::Hypervisor& hypervisor,
              cloudinit::SeedService& seeds, disks::GoldCache& golds, disks::Provisioner& provisioner,
              TaskService& tasks, const Config& config, const Clock& clock);

    // ---- vm_create.cpp ----
    // Renders the host's domain template with the vm_* variables of `body` and defines the VM
    // (not started). Returns its uuid. With an idempotency key, a repeat returns the first uuid.
    Result<std::string> create(const std::string& host, const nlohmann::json& body, const std::string& creator,
                               const std::string& idempotency_key);

    // ---- vm_list.cpp ----
    // {"host":{hostname, freemem, totalmem, totalcpu, mhz, totalvm, active}, "guest":[...]}, live;
    // refreshes the host's part of the guest cache.
    Result<nlohmann::json> list_host(const std::string& host);
    // Per host name, how its libvirt calls went lately (hosts never called are absent).
    std::map<std::string, virt::HostCallStats> host_calls() const { return hypervisor_.call_stats(); }
    // {"host":{...}, "guest":{...}} as a JSON object text: from the cache when it has both,
    // else live (and then cached).
    Result<std::string> list_guest(const std::string& host, const std::string& uuid);
    // {"guest":[{"kvmhost","arch","guests":[...]}]} from the cache as a JSON object text; no
    // host is asked.
    Result<std::string> list_cached();
    // Drops everything cached for a host (it left the catalog).
    void forget_host(const std::string& host);
    // Brings one cached guest up to date (lifecycle events call this).
    void refresh_cached(const std::string& host, const std::string& uuid);
    // Re-reads one host's guests into the cache (after a reconnect, when events were missed).
    Status resync_host(const std::string& host);
    // resync_host() for every catalog host; drops cached guests of hosts no longer in the catalog.
    void resync_all();

    // ---- vm_ops.cpp ----
    // At the start of the only daemon on a store (SQLite): VM operation locks still held belong
    // to operations a killed predecessor left, and their leases would keep them for up to 10
    // minutes. Releases them all; returns how many there were.
    Result<std::size_t> release_locks();
    Result<std::string> xml(const std::string& host, const std::string& uuid);
    Status start(const std::string& host, const std::string& uuid);
    Status stop(const std::string& host, const std::string& uuid, bool force);
    Status reset(const std::string& host, const std::string& uuid);
    // Returns what could not be removed: [{"type","dev","vol","error"}].
    Result<nlohmann::json> remove(const std::string& host, const std::string& uuid);
    Status set_description(const std::string& host, const std::string& uuid, const std::string& desc);
    Status set_memory(const std::string& host, const std::string& uuid, const std::string& mib);
    Status set_vcpus(const std::string& host, const std::string& uuid, const std::string& vcpus);
    // Merges key/values into the VM's mdconfig metadata (vm_create and vm_creater are kept) and
    // into its cloud-init context, and renders its seed again; an empty object only re-renders.
    Status merge_metadata(const std::string& host, const std::string& uuid, const nlohmann::json& values);
    Result<nlohmann::json> snapshots(const std::string& host, const std::string& uuid);
    Status create_snapshot(const std::string& host, const std::string& uuid, const std::string& name);
    Status revert_snapshot(const std::string& host, const std::string& uuid, const std::string& name);
    Status delete_snapshot(const std::string& host, const std::string& uuid, const std::string& name);
    Result<nlohmann::json> block_size(const std::string& host, const std::string& uuid, const std::string& dev);
    Result<nlohmann::json> net_stats(const std::string& host, const std::string& uuid, const std::string& mac);
    Result<nlohmann::json> addresses(const std::string& host, const std::string& uuid);

    // ---- vm_devices.cpp ----
    // Renders the device template `device` (enabled on the host) for the VM with the next free
    // target on its bus, provisions its volume (from `gold` in body, or blank), runs the
    // template's action script if it has one, attaches the device (persistent, and live when
    // running). Returns {"desc","dev","task"[,"mac"][,"vol"]}. Whatever fails, or a client that
    // goes away (`progress` false), leaves no volume and no device. The work is a task (its first
    // progress line is "task <id>"), whose cleanup list names the volumes being made, so that a
    // daemon killed half-way removes them at its next start (cleanup_interrupted()).
    Result<nlohmann::json> attach_device(const std::string& host, const std::string& uuid, const std::string& device,
                                         const nlohmann::json& body, const ProgressSink& progress);
    // What attach_device() would refuse before any work starts: an unknown host or VM, a device
    // not enabled on the host, a bad size or clone mode, a gold image the catalog does not have
    // for the host's architecture. The attach route asks first, so these are HTTP errors rather
    // than the last line of a 200 stream.
    Status check_attach(const std::string& host, const std::string& uuid, const std::string& device,
                        const nlohmann::json& body);
    // Removes one cleanup entry of a task a killed daemon left running ("volume <pool>/<name>"
    // on the task's host). A volume already gone counts as removed.
    Status cleanup_interrupted(const nlohmann::json& task, const std::string& entry);
    // `dev` is a disk or CD-ROM target (a disk's pool volume is deleted too) or a NIC's MAC.
    Result<nlohmann::json> detach_device(const std::string& host, const std::string& uuid, const std::string& dev);
    // Puts a catalog ISO (or, for an empty name, the VM's cidata ISO) into CD-ROM `dev`.
    Status change_cdrom(const std::string& host, const std::string& uuid, const std::string& dev,
                        const std::string& isoname);

private:
    // attach_device()'s work within task `task`.
    Result<nlohmann::json> attach_in_task(const std::string& host, const std::string& uuid, const std::string& device,
                                          const nlohmann::json& body, const std::string& task,
                                          const ProgressSink& progress);
    // What an attach starts from, once the checks both check_attach() and attach_in_task()
    // make first have passed: the VM's host, the host's record and the device's entry.
    struct AttachTarget {
        virt::HostRef ref;
        nlohmann::json host;
        nlohmann::json device;
    };
    Result<AttachTarget> attach_target(const std::string& host, const std::string& uuid, const std::string& device,
                                       const nlohmann::json& body);
    // Renders the host's domain template for `body` and defines the VM; returns its uuid.
    Result<std::string> define_vm(const std::string& host, const nlohmann::json& body, const std::string& creator);
    // The host's record as a hypervisor reference; NotFound for an unknown host.
    Result<virt::HostRef> host_ref(const std::string& host);
    // Checks the uuid and resolves the host.
    Result<virt::HostRef> resolve(const std::string& host, const std::string& uuid);
    // resolve(), then `act` under the VM's lock.
    Status change(const std::string& host, const std::string& uuid, const std::string& op,
                  const std::function<Status(const virt::HostRef&)>& act);
    // Holds the VM's operation lock while `op` runs; Conflict when another operation holds it.
    // `long_running` keeps the lock's lease alive while `body` runs (gold downloads and uploads
    // may take longer than the lease's ttl).
    Status locked(const virt::HostRef& host, const std::string& uuid, const std::string& op,
                  const std::function<Status()>& body, bool long_running = false);
    Status check_uuid(const std::string& uuid);
    // Renders the VM's cloud-init seed again with `changes` merged into its context (and its
    // first NIC's MAC as vm_mac). A VM without a seed (not created by kvmhub) is left alone.
    Status reseed(const virt::HostRef& host, const std::string& uuid, const nlohmann::json& changes);
    // The VM's seed context with `changes` merged in, normalized and checked; null when the VM
    // has no seed.
    Result<nlohmann::json> seed_context(const std::string& uuid, const nlohmann::json& changes);
    // Renders the VM's seed from `context` (normalized inputs) plus its NICs (`vm_nics`, see
    // cloudinit::nic_configs; `vm_mac`, the first one's MAC) and the metadata service address of the running
    // configuration (see set_meta_srv). When a CD-ROM of the VM reads its cidata ISO volume (meta_iso=pool), the volume
    // is written first, and a failure to write it stores nothing. `gone`: the MAC of a NIC being detached, left out
    // even while the live definition has it.
    Status reseed_from(const virt::HostRef& host, const std::string& uuid, nlohmann::json context,
                       const std::string& gone = {});
    // Sets (or, when `settings` is empty, drops) the network settings of the NIC `mac` in the
    // VM's seed context and renders the seed again; `gone` as above.
    Status reseed_nic(const virt::HostRef& host, const std::string& uuid, const std::string& mac,
                      const nlohmann::json& settings, const std::string& gone = {});
    // Deletes the VM's cidata ISO volume (host setting meta_iso=pool) after its domain is gone;
    // returns the entry for delete's "failed" list, or null when it is gone or never existed.
    nlohmann::json remove_iso_volume(const virt::HostRef& host, const std::string& uuid,
                                     const std::vector<virt::DiskInfo>& drives);
    // Variables the server sets (vm_uuid, META_SRV, host, ...): a client's value is dropped.
    static bool reserved(const std::string& variable);
    // META_SRV, META_HOST and META_PORT from the configuration. A re-render takes the current
    // ones, not those of the create: after a move of the metadata service, files that name it
    // (a vendor-data with a phone-home URL, say) follow at the next re-render, as the domain
    // XML does when it is defined again; the address in an existing domain's SMBIOS serial or
    // CD-ROM source is the domain's own and changes only with it.
    void set_meta_srv(nlohmann::json& context) const;
    // list_cached()'s answer, built from the store.
    Result<std::string> build_cached_list();
    // Replaces the host's cached information and guests; returns the guest objects.
    nlohmann::json replace_cache(const std::string& host, const nlohmann::json& info,
                                 const std::vector<virt::GuestInfo>& guests);
    void cache_put(const std::string& host, const nlohmann::json& guest);
    void cache_erase(const std::string& host, const std::string& uuid);

    store::Store& store_;
    catalog::Catalog& catalog_;
    virt::Hypervisor& hypervisor_;
    cloudinit::SeedService& seeds_;
    disks::GoldCache& golds_;
    disks::Provisioner& provisioner_;
    TaskService& tasks_;
    const Config& config_;
    const Clock& clock_;

    std::mutex list_mutex_;
    std::int64_t list_revision_ = -1;  // the store revision list_text_ was built at
    std::string list_text_;
};

// The api-compat guest object for one VM (memory in KiB), plus name, title and updated.
nlohmann::json guest_json(const virt::GuestInfo& guest, std::int64_t updated);

}  // namespace kvmhub::vm
