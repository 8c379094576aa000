// VM disks in a host's storage pool, made over the libvirt connection only (no ssh): the
// gold's read-only base volume is uploaded once per host and pool, and each VM disk is a
// qcow2 overlay on it (linked clone), a full copy of it, or a blank volume.
//   base volumes   gold-<gold name>-<first 12 hex digits of the gold's sha256>.<format>
//   VM disks       named by the device template (disk.file: <target>-<vm uuid>.<format>)
// Concurrent requests for one base on one host wait for the same upload; the upload stops
// only when every one of them has gone away. An existing base is reused when it is whole.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/metrics.hpp"
#include "common/result.hpp"
#include "disks/gold_cache.hpp"
#include "virt/hypervisor.hpp"

namespace kvmhub::disks {

inline constexpr const char* kDefaultPool = "kvmhub";
inline constexpr const char* kDefaultPoolPath = "/var/lib/kvmhub/pool";

// The pool of a catalog host record (its optional `pool` and `pool_path` fields, else the defaults).
virt::PoolSpec pool_of(const nlohmann::json& host_record);

// The base volume name of a gold.
std::string base_name(const std::string& gold_name, const LocalGold& gold);

enum class Clone { Linked, Full };

struct DiskRequest {
    std::string pool;
    std::string name;            // the VM disk's volume name
    std::string format;          // qcow2, raw
    std::uint64_t capacity = 0;  // bytes (already checked against the gold)
    Clone clone = Clone::Linked;
};

class Provisioner {
public:
    Provisioner(virt::Hypervisor& hypervisor, Metrics& metrics);
    // Stops uploads nobody waits for any more and joins their threads.
    ~Provisioner();
    Provisioner(const Provisioner&) = delete;
    Provisioner& operator=(const Provisioner&) = delete;

    // The base volume of `gold` in `pool`, uploaded when missing (or half-made).
    Result<virt::VolumeInfo> base(const virt::HostRef& host, const virt::PoolSpec& pool, const std::string& gold_name,
                                  const LocalGold& gold, const Progress& progress);
    // A VM disk from `base` (linked or full), or blank when `base` is null; deleted again when
    // making it fails half-way.
    Result<virt::VolumeInfo> make_disk(const virt::HostRef& host, const DiskRequest& disk, const virt::VolumeInfo* base,
                                       const LocalGold* gold);

    // Uploads started since this process began (tests: two VMs from one gold make one).
    std::uint64_t uploads() const { return uploads_.load(); }

private:
    struct Flight {
        std::mutex mutex;
        std::condition_variable finished;
        bool done = false;
        Result<virt::VolumeInfo> result = virt::VolumeInfo{};
        int waiting = 0;            // requests still interested in the result
        std::string last_progress;  // for the waiters to pass on
    };

    void upload(std::shared_ptr<Flight> flight, std::string key, virt::HostRef host, virt::PoolSpec pool,
                virt::VolumeSpec spec, std::string file);

    virt::Hypervisor& hypervisor_;
    Metrics& metrics_;
    std::atomic<std::uint64_t> uploads_{0};
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Flight>> flights_;  // by host URI|pool|volume
    std::vector<std::thread> threads_;
};

}  // namespace kvmhub::disks
