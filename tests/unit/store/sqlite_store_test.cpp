#include "store/sqlite_store.hpp"

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"
#include "unit/store/store_conformance.hpp"

namespace kvmhub::store {
namespace {

using namespace std::chrono_literals;
using test::EventSink;
using test::StoreBackend;
using test::StoreConformance;
using test::StoreHarness;

// ----- the conformance suite, in memory and on a file --------------------------------------------

struct SqliteHarness final : StoreHarness {
    Store& store() override { return *sqlite; }
    void let_time_pass(std::chrono::seconds by) override {
        clock.advance(by);
        auto expired = sqlite->expire_leases();
        ASSERT_TRUE(expired) << expired.error().desc;
    }

    test::TempDir dir;
    ManualClock clock;
    std::unique_ptr<SqliteStore> sqlite;  // last: closed before the clock and the directory go
};

std::unique_ptr<StoreHarness> make_sqlite(bool on_disk) {
    auto harness = std::make_unique<SqliteHarness>();
    auto opened = SqliteStore::open(on_disk ? harness->dir.file("kvmhub.db") : ":memory:", harness->clock);
    if (!opened) {
        ADD_FAILURE() << opened.error().desc;
        return nullptr;
    }
    harness->sqlite = std::move(*opened);
    return harness;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
                         ::testing::Values(StoreBackend{"Memory", [] { return make_sqlite(false); }},
                                           StoreBackend{"File", [] { return make_sqlite(true); }}),
                         test::backend_name);

// ----- SQLite only: files, processes, threads ----------------------------------------------------

class SqliteStoreTest : public ::testing::Test {
protected:
    std::unique_ptr<SqliteStore> open(const std::string& path, Metrics* metrics = nullptr) {
        auto opened = SqliteStore::open(path, clock_, metrics);
        EXPECT_TRUE(opened) << opened.error().desc;
        return opened ? std::move(*opened) : nullptr;
    }
    std::string db_path() const { return dir_.file("kvmhub.db"); }

    test::TempDir dir_;
    ManualClock clock_;
};

TEST_F(SqliteStoreTest, ReopeningKeepsDataRevisionAndLeases) {
    LeaseId lease = 0;
    std::int64_t revision = 0;
    {
        auto store = open(db_path());
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->put("/users/admin", std::string("secret\0hash", 11)));
        ASSERT_TRUE(store->put("/gone", "x"));
        ASSERT_TRUE(store->erase("/gone"));
        auto granted = store->grant_lease(10s);
        ASSERT_TRUE(granted);
        lease = *granted;
        ASSERT_TRUE(store->put("/leased", "x", lease));
        revision = *store->current_revision();
    }
    auto store = open(db_path());
    ASSERT_TRUE(store);
    auto admin = store->get("/users/admin");
    ASSERT_TRUE(admin && *admin);
    EXPECT_EQ((*admin)->value, std::string("secret\0hash", 11));
    EXPECT_EQ(*store->current_revision(), revision);
    auto next = store->put("/after", "x");
    ASSERT_TRUE(next);
    EXPECT_GT(*next, revision);

    auto leased = store->get("/leased");
    ASSERT_TRUE(leased && *leased);
    EXPECT_EQ((*leased)->lease, lease);
    clock_.advance(9s);
    ASSERT_TRUE(store->expire_leases());
    EXPECT_TRUE(store->keep_alive(lease));  // the expiry time survived the restart: not yet due
    clock_.advance(11s);
    ASSERT_TRUE(store->expire_leases());
    EXPECT_FALSE(*store->get("/leased"));
}

TEST_F(SqliteStoreTest, TwoConnectionsOnOneFileNeverShareARevision) {
    auto first = open(db_path());
    auto second = open(db_path());
    ASSERT_TRUE(first && second);
    constexpr int threads_per_store = 4;
    constexpr int puts = 100;
    std::mutex mutex;
    std::vector<std::int64_t> revisions;
    std::atomic<int> errors{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 2 * threads_per_store; ++t) {
        SqliteStore& store = t % 2 == 0 ? *first : *second;
        workers.emplace_back([&, t] {
            for (int i = 0; i < puts; ++i) {
                auto r = store.put("/p/" + std::to_string(t) + "/" + std::to_string(i), "v");
                if (!r) {
                    ++errors;
                    continue;
                }
                std::lock_guard lock(mutex);
                revisions.push_back(*r);
            }
        });
    }
    for (auto& worker : workers) worker.join();
    EXPECT_EQ(errors.load(), 0);
    std::set<std::int64_t> unique(revisions.begin(), revisions.end());
    EXPECT_EQ(unique.size(), revisions.size());
    EXPECT_EQ(unique.size(), static_cast<std::size_t>(2 * threads_per_store * puts));
    EXPECT_EQ(*first->current_revision(), *unique.rbegin());
    EXPECT_EQ(*second->current_revision(), *unique.rbegin());
    EXPECT_EQ(second->list("/p/")->size(), unique.size());
}

// The daemon and the `kvmhubd user add` CLI: two real processes writing one file at once.
TEST_F(SqliteStoreTest, TwoProcessesOnOneFileNeverShareARevision) {
    constexpr int puts = 200;
    auto write_keys = [&](const std::string& who) {
        auto store = SqliteStore::open(db_path(), clock_);
        if (!store) return false;
        for (int i = 0; i < puts; ++i) {
            if (!(*store)->put("/proc/" + who + "/" + std::to_string(i), who)) return false;
        }
        return true;
    };
    ASSERT_TRUE(open(db_path()));  // create the schema before the race
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) std::_Exit(write_keys("child") ? 0 : 1);
    EXPECT_TRUE(write_keys("parent"));
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);

    auto store = open(db_path());
    ASSERT_TRUE(store);
    auto listed = store->list("/proc/");
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), static_cast<std::size_t>(2 * puts));
    std::set<std::int64_t> revisions;
    for (const auto& kv : *listed) revisions.insert(kv.mod_revision);
    EXPECT_EQ(revisions.size(), listed->size());
    // The fresh store started at revision 1, and every put took exactly one revision.
    EXPECT_EQ(*store->current_revision(), 1 + 2 * puts);
}

