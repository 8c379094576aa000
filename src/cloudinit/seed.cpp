#include "cloudinit/seed.hpp"

#include <sys/socket.h>

#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "cloudinit/iso.hpp"
#include "cloudinit/password.hpp"
#include "common/cidr.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"

namespace kvmhub::cloudinit {
namespace {

std::string prefix(const std::string& uuid) {
    return fmt::format("{}{}/", kMetaPrefix, uuid);
}

std::string files_prefix(const std::string& uuid) {
    return prefix(uuid) + "files/";
}

Status check_uuid(const std::string& uuid) {
    if (!is_uuid(uuid)) return fail(Errc::BadInput, "uuid", fmt::format("'{}' is not a UUID", uuid));
    return {};
}

Error no_seed(const std::string& uuid) {
    return Error{Errc::NotFound, "uuid", fmt::format("no cloud-init data for VM {}", uuid)};
}

// A list of strings from a list, or from a string split at any of `separators`.
Result<nlohmann::json> string_list(const nlohmann::json& value, const char* field, std::string_view separators) {
    nlohmann::json out = nlohmann::json::array();
    auto add = [&](std::string_view text) {
        std::size_t start = 0;
        while (start < text.size()) {
            std::size_t end = text.find_first_of(separators, start);
            if (end == std::string_view::npos) end = text.size();
            std::string_view part = text.substr(start, end - start);
            while (!part.empty() && (part.front() == ' ' || part.front() == '\t' || part.front() == '\r'))
                part.remove_prefix(1);
            while (!part.empty() && (part.back() == ' ' || part.back() == '\t' || part.back() == '\r'))
                part.remove_suffix(1);
            if (!part.empty()) out.push_back(std::string(part));
            start = end + 1;
        }
    };
    if (value.is_string()) {
        add(value.get_ref<const std::string&>());
    } else if (value.is_array()) {
        for (const auto& item : value) {
            if (!item.is_string())
                return fail(Errc::BadInput, field, fmt::format("'{}' must be a string or a list of strings", field));
            add(item.get_ref<const std::string&>());
        }
    } else if (!value.is_null()) {
        return fail(Errc::BadInput, field, fmt::format("'{}' must be a string or a list of strings", field));
    }
    return out;
}

// The uuid a /meta/<uuid>/... key belongs to ("" for another key).
std::string_view uuid_of(std::string_view key) {
    if (!key.starts_with(kMetaPrefix)) return {};
    key.remove_prefix(kMetaPrefix.size());
    return key.substr(0, key.find('/'));
}

// Past this many VMs in memory an arbitrary one makes room (a seed is a few KB; the ISO ~70 KB).
constexpr std::size_t kMaxCachedSeeds = 8192;

}  // namespace

const Result<std::string>& Seed::iso() const {
    std::call_once(iso_once_, [this] { iso_ = build_cidata_iso(files_.files); });
    return iso_;
}

// `generation` counts invalidations: a load that started before one may have read the old
// files, so it is not kept (the next fetch reads again).
struct SeedService::Cache {
    std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<const Seed>> seeds;
    std::uint64_t generation = 0;
    store::WatchPtr watch;  // last: destroyed first, so its callback never sees a dead cache

