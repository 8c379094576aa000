// SqliteStore's leases: grant, keep-alive, revoke, and the reaper that expires them.
#include <fmt/format.h>

#include "common/log.hpp"
#include "store/sqlite_store.hpp"

namespace kvmhub::store {
namespace {

constexpr auto reaper_interval = std::chrono::milliseconds(100);
// etcd's limit; it also keeps expires_at_ms far from overflowing.
constexpr std::int64_t max_lease_ttl_s = 9'000'000'000;

Error lease_not_found(LeaseId lease) {
    return Error{Errc::NotFound, "lease",
                 fmt::format("lease {} not found: it expired or was revoked; grant a new lease", lease)};
}

}  // namespace

Result<LeaseId> SqliteStore::grant_lease(std::chrono::seconds ttl) {
    auto result = [&]() -> Result<LeaseId> {
        if (ttl.count() < 1 || ttl.count() > max_lease_ttl_s) {
            return fail(
                Errc::BadInput, "ttl",
                fmt::format("a lease ttl must be between 1 and {} seconds, not {}", max_lease_ttl_s, ttl.count()));
        }
        std::lock_guard lock(mutex_);
        auto write = sqlite::WriteTxn::begin(db_);
        if (!write) return tl::unexpected(write.error());
        const std::int64_t expires_at_ms = clock_.now_millis() + ttl.count() * 1000;
        // Random ids, like etcd's, so that a lease id from before a revoke (or from another process)
        // is never mistaken for a new lease.
        LeaseId granted = 0;
        while (granted == 0) {
            auto id = static_cast<LeaseId>(lease_ids_() >> 1);
            if (id == 0) continue;
            auto insert = db_.query(
                "INSERT INTO leases (id, ttl_s, expires_at_ms) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING "
                "RETURNING id");
            if (!insert) return tl::unexpected(insert.error());
            insert->bind_int(1, id).bind_int(2, ttl.count()).bind_int(3, expires_at_ms);
            auto row = insert->step();
            if (!row) return tl::unexpected(row.error());
            if (*row) granted = id;  // else taken: draw again
        }
        if (auto ok = write->commit(); !ok) return tl::unexpected(ok.error());
        return granted;
    }();
    return counted(OpName::Lease, std::move(result));
}

Status SqliteStore::keep_alive(LeaseId lease) {
    auto result = [&]() -> Status {
        std::lock_guard lock(mutex_);
        auto write = sqlite::WriteTxn::begin(db_);
        if (!write) return tl::unexpected(write.error());
        const std::int64_t now_ms = clock_.now_millis();
        {
            auto update = db_.query(
                "UPDATE leases SET expires_at_ms = ?2 + ttl_s * 1000 WHERE id = ?1 AND expires_at_ms > ?2 "
                "RETURNING id");
            if (!update) return tl::unexpected(update.error());
            update->bind_int(1, lease).bind_int(2, now_ms);
            auto row = update->step();
            if (!row) return tl::unexpected(row.error());
            // Expired but not reaped yet is gone too: renewing it would resurrect a dead lease.
            if (!*row) return tl::unexpected(lease_not_found(lease));
        }
        return write->commit();
    }();
    return counted(OpName::Lease, std::move(result));
}

Status SqliteStore::revoke_lease(LeaseId lease) {
    auto result = [&]() -> Status {
        std::lock_guard lock(mutex_);
        auto write = sqlite::WriteTxn::begin(db_);
        if (!write) return tl::unexpected(write.error());
        {
            auto select = db_.query("SELECT 1 FROM leases WHERE id = ?1");
            if (!select) return tl::unexpected(select.error());
            select->bind_int(1, lease);
            auto row = select->step();
            if (!row) return tl::unexpected(row.error());
            if (!*row) return tl::unexpected(lease_not_found(lease));
        }
        auto current = revision_locked();
        if (!current) return tl::unexpected(current.error());
        std::vector<Event> events;
        if (auto ok = delete_lease_locked(lease, events, *current + 1); !ok) return ok;
        return finish_locked(*write, events, *current + 1);
    }();
    return counted(OpName::Lease, std::move(result));
}

Status SqliteStore::check_lease_locked(LeaseId lease, std::int64_t now_ms) {
    auto select = db_.query("SELECT expires_at_ms FROM leases WHERE id = ?1");
    if (!select) return tl::unexpected(select.error());
    select->bind_int(1, lease);
    auto row = select->step();
    if (!row) return tl::unexpected(row.error());
    // Expired but not yet reaped counts as gone: the reaper is at most one interval behind.
    if (!*row || select->int_at(0) <= now_ms) return tl::unexpected(lease_not_found(lease));
    return {};
}

Status SqliteStore::delete_lease_locked(LeaseId lease, std::vector<Event>& events, std::int64_t revision) {
    {
        auto erase = db_.query("DELETE FROM kv WHERE lease = ?1 RETURNING key");
        if (!erase) return tl::unexpected(erase.error());
        erase->bind_int(1, lease);
        if (auto ok = drain_deleted(*erase, revision, events); !ok) return ok;
    }
    auto forget = db_.query("DELETE FROM leases WHERE id = ?1");
    if (!forget) return tl::unexpected(forget.error());
    forget->bind_int(1, lease);
    return forget->run();
}

Result<std::int64_t> SqliteStore::expire_leases() {
    // The next lease due, or 0. A plain read first, so an idle reaper never takes the file's write lock.
    auto next_due = [&](std::int64_t now_ms) -> Result<LeaseId> {
        auto select = db_.query("SELECT id FROM leases WHERE expires_at_ms <= ?1 ORDER BY expires_at_ms, id LIMIT 1");
        if (!select) return tl::unexpected(select.error());
        select->bind_int(1, now_ms);
        auto row = select->step();
        if (!row) return tl::unexpected(row.error());
        return *row ? select->int_at(0) : 0;
    };
    std::int64_t expired = 0;
    while (true) {
        // One lease per transaction (one revision each), releasing the lock in between so writers interleave.
        std::lock_guard lock(mutex_);
        const std::int64_t now_ms = clock_.now_millis();
        auto due = next_due(now_ms);
        if (!due) return tl::unexpected(due.error());
        if (*due == 0) return expired;
        auto write = sqlite::WriteTxn::begin(db_);
        if (!write) return tl::unexpected(write.error());
        // Another process may have expired it between the read and the lock.
        due = next_due(now_ms);
        if (!due) return tl::unexpected(due.error());
        if (*due == 0) return expired;
        auto current = revision_locked();
        if (!current) return tl::unexpected(current.error());
        std::vector<Event> events;
        if (auto ok = delete_lease_locked(*due, events, *current + 1); !ok) return tl::unexpected(ok.error());
        if (auto ok = finish_locked(*write, events, *current + 1); !ok) return tl::unexpected(ok.error());
        ++expired;
    }
}

Status SqliteStore::ping() {
    std::lock_guard lock(mutex_);
    auto select = db_.query("SELECT 1");
    if (!select) return tl::unexpected(select.error());
    return select->run();
}

void SqliteStore::reap_until_stopped() {
    auto log = log::get("store");
    std::string last_error;  // logged once until it changes, not ten times a second
    std::unique_lock lock(reaper_mutex_);
    while (!reaper_wake_.wait_for(lock, reaper_interval, [&] { return stopping_; })) {
        lock.unlock();
        auto expired = expire_leases();
        if (!expired && expired.error().desc != last_error) {
            last_error = expired.error().desc;
            log->warn("cannot expire leases; keys attached to them stay until it works. error={}", last_error);
        } else if (expired && !last_error.empty()) {
            last_error.clear();
            log->info("lease expiry works again");
        }
        lock.lock();
    }
}

}  // namespace kvmhub::store
