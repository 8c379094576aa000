// A thin layer over the sqlite3 C API for SqliteStore: owned handles, cached statements, and
// every SQLite failure turned into an Error that names the file and says what to do about it.
// Not thread-safe: the owner serialises access to one Db.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "common/cfree.hpp"
#include "common/result.hpp"

namespace kvmhub::store::sqlite {

using ConnectionPtr = CPtr<sqlite3, sqlite3_close>;
using StatementPtr = CPtr<sqlite3_stmt, sqlite3_finalize>;

class Db;

// One use of a cached prepared statement; resets it and drops its bindings when it goes out of scope,
// so the bound buffers only need to outlive the Query.
class Query {
public:
    Query(Db& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
    Query(Query&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
    Query& operator=(Query&&) = delete;
    Query(const Query&) = delete;
    ~Query();

    // Binds without copying: `blob` must stay alive until the Query is done.
    Query& bind_blob(int index, std::string_view blob);
    Query& bind_int(int index, std::int64_t value);

    // True when a row is ready to read, false when the statement is done.
    Result<bool> step();
    // Runs a statement that returns no rows (or whose rows do not matter).
    Status run();

    std::int64_t int_at(int column) const { return sqlite3_column_int64(stmt_, column); }
    std::string blob_at(int column) const;

private:
    Db* db_;
    sqlite3_stmt* stmt_;
};

class Db {
public:
    // Opens (creating if needed) the file, or an in-memory database for ":memory:", and sets
    // WAL journaling, synchronous=NORMAL and a busy timeout so several processes can share the file.
    static Result<Db> open(const std::string& path, int busy_timeout_ms);

    // For statements that run once (schema, pragmas); does not cache.
    Status exec(const char* sql, std::string_view doing);
    // A prepared statement from the cache (prepared on first use). `sql` must be a string literal:
    // the cache is keyed by its text.
    Result<Query> query(const char* sql);

    // The Error for the connection's last failure, `rc` being the code SQLite returned.
    Error error(int rc, std::string_view doing) const;

    const std::string& path() const { return path_; }

private:
    Db(std::string path, ConnectionPtr connection) : path_(std::move(path)), connection_(std::move(connection)) {}

    std::string path_;
    ConnectionPtr connection_;
    // Declared after the connection so the statements are finalized before it closes.
    std::map<std::string, StatementPtr, std::less<>> statements_;

    friend class Query;
    friend class WriteTxn;
};

// BEGIN IMMEDIATE: takes the file's write lock up front, so that a transaction which reads the
// revision and then writes can never lose a race to another connection. Rolls back unless committed.
class WriteTxn {
public:
    static Result<WriteTxn> begin(Db& db);
    WriteTxn(WriteTxn&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
    WriteTxn& operator=(WriteTxn&&) = delete;
    WriteTxn(const WriteTxn&) = delete;
    ~WriteTxn();

    Status commit();

private:
    explicit WriteTxn(Db& db) : db_(&db) {}
    Db* db_;
};

}  // namespace kvmhub::store::sqlite
