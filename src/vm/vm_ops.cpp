// Lifecycle, changes, snapshots and statistics of one VM. Every change holds the VM's
// operation lock, so two clients acting on one VM at once get one success and one 409.
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "cloudinit/iso_volume.hpp"
#include "common/log.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::vm {
namespace {

constexpr std::chrono::seconds kLockTtl{600};

// A positive whole number from a query value.
Result<long> positive(const std::string& text, const char* field, long max) {
    char* end = nullptr;
    long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value < 1 || value > max)
        return fail(Errc::BadInput, field, fmt::format("'{}' must be a whole number from 1 to {}", field, max));
    return value;
}

// A refused value is reported under the request parameter that carried it.
Status named(Status status, const char* parameter) {
    if (!status && status.error().code == Errc::BadInput) status.error().where = parameter;
    return status;
}

}  // namespace

Status VmService::locked(const virt::HostRef& host, const std::string& uuid, const std::string& op,
                         const std::function<Status()>& body, bool long_running) {
    const std::string key = fmt::format("/locks/vm/{}/{}", host.name, uuid);
    auto lease = store_.grant_lease(kLockTtl);
    if (!lease) return tl::unexpected(lease.error());
    nlohmann::json holder = {{"op", op}, {"since", clock_.now_seconds()}};
    auto claimed = store_.compare_and_swap(key, 0, holder.dump(), *lease);
    if (!claimed) {
        (void)store_.revoke_lease(*lease);
        if (claimed.error().code != Errc::Conflict) return tl::unexpected(claimed.error());
        auto current = store_.get(key);
        std::string busy_with = "another operation";
        if (current && *current)
            busy_with = nlohmann::json::parse((*current)->value, nullptr, false).value("op", busy_with);
        return fail(Errc::Conflict, "uuid",
                    fmt::format("VM {} is busy with {}; retry when it is done", uuid, busy_with));
    }
    Status result;
    if (long_running) {
        // Renews the lease at a third of its ttl until the body is done.
        std::mutex mutex;
        std::condition_variable wake;
        bool done = false;
        std::thread renewer([&, id = *lease] {
            std::unique_lock lock(mutex);
            while (!wake.wait_for(lock, kLockTtl / 3, [&] { return done; }))
                if (auto kept = store_.keep_alive(id); !kept)
                    log::get("vm")->warn("cannot renew the lock of vm={} op={}: {}", uuid, op, kept.error().desc);
        });
        result = body();
        {
            std::lock_guard lock(mutex);
            done = true;
        }
        wake.notify_all();
        renewer.join();
    } else {
        result = body();
    }
    (void)store_.revoke_lease(*lease);  // deletes the lock key
    if (result) refresh_cached(host.name, uuid);
    return result;
}

Result<std::size_t> VmService::release_locks() {
    auto held = store_.list("/locks/vm/");
    if (!held) return tl::unexpected(held.error());
    for (const auto& lock : *held) {
        auto released = lock.lease ? store_.revoke_lease(lock.lease) : Status{};
        if (released && !lock.lease) {
            auto erased = store_.erase(lock.key);
            if (!erased) released = tl::unexpected(erased.error());
        }
        if (!released && released.error().code != Errc::NotFound) return tl::unexpected(released.error());
        log::get("vm")->warn("released the lock of an operation a stopped kvmhubd left behind key={} holder={}",
                             lock.key, lock.value);
    }
    return held->size();
}

Result<std::string> VmService::xml(const std::string& host, const std::string& uuid) {
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    return hypervisor_.xml(*ref, uuid);
}

Result<virt::HostRef> VmService::resolve(const std::string& host, const std::string& uuid) {
    if (auto ok = check_uuid(uuid); !ok) return tl::unexpected(ok.error());
    return host_ref(host);
}

Status VmService::change(const std::string& host, const std::string& uuid, const std::string& op,
                         const std::function<Status(const virt::HostRef&)>& act) {
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    return locked(*ref, uuid, op, [&] { return act(*ref); });
}

Status VmService::start(const std::string& host, const std::string& uuid) {
    return change(host, uuid, "start", [&](const virt::HostRef& h) { return hypervisor_.start(h, uuid); });
}

