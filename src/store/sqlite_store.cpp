#include "store/sqlite_store.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "common/log.hpp"

namespace kvmhub::store {
namespace {

constexpr int busy_timeout_ms = 5000;

// Keys are BLOBs, always bound as BLOBs, so SQLite orders and compares them bytewise (memcmp),
// like etcd. The revision starts at 1, as on a fresh etcd: the first change gets 2.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
CREATE TABLE kv (
    key BLOB PRIMARY KEY NOT NULL,
    value BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL,
    version INTEGER NOT NULL,
    lease INTEGER NOT NULL DEFAULT 0);
CREATE INDEX kv_by_lease ON kv (lease);
CREATE TABLE leases (id INTEGER PRIMARY KEY, ttl_s INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL);
CREATE INDEX leases_by_expiry ON leases (expires_at_ms);
INSERT INTO meta (name, value) VALUES ('schema_version', 1), ('revision', 1);
)sql";

// Keys are arbitrary bytes; error messages and `where` end up in logs and JSON, which want text.
std::string printable(std::string_view key) {
    std::string out;
    for (unsigned char c : key) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("\\x{:02x}", c);
        }
    }
    return out;
}

// The first key after every key that starts with `prefix`, or nullopt when no such key exists
// (an empty prefix, or one made only of 0xFF bytes): then the range has no upper end.
std::optional<std::string> prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
    if (end.empty()) return std::nullopt;
    end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
    return end;
}

KeyValue read_kv(const sqlite::Query& row) {
    return KeyValue{row.blob_at(0), row.blob_at(1), row.int_at(2), row.int_at(3), row.int_at(4), row.int_at(5)};
}

const char* op_label(std::size_t op) {
    static constexpr const char* labels[] = {"get", "list", "put", "erase", "erase_prefix", "commit", "watch", "lease"};
    return labels[op];
}

// The one integer a query returns, or nullopt when it returns no row. The statement is reset on
// return, so none is left running when the caller commits.
Result<std::optional<std::int64_t>> query_int(sqlite::Db& db, const char* sql) {
    auto query = db.query(sql);
    if (!query) return tl::unexpected(query.error());
    auto row = query->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::nullopt;
    return query->int_at(0);
}

// Creates the schema in a new file, accepts the current one, refuses a newer one.
Status prepare_schema(sqlite::Db& db) {
    auto txn = sqlite::WriteTxn::begin(db);
    if (!txn) return tl::unexpected(txn.error());
    auto tables = query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
    if (!tables) return tl::unexpected(tables.error());
    if (tables->value_or(0) == 0) {
        if (auto ok = db.exec(schema_v1, "create the schema in"); !ok) return ok;
        return txn->commit();
    }
    auto version = query_int(db, "SELECT value FROM meta WHERE name = 'schema_version'");
    if (!version) return tl::unexpected(version.error());
    if (!*version) {
        return fail(Errc::Internal, "store",
                    fmt::format("store file {} has a meta table without a schema version, so it is not a kvmhub "
                                "store; point the data dir elsewhere or move the file away",
                                db.path()));
    }
    if (**version > SqliteStore::schema_version) {
        return fail(Errc::Internal, "store",
                    fmt::format("store file {} has schema version {}, newer than this kvmhubd understands ({}); "
                                "upgrade kvmhubd or restore a backup made by this version",
                                db.path(), **version, SqliteStore::schema_version));
    }
    return txn->commit();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path, Clock& clock, Metrics* metrics) {
    auto db = sqlite::Db::open(path, busy_timeout_ms);
    if (!db) return tl::unexpected(db.error());
    if (auto ok = prepare_schema(*db); !ok) return tl::unexpected(ok.error());
    return std::make_unique<SqliteStore>(Token{}, std::move(*db), clock, metrics);
}

SqliteStore::SqliteStore(Token, sqlite::Db db, Clock& clock, Metrics* metrics)
    : db_(std::move(db)), lease_ids_(std::random_device{}()), clock_(clock) {
    if (metrics != nullptr) {
        for (std::size_t op = 0; op < counters_.size(); ++op) {
            for (std::size_t failed = 0; failed < 2; ++failed) {
                counters_[op][failed] = &metrics->counter(
                    "kvmhub_store_ops_total", "Store operations by backend, operation and result.",
                    {{"backend", "sqlite"}, {"op", op_label(op)}, {"result", failed != 0 ? "error" : "ok"}});
            }
        }
    }
    reaper_ = std::thread([this] { reap_until_stopped(); });
}

