// Creating a VM: merge defaults and the request, render the host's domain template, define.
#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cloudinit/iso_volume.hpp"
#include "cloudinit/seed.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::vm {
namespace {

// Set by the server; a client's value for them is dropped (simplekvm does the same).
// Create and attach share it: a device template sees the same server-set names.
const std::set<std::string> kReserved{"vm_uuid",
                                      "vm_arch",
                                      "vm_create",
                                      "vm_creater",
                                      "META_SRV",
                                      "META_HOST",
                                      "META_PORT",
                                      "host",
                                      "vm_last_disk",
                                      "vm_mac",
                                      "META_ISO_VOL",
                                      "vm_nics",
                                      cloudinit::kNicSettings};

std::string timestamp(const Clock& clock) {
    std::time_t now = clock.now_seconds();
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

// A whole number in [lo, hi] given as a number or a numeric string.
Status check_count(const nlohmann::json& context, const char* field, long lo, long hi, const char* unit) {
    auto it = context.find(field);
    if (it == context.end() || it->is_null()) return {};
    long value = -1;
    if (it->is_number_integer()) {
        value = it->get<long>();
    } else if (it->is_string()) {
        const std::string& text = it->get_ref<const std::string&>();
        char* end = nullptr;
        value = std::strtol(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0') value = -1;
    }
    if (value < lo || value > hi)
        return fail(Errc::BadInput, field,
                    fmt::format("'{}' must be a whole number of {} from {} to {}", field, unit, lo, hi));
    return {};
}

Status check_request(const nlohmann::json& body) {
    if (!body.is_object()) return fail(Errc::BadInput, "body", "expected a JSON object of vm_* variables");
    for (const auto& [key, value] : body.items())
        if (value.is_object())
            return fail(Errc::BadInput, key, fmt::format("'{}' must be a string, a number, a boolean or a list", key));
    if (auto ok = check_count(body, "vm_vcpus", 1, 1024, "vCPUs"); !ok) return ok;
    if (auto ok = check_count(body, "vm_vcpus_max", 1, 1024, "vCPUs"); !ok) return ok;
    if (auto ok = check_count(body, "vm_ram_mb", 16, 16 << 20, "MiB"); !ok) return ok;
    if (auto ok = check_count(body, "vm_ram_mb_max", 16, 16 << 20, "MiB"); !ok) return ok;
    return {};
}

std::pair<std::string, std::string> split_host_port(const std::string& hp) {
    auto colon = hp.rfind(':');
    const bool inside_brackets = hp.front() == '[' && hp.find(']') > colon;
    if (colon == std::string::npos || inside_brackets) return {hp, "80"};
    return {hp.substr(0, colon), hp.substr(colon + 1)};
}

}  // namespace

bool VmService::reserved(const std::string& variable) {
    return kReserved.count(variable) != 0;
}

void VmService::set_meta_srv(nlohmann::json& context) const {
    auto [meta_host, meta_port] = split_host_port(config_.meta_srv);
    context["META_SRV"] = config_.meta_srv;
    context["META_HOST"] = meta_host;
    context["META_PORT"] = meta_port;
}

Result<std::string> VmService::create(const std::string& host, const nlohmann::json& body, const std::string& creator,
                                      const std::string& idempotency_key) {
    if (auto ok = check_request(body); !ok) return tl::unexpected(ok.error());
    if (idempotency_key.empty()) return define_vm(host, body, creator);
    if (idempotency_key.size() > 128) return fail(Errc::BadInput, "Idempotency-Key", "at most 128 characters");
    // Claim the key before creating, so two first requests with one key cannot both create.
    // The claim holds "" until the VM exists; a lease forgets the key after a day.
    const std::string key = "/idempotency/" + host + "/" + idempotency_key;
    auto lease = store_.grant_lease(std::chrono::hours(24));
    if (!lease) return tl::unexpected(lease.error());
    auto claimed = store_.compare_and_swap(key, 0, "", *lease);
    if (!claimed) {
        (void)store_.revoke_lease(*lease);
        if (claimed.error().code != Errc::Conflict) return tl::unexpected(claimed.error());
        auto seen = store_.get(key);
        if (!seen) return tl::unexpected(seen.error());
        if (*seen && !(*seen)->value.empty()) return (*seen)->value;
        return fail(Errc::Conflict, "Idempotency-Key", "a create with this key is still running; retry shortly");
    }
    auto uuid = define_vm(host, body, creator);
    if (!uuid) {
        (void)store_.revoke_lease(*lease);  // a failed create may be retried with the same key
        return uuid;
    }
    (void)store_.put(key, *uuid, *lease);
    return uuid;
}

Result<std::string> VmService::define_vm(const std::string& host, const nlohmann::json& body,
                                         const std::string& creator) {
    auto record = catalog_.host(host);
    if (!record) return tl::unexpected(record.error());
    virt::HostRef ref{host, record->value("url", "")};
    auto caps = hypervisor_.capabilities(ref);
    if (!caps) return tl::unexpected(caps.error());
    // The route checked the name against the known families; the host's qemu says which exist.
    if (auto machine = body.find("vm_machine");
        machine != body.end() && machine->is_string() && !machine->get_ref<const std::string&>().empty() &&
        !caps->machines.empty() &&
        std::find(caps->machines.begin(), caps->machines.end(), machine->get_ref<const std::string&>()) ==
            caps->machines.end())
        return fail(Errc::BadInput, "vm_machine",
                    fmt::format("host {} offers no machine type '{}' for {}; it offers: {}", host,
                                machine->get_ref<const std::string&>(), caps->arch, fmt::join(caps->machines, ", ")));
    auto domain = catalog_.parsed_template(catalog::TemplateKind::Domain, record->value("tpl", ""));
    if (!domain) return tl::unexpected(domain.error());

    nlohmann::json context = {{"vm_ram_mb", 1024}, {"vm_vcpus", 1}};
    const std::string arch = record->value("arch", "x86_64");
    if (arch == "aarch64") context["vm_uefi"] = "/usr/share/AAVMF/AAVMF_CODE.fd";
    for (const auto& [key, value] : body.items())
        if (!reserved(key)) context[key] = value;
    const std::string uuid = new_uuid();
    context["vm_uuid"] = uuid;
    context["vm_arch"] = arch;
    context["vm_create"] = timestamp(clock_);
    context["vm_creater"] = creator;
    set_meta_srv(context);
    // The host's storage pool and where ISO mode takes the cidata ISO from: a template gives
    // the CD-ROM the volume META_ISO_VOL in host.pool when host.meta_iso is "pool".
    const virt::PoolSpec pool = disks::pool_of(*record);
    const std::string meta_iso = record->value("meta_iso", std::string(catalog::kMetaIsoUrl));
    context["host"] = {{"name", host},      {"arch", caps->arch},     {"domain_type", caps->domain_type},
                       {"pool", pool.name}, {"pool_path", pool.path}, {"meta_iso", meta_iso}};
    context["META_ISO_VOL"] = cloudinit::iso_volume_name(uuid);
    // Before any template sees them: the password is hashed here and never goes further.
    if (auto ok = cloudinit::normalize_inputs(context); !ok) return tl::unexpected(ok.error());
    if (auto ok = cloudinit::check_static_address(context); !ok) return tl::unexpected(ok.error());
    if (auto ok = cloudinit::check_seed_mode(context); !ok) return tl::unexpected(ok.error());

    tmpl::RenderOptions options;
    options.autoescape = true;
    auto xml = (*domain)->render(context, options);
    if (!xml) return fail(Errc::BadInput, "tpl", xml.error().desc);
    auto defined = hypervisor_.define(ref, *xml);
    if (!defined) return tl::unexpected(defined.error());
    // The seed goes with the VM: without it the VM is not kept (it could not boot configured).
    if (auto seeded = reseed_from(ref, *defined, context); !seeded) {
        if (auto undone = hypervisor_.undefine(ref, *defined); !undone)
            log::get("vm")->error("cannot undefine vm without seed host={} vm={} error={}", host, *defined,
                                  undone.error().desc);
        // A cidata volume written before the seed failed to store.
        if (meta_iso == catalog::kMetaIsoPool) {
            auto gone = hypervisor_.delete_volume(ref, pool.name + "/" + cloudinit::iso_volume_name(*defined));
            if (!gone && gone.error().code != Errc::NotFound)
                log::get("vm")->error("cannot delete the cidata volume of a failed create host={} vm={} error={}", host,
                                      *defined, gone.error().desc);
        }
        return tl::unexpected(seeded.error());
    }
    log::get("vm")->info("defined vm host={} vm={} by={}", host, *defined, creator);
    refresh_cached(host, *defined);
    return *defined;
}

}  // namespace kvmhub::vm
