// Hosts, the devices enabled on them, and the record plumbing shared by the catalog.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "catalog/catalog.hpp"
#include "catalog/validate.hpp"

namespace kvmhub::catalog {
namespace {

const std::string kHosts = std::string(kCatalogPrefix) + "hosts/";
const std::string kDevices = std::string(kCatalogPrefix) + "devices/";

// The fields of a host record; anything else in the body must be a device flag.
const std::set<std::string> kHostFields{"name",    "tpl",  "url",       "arch",     "ipaddr",        "sshport",
                                        "sshuser", "pool", "pool_path", "meta_iso", "console_tunnel"};

// An absolute directory path without "..", quotes or control characters: it goes into pool XML
// and names a directory libvirt creates on the host.
Status check_pool_path(const std::string& path) {
    bool clean = path.size() > 1 && path.size() <= 1024 && path.front() == '/' && path.back() != '/' &&
                 path.find("/../") == std::string::npos && !path.ends_with("/..") &&
                 std::none_of(path.begin(), path.end(), [](char c) {
                     return static_cast<unsigned char>(c) < 0x20 || c == '\'' || c == '"' || c == '\\';
                 });
    if (!clean)
        return fail(Errc::BadInput, "pool_path",
                    fmt::format("'{}' is not usable as the pool folder: give an absolute path such as "
                                "/var/lib/kvmhub/pool, without '..', quotes or a trailing '/'",
                                path));
    return {};
}

std::string device_type(const std::string& device) {
    return device.substr(0, device.find('.'));
}

// Copies an optional string field of `body` into `host` once `check` accepts it; an absent or
// empty one is left out (the host's default applies).
template <class Check>
Status copy_optional(const nlohmann::json& body, nlohmann::json& host, const char* field, Check check) {
    auto value = optional_string_field(body, field);
    if (!value) return tl::unexpected(value.error());
    if (value->empty()) return {};
    if (auto ok = check(*value); !ok) return ok;
    host[field] = *value;
    return {};
}

}  // namespace

Catalog::Catalog(store::Store& store, const Config& config, UrlProbe& probe)
    : store_(store), config_(config), probe_(probe) {}

Result<nlohmann::json> Catalog::read_json(const std::string& key, const std::string& what) {
    auto kv = store_.get(key);
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return fail(Errc::NotFound, "name", fmt::format("no {}", what));
    auto doc = nlohmann::json::parse((*kv)->value, nullptr, false);
    if (!doc.is_object()) return fail(Errc::Internal, "store", fmt::format("record {} is not a JSON object", key));
    return doc;
}

Result<std::vector<nlohmann::json>> Catalog::list_json(const std::string& prefix) {
    auto kvs = store_.list(prefix);
    if (!kvs) return tl::unexpected(kvs.error());
    std::vector<nlohmann::json> out;
    out.reserve(kvs->size());
    for (const auto& kv : *kvs) {
        auto doc = nlohmann::json::parse(kv.value, nullptr, false);
        if (!doc.is_object())
            return fail(Errc::Internal, "store", fmt::format("record {} is not a JSON object", kv.key));
        out.push_back(std::move(doc));
    }
    return out;
}

Result<std::string> Catalog::put_host(const nlohmann::json& body) {
    if (!body.is_object()) return fail(Errc::BadInput, "body", "expected a JSON object describing the host");
    nlohmann::json host = nlohmann::json::object();
    for (const char* field : {"name", "tpl", "url", "arch", "ipaddr", "sshuser"}) {
        auto value = string_field(body, field);
        if (!value) return tl::unexpected(value.error());
        host[field] = *value;
    }
    auto port = port_field(body, "sshport");
    if (!port) return tl::unexpected(port.error());
    host["sshport"] = *port;
    const std::string name = host["name"];
    if (auto ok = check_name("name", name); !ok) return tl::unexpected(ok.error());
    if (auto ok = check_arch("arch", host["arch"].get<std::string>()); !ok) return tl::unexpected(ok.error());
    if (auto ok = check_libvirt_uri("url", host["url"].get<std::string>(), config_.libvirt.allow_test_files); !ok)
        return tl::unexpected(ok.error());
    if (auto ok = check_host("ipaddr", host["ipaddr"].get<std::string>()); !ok) return tl::unexpected(ok.error());
    if (auto ok = check_name("sshuser", host["sshuser"].get<std::string>()); !ok) return tl::unexpected(ok.error());
    // The host's storage pool for kvmhub's volumes; absent = the defaults (kvmhub, /var/lib/kvmhub/pool).
    if (auto ok = copy_optional(body, host, "pool", [](const std::string& v) { return check_name("pool", v); }); !ok)
        return tl::unexpected(ok.error());
    if (auto ok = copy_optional(body, host, "pool_path", check_pool_path); !ok) return tl::unexpected(ok.error());
    // Where an ISO mode VM's CD-ROM takes its cidata ISO from; absent = url.
    auto meta_iso = [](const std::string& v) -> Status {
        if (v == kMetaIsoUrl || v == kMetaIsoPool) return {};
        return fail(Errc::BadInput, "meta_iso",
                    fmt::format("'meta_iso' is '{}': give url (qemu on the host reads the ISO from META_SRV over "
                                "http) or pool (kvmhub uploads it into the host's storage pool, for hosts that "
                                "cannot reach META_SRV)",
                                v));
    };
    if (auto ok = copy_optional(body, host, "meta_iso", meta_iso); !ok) return tl::unexpected(ok.error());
    // How consoles are reached: auto (absent), ssh or off.
    auto tunnel = [](const std::string& v) -> Status {
        if (v == "auto" || v == "ssh" || v == "off") return {};
        return fail(Errc::BadInput, "console_tunnel",
                    fmt::format("console_tunnel '{}' is not known: use auto (through ssh when the graphics "
                                "listen on a remote host's loopback; the default), ssh (always) or off (never)",
                                v));
    };
    if (auto ok = copy_optional(body, host, "console_tunnel", tunnel); !ok) return tl::unexpected(ok.error());
    if (auto t = parsed_template(TemplateKind::Domain, host["tpl"]); !t)
        return fail(Errc::BadInput, "tpl",
                    fmt::format("no domain template named '{}'", host["tpl"].get<std::string>()));

    store::Txn txn;
    txn.ops.push_back(store::Op::erase_prefix(kDevices + name + "/"));
    for (const auto& [key, value] : body.items()) {
        if (kHostFields.count(key)) continue;
        // "n/a": simplekvm's host form, for an unticked device box.
        if (!value.is_string() || (value != "on" && value != "off" && value != "n/a" && value != ""))
            return fail(Errc::BadInput, key,
                        fmt::format("unknown field '{}': a host has name, tpl, url, arch, ipaddr, sshport, sshuser, "
                                    "pool, pool_path, meta_iso, console_tunnel and \"<device template>\":\"on\" flags",
                                    key));
        if (value != "on") continue;
        auto device = parsed_template(TemplateKind::Device, key);
        if (!device) return fail(Errc::BadInput, key, fmt::format("no device template named '{}' to enable", key));
        nlohmann::json record = {{"kvmhost", name}, {"name", key}, {"tpl", key}, {"desc", (*device)->description()}};
        txn.ops.push_back(store::Op::put(kDevices + name + "/" + key, record.dump()));
    }
    txn.ops.push_back(store::Op::put(kHosts + name, host.dump()));
    auto done = store_.commit(txn);
    if (!done) return tl::unexpected(done.error());
    return name;
}

Status Catalog::delete_host(const std::string& name) {
    if (auto ok = check_name("name", name); !ok) return ok;
    auto existing = store_.get(kHosts + name);
    if (!existing) return tl::unexpected(existing.error());
    if (!*existing) return fail(Errc::NotFound, "name", fmt::format("no host named '{}'", name));
    // Compare on the revision read above, so a concurrent re-add is not deleted by mistake.
    store::Txn txn{{store::Compare{kHosts + name, (*existing)->mod_revision}},
                   {store::Op::erase(kHosts + name), store::Op::erase_prefix(kDevices + name + "/"),
                    store::Op::erase(std::string(kHostKeysPrefix) + name)}};
    auto done = store_.commit(txn);
    if (!done) return tl::unexpected(done.error());
    return {};
}

Result<nlohmann::json> Catalog::host(const std::string& name) {
    if (auto ok = check_name("host", name); !ok) return tl::unexpected(ok.error());
    return read_json(kHosts + name, fmt::format("host named '{}'", name));
}

Result<std::vector<nlohmann::json>> Catalog::hosts() {
    return list_json(kHosts);
}

Result<std::vector<nlohmann::json>> Catalog::devices(const std::string& host) {
    if (host.empty()) return list_json(kDevices);
    if (auto found = this->host(host); !found) return tl::unexpected(found.error());
    return list_json(kDevices + host + "/");
}

Result<nlohmann::json> Catalog::host_view() {
    auto all = hosts();
    if (!all) return tl::unexpected(all.error());
    auto metas = template_names(TemplateKind::Meta);
    if (!metas) return tl::unexpected(metas.error());
    // Read once per listing, not once per host.
    auto table = variables_table();
    if (!table) return tl::unexpected(table.error());
    std::set<std::string> meta_vars;
    for (const auto& m : *metas) {
        auto vars = template_variables(TemplateKind::Meta, m);
        if (!vars) return tl::unexpected(vars.error());
        meta_vars.insert(vars->begin(), vars->end());
    }
    nlohmann::json out = nlohmann::json::array();
    for (auto& h : *all) {
        std::set<std::string> vars = meta_vars;
        // A host whose domain template was removed behind our back still lists, with the meta variables.
        if (auto domain = template_variables(TemplateKind::Domain, h.value("tpl", "")); domain)
            vars.insert(domain->begin(), domain->end());
        h["vars"] = describe(*table, {vars.begin(), vars.end()});
        out.push_back(std::move(h));
    }
    return out;
}

Result<std::vector<std::string>> Catalog::unread_variables(const std::string& host,
                                                           const std::vector<std::string>& names) {
    auto record = this->host(host);
    if (!record) return tl::unexpected(record.error());
    std::set<std::string> read;
    auto add = [&](TemplateKind kind, const std::string& name) -> Status {
        auto vars = template_variables(kind, name);
        if (!vars) return tl::unexpected(vars.error());
        read.insert(vars->begin(), vars->end());
        return {};
    };
    if (auto ok = add(TemplateKind::Domain, record->value("tpl", "")); !ok) return tl::unexpected(ok.error());
    auto metas = template_names(TemplateKind::Meta);
    if (!metas) return tl::unexpected(metas.error());
    for (const auto& m : *metas)
        if (auto ok = add(TemplateKind::Meta, m); !ok) return tl::unexpected(ok.error());
    auto enabled = devices(host);
    if (!enabled) return tl::unexpected(enabled.error());
    for (const auto& d : *enabled)
        if (auto ok = add(TemplateKind::Device, d.value("tpl", "")); !ok) return tl::unexpected(ok.error());
    std::vector<std::string> out;
    for (const auto& n : names)
        if (!read.contains(n)) out.push_back(n);
    return out;
}

Result<nlohmann::json> Catalog::device_view(const std::string& host) {
    auto enabled = devices(host);
    if (!enabled) return tl::unexpected(enabled.error());
    auto table = variables_table();
    if (!table) return tl::unexpected(table.error());
    nlohmann::json out = nlohmann::json::array();
    for (auto& d : *enabled) {
        const std::string tpl = d.value("tpl", "");
        auto vars = template_variables(TemplateKind::Device, tpl);
        d["devtype"] = device_type(tpl);
        d["vars"] = describe(*table, vars ? *vars : std::vector<std::string>{});
        out.push_back(std::move(d));
    }
    return out;
}

Status Catalog::validate_record(const std::string& key, const std::string& value) {
    if (key.rfind(kTemplatesPrefix, 0) == 0) {
        std::string rest = key.substr(kTemplatesPrefix.size());
        auto slash = rest.find('/');
        auto kind = parse_kind(rest.substr(0, slash));
        if (!kind || slash == std::string::npos) return fail(Errc::BadInput, key, "not a template key");
        if (auto ok = check_template_name(*kind, rest.substr(slash + 1)); !ok) return ok;
        if (*kind == TemplateKind::Action) {
            if (auto ok = check_action_script(value); !ok) return fail(Errc::BadInput, key, ok.error().desc);
            return {};
        }
        auto parsed = tmpl::Template::parse(rest.substr(slash + 1), value);
        if (!parsed) return fail(Errc::BadInput, key, parsed.error().desc);
        return {};
    }
    auto doc = nlohmann::json::parse(value, nullptr, false);
    if (!doc.is_object()) return fail(Errc::BadInput, key, "expected a JSON object");
    // Every path segment after /catalog/ is a name (host, arch, device, gold, iso).
    std::string rest = key.substr(kCatalogPrefix.size());
    for (std::size_t start = 0; start <= rest.size();) {
        auto end = rest.find('/', start);
        std::string segment = rest.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (auto ok = check_name(key, segment); !ok) return ok;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return {};
}

}  // namespace kvmhub::catalog
