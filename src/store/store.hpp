// The key/value store every service keeps its state in. Two backends implement it:
// SqliteStore (embedded, default) and, later, EtcdStore (several daemons). The semantics
// follow etcd v3 so both behave the same under the conformance suite
// (tests/unit/store/store_conformance.hpp):
//  - one store-wide revision counter, bumped by every committed change;
//  - each key carries the revision that created it and the one that last changed it;
//  - a transaction applies all of its operations or none of them;
//  - watchers see committed changes in revision order, a transaction's changes in one batch;
//  - a key attached to a lease is deleted when the lease expires or is revoked.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace kvmhub::store {

using LeaseId = std::int64_t;  // 0 = no lease

struct KeyValue {
    std::string key;
    std::string value;
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
    std::int64_t version = 0;  // puts since the key was (re)created, 1 after the first
    LeaseId lease = 0;
};

enum class EventType { Put, Delete };

// For a Delete, kv carries the key, an empty value and mod_revision = the deleting revision.
struct Event {
    EventType type = EventType::Put;
    KeyValue kv;
};

// Compare: the key's mod_revision must equal `mod_revision`; 0 means "the key must not exist".
struct Compare {
    std::string key;
    std::int64_t mod_revision = 0;
};

struct Op {
    enum class Kind { Put, Erase, ErasePrefix };
    Kind kind = Kind::Put;
    std::string key;  // the prefix for ErasePrefix
    std::string value;
    LeaseId lease = 0;

    static Op put(std::string key, std::string value, LeaseId lease = 0) {
        return Op{Kind::Put, std::move(key), std::move(value), lease};
    }
    static Op erase(std::string key) { return Op{Kind::Erase, std::move(key), {}, 0}; }
    static Op erase_prefix(std::string prefix) { return Op{Kind::ErasePrefix, std::move(prefix), {}, 0}; }
};

struct Txn {
    std::vector<Compare> compares;
    std::vector<Op> ops;
};

// Called on a store-owned thread, never while the caller of a mutation holds a store lock.
// It must return quickly (post work elsewhere) and must not destroy its own Watch.
using WatchCallback = std::function<void(const std::vector<Event>&)>;

// Cancels the watch when destroyed; after the destructor returns the callback is not called again.
class Watch {
public:
    virtual ~Watch() = default;
};
using WatchPtr = std::unique_ptr<Watch>;

class Store {
public:
    virtual ~Store() = default;

    virtual std::string_view backend() const = 0;

    virtual Result<std::optional<KeyValue>> get(std::string_view key) = 0;
    // Every key that starts with `prefix`, sorted by key. An empty prefix lists everything.
    virtual Result<std::vector<KeyValue>> list(std::string_view prefix) = 0;
    // Returns the revision of the change.
    virtual Result<std::int64_t> put(std::string_view key, std::string_view value, LeaseId lease = 0) = 0;
    // True if the key existed (and is now gone).
    virtual Result<bool> erase(std::string_view key) = 0;
    // Number of keys removed.
    virtual Result<std::int64_t> erase_prefix(std::string_view prefix) = 0;
    // All compares hold -> every op applied under one new revision, which is returned.
    // A compare fails -> nothing changes; Errc::Conflict with `where` = the key that failed.
    // A txn with no ops and passing compares returns the current revision.
    virtual Result<std::int64_t> commit(const Txn& txn) = 0;
    virtual Result<std::int64_t> current_revision() = 0;

    // Changes under `prefix` committed after this call returns, until the Watch is destroyed.
    virtual Result<WatchPtr> watch(std::string_view prefix, WatchCallback callback) = 0;

    virtual Result<LeaseId> grant_lease(std::chrono::seconds ttl) = 0;
    // Restarts the lease's ttl. NotFound when it expired or was revoked.
    virtual Status keep_alive(LeaseId lease) = 0;
    // Deletes every key attached to the lease. NotFound when it does not exist.
    virtual Status revoke_lease(LeaseId lease) = 0;

    // A cheap round trip that proves the backend answers (for /healthz).
    virtual Status ping() = 0;

    // Put only if the key's mod_revision is `expected` (0 = create only if absent).
    Result<std::int64_t> compare_and_swap(std::string_view key, std::int64_t expected, std::string_view value,
                                          LeaseId lease = 0) {
        return commit(Txn{{Compare{std::string(key), expected}}, {Op::put(std::string(key), std::string(value), lease)}});
    }
    // Erase only if the key's mod_revision is `expected`.
    Result<std::int64_t> compare_and_erase(std::string_view key, std::int64_t expected) {
        return commit(Txn{{Compare{std::string(key), expected}}, {Op::erase(std::string(key))}});
    }
};

}  // namespace kvmhub::store
