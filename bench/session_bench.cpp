// What the session check adds to an admin request: the token's signature check (which every
// admin request paid before sessions) next to the session record read by its key
// (SessionService::check, one SQLite primary-key SELECT on a WAL file), with few and with many
// sessions in the store; and, for comparison, the alternative of polling SQLite's
// `PRAGMA data_version` (how a cache would learn of a write another process made).
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "auth/jwt.hpp"
#include "auth/sessions.hpp"
#include "common/clock.hpp"
#include "store/sqlite_store.hpp"

namespace {

using namespace kvmhub;

// A fresh directory for one benchmark's store, removed at the end.
struct BenchDir {
    std::filesystem::path path;
    BenchDir() {
        std::string templ = (std::filesystem::temp_directory_path() / "kvmhub-session-bench-XXXXXX").string();
        path = ::mkdtemp(templ.data()) ? templ : std::string();
    }
    ~BenchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

void BM_TokenVerify(benchmark::State& state) {
    SystemClock clock;
    auth::TokenSigner signer(std::string(32, 'k'), clock);
    auto token = signer.issue("admin", "AAAAAAAAAAAAAAAAAAAAAA", std::chrono::seconds(3600));
    for (auto _ : state) {
        auto claims = signer.verify(token->token);
        benchmark::DoNotOptimize(claims);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenVerify);

// The guard's read, with state.range(0) open sessions in the store (spread over 100 users).
void BM_SessionCheck(benchmark::State& state) {
    BenchDir dir;
    SystemClock clock;
    auto store = store::SqliteStore::open((dir.path / "kvmhub.db").string(), clock);
    if (!store) {
        state.SkipWithError(store.error().desc.c_str());
        return;
    }
    auth::SessionService sessions(**store, clock, std::chrono::hours(12));
    std::vector<auth::Session> open;
    const auto n = state.range(0);
    for (std::int64_t i = 0; i < n; ++i) {
        auto s = sessions.start("user" + std::to_string(i % 100), "127.0.0.1");
        if (!s) {
            state.SkipWithError(s.error().desc.c_str());
            return;
        }
        open.push_back(*s);
    }
    std::size_t i = 0;
    for (auto _ : state) {
        const auto& s = open[i++ % open.size()];
        auto found = sessions.check(s.user, s.id);
        if (!found) {
            state.SkipWithError(found.error().desc.c_str());
            return;
        }
        benchmark::DoNotOptimize(found);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SessionCheck)->Arg(1)->Arg(10000);

// The rejected alternative: one `PRAGMA data_version` per request on the daemon's connection.
void BM_SqliteDataVersion(benchmark::State& state) {
    BenchDir dir;
    const std::string path = (dir.path / "kvmhub.db").string();
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
        state.SkipWithError("cannot open sqlite");
        sqlite3_close(db);
        return;
    }
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t (k PRIMARY KEY);", nullptr, nullptr, nullptr);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &stmt, nullptr);
    for (auto _ : state) {
        sqlite3_reset(stmt);
        if (sqlite3_step(stmt) != SQLITE_ROW) {
            state.SkipWithError("PRAGMA data_version failed");
            break;
        }
        benchmark::DoNotOptimize(sqlite3_column_int64(stmt, 0));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SqliteDataVersion);

}  // namespace
