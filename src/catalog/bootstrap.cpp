#include "catalog/bootstrap.hpp"

#include <fmt/format.h>

#include "catalog/shipped.hpp"
#include "common/log.hpp"

namespace kvmhub::catalog {
namespace {

// Markers live outside /catalog/ and /templates/, so backups neither carry nor restore them.
constexpr std::string_view kInstalled = "/state/installed/";

// Runs `install` once per marker: the marker is written in the same transaction as the item.
Result<bool> install_once(store::Store& store, const std::string& marker, std::vector<store::Op> ops,
                          std::vector<store::Compare> extra = {}) {
    std::string key = std::string(kInstalled) + marker;
    store::Txn txn{std::move(extra), std::move(ops)};
    txn.compares.push_back(store::Compare{key, 0});
    txn.ops.push_back(store::Op::put(key, "1"));
    auto done = store.commit(txn);
    if (done) return true;
    if (done.error().code == Errc::Conflict) return false;  // installed before, or the item exists
    return tl::unexpected(done.error());
}

Status install_variables(store::Store& store) {
    const std::string key = std::string(kCatalogPrefix) + "vars";
    auto shipped = nlohmann::json::parse(shipped_variables(), nullptr, false);
    if (!shipped.is_object()) return fail(Errc::Internal, "vars", "the shipped variables table is not valid JSON");
    // Add descriptions of new variables; never overwrite one the admin changed.
    for (int attempt = 0; attempt < 5; ++attempt) {
        auto kv = store.get(key);
        if (!kv) return tl::unexpected(kv.error());
        nlohmann::json table = *kv ? nlohmann::json::parse((*kv)->value, nullptr, false) : nlohmann::json::object();
        if (!table.is_object()) table = nlohmann::json::object();
        bool changed = false;
        for (const auto& [var, desc] : shipped.items())
            if (!table.contains(var)) table[var] = desc, changed = true;
        if (!changed) return {};
        auto put = store.compare_and_swap(key, *kv ? (*kv)->mod_revision : 0, table.dump());
        if (put) return {};
        if (put.error().code != Errc::Conflict) return tl::unexpected(put.error());
    }
    return fail(Errc::Conflict, "vars", "the variables table kept changing during start-up; restart to retry");
}

nlohmann::json demo_host(const std::string& name, const std::string& url) {
    nlohmann::json body = {{"name", name},          {"tpl", "domain"}, {"url", url},       {"arch", "x86_64"},
                           {"ipaddr", "127.0.0.1"}, {"sshport", "22"}, {"sshuser", "root"}};
    for (const auto& t : shipped_templates())
        if (t.kind == "device") body[std::string(t.name)] = "on";
    return body;
}

}  // namespace

Result<BootstrapReport> bootstrap_catalog(store::Store& store, Catalog& catalog, bool demo,
                                          const std::function<bool(const std::string&)>& libvirt_answers) {
    BootstrapReport report;
    for (const auto& t : shipped_templates()) {
        auto kind = parse_kind(t.kind);
        if (!kind) return tl::unexpected(kind.error());
        const std::string key = template_key(*kind, t.name);
        auto installed = install_once(store, fmt::format("template/{}/{}", t.kind, t.name),
                                      {store::Op::put(key, std::string(t.source))}, {store::Compare{key, 0}});
        if (!installed) return tl::unexpected(installed.error());
        if (*installed) report.templates_installed.push_back(fmt::format("{}/{}", t.kind, t.name));
    }
    if (auto ok = install_variables(store); !ok) return tl::unexpected(ok.error());

    if (demo) {
        std::vector<std::pair<std::string, std::string>> candidates{{"demo", "test:///default"}};
        if (libvirt_answers("qemu:///system")) candidates.emplace_back("local", "qemu:///system");
        for (const auto& [name, url] : candidates) {
            // Claim the marker first: a host deleted later must not come back on the next start.
            auto claimed = install_once(store, "host/" + name, {});
            if (!claimed) return tl::unexpected(claimed.error());
            if (!*claimed) continue;
            auto added = catalog.put_host(demo_host(name, url));
            if (!added) return tl::unexpected(added.error());
            report.hosts_added.push_back(name);
        }
    }
    auto logger = log::get("catalog");
    for (const auto& t : report.templates_installed) logger->info("installed shipped template name={}", t);
    for (const auto& h : report.hosts_added) logger->info("registered demo host name={}", h);
    return report;
}

}  // namespace kvmhub::catalog
