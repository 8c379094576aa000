// The libvirt layer as the services see it: plain structs in, plain structs out, no libvirt
// types. One Hypervisor serves every host: it keeps one shared connection per host URI
// (opened lazily, kept alive, reopened after the host or its daemon went away), caps the
// calls in flight per host, and gives every call a deadline so a hung host answers with
// HostTimeout instead of blocking anyone else.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/byte_pipe.hpp"
#include "common/result.hpp"

namespace kvmhub {
class Metrics;
}  // namespace kvmhub

namespace kvmhub::virt {

struct HostRef {
    std::string name;  // for messages and logs
    std::string url;   // libvirt URI
};

struct VirtOptions {
    std::chrono::milliseconds call_timeout{30000};  // per libvirt call; HostTimeout after it
    // One call that copies a whole volume on the host (full clone) and cannot report progress.
    std::chrono::milliseconds copy_timeout{std::chrono::hours(1)};
    int max_in_flight_per_host = 4;  // libvirtd serves 5 calls per client by default
    // Threads that make the blocking calls start when needed and end when idle; this caps them
    // (a call waits for a thread beyond it). At most max_in_flight_per_host per host are busy.
    int max_threads = 512;
    // Where per-host call latencies and timeouts go (kvmhub_libvirt_*); none when null. Only
    // callers' threads touch it, never a worker that may outlive the hypervisor.
    Metrics* metrics = nullptr;
};

// How a host's libvirt calls went lately, as the callers saw them (queueing included): the
// host's state for operators (/tpl/host/), since a host whose libvirtd answers slowly (a
// capability re-probe on every call, a loaded daemon) looks healthy in every other way.
// A call that took this long answered, but something is wrong with the host: its libvirtd is
// overloaded, or it re-probes qemu on every call (docs/troubleshooting.md).
inline constexpr std::chrono::milliseconds kSlowCall{2000};

struct HostCallStats {
    std::string last_op;                  // the last call that ended, answered or timed out
    std::int64_t last_ms = 0;             // how long its caller waited
    std::int64_t last_at_ms = 0;          // when it ended, unix ms
    bool last_timed_out = false;          // its caller gave up (HostTimeout)
    std::uint64_t calls = 0;              // calls that ended
    std::uint64_t timeouts = 0;           // of them, timed out
    std::int64_t last_timeout_at_ms = 0;  // unix ms; 0: never
    bool last_unreachable = false;        // the last call could not connect to the host
    int in_flight = 0;                    // calls holding one of the host's slots now
    int stuck = 0;                        // of them, calls whose caller gave up: libvirt still has them
    // The last call timed out or took kSlowCall or more.
    bool slow() const { return last_timed_out || last_ms >= kSlowCall.count(); }
    // Known once a call ended or got stuck; reachable while its last call connected and answered
    // in time and no call is stuck in libvirt.
    bool known() const { return calls > 0 || stuck > 0; }
    bool reachable() const { return !last_timed_out && !last_unreachable && stuck == 0; }
};

struct HostCapabilities {
    std::string arch;         // host CPU architecture, e.g. x86_64
    std::string domain_type;  // what guests should use: "kvm" when usable, else "qemu" (TCG); "test" on test:
    bool kvm_usable = false;
    // Machine types the host's emulator offers for its arch, aliases ("pc", "q35") included;
    // empty when the driver does not say (test:).
    std::vector<std::string> machines;
};

struct NodeInfo {
    std::string hostname;
    std::uint64_t total_kib = 0;
    std::uint64_t free_kib = 0;  // 0 when the host cannot tell
    int cpus = 0;
    int mhz = 0;
    int total_vms = 0;
    int active_vms = 0;
};

struct DiskInfo {
    std::string device;  // disk, cdrom
    std::string type;    // file, block, network protocol (rbd, http, https), volume
    std::string bus;     // virtio, sata, scsi, ide
    std::string dev;     // target: vda, sda
    std::string vol;     // source: file path, pool/volume, network name; "" when empty
};

struct NetInfo {
    std::string type;   // bridge, network, user
    std::string model;  // virtio, e1000
    std::string mac;
};

struct GuestInfo {
    std::string uuid;
    std::string name;
    std::string title;
    std::string desc;
    int curcpu = 0;
    int maxcpu = 0;
    std::uint64_t curmem_kib = 0;
    std::uint64_t maxmem_kib = 0;
    nlohmann::json mdconfig = nlohmann::json::object();  // children of <mdconfig:meta xmlns:mdconfig="urn:iso-meta">
    std::uint64_t cputime_ns = 0;
    std::string state;  // NOSTATE RUNNING BLOCKED PAUSED SHUTDOWN SHUTOFF CRASHED SUSPEND
    std::vector<DiskInfo> disks;
    std::vector<NetInfo> nets;
};

struct SnapshotList {
    std::vector<std::string> names;  // oldest first
    std::string current;             // "" when none
};

struct InterfaceAddresses {
    std::string mac;
    std::string name;
    std::vector<std::pair<std::string, std::string>> addrs;  // address/prefix, "ipv4"|"ipv6"
};

// A graphics console of a running domain, from its live XML.
struct GraphicsInfo {
    std::string type;    // vnc, spice
    int port = -1;       // -1 while not allocated (the domain is not running)
    std::string listen;  // the address it listens on; "" = qemu's default (loopback for VNC)
    std::string passwd;  // "" when none
};

// What the browser consoles of a domain can reach.
struct ConsoleInfo {
    bool running = false;
    std::vector<GraphicsInfo> graphics;
    bool serial = false;     // a pty <serial> or <console> exists
    std::string serial_log;  // <serial><log file=...>, "" when the output is not logged
};

// A host's storage pool for kvmhub's volumes: a directory pool.
struct PoolSpec {
    std::string name;  // libvirt pool name
    std::string path;  // its directory on the host
};

struct VolumeInfo {
    std::string pool;
    std::string name;
    std::string path;
    std::string format;            // raw, qcow2, ...
    std::uint64_t capacity = 0;    // virtual size in bytes
    std::uint64_t allocation = 0;  // bytes used on the host
    std::string backing;           // path of the backing volume; "" when none
};

// A volume to create. With backing_path it is a qcow2 overlay on that volume (a linked clone).
struct VolumeSpec {
    std::string name;
    std::string format = "qcow2";
    std::uint64_t capacity = 0;  // bytes
    std::string backing_path;
    std::string backing_format;
    std::string mode;  // octal permissions such as "0444"; "" = the pool's default
};

// Bytes sent so far of `total`; returning false stops the upload (the volume is deleted).
using UploadProgress = std::function<bool(std::uint64_t done, std::uint64_t total)>;

// What a domain's definitions use: disk and CD-ROM targets and NIC MACs of the live and the
// persistent definition together (a device attached to one only still takes its name).
struct DeviceUse {
    bool running = false;
    std::vector<std::string> targets;
    std::vector<std::string> macs;
};

// Lifecycle changes a host reports by itself (started, stopped, defined, undefined, ...),
// and the reopening of a host's lost connection (events may have been missed meanwhile).
struct DomainEvent {
    std::string host;   // HostRef::name
    std::string uuid;   // "" when `reconnected`
    std::string state;  // the domain's state after the event, as in GuestInfo; "" when undefined
    bool undefined = false;
    bool reconnected = false;  // the connection to `host` was lost and is open again
};

class Hypervisor {
public:
    virtual ~Hypervisor() = default;

