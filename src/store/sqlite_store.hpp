// The embedded Store backend: one SQLite file (WAL), etcd v3 semantics (see store.hpp).
//
// Several processes may open the same file (the CLI writes while the daemon runs): every change
// takes the file's write lock (BEGIN IMMEDIATE) and reads the revision inside that transaction, so
// revisions stay unique and increasing across processes and restarts. Watches are in-process only:
// a watcher sees the changes made through this SqliteStore object, not those of other connections.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "common/metrics.hpp"
#include "store/sqlite_db.hpp"
#include "store/store.hpp"
#include "store/watch_hub.hpp"

namespace kvmhub::store {

class SqliteStore final : public Store {
public:
    // `path` is a file (its directory must exist) or ":memory:". `clock` decides lease expiry and must
    // outlive the store; `metrics`, when given, too.
    static Result<std::unique_ptr<SqliteStore>> open(const std::string& path, Clock& clock, Metrics* metrics = nullptr);

    // Stops the lease reaper and the watch dispatcher; undelivered events are dropped.
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    std::string_view backend() const override { return "sqlite"; }

    Result<std::optional<KeyValue>> get(std::string_view key) override;
    Result<std::vector<KeyValue>> list(std::string_view prefix) override;
    Result<std::int64_t> put(std::string_view key, std::string_view value, LeaseId lease = 0) override;
    Result<bool> erase(std::string_view key) override;
    Result<std::int64_t> erase_prefix(std::string_view prefix) override;
    Result<std::int64_t> commit(const Txn& txn) override;
    Result<std::int64_t> current_revision() override;

    Result<WatchPtr> watch(std::string_view prefix, WatchCallback callback) override;

    Result<LeaseId> grant_lease(std::chrono::seconds ttl) override;
    Status keep_alive(LeaseId lease) override;
    Status revoke_lease(LeaseId lease) override;

    Status ping() override;

    // One pass of the lease reaper, which also runs on its own thread every 100 ms: deletes each lease
    // whose ttl has run out by the clock, with its keys, one revision per lease. Returns how many expired.
    // Public so tests can move a ManualClock and expire at once.
    Result<std::int64_t> expire_leases();

    // The schema this build reads and writes; a file with a newer one is refused.
    static constexpr std::int64_t schema_version = 1;

private:
    // Lets open() use make_unique while nobody else can construct a store that skipped open().
    struct Token {
        explicit Token() = default;
    };

public:
    SqliteStore(Token, sqlite::Db db, Clock& clock, Metrics* metrics);

private:
    enum class OpName { Get, List, Put, Erase, ErasePrefix, Commit, Watch, Lease, Count };
    struct Applied {
        std::int64_t revision = 0;  // the new revision, or the current one when nothing changed
        std::int64_t changed = 0;   // keys put or deleted
    };

    Result<Applied> apply(const Txn& txn);
    Result<std::int64_t> revision_locked();
    Status check_lease_locked(LeaseId lease, std::int64_t now_ms);
    Status delete_lease_locked(LeaseId lease, std::vector<Event>& events, std::int64_t revision);
    // Steps a DELETE ... RETURNING key and appends a Delete event per key, sorted by key.
    Status drain_deleted(sqlite::Query& erase, std::int64_t revision, std::vector<Event>& events);
    Status finish_locked(sqlite::WriteTxn& txn, std::vector<Event>& events, std::int64_t revision);
    void reap_until_stopped();

    template <typename T>
    T counted(OpName op, T result) {
        if (Counter* counter = counters_[static_cast<std::size_t>(op)][result.has_value() ? 0 : 1]) counter->inc();
        return result;
    }

    std::mutex mutex_;  // one connection, used by one thread at a time
    sqlite::Db db_;
    std::mt19937_64 lease_ids_;  // guarded by mutex_
    Clock& clock_;
    // [op][0 = ok, 1 = error]; null without metrics.
    std::array<std::array<Counter*, 2>, static_cast<std::size_t>(OpName::Count)> counters_{};

    WatchHub watches_;

    std::mutex reaper_mutex_;
    std::condition_variable reaper_wake_;
    bool stopping_ = false;  // guarded by reaper_mutex_
    std::thread reaper_;
};

}  // namespace kvmhub::store