Status VmService::stop(const std::string& host, const std::string& uuid, bool force) {
    return change(host, uuid, force ? "force stop" : "stop", [&](const virt::HostRef& h) {
        return force ? hypervisor_.destroy(h, uuid) : hypervisor_.shutdown(h, uuid);
    });
}

Status VmService::reset(const std::string& host, const std::string& uuid) {
    return change(host, uuid, "reset", [&](const virt::HostRef& h) { return hypervisor_.reset(h, uuid); });
}

Status VmService::set_description(const std::string& host, const std::string& uuid, const std::string& desc) {
    return change(host, uuid, "desc", [&](const virt::HostRef& h) -> Status {
        if (auto done = hypervisor_.set_description(h, uuid, desc); !done) return done;
        return reseed(h, uuid, {{"vm_desc", desc}});
    });
}

Status VmService::set_memory(const std::string& host, const std::string& uuid, const std::string& mib) {
    auto value = positive(mib, "vm_ram_mb", 16 << 20);
    if (!value) return tl::unexpected(value.error());
    const auto kib = static_cast<std::uint64_t>(*value) * 1024;
    return named(change(host, uuid, "setmem",
                        [&](const virt::HostRef& h) -> Status {
                            if (auto done = hypervisor_.set_memory(h, uuid, kib); !done) return done;
                            return reseed(h, uuid, {{"vm_ram_mb", *value}});
                        }),
                 "vm_ram_mb");
}

Status VmService::set_vcpus(const std::string& host, const std::string& uuid, const std::string& vcpus) {
    auto value = positive(vcpus, "vm_vcpus", 1024);
    if (!value) return tl::unexpected(value.error());
    const int n = static_cast<int>(*value);
    return named(change(host, uuid, "setcpu",
                        [&](const virt::HostRef& h) -> Status {
                            if (auto done = hypervisor_.set_vcpus(h, uuid, n); !done) return done;
                            return reseed(h, uuid, {{"vm_vcpus", n}});
                        }),
                 "vm_vcpus");
}

Status VmService::create_snapshot(const std::string& host, const std::string& uuid, const std::string& name) {
    return change(host, uuid, "snapshot",
                  [&](const virt::HostRef& h) { return hypervisor_.create_snapshot(h, uuid, name); });
}

Status VmService::revert_snapshot(const std::string& host, const std::string& uuid, const std::string& name) {
    return change(host, uuid, "revert_snapshot",
                  [&](const virt::HostRef& h) { return hypervisor_.revert_snapshot(h, uuid, name); });
}

Status VmService::delete_snapshot(const std::string& host, const std::string& uuid, const std::string& name) {
    return change(host, uuid, "delete_snapshot",
                  [&](const virt::HostRef& h) { return hypervisor_.delete_snapshot(h, uuid, name); });
}

Status VmService::merge_metadata(const std::string& host, const std::string& uuid, const nlohmann::json& values) {
    if (!values.is_object()) return fail(Errc::BadInput, "body", "expected a JSON object of key/values");
    return change(host, uuid, "metadata", [&](const virt::HostRef& h) -> Status {
        auto guest = hypervisor_.guest(h, uuid);
        if (!guest) return tl::unexpected(guest.error());
        nlohmann::json merged = guest->mdconfig;
        for (const auto& [key, value] : values.items()) {
            // Set once, by the server; and a password goes to the seed only (hashed), never to the domain.
            if (key == "vm_create" || key == "vm_creater" || key == "vm_password") continue;
            merged[key] = value.is_string() ? value.get<std::string>() : value.dump();
        }
        // The seed's inputs are checked before the definition changes: a refusal changes nothing.
        auto context = seed_context(uuid, values);
        if (!context) return tl::unexpected(context.error());
        if (merged != guest->mdconfig) {
            if (auto done = hypervisor_.set_mdconfig(h, uuid, merged); !done) return done;
        }
        if (context->is_null()) return {};
        return reseed_from(h, uuid, std::move(*context));
    });
}

Status VmService::reseed(const virt::HostRef& host, const std::string& uuid, const nlohmann::json& changes) {
    auto context = seed_context(uuid, changes);
    if (!context) return tl::unexpected(context.error());
    if (context->is_null()) {
        log::get("vm")->debug("vm has no cloud-init seed to render again host={} vm={}", host.name, uuid);
        return {};
    }
    return reseed_from(host, uuid, std::move(*context));
}

