#include "store/sqlite_db.hpp"

#include <fmt/format.h>

#include "common/log.hpp"

namespace kvmhub::store::sqlite {
namespace {

// What a person can do about each class of failure.
const char* hint_for(int rc) {
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return "another process holds the write lock; retry, and check that no other program keeps a "
                   "transaction open on this file";
        case SQLITE_FULL:
            return "free some space on its filesystem";
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
        case SQLITE_READONLY:
        case SQLITE_AUTH:
            return "check the data dir exists and is writable by this user";
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return "the file is damaged or is not a kvmhub store; restore it from a backup or move it away to "
                   "start empty";
        case SQLITE_IOERR:
            return "check the disk and the filesystem it is on";
        default:
            return "check the file and its directory; if it persists, report it as a bug";
    }
}

}  // namespace

Query::~Query() {
    if (stmt_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

Query& Query::bind_blob(int index, std::string_view blob) {
    // A null pointer would bind SQL NULL; an empty key or value must stay an empty blob.
    sqlite3_bind_blob64(stmt_, index, blob.empty() ? "" : blob.data(), blob.size(), SQLITE_STATIC);
    return *this;
}

Query& Query::bind_int(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
}

Result<bool> Query::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return tl::unexpected(db_->error(rc, sqlite3_stmt_readonly(stmt_) ? "read" : "write"));
}

Status Query::run() {
    while (true) {
        auto row = step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return {};
    }
}

std::string Query::blob_at(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    // A zero-length blob comes back as a null pointer.
    if (data == nullptr) return {};
    return std::string(static_cast<const char*>(data), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

Result<Db> Db::open(const std::string& path, int busy_timeout_ms) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    // SQLite hands out a handle even when opening fails; it still has to be closed.
    ConnectionPtr connection(raw);
    if (rc != SQLITE_OK) {
        const char* message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
        return fail(Errc::Internal, "store",
                    fmt::format("cannot open store file {}: {}; {}", path, message, hint_for(rc)));
    }
    sqlite3_busy_timeout(connection.get(), busy_timeout_ms);
    Db db(path, std::move(connection));

    // The first statement reads the header: a damaged or foreign file fails here.
    {
        auto mode = db.query("PRAGMA journal_mode=WAL");
        auto row = mode ? mode->step() : Result<bool>(tl::unexpected(mode.error()));
        if (!row) return tl::unexpected(db.error(sqlite3_errcode(db.connection_.get()), "open"));
        std::string journal = *row ? mode->blob_at(0) : std::string();
        if (journal != "wal" && journal != "memory") {
            log::get("store")->warn(
                "store file cannot use WAL journaling; concurrent readers will wait. path={} mode={}", path, journal);
        }
    }
    if (auto ok = db.exec("PRAGMA synchronous=NORMAL", "open"); !ok) return tl::unexpected(ok.error());
    return db;
}

Status Db::exec(const char* sql, std::string_view doing) {
    int rc = sqlite3_exec(connection_.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return tl::unexpected(error(rc, doing));
    return {};
}

Result<Query> Db::query(const char* sql) {
    auto found = statements_.find(std::string_view(sql));
    if (found == statements_.end()) {
        sqlite3_stmt* raw = nullptr;
        int rc = sqlite3_prepare_v3(connection_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
        StatementPtr statement(raw);
        if (rc != SQLITE_OK) return tl::unexpected(error(rc, "read"));
        found = statements_.emplace(sql, std::move(statement)).first;
    }
    return Query(*this, found->second.get());
}

Error Db::error(int rc, std::string_view doing) const {
    // After a failed step the connection's message describes that failure; the code alone is a fallback.
    const char* message =
        sqlite3_errcode(connection_.get()) == rc ? sqlite3_errmsg(connection_.get()) : sqlite3_errstr(rc);
    int primary = rc & 0xff;
    Errc code = primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? Errc::Conflict : Errc::Internal;
    return Error{code, "store", fmt::format("cannot {} store file {}: {}; {}", doing, path_, message, hint_for(rc))};
}

Result<WriteTxn> WriteTxn::begin(Db& db) {
    auto begin = db.query("BEGIN IMMEDIATE");
    if (!begin) return tl::unexpected(begin.error());
    if (auto ok = begin->run(); !ok) return tl::unexpected(ok.error());
    return WriteTxn(db);
}

WriteTxn::~WriteTxn() {
    if (db_ == nullptr) return;
    // Nothing useful can be done if the rollback fails: SQLite rolls back on its own on the next BEGIN
    // or when the connection closes.
    sqlite3_exec(db_->connection_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

Status WriteTxn::commit() {
    auto commit = db_->query("COMMIT");
    if (!commit) return tl::unexpected(commit.error());
    if (auto ok = commit->run(); !ok) return ok;
    db_ = nullptr;
    return {};
}

}  // namespace kvmhub::store::sqlite
