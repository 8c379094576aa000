#include "disks/provisioner.hpp"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace kvmhub::disks {
namespace {

using namespace std::chrono_literals;
constexpr std::uint64_t kMiB = 1 << 20;

Error stopped(std::string_view what) {
    return Error{Errc::Conflict, "progress", fmt::format("{} stopped: the client went away", what)};
}

}  // namespace

virt::PoolSpec pool_of(const nlohmann::json& host_record) {
    std::string name = host_record.value("pool", "");
    std::string path = host_record.value("pool_path", "");
    return {name.empty() ? kDefaultPool : name, path.empty() ? kDefaultPoolPath : path};
}

std::string base_name(const std::string& gold_name, const LocalGold& gold) {
    return fmt::format("gold-{}-{}.{}", gold_name, gold.sha256.substr(0, 12), gold.format);
}

Provisioner::Provisioner(virt::Hypervisor& hypervisor, Metrics& metrics) : hypervisor_(hypervisor), metrics_(metrics) {}

Provisioner::~Provisioner() {
    stopping_.store(true);
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        threads.swap(threads_);
    }
    for (auto& t : threads)
        if (t.joinable()) t.join();
}

Result<virt::VolumeInfo> Provisioner::base(const virt::HostRef& host, const virt::PoolSpec& pool,
                                           const std::string& gold_name, const LocalGold& gold,
                                           const Progress& progress) {
    virt::VolumeSpec spec;
    spec.name = base_name(gold_name, gold);
    spec.format = gold.format;
    spec.mode = "0444";  // never written: every linked clone reads it
    const std::string key = fmt::format("{}|{}|{}", host.url, pool.name, spec.name);
    std::shared_ptr<Flight> flight;
    {
        std::lock_guard lock(mutex_);
        auto& slot = flights_[key];
        if (!slot) {
            slot = std::make_shared<Flight>();
            slot->waiting = 1;
            threads_.emplace_back(&Provisioner::upload, this, slot, key, host, pool, spec, gold.path);
        } else {
            std::lock_guard joined(slot->mutex);
            ++slot->waiting;
        }
        flight = slot;
    }
    // Everyone waits here, the request that started the upload too: each passes the upload's
    // progress to its own client, on its own thread, and leaves when its client is gone.
    std::unique_lock lock(flight->mutex);
    std::string told;
    auto last_told = std::chrono::steady_clock::now();
    while (!flight->finished.wait_for(lock, 1s, [&] { return flight->done; })) {
        std::string line =
            flight->last_progress.empty() ? "preparing the base volume " + spec.name : flight->last_progress;
        if (line == told && std::chrono::steady_clock::now() - last_told < 10s) continue;
        told = line;
        last_told = std::chrono::steady_clock::now();
        lock.unlock();
        bool alive = progress(line);
        lock.lock();
        if (!alive) {
            --flight->waiting;
            return tl::unexpected(stopped("waiting for the base volume"));
        }
    }
    return flight->result;
}

void Provisioner::upload(std::shared_ptr<Flight> flight, std::string key, virt::HostRef host, virt::PoolSpec pool,
                         virt::VolumeSpec spec, std::string file) {
    auto log = log::get("disks");
    auto finish = [&](Result<virt::VolumeInfo> result) {
        {
            std::lock_guard lock(mutex_);
            flights_.erase(key);  // later requests look at the pool again
        }
        std::lock_guard lock(flight->mutex);
        flight->result = std::move(result);
        flight->done = true;
        flight->finished.notify_all();
    };
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(file, ec);
    if (ec) return finish(fail(Errc::Internal, "gold", fmt::format("cannot read {}: {}", file, ec.message())));

    auto existing = hypervisor_.volume(host, pool.name, spec.name);
    if (existing) {
        // A whole upload wrote every byte; less allocated means an upload that died half-way
        // (kvmhubd killed): that volume is useless, so it is replaced.
        if (existing->allocation + kMiB >= bytes) {
            log->info("reusing base volume host={} pool={} vol={}", host.name, pool.name, spec.name);
            return finish(std::move(existing));
        }
        log->warn("replacing half-uploaded base volume host={} pool={} vol={} allocation={} bytes={}", host.name,
                  pool.name, spec.name, existing->allocation, bytes);
        if (auto gone = hypervisor_.delete_volume(host, pool.name + "/" + spec.name); !gone)
            return finish(tl::unexpected(gone.error()));
    } else if (existing.error().code != Errc::NotFound) {
        return finish(tl::unexpected(existing.error()));
    }

    uploads_.fetch_add(1);
    metrics_.counter("kvmhub_gold_uploads_total", "Gold images uploaded into a host's pool", {{"host", host.name}})
        .inc();
    log->info("uploading base volume host={} pool={} vol={} bytes={}", host.name, pool.name, spec.name, bytes);
    auto started = std::chrono::steady_clock::now();
    auto made = hypervisor_.upload_volume(
        host, pool.name, spec, file,
        [&, last = std::chrono::steady_clock::time_point{}](std::uint64_t done, std::uint64_t total) mutable {
            std::lock_guard lock(flight->mutex);
            auto now = std::chrono::steady_clock::now();
            if (now - last >= 1s || done == total) {
                last = now;
                flight->last_progress = fmt::format("uploading {} to host {}: {} of {} MiB ({}%)", spec.name, host.name,
                                                    done / kMiB, total / kMiB, total ? done * 100 / total : 100);
            }
            return flight->waiting > 0 && !stopping_.load();
        });
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    if (made) {
        log->info("uploaded base volume host={} vol={} format={} ms={}", host.name, spec.name, made->format,
                  ms.count());
        if (made->format != spec.format)
            log->warn("host reads the base volume as {} where the file is {} host={} vol={}", made->format, spec.format,
                      host.name, spec.name);
    } else {
        log->warn("base volume upload failed host={} vol={} error={}", host.name, spec.name, made.error().desc);
    }
    finish(std::move(made));
}

Result<virt::VolumeInfo> Provisioner::make_disk(const virt::HostRef& host, const DiskRequest& disk,
                                                const virt::VolumeInfo* base, const LocalGold* gold) {
    virt::VolumeSpec spec;
    spec.name = disk.name;
    spec.format = disk.format;
    spec.capacity = disk.capacity;
    Result<virt::VolumeInfo> made = virt::VolumeInfo{};
    if (base == nullptr || gold == nullptr) {
        made = hypervisor_.create_volume(host, disk.pool, spec);
    } else if (disk.clone == Clone::Linked) {
        if (disk.format != "qcow2")
            return fail(Errc::BadInput, "clone",
                        fmt::format("a linked clone is a qcow2 overlay, but the template asks for a {} disk: use "
                                    "clone=full, or vm_disk_type qcow2",
                                    disk.format));
        spec.backing_path = base->path;
        spec.backing_format = gold->format;
        made = hypervisor_.create_volume(host, disk.pool, spec);
    } else {
        spec.capacity = gold->virtual_size;
        made = hypervisor_.copy_volume(host, disk.pool, base->name, spec);
    }
    if (!made) return made;
    if (made->capacity < disk.capacity) {
        auto grown = hypervisor_.resize_volume(host, disk.pool, disk.name, disk.capacity);
        if (!grown) {
            if (auto gone = hypervisor_.delete_volume(host, disk.pool + "/" + disk.name); !gone)
                log::get("disks")->error("cannot delete volume after a failed resize host={} vol={} error={}",
                                         host.name, disk.name, gone.error().desc);
            return tl::unexpected(grown.error());
        }
        made->capacity = disk.capacity;
    }
    return made;
}

}  // namespace kvmhub::disks
