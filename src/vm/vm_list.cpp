// Listing VMs live from a host, and the guest cache that serves /vm/list/ for all hosts.
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/ids.hpp"
#include "common/log.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::vm {
namespace {

// Hosts resync_all() re-reads at once.
constexpr std::size_t kResyncParallel = 16;

std::string cache_prefix(const std::string& host) {
    return fmt::format("{}{}/", kGuestsPrefix, host);
}

std::string host_info_key(const std::string& host) {
    return fmt::format("{}{}", kHostInfoPrefix, host);
}

nlohmann::json disk_json(const virt::DiskInfo& d) {
    return {{"device", d.device}, {"type", d.type}, {"bus", d.bus}, {"dev", d.dev}, {"vol", d.vol}};
}

nlohmann::json host_json(const virt::NodeInfo& n) {
    return {{"hostname", n.hostname},
            {"freemem", fmt::format("{}MiB", n.free_kib / 1024)},
            {"totalmem", fmt::format("{}MiB", n.total_kib / 1024)},
            {"totalcpu", n.cpus},
            {"mhz", n.mhz},
            {"totalvm", n.total_vms},
            {"active", n.active_vms}};
}

}  // namespace

nlohmann::json guest_json(const virt::GuestInfo& g, std::int64_t updated) {
    nlohmann::json disks = nlohmann::json::array();
    for (const auto& d : g.disks) disks.push_back(disk_json(d));
    nlohmann::json nets = nlohmann::json::array();
    for (const auto& n : g.nets) nets.push_back({{"type", n.type}, {"model", n.model}, {"mac", n.mac}});
    return {{"uuid", g.uuid},         {"name", g.name},          {"title", g.title},       {"desc", g.desc},
            {"curcpu", g.curcpu},     {"maxcpu", g.maxcpu},      {"curmem", g.curmem_kib}, {"maxmem", g.maxmem_kib},
            {"mdconfig", g.mdconfig}, {"cputime", g.cputime_ns}, {"state", g.state},       {"disks", disks},
            {"nets", nets},           {"updated", updated}};
}

VmService::VmService(store::Store& store, catalog::Catalog& catalog, virt::Hypervisor& hypervisor,
                     cloudinit::SeedService& seeds, disks::GoldCache& golds, disks::Provisioner& provisioner,
                     TaskService& tasks, const Config& config, const Clock& clock)
    : store_(store),
      catalog_(catalog),
      hypervisor_(hypervisor),
      seeds_(seeds),
      golds_(golds),
      provisioner_(provisioner),
      tasks_(tasks),
      config_(config),
      clock_(clock) {}

Result<virt::HostRef> VmService::host_ref(const std::string& host) {
    auto record = catalog_.host(host);
    if (!record) return tl::unexpected(record.error());
    return virt::HostRef{host, record->value("url", "")};
}

Status VmService::check_uuid(const std::string& uuid) {
    if (!is_uuid(uuid)) return fail(Errc::BadInput, "uuid", fmt::format("'{}' is not a UUID", uuid));
    return {};
}

void VmService::cache_put(const std::string& host, const nlohmann::json& guest) {
    if (auto put = store_.put(cache_prefix(host) + guest.value("uuid", ""), guest.dump()); !put)
        log::get("vm")->warn("cannot cache guest host={} error={}", host, put.error().desc);
}

void VmService::cache_erase(const std::string& host, const std::string& uuid) {
    if (auto erased = store_.erase(cache_prefix(host) + uuid); !erased)
        log::get("vm")->warn("cannot drop cached guest host={} vm={} error={}", host, uuid, erased.error().desc);
}

void VmService::refresh_cached(const std::string& host, const std::string& uuid) {
    auto ref = host_ref(host);
    if (!ref) return;
    auto guest = hypervisor_.guest(*ref, uuid);
    if (guest) {
        cache_put(host, guest_json(*guest, clock_.now_seconds()));
    } else if (guest.error().code == Errc::NotFound) {
        cache_erase(host, uuid);
    }
}

Result<nlohmann::json> VmService::list_host(const std::string& host) {
    auto ref = host_ref(host);
    if (!ref) return tl::unexpected(ref.error());
    auto node = hypervisor_.node_info(*ref);
    if (!node) return tl::unexpected(node.error());
    auto guests = hypervisor_.guests(*ref);
    if (!guests) return tl::unexpected(guests.error());
    nlohmann::json info = host_json(*node);
    nlohmann::json guest = replace_cache(host, info, *guests);
    return nlohmann::json{{"host", std::move(info)}, {"guest", std::move(guest)}};
}

nlohmann::json VmService::replace_cache(const std::string& host, const nlohmann::json& info,
                                       const std::vector<virt::GuestInfo>& guests) {
    nlohmann::json out = nlohmann::json::array();
    // The host's whole cache is replaced in one transaction: VMs removed behind our back vanish.
    store::Txn txn{{},
                   {store::Op::erase_prefix(cache_prefix(host)), store::Op::put(host_info_key(host), info.dump())}};
    const std::int64_t now = clock_.now_seconds();
    for (const auto& g : guests) {
        nlohmann::json j = guest_json(g, now);
        txn.ops.push_back(store::Op::put(cache_prefix(host) + g.uuid, j.dump()));
        out.push_back(std::move(j));
    }
    if (auto done = store_.commit(txn); !done)
        log::get("vm")->warn("cannot refresh the guest cache host={} error={}", host, done.error().desc);
    return out;
}