SqliteStore::~SqliteStore() {
    {
        std::lock_guard lock(reaper_mutex_);
        stopping_ = true;
    }
    reaper_wake_.notify_all();
    reaper_.join();
    // watches_ stops its dispatcher in its own destructor.
}

Result<std::optional<KeyValue>> SqliteStore::get(std::string_view key) {
    auto result = [&]() -> Result<std::optional<KeyValue>> {
        std::lock_guard lock(mutex_);
        auto select = db_.query("SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key = ?1");
        if (!select) return tl::unexpected(select.error());
        select->bind_blob(1, key);
        auto row = select->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return std::nullopt;
        return read_kv(*select);
    }();
    return counted(OpName::Get, std::move(result));
}

Result<std::vector<KeyValue>> SqliteStore::list(std::string_view prefix) {
    auto result = [&]() -> Result<std::vector<KeyValue>> {
        auto end = prefix_end(prefix);
        std::lock_guard lock(mutex_);
        auto select = end ? db_.query(
                                "SELECT key, value, create_rev, mod_rev, version, lease FROM kv "
                                "WHERE key >= ?1 AND key < ?2 ORDER BY key")
                          : db_.query(
                                "SELECT key, value, create_rev, mod_rev, version, lease FROM kv "
                                "WHERE key >= ?1 ORDER BY key");
        if (!select) return tl::unexpected(select.error());
        select->bind_blob(1, prefix);
        if (end) select->bind_blob(2, *end);
        std::vector<KeyValue> out;
        while (true) {
            auto row = select->step();
            if (!row) return tl::unexpected(row.error());
            if (!*row) return out;
            out.push_back(read_kv(*select));
        }
    }();
    return counted(OpName::List, std::move(result));
}

Result<std::int64_t> SqliteStore::put(std::string_view key, std::string_view value, LeaseId lease) {
    auto applied = apply(Txn{{}, {Op::put(std::string(key), std::string(value), lease)}});
    return counted(OpName::Put, applied.map([](const Applied& a) { return a.revision; }));
}

Result<bool> SqliteStore::erase(std::string_view key) {
    auto applied = apply(Txn{{}, {Op::erase(std::string(key))}});
    return counted(OpName::Erase, applied.map([](const Applied& a) { return a.changed > 0; }));
}

Result<std::int64_t> SqliteStore::erase_prefix(std::string_view prefix) {
    auto applied = apply(Txn{{}, {Op::erase_prefix(std::string(prefix))}});
    return counted(OpName::ErasePrefix, applied.map([](const Applied& a) { return a.changed; }));
}

Result<std::int64_t> SqliteStore::commit(const Txn& txn) {
    return counted(OpName::Commit, apply(txn).map([](const Applied& a) { return a.revision; }));
}

Result<std::int64_t> SqliteStore::current_revision() {
    std::lock_guard lock(mutex_);
    return revision_locked();
}

Result<WatchPtr> SqliteStore::watch(std::string_view prefix, WatchCallback callback) {
    Result<WatchPtr> result = callback ? Result<WatchPtr>(watches_.add(std::string(prefix), std::move(callback)))
                                       : fail(Errc::BadInput, "callback", "a watch needs a callback to call");
    return counted(OpName::Watch, std::move(result));
}