    void drop(std::string_view uuid) {
        std::lock_guard lock(mutex);
        ++generation;
        seeds.erase(std::string(uuid));
    }
    // A change committed at `revision` (seen through the watch, possibly after this daemon's own
    // render already dropped the old seed and a fetch loaded the new one: that one is kept).
    void changed(std::string_view uuid, std::int64_t revision) {
        std::lock_guard lock(mutex);
        ++generation;
        auto it = seeds.find(std::string(uuid));
        if (it != seeds.end() && it->second->files().revision < revision) seeds.erase(it);
    }
};

SeedService::SeedService(store::Store& store, catalog::Catalog& catalog)
    : store_(store), catalog_(catalog), cache_(std::make_unique<Cache>()) {
    auto watch = store_.watch(kMetaPrefix, [cache = cache_.get()](const std::vector<store::Event>& events) {
        for (const auto& e : events)
            if (auto uuid = uuid_of(e.kv.key); !uuid.empty()) cache->changed(uuid, e.kv.mod_revision);
    });
    if (!watch) {
        log::get("cloudinit")->warn("seeds not cached, cannot watch the store desc={}", watch.error().desc);
        return;
    }
    std::lock_guard lock(cache_->mutex);
    cache_->watch = std::move(*watch);
}

SeedService::~SeedService() = default;

Status normalize_inputs(nlohmann::json& vars) {
    if (auto it = vars.find("vm_password"); it != vars.end()) {
        if (!it->is_string())
            return fail(Errc::BadInput, "vm_password", "'vm_password' must be a string (empty = no password login)");
        if (it->get_ref<const std::string&>().empty()) {
            vars.erase(it);
        } else {
            auto hashed = hash_password(it->get_ref<const std::string&>());
            if (!hashed) return tl::unexpected(hashed.error());
            *it = std::move(*hashed);
        }
    }
    for (auto [field, separators] :
         {std::pair{"vm_dns", std::string_view(", \t\n")}, std::pair{"vm_sshkey", std::string_view("\n")}}) {
        auto it = vars.find(field);
        if (it == vars.end()) continue;
        auto list = string_list(*it, field, separators);
        if (!list) return tl::unexpected(list.error());
        if (list->empty()) {
            vars.erase(it);
        } else {
            *it = std::move(*list);
        }
    }
    return {};
}

Status check_static_address(const nlohmann::json& vars) {
    auto text = [&](const char* field) -> Result<std::string> {
        auto it = vars.find(field);
        if (it == vars.end() || it->is_null()) return std::string();
        if (!it->is_string()) return fail(Errc::BadInput, field, fmt::format("'{}' must be a string", field));
        return it->get<std::string>();
    };
    auto address = text("vm_ipaddr");
    if (!address) return tl::unexpected(address.error());
    auto gateway = text("vm_gateway");
    if (!gateway) return tl::unexpected(gateway.error());
    std::optional<Cidr> network;
    if (!address->empty()) {
        auto parsed = parse_interface_address(*address, "vm_ipaddr");
        if (!parsed) return tl::unexpected(parsed.error());
        network = *parsed;
    }
    if (!gateway->empty()) {
        const int family = ip_family(*gateway);
        if (family == 0)
            return fail(Errc::BadInput, "vm_gateway",
                        fmt::format("'vm_gateway' must be an IP address, not '{}'", *gateway));
        if (!network)
            return fail(Errc::BadInput, "vm_gateway",
                        "'vm_gateway' goes with a static 'vm_ipaddr' (with DHCP the gateway comes from DHCP)");
        if ((family == AF_INET6) != network->v6())
            return fail(Errc::BadInput, "vm_gateway",
                        fmt::format("'vm_gateway' {} is not of the family of 'vm_ipaddr' {}", *gateway, *address));
    }
    if (auto dns = vars.find("vm_dns"); dns != vars.end() && dns->is_array()) {
        for (const auto& server : *dns)
            if (!server.is_string() || ip_family(server.get_ref<const std::string&>()) == 0)
                return fail(Errc::BadInput, "vm_dns",
                            fmt::format("'vm_dns' must list IP addresses; '{}' is not one",
                                        server.is_string() ? server.get<std::string>() : server.dump()));
    }
    return {};
}

Status check_seed_mode(const nlohmann::json& context) {
    auto mode = context.find("vm_meta_enum");
    if (mode == context.end() || *mode != "NOCLOUD") return {};
    auto has_address = [](const nlohmann::json& vars) {
        auto it = vars.find("vm_ipaddr");
        return it != vars.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
    };
    bool static_address = has_address(context);
    if (auto nics = context.find(kNicSettings); nics != context.end() && nics->is_object())
        for (const auto& [mac, vars] : nics->items()) static_address = static_address || has_address(vars);
    if (!static_address) return {};
    return fail(Errc::BadInput, "vm_ipaddr",
                "a static address needs vm_meta_enum=ISO: in NOCLOUD mode cloud-init 22.4 fetches no "
                "network-config and does not bring up a meta-data address on the first boot");
}

nlohmann::json nic_configs(const nlohmann::json& context, const std::vector<std::string>& macs) {
    auto text = [](const nlohmann::json& vars, const char* field) {
        auto it = vars.find(field);
        return it != vars.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto config = [&](const std::string& mac, const nlohmann::json& vars) {
        auto dns = vars.find("vm_dns");
        return nlohmann::json{{"mac", mac},
                              {"name", text(vars, "vm_interface")},
                              {"ipaddr", text(vars, "vm_ipaddr")},
                              {"gateway", text(vars, "vm_gateway")},
                              {"dns", dns != vars.end() && dns->is_array() ? *dns : nlohmann::json::array()}};
    };
    const auto settings = context.find(kNicSettings);
    const bool has_settings = settings != context.end() && settings->is_object();
    nlohmann::json out = nlohmann::json::array();
    bool vm_level_used = false;
    for (const auto& mac : macs) {
        if (has_settings) {
            if (auto own = settings->find(mac); own != settings->end() && own->is_object()) {
                out.push_back(config(mac, *own));
                continue;
            }
        }
        out.push_back(config(mac, vm_level_used ? nlohmann::json::object() : context));
        vm_level_used = true;
    }
    return out;
}

Status SeedService::render(const std::string& host, const std::string& uuid, const nlohmann::json& context,
                           const BeforeStore& before_store) {
    if (auto ok = check_uuid(uuid); !ok) return ok;
    auto names = catalog_.template_names(catalog::TemplateKind::Meta);
    if (!names) return tl::unexpected(names.error());
    store::Txn txn{{}, {store::Op::erase_prefix(prefix(uuid))}};
    txn.ops.push_back(
        store::Op::put(prefix(uuid) + "context", nlohmann::json{{"host", host}, {"context", context}}.dump()));
    std::map<std::string, std::string> files;
    for (const auto& name : *names) {
        auto parsed = catalog_.parsed_template(catalog::TemplateKind::Meta, name);
        if (!parsed) return tl::unexpected(parsed.error());
        // YAML, not XML: templates quote values with `tojson` themselves.
        auto text = (*parsed)->render(context, tmpl::RenderOptions{});
        if (!text) return fail(Errc::BadInput, "tpl", fmt::format("meta template {}: {}", name, text.error().desc));
        txn.ops.push_back(store::Op::put(files_prefix(uuid) + name, *text));
        files.emplace(name, std::move(*text));
    }
    if (before_store) {
        if (auto ok = before_store(files); !ok) return ok;
    }
    auto done = store_.commit(txn);
    // Dropped here too, not only by the watch (which runs later on the store's thread): a fetch
    // right after render returns sees the new files.
    cache_->drop(uuid);
    if (!done) return tl::unexpected(done.error());
    return {};
}

Result<nlohmann::json> SeedService::context(const std::string& uuid) {
    if (auto ok = check_uuid(uuid); !ok) return tl::unexpected(ok.error());
    auto kv = store_.get(prefix(uuid) + "context");
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return tl::unexpected(no_seed(uuid));
    auto doc = nlohmann::json::parse((*kv)->value, nullptr, false);
    if (!doc.is_object() || !doc.contains("context"))
        return fail(Errc::Internal, "store", fmt::format("the cloud-init context of VM {} is damaged", uuid));
    return doc["context"];
}

Result<SeedFiles> SeedService::load(const std::string& uuid) {
    const std::string under = files_prefix(uuid);
    auto kvs = store_.list(under);
    if (!kvs) return tl::unexpected(kvs.error());
    if (kvs->empty()) return tl::unexpected(no_seed(uuid));
    SeedFiles out;
    for (auto& kv : *kvs) {
        out.revision = std::max(out.revision, kv.mod_revision);
        out.files.emplace(kv.key.substr(under.size()), std::move(kv.value));
    }
    return out;
}

Result<std::shared_ptr<const Seed>> SeedService::seed(const std::string& uuid) {
    if (auto ok = check_uuid(uuid); !ok) return tl::unexpected(ok.error());
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(cache_->mutex);
        if (auto it = cache_->seeds.find(uuid); it != cache_->seeds.end()) return it->second;
        generation = cache_->generation;
    }
    auto files = load(uuid);
    if (!files) return tl::unexpected(files.error());
    auto seed = std::make_shared<const Seed>(std::move(*files));
    std::lock_guard lock(cache_->mutex);
    if (cache_->watch && cache_->generation == generation) {
        if (cache_->seeds.size() >= kMaxCachedSeeds) cache_->seeds.erase(cache_->seeds.begin());
        cache_->seeds.emplace(uuid, seed);
    }
    return seed;
}

Status SeedService::forget(const std::string& uuid) {
    if (auto ok = check_uuid(uuid); !ok) return ok;
    auto erased = store_.erase_prefix(prefix(uuid));
    cache_->drop(uuid);
    if (!erased) return tl::unexpected(erased.error());
    return {};
}

}  // namespace kvmhub::cloudinit
