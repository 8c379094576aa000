#include "auth/audit.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <sodium.h>
#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace kvmhub::auth {
namespace {

std::string iso_time(std::int64_t ms) {
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

}  // namespace

AuditLog::AuditLog(store::Store& store, const Clock& clock, std::size_t max_entries)
    : store_(store), clock_(clock), max_entries_(max_entries), node_(randombytes_random()) {}

void AuditLog::record(const AuditEntry& entry) {
    const std::int64_t ms = clock_.now_millis();
    // Zero-padded time, then a sequence number: keys sort chronologically, even within one
    // millisecond; the node tag keeps the keys of several daemons apart.
    const std::uint64_t sequence = recorded_++;
    const std::string id = fmt::format("{:016d}-{:012x}-{:08x}", ms, sequence, node_);
    nlohmann::json doc = {{"id", id},
                          {"time", iso_time(ms)},
                          {"who", entry.who},
                          {"action", entry.action},
                          {"target", entry.target},
                          {"result", entry.result},
                          {"req", entry.request_id}};
    auto put =
        store_.put(std::string(kAuditPrefix) + id, doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (!put) {
        log::get("audit")->error("cannot record audit entry action={} target={} error={}", entry.action, entry.target,
                                 put.error().desc);
        return;
    }
    if (sequence % 256 == 255) prune();
}

void AuditLog::prune() {
    auto all = store_.list(kAuditPrefix);
    if (!all || all->size() <= max_entries_) return;
    store::Txn txn;
    for (std::size_t i = 0; i < all->size() - max_entries_; ++i) txn.ops.push_back(store::Op::erase((*all)[i].key));
    if (auto done = store_.commit(txn); !done)
        log::get("audit")->warn("cannot prune the audit log error={}", done.error().desc);
}

Result<AuditPage> AuditLog::list(std::size_t limit, const std::string& before) {
    auto all = store_.list(kAuditPrefix);
    if (!all) return tl::unexpected(all.error());
    AuditPage page;
    const std::string cursor = before.empty() ? std::string() : std::string(kAuditPrefix) + before;
    // Newest first: walk the chronological listing backwards from the cursor.
    auto it = all->rbegin();
    if (!cursor.empty())
        it = std::find_if(all->rbegin(), all->rend(), [&](const store::KeyValue& kv) { return kv.key < cursor; });
    for (; it != all->rend() && page.entries.size() < limit; ++it) {
        auto doc = nlohmann::json::parse(it->value, nullptr, false);
        if (doc.is_object()) page.entries.push_back(std::move(doc));
    }
    if (it != all->rend() && !page.entries.empty()) page.next = page.entries.back().value("id", "");
    return page;
}

}  // namespace kvmhub::auth
