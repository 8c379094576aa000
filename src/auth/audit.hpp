// The audit log: who changed what, when, and how it ended. One store key per record,
// named by time so a prefix listing is chronological; the oldest are pruned past a cap.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "store/store.hpp"

namespace kvmhub::auth {

inline constexpr std::string_view kAuditPrefix = "/audit/";

struct AuditEntry {
    std::string who;         // user name, link id, or "system"
    std::string action;      // e.g. "host.put", "template.delete"
    std::string target;      // what it acted on, e.g. "h1" or "device/disk.file"
    std::string result;      // "ok", or the error's description
    std::string request_id;  // joins the entry to the access log
};

struct AuditPage {
    std::vector<nlohmann::json> entries;  // newest first: {"id","time","who","action","target","result","req"}
    std::string next;                     // pass as `before` for the next page; empty at the end
};

class AuditLog {
public:
    AuditLog(store::Store& store, const Clock& clock, std::size_t max_entries = 100000);

    // Best effort: a store failure is logged, never returned (the change itself already happened).
    void record(const AuditEntry& entry);
    // Up to `limit` entries older than the entry `before` (newest when empty).
    Result<AuditPage> list(std::size_t limit, const std::string& before);

private:
    void prune();

    store::Store& store_;
    const Clock& clock_;
    std::size_t max_entries_;
    std::atomic<std::uint64_t> recorded_{0};  // also orders entries written within one millisecond
    std::uint32_t node_;                      // tells apart entries of several daemons
};

}  // namespace kvmhub::auth
