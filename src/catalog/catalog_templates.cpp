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
        case TemplateKind::Action:
            return "action";
    }
    return "domain";
}

Result<TemplateKind> parse_kind(std::string_view text) {
    for (TemplateKind k : {TemplateKind::Domain, TemplateKind::Device, TemplateKind::Meta, TemplateKind::Action})
        if (text == kind_name(k)) return k;
    return fail(Errc::BadInput, "kind",
                fmt::format("unknown template kind '{}': use domain, device, meta or action", text));
}

std::string template_key(TemplateKind kind, std::string_view name) {
    return fmt::format("{}{}/{}", kTemplatesPrefix, kind_name(kind), name);
}

Status check_template_name(TemplateKind kind, std::string_view name) {
    if (auto ok = check_name("name", name); !ok) return ok;
    if (kind == TemplateKind::Device || kind == TemplateKind::Action) {
        auto dot = name.find('.');
        std::string_view type = name.substr(0, dot);
        if (dot == std::string_view::npos || dot + 1 == name.size() ||
            (type != "disk" && type != "net" && type != "cdrom"))
            return fail(
                Errc::BadInput, "name",
                fmt::format("{} '{}' must be named <disk|net|cdrom>.<name>, e.g. disk.file",
                            kind == TemplateKind::Action ? "the action of device template" : "device template", name));
    }
    return {};
}

Status check_action_script(std::string_view source) {
    // Checked here rather than by running bash: a script is only ever run, never parsed by kvmhub.
    if (source.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return fail(Errc::BadInput, "script", "the action script is empty; send the bash script as the body");
    if (source.find('\0') != std::string_view::npos)
        return fail(Errc::BadInput, "script", "the action script contains a NUL byte; send a text file");
    return {};
}

Result<std::string> Catalog::template_source(TemplateKind kind, const std::string& name) {
    if (auto ok = check_template_name(kind, name); !ok) return tl::unexpected(ok.error());
    auto kv = store_.get(template_key(kind, name));
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv)
        return fail(Errc::NotFound, "name",
                    kind == TemplateKind::Action ? fmt::format("device template '{}' has no action", name)
                                                 : fmt::format("no {} template named '{}'", kind_name(kind), name));
    return (*kv)->value;
}

Status Catalog::put_template(TemplateKind kind, const std::string& name, const std::string& source) {
    if (auto ok = check_template_name(kind, name); !ok) return ok;
    if (kind == TemplateKind::Action) return put_action(name, source);
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
    const std::string key = template_key(kind, name);
    auto existing = store_.get(key);
    if (!existing) return tl::unexpected(existing.error());
    if (!*existing)
        return fail(Errc::NotFound, "name",
                    kind == TemplateKind::Action ? fmt::format("device template '{}' has no action", name)
                                                 : fmt::format("no {} template named '{}'", kind_name(kind), name));
    // A device template takes its action with it: an action without its template can never run.
    store::Txn txn{{store::Compare{key, (*existing)->mod_revision}}, {store::Op::erase(key)}};
    if (kind == TemplateKind::Device) txn.ops.push_back(store::Op::erase(template_key(TemplateKind::Action, name)));
    auto erased = store_.commit(txn);
    if (!erased) {
        if (erased.error().code == Errc::Conflict)
            return fail(Errc::Conflict, "name",
                        fmt::format("{} template '{}' changed meanwhile; try again", kind_name(kind), name));
        return tl::unexpected(erased.error());
    }
    return {};
}

Status Catalog::put_action(const std::string& device, const std::string& source) {
    if (auto ok = check_action_script(source); !ok) return ok;
    // The device template must exist, and still exist when the action is stored.
    const std::string device_key = template_key(TemplateKind::Device, device);
    auto tpl = store_.get(device_key);
    if (!tpl) return tl::unexpected(tpl.error());
    if (!*tpl)
        return fail(Errc::NotFound, "name",
                    fmt::format("no device template named '{}': create the template before its action", device));
    auto put = store_.commit(store::Txn{{store::Compare{device_key, (*tpl)->mod_revision}},
                                        {store::Op::put(template_key(TemplateKind::Action, device), source)}});
    if (!put) {
        if (put.error().code == Errc::Conflict)
            return fail(Errc::Conflict, "name",
                        fmt::format("device template '{}' changed meanwhile; try again", device));
        return tl::unexpected(put.error());
    }
    return {};
}

Result<std::optional<std::string>> Catalog::action_script(const std::string& device) {
    if (auto ok = check_template_name(TemplateKind::Action, device); !ok) return tl::unexpected(ok.error());
    auto kv = store_.get(template_key(TemplateKind::Action, device));
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return std::optional<std::string>();
    return std::optional<std::string>((*kv)->value);
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
    if (kind == TemplateKind::Action)
        return fail(Errc::Internal, "tpl", fmt::format("the action of '{}' is a script, not a template", name));
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
    if (auto nics = std::find(vars.begin(), vars.end(), "vm_nics"); nics != vars.end()) {
        vars.erase(nics);
        for (std::string_view v : kNicVariables)
            if (std::find(vars.begin(), vars.end(), v) == vars.end()) vars.emplace_back(v);
        std::sort(vars.begin(), vars.end());
    }
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
