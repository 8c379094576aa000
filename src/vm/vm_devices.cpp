// Devices of one VM: attach from a device template (its disk provisioned in the host's pool
// first), detach (a disk's volume goes with it), and CD-ROM media changes. Each holds the VM's
// lock, so the free target chosen for an attach stays free until the device is in.
#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "cloudinit/iso_volume.hpp"
#include "cloudinit/seed.hpp"
#include "common/log.hpp"
#include "common/xml_escape.hpp"
#include "vm/action_runner.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::vm {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr long kMaxGiB = 64 * 1024;
constexpr long kDefaultGiB = 10;  // simplekvm's {{ size | default(10) }}
// The network settings a NIC's attach body gives for that NIC (catalog::kNicVariables),
// normalized and checked; {} when it gives none.
Result<nlohmann::json> nic_settings(const nlohmann::json& body) {
    nlohmann::json out = nlohmann::json::object();
    for (std::string_view field : catalog::kNicVariables) {
        auto it = body.find(field);
        if (it == body.end() || it->is_null() || (it->is_string() && it->get_ref<const std::string&>().empty()))
            continue;
        out[std::string(field)] = *it;
    }
    if (auto ok = cloudinit::normalize_inputs(out); !ok) return tl::unexpected(ok.error());
    if (auto ok = cloudinit::check_static_address(out); !ok) return tl::unexpected(ok.error());
    return out;
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// The target name prefix of a disk bus, as libvirt and simplekvm name them.
std::string bus_prefix(std::string_view bus) {
    if (bus == "virtio") return "vd";
    if (bus == "sata" || bus == "scsi" || bus == "usb") return "sd";
    if (bus == "ide") return "hd";
    return {};
}

// simplekvm's vm_last_disk: the letter after the last one used with `prefix` by the disks and
// CD-ROMs of either definition (vda, vdc -> vdd: a gap is not filled, so a target a guest once
// saw is not handed to another disk).
Result<std::string> next_target(const std::string& prefix, const std::vector<std::string>& used) {
    char last = 'a' - 1;
    for (const auto& name : used)
        if (name.size() == prefix.size() + 1 && name.rfind(prefix, 0) == 0 && name.back() >= 'a' && name.back() <= 'z')
            last = std::max(last, name.back());
    if (last == 'z') return fail(Errc::Conflict, "dev", fmt::format("{}z is in use: no target follows it", prefix));
    return prefix + static_cast<char>(last + 1);
}

bool is_target(std::string_view dev) {
    return dev.size() >= 3 && dev.size() <= 8 &&
           std::all_of(dev.begin(), dev.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

bool is_mac(std::string_view dev) {
    if (dev.size() != 17) return false;
    for (std::size_t i = 0; i < dev.size(); ++i)
        if (i % 3 == 2 ? dev[i] != ':' : std::isxdigit(static_cast<unsigned char>(dev[i])) == 0) return false;
    return true;
}

// What a rendered device template is.
struct Device {
    std::string element;  // disk, interface, ...
    std::string device;   // disk, cdrom (disks only)
    std::string type;     // the element's type attribute: volume, file, network, user, ...
    std::string bus;
    std::string pool;  // type='volume': its source
    std::string volume;
    std::string format;  // driver type
};

Result<Device> read_device(const std::string& xml, const std::string& tpl) {
    pugi::xml_document doc;
    auto parsed = doc.load_string(xml.c_str());
    auto root = doc.document_element();
    if (!parsed || !root)
        return fail(Errc::BadInput, "dev",
                    fmt::format("device template {} rendered no usable XML ({}); fix the template", tpl,
                                parsed ? "empty" : parsed.description()));
    Device out;
    out.element = root.name();
    out.device = root.attribute("device").value();
    out.type = root.attribute("type").value();
    out.bus = root.child("target").attribute("bus").value();
    out.pool = root.child("source").attribute("pool").value();
    out.volume = root.child("source").attribute("volume").value();
    out.format = root.child("driver").attribute("type").value();
    if (out.format.empty()) out.format = "raw";
    return out;
}

// `size` in GiB (a whole number, as a number or numeric string, which may end in simplekvm's
// older "G"); 0 when absent.
Result<long> size_gib(const nlohmann::json& body) {
    auto it = body.find("size");
    if (it == body.end() || it->is_null() || (it->is_string() && it->get_ref<const std::string&>().empty())) return 0;
    long value = -1;
    if (it->is_number_integer()) {
        value = it->get<long>();
    } else if (it->is_number_float() && std::floor(it->get<double>()) == it->get<double>()) {
        value = static_cast<long>(it->get<double>());
    } else if (it->is_string()) {
        std::string text = it->get_ref<const std::string&>();
        if (!text.empty() && (text.back() == 'G' || text.back() == 'g')) text.pop_back();
        char* end = nullptr;
        value = std::strtol(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || !std::isdigit(static_cast<unsigned char>(text.front()))) value = -1;
    }
    if (value < 1 || value > kMaxGiB)
        return fail(Errc::BadInput, "size", fmt::format("'size' must be a whole number of GiB from 1 to {}", kMaxGiB));
    return value;
}

Result<disks::Clone> clone_mode(const nlohmann::json& body) {
    auto it = body.find("clone");
    if (it == body.end() || it->is_null() || *it == "" || *it == "linked") return disks::Clone::Linked;
    if (*it == "full") return disks::Clone::Full;
    return fail(Errc::BadInput, "clone",
                "'clone' must be \"linked\" (a qcow2 overlay, the default) or \"full\" (a copy)");
}

Result<std::string> string_value(const nlohmann::json& body, const char* field) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::string();
    if (!it->is_string()) return fail(Errc::BadInput, field, fmt::format("'{}' must be a string", field));
    return it->get<std::string>();
}

std::pair<std::string, std::string> split_host_port(const std::string& hp, const std::string& fallback_port) {
    auto colon = hp.rfind(':');
    if (colon == std::string::npos || (hp.front() == '[' && hp.find(']') > colon)) return {hp, fallback_port};
    return {hp.substr(0, colon), hp.substr(colon + 1)};
}

// The <source> of a CD-ROM for an ISO URI: http(s) on any server, a path on META_SRV (like
// simplekvm), or a file:// path on the host.
Result<std::pair<std::string, std::string>> cdrom_source(const std::string& uri, const std::string& meta_srv) {
    auto network = [](const std::string& protocol, const std::string& authority, const std::string& path) {
        auto [host, port] = split_host_port(authority, protocol == "https" ? "443" : "80");
        std::string source = fmt::format("<source protocol='{}' name='{}'><host name='{}' port='{}'/>{}</source>",
                                         protocol, xml_escape(path), xml_escape(host), xml_escape(port),
                                         protocol == "https" ? "<ssl verify='no'/>" : "");
        return std::make_pair(std::string("network"), source);
    };
    for (const char* protocol : {"http", "https"}) {
        const std::string scheme = std::string(protocol) + "://";
        if (uri.rfind(scheme, 0) != 0) continue;
        std::string rest = uri.substr(scheme.size());
        auto slash = rest.find('/');
        if (slash == std::string::npos || slash == 0)
            return fail(Errc::BadInput, "isoname", fmt::format("the ISO's uri '{}' has no path", uri));
        return network(protocol, rest.substr(0, slash), rest.substr(slash));
    }
    if (uri.rfind("file://", 0) == 0)
        return std::make_pair(std::string("file"), fmt::format("<source file='{}'/>", xml_escape(uri.substr(7))));
    if (uri.rfind('/', 0) == 0) return network("http", meta_srv, uri);
    return fail(Errc::BadInput, "isoname", fmt::format("the ISO's uri '{}' is not http(s), file:// or /path", uri));
}

Error went_away(std::string_view what) {
    return Error{Errc::Conflict, "progress", fmt::format("{}: the client went away, nothing was attached", what)};
}

}  // namespace

Result<nlohmann::json> VmService::attach_device(const std::string& host, const std::string& uuid,
                                                const std::string& device, const nlohmann::json& body,
                                                const ProgressSink& progress) {
    auto task = tasks_.create("attach_device", host, uuid, fmt::format("attach {}", device));
    if (!task) return tl::unexpected(task.error());
    // Every line goes to the client and into the task, where GET /api/tasks/<id> shows it.
    auto logged = [&](std::string_view line) {
        if (auto kept = tasks_.log(*task, line); !kept)
            log::get("vm")->warn("cannot log to task id={} error={}", *task, kept.error().desc);
        return progress(line);
    };
    Result<nlohmann::json> result = logged("task " + *task)
                                        ? attach_in_task(host, uuid, device, body, *task, logged)
                                        : tl::unexpected(went_away("attach"));
    Status ended = result ? tasks_.finish(*task, *result) : tasks_.fail(*task, result.error());
    if (!ended) log::get("vm")->warn("cannot end task id={} error={}", *task, ended.error().desc);
    if (result) (*result)["task"] = *task;
    return result;
}

Status VmService::cleanup_interrupted(const nlohmann::json& task, const std::string& entry) {
    constexpr std::string_view kVolume = "volume ";
    if (entry.rfind(kVolume, 0) != 0)
        return fail(Errc::BadInput, "cleanup", fmt::format("unknown cleanup entry '{}'; remove it by hand", entry));
    const std::string path = entry.substr(kVolume.size());
    auto ref = host_ref(task.value("host", ""));
    if (!ref) return tl::unexpected(ref.error());
    auto gone = hypervisor_.delete_volume(*ref, path);
    if (!gone && gone.error().code != Errc::NotFound) return gone;
    log::get("vm")->info("removed volume of an interrupted task host={} vol={} task={}", ref->name, path,
                         task.value("id", ""));
    return {};
}

Result<VmService::AttachTarget> VmService::attach_target(const std::string& host, const std::string& uuid,
                                                         const std::string& device, const nlohmann::json& body) {
    if (!body.is_object()) return fail(Errc::BadInput, "body", "expected a JSON object of variables");
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    auto record = catalog_.host(host);
    if (!record) return tl::unexpected(record.error());
    auto enabled = catalog_.devices(host);
    if (!enabled) return tl::unexpected(enabled.error());
    auto found =
        std::find_if(enabled->begin(), enabled->end(), [&](const auto& d) { return d.value("name", "") == device; });
    if (found == enabled->end())
        return fail(
            Errc::NotFound, "dev",
            fmt::format("device '{}' is not enabled on host {}: enable it with \"{}\":\"on\" in POST /conf/host/",
                        device, host, device));
    return AttachTarget{*ref, *record, *found};
}

Status VmService::check_attach(const std::string& host, const std::string& uuid, const std::string& device,
                               const nlohmann::json& body) {
    auto target = attach_target(host, uuid, device, body);
    if (!target) return tl::unexpected(target.error());
    if (auto size = size_gib(body); !size) return tl::unexpected(size.error());
    if (auto clone = clone_mode(body); !clone) return tl::unexpected(clone.error());
    auto nic = nic_settings(body);
    if (!nic) return tl::unexpected(nic.error());
    if (nic->contains("vm_ipaddr")) {
        auto context = seeds_.context(uuid);
        if (context) {
            (*context)[cloudinit::kNicSettings]["new"] = *nic;
            if (auto ok = cloudinit::check_seed_mode(*context); !ok) return ok;
        } else if (context.error().code != Errc::NotFound) {
            return tl::unexpected(context.error());
        }
    }
    auto gold_name = string_value(body, "gold");
    if (!gold_name) return tl::unexpected(gold_name.error());
    if (!gold_name->empty()) {
        const std::string arch = target->host.value("arch", "x86_64");
        auto golds = catalog_.golds(arch);
        if (!golds) return tl::unexpected(golds.error());
        if (std::none_of(golds->begin(), golds->end(),
                         [&](const auto& g) { return g.value("name", "") == *gold_name; }))
            return fail(Errc::NotFound, "gold", fmt::format("no {} gold image named '{}'", arch, *gold_name));
    }
    // The VM itself, last: the one check that asks the host.
    if (auto guest = hypervisor_.guest(target->ref, uuid); !guest) return tl::unexpected(guest.error());
    return {};
}

Result<nlohmann::json> VmService::attach_in_task(const std::string& host, const std::string& uuid,
                                                 const std::string& device, const nlohmann::json& body,
                                                 const std::string& task, const ProgressSink& progress) {
    auto target = attach_target(host, uuid, device, body);
    if (!target) return tl::unexpected(target.error());
    const virt::HostRef& ref = target->ref;
    const nlohmann::json& record = target->host;
    const std::string tpl_name = target->device.value("tpl", device);
    auto tpl = catalog_.parsed_template(catalog::TemplateKind::Device, tpl_name);
    if (!tpl) return tl::unexpected(tpl.error());
    auto size = size_gib(body);
    if (!size) return tl::unexpected(size.error());
    auto clone = clone_mode(body);
    if (!clone) return tl::unexpected(clone.error());
    auto gold_name = string_value(body, "gold");
    if (!gold_name) return tl::unexpected(gold_name.error());
    auto nic = nic_settings(body);
    if (!nic) return tl::unexpected(nic.error());

    const std::string arch = record.value("arch", "x86_64");
    const virt::PoolSpec pool = disks::pool_of(record);
    nlohmann::json context = nlohmann::json::object();
    for (const auto& [key, value] : body.items())
        if (!reserved(key)) context[key] = value;
    auto [meta_host, meta_port] = split_host_port(config_.meta_srv, "80");
    context["vm_uuid"] = uuid;
    context["vm_arch"] = arch;
    context["META_SRV"] = config_.meta_srv;
    context["META_HOST"] = meta_host;
    context["META_PORT"] = meta_port;
    context["host"] = {{"name", host},
                       {"arch", arch},
                       {"ipaddr", record.value("ipaddr", "")},
                       {"pool", pool.name},
                       {"pool_path", pool.path}};
    tmpl::RenderOptions options;
    options.autoescape = true;
    auto render = [&](const std::string& last_disk) -> Result<std::string> {
        context["vm_last_disk"] = last_disk;
        auto xml = (*tpl)->render(context, options);
        if (!xml) return fail(Errc::BadInput, "dev", fmt::format("device template {}: {}", tpl_name, xml.error().desc));
        return xml;
    };

    nlohmann::json result;
    Status done = locked(
        ref, uuid, "attach_device",
        [&]() -> Status {
            auto use = hypervisor_.device_use(ref, uuid);
            if (!use) return tl::unexpected(use.error());
            // Rendered once with a placeholder to learn the bus, then with the free target on it.
            auto draft = render("vdz");
            if (!draft) return tl::unexpected(draft.error());
            auto shape = read_device(*draft, tpl_name);
            if (!shape) return tl::unexpected(shape.error());
            std::string target;
            if (shape->element == "disk") {
                std::string prefix = bus_prefix(shape->bus);
                if (prefix.empty())
                    return fail(
                        Errc::BadInput, "dev",
                        fmt::format("device template {} puts the disk on bus '{}': use virtio, sata, scsi, usb or ide",
                                    tpl_name, shape->bus));
                auto next = next_target(prefix, use->targets);
                if (!next) return tl::unexpected(next.error());
                target = *next;
            }
            auto xml = render(target);
            if (!xml) return tl::unexpected(xml.error());
            auto dev = read_device(*xml, tpl_name);
            if (!dev) return tl::unexpected(dev.error());

            // A volume is in the task's cleanup list from before it is made until it is attached
            // (or removed again), so a daemon killed in between removes it at its next start.
            auto track = [&](const std::string& path) { return tasks_.add_cleanup(task, "volume " + path); };
            auto untrack = [&](const std::string& path) {
                if (auto ok = tasks_.remove_cleanup(task, "volume " + path); !ok)
                    log::get("vm")->warn("cannot update task id={} error={}", task, ok.error().desc);
            };
            // A disk whose source is a volume in a pool is made here, through libvirt.
            std::string made;      // "pool/volume" to delete again when the attach does not happen
            std::string gold_url;  // for the action script
            auto undo = [&](Error err) -> Status {
                if (!made.empty()) {
                    auto gone = hypervisor_.delete_volume(ref, made);
                    if (gone || gone.error().code == Errc::NotFound)
                        untrack(made);
                    else
                        log::get("vm")->error("cannot delete volume of a failed attach host={} vol={} error={}", host,
                                              made, gone.error().desc);
                }
                return tl::unexpected(std::move(err));
            };
            if (dev->element == "disk" && dev->device == "disk" && dev->type == "volume") {
                if (dev->pool.empty() || dev->volume.empty())
                    return fail(Errc::BadInput, "dev",
                                fmt::format("device template {} names no pool or volume in its <source>", tpl_name));
                if (!progress(fmt::format("preparing storage pool {} on host {}", dev->pool, host)))
                    return tl::unexpected(went_away("attach"));
                // Only kvmhub's own pool is created; a template pointing elsewhere needs that pool to exist.
                if (dev->pool == pool.name)
                    if (auto ready = hypervisor_.ensure_pool(ref, pool); !ready) return ready;
                if (auto stale = hypervisor_.volume(ref, dev->pool, dev->volume); stale) {
                    // Named after this VM and a target it does not use: left by an attach that died
                    // before it finished. It is nobody's disk.
                    log::get("vm")->warn("deleting leftover volume host={} pool={} vol={}", host, dev->pool,
                                         dev->volume);
                    if (auto gone = hypervisor_.delete_volume(ref, dev->pool + "/" + dev->volume); !gone) return gone;
                } else if (stale.error().code != Errc::NotFound) {
                    return tl::unexpected(stale.error());
                }

                disks::DiskRequest request{dev->pool, dev->volume, dev->format, 0, *clone};
                Result<virt::VolumeInfo> volume = virt::VolumeInfo{};
                if (!gold_name->empty()) {
                    auto golds = catalog_.golds(arch);
                    if (!golds) return tl::unexpected(golds.error());
                    auto gold = std::find_if(golds->begin(), golds->end(),
                                             [&](const auto& g) { return g.value("name", "") == *gold_name; });
                    if (gold == golds->end())
                        return fail(Errc::NotFound, "gold",
                                    fmt::format("no {} gold image named '{}'", arch, *gold_name));
                    auto local = golds_.get(gold->value("uri", ""), progress);
                    if (!local) return tl::unexpected(local.error());
                    const std::uint64_t requested = static_cast<std::uint64_t>(*size) * kGiB;
                    if (*size > 0 && requested < local->virtual_size)
                        return fail(
                            Errc::Forbidden, "size",
                            fmt::format("gold too small: {} needs at least {} bytes ({:.1f} GiB), size is {} GiB",
                                        *gold_name, local->virtual_size,
                                        static_cast<double>(local->virtual_size) / kGiB, *size),
                            403);
                    request.capacity =
                        *size > 0 ? requested : std::max<std::uint64_t>(kDefaultGiB * kGiB, local->virtual_size);
                    gold_url = golds_.url_of(gold->value("uri", ""));
                    // A base that is not in the pool yet is this task's to remove if it dies uploading.
                    const std::string base_path = pool.name + "/" + disks::base_name(*gold_name, *local);
                    const bool new_base = !hypervisor_.volume(ref, pool.name, disks::base_name(*gold_name, *local));
                    if (new_base)
                        if (auto tracked = track(base_path); !tracked) return tracked;
                    auto base = provisioner_.base(ref, pool, *gold_name, *local, progress);
                    if (new_base) untrack(base_path);
                    if (!base) return tl::unexpected(base.error());
                    if (!progress(fmt::format("creating {} as a {} of {}", dev->volume,
                                              *clone == disks::Clone::Linked ? "linked clone" : "full copy",
                                              base->name)))
                        return tl::unexpected(went_away("attach"));
                    if (auto tracked = track(dev->pool + "/" + dev->volume); !tracked) return tracked;
                    volume = provisioner_.make_disk(ref, request, &*base, &*local);
                } else {
                    request.capacity = static_cast<std::uint64_t>(*size > 0 ? *size : kDefaultGiB) * kGiB;
                    if (!progress(
                            fmt::format("creating blank volume {} of {} GiB", dev->volume, request.capacity / kGiB)))
                        return tl::unexpected(went_away("attach"));
                    if (auto tracked = track(dev->pool + "/" + dev->volume); !tracked) return tracked;
                    volume = provisioner_.make_disk(ref, request, nullptr, nullptr);
                }
                if (!volume) {  // make_disk removed what it half-made
                    untrack(dev->pool + "/" + dev->volume);
                    return tl::unexpected(volume.error());
                }
                made = dev->pool + "/" + dev->volume;
                result["vol"] = made;
                result["size"] = volume->capacity;
            }

            // The device template's action script (simplekvm's `<template>.action`): its lines
            // stream to the client; when it fails, nothing is attached and the volume goes.
            auto script = catalog_.action_script(tpl_name);
            if (!script) return undo(script.error());
            if (*script) {
                if (!progress(fmt::format("running the action script of {}", tpl_name)))
                    return undo(went_away("attach"));
                ActionSpec action{.name = tpl_name,
                                  .script = **script,
                                  .input = action_input(body, uuid, target, gold_url),
                                  .env = action_environment(record, tpl_name, config_.actions),
                                  .timeout = config_.action_timeout};
                if (auto ran = run_action(action, progress); !ran) return undo(ran.error());
            }

            if (!progress(fmt::format("attaching {} to VM {}", target.empty() ? device : target, uuid)))
                return undo(went_away("attach"));
            auto mac = hypervisor_.attach_device(ref, uuid, *xml);
            if (!mac) return undo(mac.error());
            // The seed follows the VM's NICs: network-config matches this one by its MAC.
            if (dev->element == "interface" && !mac->empty()) {
                if (auto seeded = reseed_nic(ref, uuid, *mac, *nic); !seeded) {
                    if (auto detached = hypervisor_.detach_nic(ref, uuid, *mac); !detached)
                        log::get("vm")->error("cannot detach the NIC of a failed attach host={} vm={} mac={} error={}",
                                              host, uuid, *mac, detached.error().desc);
                    return undo(seeded.error());
                }
            }
            result["dev"] = target.empty() ? *mac : target;
            if (!mac->empty()) result["mac"] = *mac;
            result["desc"] =
                fmt::format("attached {} {} to VM {}{}", device, target.empty() ? *mac : target, uuid,
                            use->running ? " (live and persistent; the guest may need a rescan or reboot)" : "");
            log::get("vm")->info("attached device host={} vm={} device={} dev={}", host, uuid, device,
                                 result["dev"].get<std::string>());
            return {};
        },
        /*long_running=*/true);
    if (!done) return tl::unexpected(done.error());
    return result;
}

Result<nlohmann::json> VmService::detach_device(const std::string& host, const std::string& uuid,
                                                const std::string& dev) {
    if (!is_target(dev) && !is_mac(dev))
        return fail(Errc::BadInput, "dev", fmt::format("'{}' is neither a target such as vdb or sda nor a MAC", dev));
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    nlohmann::json out = {{"dev", dev}};
    Status done = locked(*ref, uuid, "detach_device", [&]() -> Status {
        if (is_mac(dev)) {
            if (auto detached = hypervisor_.detach_nic(*ref, uuid, dev); !detached) return detached;
            out["desc"] = fmt::format("detached NIC {} from VM {}", dev, uuid);
            // The NIC is gone; a seed that cannot follow is reported, as a volume that stays is.
            const std::string mac = lower(dev);
            if (auto seeded = reseed_nic(*ref, uuid, mac, nlohmann::json::object(), mac); !seeded)
                out["failed"] = nlohmann::json::array(
                    {{{"type", "metadata"}, {"dev", dev}, {"vol", ""}, {"error", seeded.error().desc}}});
            return {};
        }
        auto disk = hypervisor_.detach_disk(*ref, uuid, dev);
        if (!disk) return tl::unexpected(disk.error());
        out["desc"] = fmt::format("detached {} {} from VM {}", disk->device, dev, uuid);
        // A disk's volume goes with it; CD-ROM media, network and RBD disks are not ours to delete.
        if (disk->device == "disk" && !disk->vol.empty() &&
            (disk->type == "volume" || disk->type == "file" || disk->type == "block")) {
            auto deleted = hypervisor_.delete_volume(*ref, disk->vol);
            if (deleted) {
                out["vol"] = disk->vol;
            } else if (deleted.error().code != Errc::NotFound) {
                out["failed"] = nlohmann::json::array(
                    {{{"type", disk->type}, {"dev", dev}, {"vol", disk->vol}, {"error", deleted.error().desc}}});
            }
        }
        return {};
    });
    if (!done) return tl::unexpected(done.error());
    log::get("vm")->info("detached device host={} vm={} dev={}", host, uuid, dev);
    return out;
}

Status VmService::change_cdrom(const std::string& host, const std::string& uuid, const std::string& dev,
                               const std::string& isoname) {
    if (!is_target(dev))
        return fail(Errc::BadInput, "dev", fmt::format("'{}' is not a CD-ROM target such as sda", dev));
    auto ref = resolve(host, uuid);
    if (!ref) return tl::unexpected(ref.error());
    std::string uri = "/" + uuid + "/cidata.iso";  // the VM's own seed, on the metadata service
    if (!isoname.empty()) {
        auto isos = catalog_.isos();
        if (!isos) return tl::unexpected(isos.error());
        auto iso =
            std::find_if(isos->begin(), isos->end(), [&](const auto& i) { return i.value("name", "") == isoname; });
        if (iso == isos->end()) return fail(Errc::NotFound, "isoname", fmt::format("no ISO named '{}'", isoname));
        uri = iso->value("uri", "");
    }
    // On a host set to meta_iso=pool the VM's own ISO is its volume in the host's pool.
    auto record = catalog_.host(host);
    if (!record) return tl::unexpected(record.error());
    std::optional<virt::PoolSpec> pool;
    if (isoname.empty() && record->value("meta_iso", "") == catalog::kMetaIsoPool) {
        pool = disks::pool_of(*record);
        uri = pool->name + "/" + cloudinit::iso_volume_name(uuid);
    }
    auto source =
        pool ? Result<std::pair<std::string, std::string>>(std::make_pair(
                   std::string("volume"), fmt::format("<source pool='{}' volume='{}'/>", xml_escape(pool->name),
                                                      xml_escape(cloudinit::iso_volume_name(uuid)))))
             : cdrom_source(uri, config_.meta_srv);
    if (!source) return tl::unexpected(source.error());
    return locked(*ref, uuid, "cdrom", [&]() -> Status {
        auto guest = hypervisor_.guest(*ref, uuid);
        if (!guest) return tl::unexpected(guest.error());
        auto disk = std::find_if(guest->disks.begin(), guest->disks.end(), [&](const auto& d) { return d.dev == dev; });
        if (disk == guest->disks.end())
            return fail(Errc::NotFound, "dev", fmt::format("VM {} has no CD-ROM {}", uuid, dev));
        if (disk->device != "cdrom")
            return fail(Errc::BadInput, "dev",
                        fmt::format("{} of VM {} is a {}, not a CD-ROM", dev, uuid, disk->device));
        if (pool) {
            // The volume holds the seed as stored now (it may never have been written: a VM
            // created on the host before it was set to pool, or in NOCLOUD mode).
            auto seed = seeds_.seed(uuid);
            if (!seed) return tl::unexpected(seed.error());
            if (auto put = cloudinit::publish_iso_volume(hypervisor_, *ref, *pool, uuid, (*seed)->files().files); !put)
                return put;
        }
        std::string xml = fmt::format(
            "<disk type='{}' device='cdrom'><driver name='qemu' type='raw'/>{}<target dev='{}' "
            "bus='{}'/><readonly/></disk>",
            source->first, source->second, xml_escape(dev), xml_escape(disk->bus));
        if (auto changed = hypervisor_.update_device(*ref, uuid, xml); !changed) return changed;
        log::get("vm")->info("changed cdrom media host={} vm={} dev={} uri={}", host, uuid, dev, uri);
        return {};
    });
}

}  // namespace kvmhub::vm