Result<nlohmann::json> VmService::seed_context(const std::string& uuid, const nlohmann::json& changes) {
    auto context = seeds_.context(uuid);
    if (!context) {
        if (context.error().code != Errc::NotFound) return tl::unexpected(context.error());
        return nlohmann::json();  // not created by kvmhub
    }
    nlohmann::json update = nlohmann::json::object();
    for (const auto& [key, value] : changes.items()) {
        if (key == "vm_create" || key == "vm_creater" || reserved(key)) continue;
        // An empty value removes the variable (a password, a static address).
        if (value.is_null() || (value.is_string() && value.get_ref<const std::string&>().empty())) {
            context->erase(key);
        } else {
            update[key] = value;
        }
    }
    if (auto ok = cloudinit::normalize_inputs(update); !ok) return tl::unexpected(ok.error());
    for (const auto& [key, value] : update.items()) (*context)[key] = value;
    if (auto ok = cloudinit::check_static_address(*context); !ok) return tl::unexpected(ok.error());
    if (auto ok = cloudinit::check_seed_mode(*context); !ok) return tl::unexpected(ok.error());
    return context;
}

Status VmService::reseed_nic(const virt::HostRef& host, const std::string& uuid, const std::string& mac,
                             const nlohmann::json& settings, const std::string& gone) {
    auto context = seeds_.context(uuid);
    if (!context) {
        if (context.error().code != Errc::NotFound) return tl::unexpected(context.error());
        return {};  // not created by kvmhub: no seed to follow its NICs
    }
    auto& nics = (*context)[cloudinit::kNicSettings];
    if (!nics.is_object()) nics = nlohmann::json::object();
    if (settings.empty()) {
        nics.erase(mac);
    } else {
        nics[mac] = settings;
    }
    if (auto ok = cloudinit::check_seed_mode(*context); !ok) return ok;
    return reseed_from(host, uuid, std::move(*context), gone);
}

Status VmService::reseed_from(const virt::HostRef& host, const std::string& uuid, nlohmann::json context,
                              const std::string& gone) {
    context.erase("vm_mac");
    set_meta_srv(context);
    auto guest = hypervisor_.guest(host, uuid);
    if (!guest) return tl::unexpected(guest.error());
    // A NIC being detached may still show in the live definition until the guest lets it go.
    std::vector<std::string> macs;
    for (const auto& net : guest->nets)
        if (!net.mac.empty() && net.mac != gone) macs.push_back(net.mac);
    if (!macs.empty()) context["vm_mac"] = macs.front();
    context["vm_nics"] = cloudinit::nic_configs(context, macs);
    auto record = catalog_.host(host.name);
    if (!record) return tl::unexpected(record.error());
    // The VM's definition, not the host setting of today, says whether a volume is to be written.
    auto pool = cloudinit::iso_volume_pool(guest->disks, uuid, disks::pool_of(*record));
    if (!pool) {
        const auto mode = context.find("vm_meta_enum");
        const bool nocloud = mode != context.end() && *mode == "NOCLOUD";
        if (record->value("meta_iso", "") == catalog::kMetaIsoPool && !nocloud)
            log::get("vm")->warn(
                "host is meta_iso=pool but no CD-ROM of vm={} reads volume {}: its domain template "
                "does not use host.meta_iso (see README, cloud-init) host={}",
                uuid, cloudinit::iso_volume_name(uuid), host.name);
        return seeds_.render(host.name, uuid, context);
    }
    // Written before the seed is stored: when the volume cannot be written, both keep the old seed.
    return seeds_.render(host.name, uuid, context, [&](const std::map<std::string, std::string>& files) {
        return cloudinit::publish_iso_volume(hypervisor_, host, *pool, uuid, files);
    });
}