Status VmService::resync_host(const std::string& host) {
    auto ref = host_ref(host);
    if (!ref) return tl::unexpected(ref.error());
    auto node = hypervisor_.node_info(*ref);
    if (!node) return tl::unexpected(node.error());
    auto guests = hypervisor_.guests(*ref);
    if (!guests) return tl::unexpected(guests.error());
    replace_cache(host, host_json(*node), *guests);
    return {};
}

void VmService::resync_all() {
    auto hosts = catalog_.hosts();
    if (!hosts) {
        log::get("vm")->warn("guest cache resync: cannot list hosts error={}", hosts.error().desc);
        return;
    }
    std::set<std::string> names;
    for (const auto& h : *hosts) names.insert(h.value("name", ""));
    // Hosts are re-read side by side: a host that does not answer costs the round its call
    // timeout once, not once per dead host, and holds up no other host's re-read.
    const std::vector<std::string> order(names.begin(), names.end());
    std::atomic<std::size_t> next{0};
    std::atomic<int> failed{0};
    auto worker = [&] {
        for (std::size_t i = next++; i < order.size(); i = next++) {
            // An unreachable host keeps its last known guests (their "updated" stamp ages).
            if (auto done = resync_host(order[i]); !done) {
                ++failed;
                log::get("vm")->warn("guest cache resync failed host={} error={}", order[i], done.error().desc);
            }
        }
    };
    {
        std::vector<std::jthread> threads;
        for (std::size_t t = 1; t < std::min(order.size(), kResyncParallel); ++t) threads.emplace_back(worker);
        worker();
    }
    // What is cached for hosts deleted from the catalog goes too.
    std::set<std::string> orphans;
    for (std::string_view prefix : {kGuestsPrefix, kHostInfoPrefix}) {
        auto cached = store_.list(prefix);
        if (!cached) continue;
        for (const auto& kv : *cached) {
            std::string rest = kv.key.substr(prefix.size());
            std::string name = rest.substr(0, rest.find('/'));
            if (!names.contains(name)) orphans.insert(name);
        }
    }
    for (const auto& name : orphans) forget_host(name);
    log::get("vm")->debug("guest cache resynced hosts={} failed={}", names.size(), failed.load());
}

Result<std::string> VmService::list_guest(const std::string& host, const std::string& uuid) {
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    // From the cache when it has both the host and the VM (events and resyncs keep them current).
    auto info = store_.get(host_info_key(host));
    auto cached = store_.get(cache_prefix(host) + uuid);
    if (info && *info && cached && *cached) {
        return R"({"host":)" + (*info)->value + R"(,"guest":)" + (*cached)->value + "}";
    }
    auto node = hypervisor_.node_info(*ref);
    if (!node) return tl::unexpected(node.error());
    auto guest = hypervisor_.guest(*ref, uuid);
    if (!guest) return tl::unexpected(guest.error());
    nlohmann::json facts = host_json(*node);
    if (auto put = store_.put(host_info_key(host), facts.dump()); !put)
        log::get("vm")->warn("cannot cache host info host={} error={}", host, put.error().desc);
    nlohmann::json out = {{"host", std::move(facts)}, {"guest", guest_json(*guest, clock_.now_seconds())}};
    cache_put(host, out["guest"]);
    return out.dump();
}

void VmService::forget_host(const std::string& host) {
    store::Txn txn{{}, {store::Op::erase_prefix(cache_prefix(host)), store::Op::erase(host_info_key(host))}};
    if (auto done = store_.commit(txn); !done)
        log::get("vm")->warn("cannot drop the cache of host={} error={}", host, done.error().desc);
}

Result<std::string> VmService::list_cached() {
    // The last answer is kept until the store changes: /vm/list/ is polled far more often
    // than anything changes. The revision is read before the data, so a change made while
    // the answer is built only makes the next call build it again.
    auto revision = store_.current_revision();
    if (!revision) return tl::unexpected(revision.error());
    {
        std::lock_guard lock(list_mutex_);
        if (list_revision_ == *revision) return list_text_;
    }
    auto built = build_cached_list();
    if (!built) return built;
    std::lock_guard lock(list_mutex_);
    if (*revision > list_revision_) {
        list_revision_ = *revision;
        list_text_ = *built;
    }
    return built;
}

Result<std::string> VmService::build_cached_list() {
    auto hosts = catalog_.hosts();
    if (!hosts) return tl::unexpected(hosts.error());
    auto cached = store_.list(kGuestsPrefix);
    if (!cached) return tl::unexpected(cached.error());
    // The cached guests are JSON objects this service wrote: they are joined as they are,
    // never parsed (with thousands of VMs, parsing would be most of the cost).
    struct HostEntry {
        std::string arch;
        std::string guests;
    };
    std::map<std::string, HostEntry> by_host;
    for (const auto& h : *hosts) by_host[h.value("name", "")].arch = h.value("arch", "");
    for (const auto& kv : *cached) {
        std::string_view rest = std::string_view(kv.key).substr(kGuestsPrefix.size());
        auto it = by_host.find(std::string(rest.substr(0, rest.find('/'))));
        if (it == by_host.end()) continue;  // a host deleted since: its cache no longer counts
        if (kv.value.size() < 2 || kv.value.front() != '{' || kv.value.back() != '}') continue;
        if (!it->second.guests.empty()) it->second.guests += ',';
        it->second.guests += kv.value;
    }
    std::string out = R"({"guest":[)";
    bool first = true;
    for (const auto& [name, entry] : by_host) {
        if (!first) out += ',';
        first = false;
        out += fmt::format(R"({{"arch":{},"guests":[{}],"kvmhost":{}}})", nlohmann::json(entry.arch).dump(),
                           entry.guests, nlohmann::json(name).dump());
    }
    out += "]}";
    return out;
}

}  // namespace kvmhub::vm