    virtual Result<HostCapabilities> capabilities(const HostRef& host) = 0;
    virtual Result<NodeInfo> node_info(const HostRef& host) = 0;
    virtual Result<std::vector<GuestInfo>> guests(const HostRef& host) = 0;
    virtual Result<GuestInfo> guest(const HostRef& host, const std::string& uuid) = 0;

    // Defines a persistent domain; Conflict when its uuid or name exists. Returns the uuid.
    virtual Result<std::string> define(const HostRef& host, const std::string& xml) = 0;
    // The persistent (inactive) definition.
    virtual Result<std::string> xml(const HostRef& host, const std::string& uuid) = 0;
    virtual Status start(const HostRef& host, const std::string& uuid) = 0;
    virtual Status shutdown(const HostRef& host, const std::string& uuid) = 0;  // graceful (ACPI)
    virtual Status destroy(const HostRef& host, const std::string& uuid) = 0;   // power off
    virtual Status reset(const HostRef& host, const std::string& uuid) = 0;
    // Destroys if running, then undefines with NVRAM, managed save and snapshot metadata.
    virtual Status undefine(const HostRef& host, const std::string& uuid) = 0;
    // Deletes a storage volume by its path (or pool/volume); NotFound when there is none.
    virtual Status delete_volume(const HostRef& host, const std::string& path) = 0;

    // Changes apply to the persistent definition, and live too when the domain runs.
    virtual Status set_description(const HostRef& host, const std::string& uuid, const std::string& desc) = 0;
    virtual Status set_memory(const HostRef& host, const std::string& uuid, std::uint64_t kib) = 0;
    virtual Status set_vcpus(const HostRef& host, const std::string& uuid, int vcpus) = 0;
    // Replaces the <mdconfig:meta> element (namespace urn:iso-meta) with these key/values.
    virtual Status set_mdconfig(const HostRef& host, const std::string& uuid, const nlohmann::json& values) = 0;

    virtual Result<SnapshotList> snapshots(const HostRef& host, const std::string& uuid) = 0;
    virtual Status create_snapshot(const HostRef& host, const std::string& uuid, const std::string& name) = 0;
    virtual Status revert_snapshot(const HostRef& host, const std::string& uuid, const std::string& name) = 0;
    virtual Status delete_snapshot(const HostRef& host, const std::string& uuid, const std::string& name) = 0;