Result<nlohmann::json> VmService::remove(const std::string& host, const std::string& uuid) {
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    nlohmann::json failed = nlohmann::json::array();
    Status done = locked(*ref, uuid, "delete", [&]() -> Status {
        auto guest = hypervisor_.guest(*ref, uuid);
        if (!guest) return tl::unexpected(guest.error());
        if (auto undefined = hypervisor_.undefine(*ref, uuid); !undefined) return undefined;
        if (auto left = remove_iso_volume(*ref, uuid, guest->disks); !left.is_null()) failed.push_back(left);
        // Disks go after the domain: a volume in use cannot be deleted. CD-ROM media are shared.
        for (const auto& disk : guest->disks) {
            if (disk.device != "disk" || disk.vol.empty() || disk.type == "rbd" || disk.type.rfind("http", 0) == 0)
                continue;
            auto deleted = hypervisor_.delete_volume(*ref, disk.vol);
            if (!deleted && deleted.error().code != Errc::NotFound)
                failed.push_back(
                    {{"type", disk.type}, {"dev", disk.dev}, {"vol", disk.vol}, {"error", deleted.error().desc}});
        }
        return {};
    });
    if (!done) return tl::unexpected(done.error());
    cache_erase(host, uuid);
    if (auto forgotten = seeds_.forget(uuid); !forgotten)
        failed.push_back({{"type", "metadata"}, {"dev", ""}, {"vol", uuid}, {"error", forgotten.error().desc}});
    log::get("vm")->info("deleted vm host={} vm={} failed={}", host, uuid, failed.size());
    return failed;
}

nlohmann::json VmService::remove_iso_volume(const virt::HostRef& host, const std::string& uuid,
                                            const std::vector<virt::DiskInfo>& drives) {
    auto record = catalog_.host(host.name);
    if (!record) return {{"type", "cidata"}, {"dev", ""}, {"vol", uuid}, {"error", record.error().desc}};
    // The pool the VM's CD-ROM reads, else the host's pool when the host writes volumes (the
    // CD-ROM may show another ISO now).
    auto pool = cloudinit::iso_volume_pool(drives, uuid, disks::pool_of(*record));
    if (!pool && record->value("meta_iso", "") == catalog::kMetaIsoPool) pool = disks::pool_of(*record);
    if (!pool) return nullptr;
    const std::string vol = pool->name + "/" + cloudinit::iso_volume_name(uuid);
    auto deleted = hypervisor_.delete_volume(host, vol);
    if (deleted || deleted.error().code == Errc::NotFound) return nullptr;
    return {{"type", "cidata"}, {"dev", ""}, {"vol", vol}, {"error", deleted.error().desc}};
}

Result<nlohmann::json> VmService::snapshots(const std::string& host, const std::string& uuid) {
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    auto list = hypervisor_.snapshots(*ref, uuid);
    if (!list) return tl::unexpected(list.error());
    return nlohmann::json{{"num", list->names.size()}, {"names", list->names}, {"current", list->current}};
}

Result<nlohmann::json> VmService::block_size(const std::string& host, const std::string& uuid, const std::string& dev) {
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    auto bytes = hypervisor_.block_size(*ref, uuid, dev);
    if (!bytes) return tl::unexpected(bytes.error());
    return nlohmann::json{{"size", fmt::format("{}MiB", *bytes >> 20)}};
}

Result<nlohmann::json> VmService::net_stats(const std::string& host, const std::string& uuid, const std::string& mac) {
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    auto stats = hypervisor_.net_stats(*ref, uuid, mac);
    if (!stats) return tl::unexpected(stats.error());
    // simplekvm's UI reads stats.rx and stats.tx; the flat copies are kvmhub's older shape.
    return nlohmann::json{
        {"stats", {{"rx", stats->first}, {"tx", stats->second}}}, {"rx", stats->first}, {"tx", stats->second}};
}

Result<nlohmann::json> VmService::addresses(const std::string& host, const std::string& uuid) {
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    auto list = hypervisor_.addresses(*ref, uuid);
    if (!list) return tl::unexpected(list.error());
    nlohmann::json out = nlohmann::json::object();
    for (const auto& iface : *list) {
        nlohmann::json addrs = nlohmann::json::array();
        for (const auto& [addr, type] : iface.addrs) addrs.push_back({{"addr", addr}, {"type", type}});
        out[iface.mac] = {{"name", iface.name}, {"addrs", addrs}};
    }
    return out;
}

}  // namespace kvmhub::vm