Result<SqliteStore::Applied> SqliteStore::apply(const Txn& txn) {
    for (const auto& op : txn.ops) {
        if (op.kind != Op::Kind::ErasePrefix && op.key.empty()) {
            return fail(Errc::BadInput, "key", "a key must not be empty; use erase_prefix(\"\") to clear everything");
        }
    }
    std::lock_guard lock(mutex_);
    auto write = sqlite::WriteTxn::begin(db_);
    if (!write) return tl::unexpected(write.error());
    // Read inside the write lock: another process may have committed since our last look.
    auto current = revision_locked();
    if (!current) return tl::unexpected(current.error());

    for (const auto& compare : txn.compares) {
        auto select = db_.query("SELECT mod_rev FROM kv WHERE key = ?1");
        if (!select) return tl::unexpected(select.error());
        select->bind_blob(1, compare.key);
        auto row = select->step();
        if (!row) return tl::unexpected(row.error());
        std::int64_t found = *row ? select->int_at(0) : 0;
        if (found != compare.mod_revision) {
            return fail(Errc::Conflict, printable(compare.key),
                        fmt::format("revision mismatch on {}: expected {}, found {}", printable(compare.key),
                                    compare.mod_revision, found));
        }
    }

    const std::int64_t revision = *current + 1;
    const std::int64_t now_ms = clock_.now_millis();
    std::vector<Event> events;
    for (const auto& op : txn.ops) {
        if (op.kind == Op::Kind::Put) {
            if (op.lease != 0) {
                if (auto ok = check_lease_locked(op.lease, now_ms); !ok) return tl::unexpected(ok.error());
            }
            auto upsert = db_.query(
                "INSERT INTO kv (key, value, create_rev, mod_rev, version, lease) VALUES (?1, ?2, ?3, ?3, 1, ?4) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, "
                "version = kv.version + 1, lease = excluded.lease RETURNING create_rev, version");
            if (!upsert) return tl::unexpected(upsert.error());
            upsert->bind_blob(1, op.key).bind_blob(2, op.value).bind_int(3, revision).bind_int(4, op.lease);
            auto row = upsert->step();
            if (!row) return tl::unexpected(row.error());
            events.push_back(Event{
                EventType::Put, KeyValue{op.key, op.value, upsert->int_at(0), revision, upsert->int_at(1), op.lease}});
            continue;
        }
        auto end = prefix_end(op.key);
        auto erase = op.kind == Op::Kind::Erase ? db_.query("DELETE FROM kv WHERE key = ?1 RETURNING key")
                     : end                      ? db_.query("DELETE FROM kv WHERE key >= ?1 AND key < ?2 RETURNING key")
                                                : db_.query("DELETE FROM kv WHERE key >= ?1 RETURNING key");
        if (!erase) return tl::unexpected(erase.error());
        erase->bind_blob(1, op.key);
        if (op.kind == Op::Kind::ErasePrefix && end) erase->bind_blob(2, *end);
        if (auto ok = drain_deleted(*erase, revision, events); !ok) return tl::unexpected(ok.error());
    }

    auto changed = static_cast<std::int64_t>(events.size());
    if (auto ok = finish_locked(*write, events, revision); !ok) return tl::unexpected(ok.error());
    return Applied{changed > 0 ? revision : *current, changed};
}

Status SqliteStore::drain_deleted(sqlite::Query& erase, std::int64_t revision, std::vector<Event>& events) {
    std::vector<std::string> keys;
    while (true) {
        auto row = erase.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        keys.push_back(erase.blob_at(0));
    }
    // RETURNING gives no order; watchers get deletions sorted by key.
    std::sort(keys.begin(), keys.end());
    for (auto& key : keys) {
        Event event{EventType::Delete, {}};
        event.kv.key = std::move(key);
        event.kv.mod_revision = revision;
        events.push_back(std::move(event));
    }
    return {};
}

Result<std::int64_t> SqliteStore::revision_locked() {
    auto revision = query_int(db_, "SELECT value FROM meta WHERE name = 'revision'");
    if (!revision) return tl::unexpected(revision.error());
    if (!*revision) {
        return fail(Errc::Internal, "store",
                    fmt::format("store file {} has no revision in its meta table, so it was damaged; restore it "
                                "from a backup",
                                db_.path()));
    }
    return **revision;
}

Status SqliteStore::finish_locked(sqlite::WriteTxn& txn, std::vector<Event>& events, std::int64_t revision) {
    if (!events.empty()) {
        auto update = db_.query("UPDATE meta SET value = ?1 WHERE name = 'revision'");
        if (!update) return tl::unexpected(update.error());
        update->bind_int(1, revision);
        if (auto ok = update->run(); !ok) return ok;
    }
    if (auto ok = txn.commit(); !ok) return ok;
    // Still under mutex_, so batches reach the dispatcher in revision order.
    watches_.publish(std::move(events));
    return {};
}

}  // namespace kvmhub::store