    virtual Result<std::uint64_t> block_size(const HostRef& host, const std::string& uuid, const std::string& dev) = 0;
    virtual Result<std::pair<std::uint64_t, std::uint64_t>> net_stats(const HostRef& host, const std::string& uuid,
                                                                      const std::string& mac) = 0;  // rx, tx bytes
    // Guest agent first, then DHCP leases, then ARP.
    virtual Result<std::vector<InterfaceAddresses>> addresses(const HostRef& host, const std::string& uuid) = 0;

    // The consoles of a domain, from its live definition (with the graphics passwords).
    virtual Result<ConsoleInfo> console_info(const HostRef& host, const std::string& uuid) = 0;
    // The domain's serial console as a byte pipe over the host's shared connection (a libvirt
    // stream driven by the libvirt event loop). Takes the console over from any other client.
    virtual Result<std::shared_ptr<BytePipe>> open_console(const HostRef& host, const std::string& uuid) = 0;

    // ---- storage (storage.cpp) ----
    // Defines, builds, starts and marks autostart the pool when it is missing or stopped, and
    // refreshes it (volumes made behind libvirt's back become visible).
    virtual Status ensure_pool(const HostRef& host, const PoolSpec& pool) = 0;
    // NotFound when the pool has no such volume.
    virtual Result<VolumeInfo> volume(const HostRef& host, const std::string& pool, const std::string& name) = 0;
    // Volumes of the pool whose names start with `prefix`, by name.
    virtual Result<std::vector<VolumeInfo>> volumes(const HostRef& host, const std::string& pool,
                                                    const std::string& prefix) = 0;
    // A blank volume, or a qcow2 overlay when spec.backing_path is set.
    virtual Result<VolumeInfo> create_volume(const HostRef& host, const std::string& pool, const VolumeSpec& spec) = 0;
    // A full copy of `source` (same pool) named and formatted as `spec` says; the copy takes
    // up to VirtOptions::copy_timeout.
    virtual Result<VolumeInfo> copy_volume(const HostRef& host, const std::string& pool, const std::string& source,
                                           const VolumeSpec& spec) = 0;
    // Creates the volume and streams `file` (a local file of this process) into it. The call
    // lives as long as data moves (call_timeout without progress ends it); on any failure,
    // or when `progress` says stop, the stream is aborted and the volume deleted.
    virtual Result<VolumeInfo> upload_volume(const HostRef& host, const std::string& pool, const VolumeSpec& spec,
                                             const std::string& file, UploadProgress progress) = 0;
    // Grows a volume to `capacity` bytes.
    virtual Status resize_volume(const HostRef& host, const std::string& pool, const std::string& name,
                                 std::uint64_t capacity) = 0;
    // Makes `content` (a small image held in memory, such as a cidata ISO) the content of the
    // raw volume `name`, creating it when missing. An existing volume keeps its size when the
    // content is smaller (the rest is zeros: libvirt cannot shrink a file below what it uses).
    // Atomic enough for small volumes: the old content of an existing volume is read first and
    // written back when the new one cannot be written whole, and a volume this call made is
    // deleted again; the error says which. Volumes over 64 MiB are refused (BadInput).
    virtual Result<VolumeInfo> put_volume_content(const HostRef& host, const std::string& pool, const std::string& name,
                                                  const std::string& content) = 0;
    // The whole content of a volume of at most `max_bytes` bytes (BadInput when it is bigger).
    virtual Result<std::string> volume_content(const HostRef& host, const std::string& pool, const std::string& name,
                                               std::uint64_t max_bytes) = 0;

    // ---- devices (devices.cpp) ----
    virtual Result<DeviceUse> device_use(const HostRef& host, const std::string& uuid) = 0;
    // Attaches to the persistent definition, and to the live one when the domain runs.
    // Returns the MAC of a NIC the XML added (libvirt makes one up when the XML has none), or "".
    virtual Result<std::string> attach_device(const HostRef& host, const std::string& uuid, const std::string& xml) = 0;
    // Detaches the disk or CD-ROM with target `target` from both definitions; returns it.
    virtual Result<DiskInfo> detach_disk(const HostRef& host, const std::string& uuid, const std::string& target) = 0;
    // Detaches the NIC with this MAC from both definitions.
    virtual Status detach_nic(const HostRef& host, const std::string& uuid, const std::string& mac) = 0;
    // Replaces a device in both definitions (CD-ROM media change); the XML names its target.
    virtual Status update_device(const HostRef& host, const std::string& uuid, const std::string& xml) = 0;

    // Per host name, how its calls went (hosts never called are absent).
    virtual std::map<std::string, HostCallStats> call_stats() const = 0;

    // Lifecycle events of every host with an open connection; called on the event thread,
    // must return quickly. One subscriber; a later call replaces it.
    virtual void on_event(std::function<void(const DomainEvent&)> callback) = 0;
};

// The libvirt implementation; starts the libvirt event loop thread on first use.
std::unique_ptr<Hypervisor> make_libvirt_hypervisor(const VirtOptions& options);

}  // namespace kvmhub::virt
