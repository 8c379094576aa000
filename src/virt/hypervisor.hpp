// The libvirt layer as the services see it: plain structs in, plain structs out, no libvirt
// types. One Hypervisor serves every host: it keeps one shared connection per host URI
// (opened lazily, kept alive, reopened after the host or its daemon went away), caps the
// calls in flight per host, and gives every call a deadline so a hung host answers with
// HostTimeout instead of blocking anyone else.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/byte_pipe.hpp"
#include "common/result.hpp"

namespace kvmhub::virt {

struct HostRef {
    std::string name;  // for messages and logs
    std::string url;   // libvirt URI
};

struct VirtOptions {
    std::chrono::milliseconds call_timeout{30000};  // per libvirt call; HostTimeout after it
    int max_in_flight_per_host = 4;                  // libvirtd serves 5 calls per client by default
    int worker_threads = 16;                         // threads that make the blocking calls
};

struct HostCapabilities {
    std::string arch;         // host CPU architecture, e.g. x86_64
    std::string domain_type;  // what guests should use: "kvm" when usable, else "qemu" (TCG); "test" on test:
    bool kvm_usable = false;
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

// Lifecycle changes a host reports by itself (started, stopped, defined, undefined, ...),
// and the reopening of a host's lost connection (events may have been missed meanwhile).
struct DomainEvent {
    std::string host;  // HostRef::name
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

    // Lifecycle events of every host with an open connection; called on the event thread,
    // must return quickly. One subscriber; a later call replaces it.
    virtual void on_event(std::function<void(const DomainEvent&)> callback) = 0;
};

// The libvirt implementation; starts the libvirt event loop thread on first use.
std::unique_ptr<Hypervisor> make_libvirt_hypervisor(const VirtOptions& options);

}  // namespace kvmhub::virt