TEST_F(SqliteStoreTest, CasIncrementsFromTwoConnectionsLoseNoUpdate) {
    auto first = open(db_path());
    auto second = open(db_path());
    ASSERT_TRUE(first && second);
    constexpr int threads = 4;
    constexpr int increments = 50;
    std::atomic<int> errors{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        SqliteStore& store = t % 2 == 0 ? *first : *second;
        workers.emplace_back([&] {
            for (int i = 0; i < increments; ++i) {
                while (true) {
                    auto kv = store.get("/counter");
                    if (!kv) {
                        ++errors;
                        return;
                    }
                    long long n = *kv ? std::stoll((*kv)->value) : 0;
                    auto swapped =
                        store.compare_and_swap("/counter", *kv ? (*kv)->mod_revision : 0, std::to_string(n + 1));
                    if (swapped) break;
                    if (swapped.error().code != Errc::Conflict) {
                        ++errors;
                        return;
                    }
                }
            }
        });
    }
    for (auto& worker : workers) worker.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ((*first->get("/counter"))->value, std::to_string(threads * increments));
}

TEST_F(SqliteStoreTest, OpeningInAMissingDirectoryExplainsWhatToFix) {
    std::string path = dir_.file("no-such-dir") + "/kvmhub.db";
    auto opened = SqliteStore::open(path, clock_);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, Errc::Internal);
    EXPECT_NE(opened.error().desc.find("cannot open store file " + path), std::string::npos) << opened.error().desc;
    EXPECT_NE(opened.error().desc.find("check the data dir exists and is writable"), std::string::npos)
        << opened.error().desc;
}

TEST_F(SqliteStoreTest, AFileOfGarbageIsRefused) {
    {
        std::ofstream out(db_path(), std::ios::binary);
        for (int i = 0; i < 8192; ++i) out.put(static_cast<char>(i * 7 + 3));
    }
    auto opened = SqliteStore::open(db_path(), clock_);
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().desc.find(db_path()), std::string::npos) << opened.error().desc;
    EXPECT_NE(opened.error().desc.find("not a database"), std::string::npos) << opened.error().desc;
}

TEST_F(SqliteStoreTest, ADamagedDatabaseIsRefused) {
    {
        auto store = open(db_path());
        ASSERT_TRUE(store);
        for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->put("/k/" + std::to_string(i), std::string(500, 'v')));
    }
    {
        // Keep the SQLite header, overwrite the pages after it.
        std::fstream file(db_path(), std::ios::binary | std::ios::in | std::ios::out);
        file.seekp(100);
        for (int i = 0; i < 16384; ++i) file.put(static_cast<char>(i * 13 + 5));
    }
    auto opened = SqliteStore::open(db_path(), clock_);
    if (opened) {
        // The damage may only show on first use; either way it is an error, not a crash.
        auto listed = (*opened)->list("");
        EXPECT_FALSE(listed && listed->size() == 50);
    } else {
        EXPECT_NE(opened.error().desc.find(db_path()), std::string::npos) << opened.error().desc;
    }
}

TEST_F(SqliteStoreTest, ANewerSchemaIsRefused) {
    ASSERT_TRUE(open(db_path()));
    {
        auto db = sqlite::Db::open(db_path(), 1000);
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->exec("UPDATE meta SET value = 99 WHERE name = 'schema_version'", "write"));
    }
    auto opened = SqliteStore::open(db_path(), clock_);
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().desc.find("schema version 99"), std::string::npos) << opened.error().desc;
}

TEST_F(SqliteStoreTest, ConflictsNameTheKeyAndBothRevisions) {
    auto store = open(":memory:");
    ASSERT_TRUE(store);
    auto r = store->put(std::string("/bin\0key", 8), "v");
    ASSERT_TRUE(r);
    auto conflict = store->compare_and_swap(std::string("/bin\0key", 8), 0, "w");
    ASSERT_FALSE(conflict);
    EXPECT_EQ(conflict.error().where, "/bin\\x00key");
    EXPECT_EQ(conflict.error().desc, "revision mismatch on /bin\\x00key: expected 0, found " + std::to_string(*r));
}

