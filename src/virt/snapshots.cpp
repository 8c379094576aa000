#include <algorithm>
#include <cstdlib>
#include <map>
#include <tuple>

#include <pugixml.hpp>

#include "common/log.hpp"
#include "common/xml_escape.hpp"
#include "virt/domain_xml.hpp"
#include "virt/error.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt::ops {
namespace {

struct SnapshotEntry {
    std::string name;
    std::string parent;
    long long created = 0;  // seconds since the epoch
    int depth = 0;          // ancestors in the snapshot tree
};

Result<SnapshotEntry> read_snapshot(virDomainSnapshotPtr snap) {
    const char* name = virDomainSnapshotGetName(snap);  // owned by the handle
    if (name == nullptr) return tl::unexpected(last_error("snapshots"));
    auto xml = take_string(virDomainSnapshotGetXMLDesc(snap, 0));
    if (!xml) return tl::unexpected(last_error("snapshots"));
    pugi::xml_document doc;
    if (!doc.load_string(xml->c_str())) {
        return fail(Errc::HostError, "snapshots", std::string("snapshot ") + name + " has XML that does not parse");
    }
    auto root = doc.child("domainsnapshot");
    return SnapshotEntry{name, root.child("parent").child_value("name"),
                         std::strtoll(root.child_value("creationTime"), nullptr, 10), 0};
}

Result<SnapshotPtr> find_snapshot(virDomainPtr dom, const std::string& uuid, const std::string& name) {
    SnapshotPtr snap(virDomainSnapshotLookupByName(dom, name.c_str(), 0));
    if (snap == nullptr) {
        Error err = last_error("name");
        if (err.code == Errc::NotFound) err.desc = "no snapshot " + name + " for VM " + uuid;
        return tl::unexpected(std::move(err));
    }
    return snap;
}

}  // namespace

Result<SnapshotList> snapshots(virConnectPtr conn, const HostRef& host, const std::string& uuid) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    virDomainSnapshotPtr* raw = nullptr;
    int count = virDomainListAllSnapshots(dom->get(), &raw, 0);
    if (count < 0) return tl::unexpected(last_error("snapshots"));
    std::vector<SnapshotPtr> handles;
    for (int i = 0; i < count; ++i) handles.emplace_back(raw[i]);
    std::free(raw);

    std::vector<SnapshotEntry> entries;
    for (const auto& snap : handles) {
        auto entry = read_snapshot(snap.get());
        if (!entry) return tl::unexpected(entry.error());
        entries.push_back(std::move(*entry));
    }
    // creationTime has one-second resolution; within a second a parent still comes before
    // its children, so break ties by depth in the tree.
    std::map<std::string, std::string> parents;
    for (const auto& e : entries) parents[e.name] = e.parent;
    for (auto& e : entries) {
        for (auto p = e.parent; !p.empty() && e.depth <= count; p = parents[p]) ++e.depth;
    }
    std::sort(entries.begin(), entries.end(), [](const SnapshotEntry& a, const SnapshotEntry& b) {
        return std::tie(a.created, a.depth, a.name) < std::tie(b.created, b.depth, b.name);
    });

    SnapshotList out;
    for (auto& e : entries) out.names.push_back(std::move(e.name));
    int has_current = virDomainHasCurrentSnapshot(dom->get(), 0);
    if (has_current < 0) return tl::unexpected(last_error("snapshots"));
    if (has_current == 1) {
        SnapshotPtr current(virDomainSnapshotCurrent(dom->get(), 0));
        if (current == nullptr) return tl::unexpected(last_error("snapshots"));
        const char* name = virDomainSnapshotGetName(current.get());
        if (name != nullptr) out.current = name;
    }
    return out;
}

Status create_snapshot(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& name) {
    if (name.empty()) return fail(Errc::BadInput, "name", "a snapshot needs a name");
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    SnapshotPtr existing(virDomainSnapshotLookupByName(dom->get(), name.c_str(), 0));
    if (existing != nullptr) return fail(Errc::Conflict, "name", "VM " + uuid + " already has a snapshot " + name);
    if (Error err = last_error("name"); err.code != Errc::NotFound) return tl::unexpected(std::move(err));

    std::string xml = "<domainsnapshot><name>" + xml_escape(name) + "</name></domainsnapshot>";
    SnapshotPtr snap(virDomainSnapshotCreateXML(dom->get(), xml.c_str(), VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC));
    if (snap == nullptr && is_unsupported(last_error_number())) {
        // All or nothing is preferred, but a driver without it still takes the snapshot.
        log::get("virt")->debug("atomic snapshots not supported host={} desc={}", host.name,
                                last_error("snapshot").desc);
        snap.reset(virDomainSnapshotCreateXML(dom->get(), xml.c_str(), 0));
    }
    if (snap == nullptr) return tl::unexpected(last_error("snapshot"));
    return {};
}

Status revert_snapshot(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& name) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    auto snap = find_snapshot(dom->get(), uuid, name);
    if (!snap) return tl::unexpected(snap.error());
    if (virDomainRevertToSnapshot(snap->get(), 0) < 0) return tl::unexpected(last_error("revert"));
    return {};
}

Status delete_snapshot(virConnectPtr conn, const HostRef& host, const std::string& uuid, const std::string& name) {
    auto dom = find_domain(conn, host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    auto snap = find_snapshot(dom->get(), uuid, name);
    if (!snap) return tl::unexpected(snap.error());
    if (virDomainSnapshotDelete(snap->get(), 0) < 0) return tl::unexpected(last_error("delete_snapshot"));
    return {};
}

}  // namespace kvmhub::virt::ops
