// Templates and the variables table.
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "catalog/catalog.hpp"
#include "catalog/validate.hpp"

namespace kvmhub::catalog {

const char* kind_name(TemplateKind kind) {
    switch (kind) {
        case TemplateKind::Domain:
            return "domain";
        case TemplateKind::Device:
            return "device";
        case TemplateKind::Meta:
            return "meta";
    }
    return "domain";
}

Result<TemplateKind> parse_kind(std::string_view text) {
    for (TemplateKind k : {TemplateKind::Domain, TemplateKind::Device, TemplateKind::Meta})
        if (text == kind_name(k)) return k;
    return fail(Errc::BadInput, "kind", fmt::format("unknown template kind '{}': use domain, device or meta", text));
}

std::string template_key(TemplateKind kind, std::string_view name) {
    return fmt::format("{}{}/{}", kTemplatesPrefix, kind_name(kind), name);
}

Status check_template_name(TemplateKind kind, std::string_view name) {
    if (auto ok = check_name("name", name); !ok) return ok;
    if (kind == TemplateKind::Device) {
        auto dot = name.find('.');
        std::string_view type = name.substr(0, dot);
        if (dot == std::string_view::npos || dot + 1 == name.size() ||
            (type != "disk" && type != "net" && type != "cdrom"))
            return fail(
                Errc::BadInput, "name",
                fmt::format("device template '{}' must be named <disk|net|cdrom>.<name>, e.g. disk.file", name));
    }
    return {};
}

Result<std::string> Catalog::template_source(TemplateKind kind, const std::string& name) {
    if (auto ok = check_template_name(kind, name); !ok) return tl::unexpected(ok.error());
    auto kv = store_.get(template_key(kind, name));
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return fail(Errc::NotFound, "name", fmt::format("no {} template named '{}'", kind_name(kind), name));
    return (*kv)->value;
}

Status Catalog::put_template(TemplateKind kind, const std::string& name, const std::string& source) {
    if (auto ok = check_template_name(kind, name); !ok) return ok;
    auto parsed = tmpl::Template::parse(name, source);
    if (!parsed) return fail(Errc::BadInput, "template", parsed.error().desc);
    auto put = store_.put(template_key(kind, name), source);
    if (!put) return tl::unexpected(put.error());
    return {};
}

Status Catalog::delete_template(TemplateKind kind, const std::string& name) {
    if (auto ok = check_template_name(kind, name); !ok) return ok;
    std::vector<std::string> users;
    if (kind == TemplateKind::Domain) {
        auto all = hosts();
        if (!all) return tl::unexpected(all.error());
        for (const auto& h : *all)
            if (h.value("tpl", "") == name) users.push_back(h.value("name", ""));
    } else if (kind == TemplateKind::Device) {
        auto enabled = devices("");
        if (!enabled) return tl::unexpected(enabled.error());
        for (const auto& d : *enabled)
            if (d.value("tpl", "") == name) users.push_back(d.value("kvmhost", ""));
    }
    if (!users.empty())
        return fail(Errc::Conflict, "name",
                    fmt::format("{} template '{}' is in use by host(s) {}; change those hosts first", kind_name(kind),
                                name, fmt::join(users, ", ")));
    auto erased = store_.erase(template_key(kind, name));
    if (!erased) return tl::unexpected(erased.error());
    if (!*erased) return fail(Errc::NotFound, "name", fmt::format("no {} template named '{}'", kind_name(kind), name));
    return {};
}

Result<std::vector<std::string>> Catalog::template_names(TemplateKind kind) {
    std::string prefix = template_key(kind, "");
    auto kvs = store_.list(prefix);
    if (!kvs) return tl::unexpected(kvs.error());
    std::vector<std::string> names;
    for (const auto& kv : *kvs) names.push_back(kv.key.substr(prefix.size()));
    return names;
}

Result<std::shared_ptr<const tmpl::Template>> Catalog::parsed_template(TemplateKind kind, const std::string& name) {
    if (auto ok = check_template_name(kind, name); !ok) return tl::unexpected(ok.error());
    const std::string key = template_key(kind, name);
    auto kv = store_.get(key);
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return fail(Errc::NotFound, "tpl", fmt::format("no {} template named '{}'", kind_name(kind), name));
    {
        std::lock_guard lock(cache_mutex_);
        auto it = cache_.find(key);
        if (it != cache_.end() && it->second.revision == (*kv)->mod_revision) return it->second.parsed;
    }
    auto parsed = tmpl::Template::parse(name, (*kv)->value);
    if (!parsed)
        return fail(
            Errc::Internal, "tpl",
            fmt::format("stored {} template '{}' does not parse: {}", kind_name(kind), name, parsed.error().desc));
    auto shared = std::make_shared<const tmpl::Template>(std::move(*parsed));
    std::lock_guard lock(cache_mutex_);
    cache_[key] = Cached{(*kv)->mod_revision, shared};
    return shared;
}

Result<std::vector<std::string>> Catalog::template_variables(TemplateKind kind, const std::string& name) {
    auto t = parsed_template(kind, name);
    if (!t) return tl::unexpected(t.error());
    // Besides the reserved vm_* names, the server supplies the host's facts, the metadata
    // server's address parts and the VM's first MAC; a user never sets them, so they are not listed.
    std::vector<std::string> vars = tmpl::user_variables(**t);
    std::erase_if(vars, [](const std::string& v) {
        return v == "host" || v == "META_HOST" || v == "META_PORT" || v == "vm_mac";
    });
    return vars;
}

Result<nlohmann::json> Catalog::device_descriptions() {
    auto names = template_names(TemplateKind::Device);
    if (!names) return tl::unexpected(names.error());
    nlohmann::json out = nlohmann::json::object();
    for (const auto& name : *names) {
        auto t = parsed_template(TemplateKind::Device, name);
        if (!t) return tl::unexpected(t.error());
        out[name] = (*t)->description();
    }
    return out;
}

Result<nlohmann::json> Catalog::variables_table() {
    auto kv = store_.get(std::string(kCatalogPrefix) + "vars");
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return nlohmann::json::object();
    auto table = nlohmann::json::parse((*kv)->value, nullptr, false);
    if (!table.is_object()) return fail(Errc::Internal, "vars", "the stored variables table is not a JSON object");
    return table;
}

// 'n/a' when the table has no description, as simplekvm answers.
nlohmann::json Catalog::describe(const nlohmann::json& table, const std::vector<std::string>& variables) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& v : variables) {
        auto it = table.find(v);
        out[v] = it != table.end() && it->is_string() ? it->get<std::string>() : std::string("n/a");
    }
    return out;
}

}  // namespace kvmhub::catalog