TEST_F(SqliteStoreTest, LeaseExpiryFollowsTheInjectedClockOneRevisionPerLease) {
    auto store = open(":memory:");
    ASSERT_TRUE(store);
    auto a = store->grant_lease(10s);
    auto b = store->grant_lease(10s);
    auto empty = store->grant_lease(10s);
    ASSERT_TRUE(a && b && empty);
    EXPECT_NE(*a, *b);
    ASSERT_TRUE(store->put("/a/1", "x", *a));
    ASSERT_TRUE(store->put("/a/2", "x", *a));
    ASSERT_TRUE(store->put("/b/1", "x", *b));
    auto before = *store->current_revision();

    clock_.advance(9s);
    ASSERT_TRUE(store->expire_leases());
    EXPECT_EQ(store->list("")->size(), 3u);
    EXPECT_EQ(*store->current_revision(), before);

    clock_.advance(2s);
    ASSERT_TRUE(store->expire_leases());
    EXPECT_TRUE(store->list("")->empty());
    // Two leases with keys, two revisions; the lease without keys changes nothing.
    EXPECT_EQ(*store->current_revision(), before + 2);
    EXPECT_FALSE(store->keep_alive(*empty));
}

TEST_F(SqliteStoreTest, TheReaperThreadExpiresLeasesOnItsOwn) {
    auto store = open(":memory:");
    ASSERT_TRUE(store);
    auto lease = store->grant_lease(2s);
    ASSERT_TRUE(lease);
    ASSERT_TRUE(store->put("/r/a", "x", *lease));
    EventSink sink;
    auto watch = store->watch("/r/", sink.callback());
    ASSERT_TRUE(watch);
    clock_.advance(3s);
    auto events = sink.wait_for_events(1);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, EventType::Delete);
}

TEST_F(SqliteStoreTest, LeaseTtlMustBePositive) {
    auto store = open(":memory:");
    ASSERT_TRUE(store);
    auto zero = store->grant_lease(0s);
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error().code, Errc::BadInput);
}

TEST_F(SqliteStoreTest, AWatchMayDestroyItselfFromItsCallback) {
    auto store = open(":memory:");
    ASSERT_TRUE(store);
    EventSink other;
    auto other_watch = store->watch("/s/", other.callback());
    ASSERT_TRUE(other_watch);
    std::mutex mutex;
    int calls = 0;
    WatchPtr self;
    {
        std::lock_guard lock(mutex);
        auto watch = store->watch("/s/", [&](const std::vector<Event>&) {
            std::lock_guard lock(mutex);
            ++calls;
            self.reset();
        });
        ASSERT_TRUE(watch);
        self = std::move(*watch);
    }
    ASSERT_TRUE(store->put("/s/1", "x"));
    ASSERT_TRUE(store->put("/s/2", "x"));
    // `other` was registered first, so once it has the second batch the first is fully delivered.
    other.wait_for(2);
    std::lock_guard lock(mutex);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(self, nullptr);
}

TEST_F(SqliteStoreTest, AWatchMayOutliveItsStore) {
    auto store = open(":memory:");
    ASSERT_TRUE(store);
    EventSink sink;
    auto watch = store->watch("", sink.callback());
    ASSERT_TRUE(watch);
    ASSERT_TRUE(store->put("/x", "1"));
    sink.wait_for(1);
    store.reset();
    watch->reset();
    SUCCEED();
}

TEST_F(SqliteStoreTest, AWatchNeedsACallback) {
    auto store = open(":memory:");
    ASSERT_TRUE(store);
    auto watch = store->watch("/", nullptr);
    ASSERT_FALSE(watch);
    EXPECT_EQ(watch.error().code, Errc::BadInput);
}

TEST_F(SqliteStoreTest, OperationsAreCountedByOpAndResult) {
    Metrics metrics;
    auto store = open(":memory:", &metrics);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put("/m", "1"));
    ASSERT_TRUE(store->get("/m"));
    ASSERT_FALSE(store->compare_and_swap("/m", 0, "2"));
    ASSERT_TRUE(store->grant_lease(5s));
    auto value = [&](const char* op, const char* result) {
        return metrics.counter("kvmhub_store_ops_total", "", {{"backend", "sqlite"}, {"op", op}, {"result", result}})
            .value();
    };
    EXPECT_EQ(value("put", "ok"), 1u);
    EXPECT_EQ(value("get", "ok"), 1u);
    EXPECT_EQ(value("commit", "error"), 1u);
    EXPECT_EQ(value("commit", "ok"), 0u);
    EXPECT_EQ(value("lease", "ok"), 1u);
    EXPECT_NE(metrics.render().find(R"(kvmhub_store_ops_total{backend="sqlite",op="put",result="ok"} 1)"),
              std::string::npos);
}

}  // namespace
}  // namespace kvmhub::store
