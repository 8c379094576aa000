// The Store conformance suite: the only place its TEST_P bodies are defined. Backends instantiate
// it in their own test files (see store_conformance.hpp).
#include "unit/store/store_conformance.hpp"

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;
using namespace kvmhub::store;

std::vector<std::string> keys_of(const std::vector<KeyValue>& kvs) {
    std::vector<std::string> keys;
    for (const auto& kv : kvs) keys.push_back(kv.key);
    return keys;
}

std::string value_of(Store& store, std::string_view key) {
    auto kv = store.get(key);
    if (!kv || !*kv) return "<missing>";
    return (*kv)->value;
}

// ----- get / put ---------------------------------------------------------------------------------

TEST_P(StoreConformance, GetOfAMissingKeyReturnsNothing) {
    auto kv = store().get("/nothing/here");
    ASSERT_TRUE(kv) << kv.error().desc;
    EXPECT_FALSE(kv->has_value());
}

TEST_P(StoreConformance, PutThenGetRoundTripsBinaryValues) {
    std::string with_nuls("a\0b\0\0c", 6);
    std::string every_byte;
    for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
    std::string mebibyte(1 << 20, '\0');
    for (std::size_t i = 0; i < mebibyte.size(); ++i) mebibyte[i] = static_cast<char>(i * 31 % 251);

    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"/bin/nuls", with_nuls}, {"/bin/bytes", every_byte}, {"/bin/big", mebibyte}, {"/bin/empty", ""}}) {
        auto put = store().put(key, value);
        ASSERT_TRUE(put) << put.error().desc;
        auto kv = store().get(key);
        ASSERT_TRUE(kv && *kv) << key;
        EXPECT_EQ((*kv)->key, key);
        EXPECT_EQ((*kv)->value.size(), value.size()) << key;
        EXPECT_TRUE((*kv)->value == value) << key;
    }
}

TEST_P(StoreConformance, KeysAreArbitraryBytes) {
    std::string nul_key("/k/\0x", 5);
    std::string high_key("/k/\xff\xfe", 5);
    ASSERT_TRUE(store().put(nul_key, "nul"));
    ASSERT_TRUE(store().put(high_key, "high"));
    EXPECT_EQ(value_of(store(), nul_key), "nul");
    EXPECT_EQ(value_of(store(), high_key), "high");
    EXPECT_EQ(value_of(store(), "/k/"), "<missing>");
    auto listed = store().list("/k/");
    ASSERT_TRUE(listed);
    EXPECT_EQ(keys_of(*listed), (std::vector<std::string>{nul_key, high_key}));
}

TEST_P(StoreConformance, RevisionsIncreaseCreateRevisionStaysAndVersionCounts) {
    auto r1 = store().put("/rev/a", "1");
    ASSERT_TRUE(r1);
    auto r2 = store().put("/rev/a", "2");
    ASSERT_TRUE(r2);
    auto r3 = store().put("/rev/b", "1");
    ASSERT_TRUE(r3);
    EXPECT_LT(*r1, *r2);
    EXPECT_LT(*r2, *r3);

    auto a = store().get("/rev/a");
    ASSERT_TRUE(a && *a);
    EXPECT_EQ((*a)->create_revision, *r1);
    EXPECT_EQ((*a)->mod_revision, *r2);
    EXPECT_EQ((*a)->version, 2);
    EXPECT_EQ((*a)->lease, 0);
    auto b = store().get("/rev/b");
    ASSERT_TRUE(b && *b);
    EXPECT_EQ((*b)->create_revision, *r3);
    EXPECT_EQ((*b)->version, 1);
    auto current = store().current_revision();
    ASSERT_TRUE(current);
    EXPECT_EQ(*current, *r3);
}

TEST_P(StoreConformance, ARecreatedKeyStartsAgainFromVersionOne) {
    ASSERT_TRUE(store().put("/again", "1"));
    ASSERT_TRUE(store().put("/again", "2"));
    ASSERT_TRUE(store().erase("/again"));
    auto r = store().put("/again", "3");
    ASSERT_TRUE(r);
    auto kv = store().get("/again");
    ASSERT_TRUE(kv && *kv);
    EXPECT_EQ((*kv)->create_revision, *r);
    EXPECT_EQ((*kv)->version, 1);
}

TEST_P(StoreConformance, PutRejectsAnEmptyKey) {
    auto r = store().put("", "x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::BadInput);
}

// ----- list ----------------------------------------------------------------------------------------

TEST_P(StoreConformance, ListReturnsThePrefixSortedWithoutItsNeighbours) {
    for (const char* key : {"/a/2", "/ab", "/a/1", "/a", "/b/1", "/a/10"}) ASSERT_TRUE(store().put(key, key));
    auto dir = store().list("/a/");
    ASSERT_TRUE(dir);
    EXPECT_EQ(keys_of(*dir), (std::vector<std::string>{"/a/1", "/a/10", "/a/2"}));
    EXPECT_EQ((*dir)[0].value, "/a/1");
    auto a = store().list("/a");
    ASSERT_TRUE(a);
    EXPECT_EQ(keys_of(*a), (std::vector<std::string>{"/a", "/a/1", "/a/10", "/a/2", "/ab"}));
    auto none = store().list("/c");
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformance, AnEmptyPrefixListsEverything) {
    for (const char* key : {"/z", "/a", "m"}) ASSERT_TRUE(store().put(key, "v"));
    auto all = store().list("");
    ASSERT_TRUE(all);
    EXPECT_EQ(keys_of(*all), (std::vector<std::string>{"/a", "/z", "m"}));
}

TEST_P(StoreConformance, PrefixesEndingInFFBytesStayExact) {
    std::vector<std::string> keys{"k", std::string("k\xff", 2), std::string("k\xff\0", 3), std::string("k\xff\xff", 3),
                                  "l", std::string("\xff", 1),  std::string("\xff\xff", 2)};
    for (const auto& key : keys) ASSERT_TRUE(store().put(key, "v"));
    auto k_ff = store().list("k\xff");
    ASSERT_TRUE(k_ff);
    EXPECT_EQ(keys_of(*k_ff), (std::vector<std::string>{keys[1], keys[2], keys[3]}));
    auto ff = store().list("\xff");
    ASSERT_TRUE(ff);
    EXPECT_EQ(keys_of(*ff), (std::vector<std::string>{keys[5], keys[6]}));

    auto erased = store().erase_prefix("k\xff");
    ASSERT_TRUE(erased);
    EXPECT_EQ(*erased, 3);
    auto rest = store().list("");
    ASSERT_TRUE(rest);
    EXPECT_EQ(keys_of(*rest), (std::vector<std::string>{"k", "l", keys[5], keys[6]}));
}

// ----- erase ---------------------------------------------------------------------------------------

TEST_P(StoreConformance, EraseOfAnExistingKeyReturnsTrueAndBumpsTheRevision) {
    auto put = store().put("/e/a", "1");
    ASSERT_TRUE(put);
    auto erased = store().erase("/e/a");
    ASSERT_TRUE(erased);
    EXPECT_TRUE(*erased);
    EXPECT_EQ(value_of(store(), "/e/a"), "<missing>");
    auto current = store().current_revision();
    ASSERT_TRUE(current);
    EXPECT_GT(*current, *put);
}

TEST_P(StoreConformance, EraseOfAMissingKeyReturnsFalseAndKeepsTheRevision) {
    ASSERT_TRUE(store().put("/e/other", "1"));
    auto before = store().current_revision();
    ASSERT_TRUE(before);
    auto erased = store().erase("/e/missing");
    ASSERT_TRUE(erased);
    EXPECT_FALSE(*erased);
    auto after = store().current_revision();
    ASSERT_TRUE(after);
    EXPECT_EQ(*after, *before);
}

TEST_P(StoreConformance, ErasePrefixRemovesOnlyThePrefixAndCounts) {
    for (const char* key : {"/p/1", "/p/2", "/p/3/x", "/pp", "/q"}) ASSERT_TRUE(store().put(key, "v"));
    auto erased = store().erase_prefix("/p/");
    ASSERT_TRUE(erased);
    EXPECT_EQ(*erased, 3);
    auto rest = store().list("");
    ASSERT_TRUE(rest);
    EXPECT_EQ(keys_of(*rest), (std::vector<std::string>{"/pp", "/q"}));

    auto before = store().current_revision();
    auto none = store().erase_prefix("/p/");
    ASSERT_TRUE(none);
    EXPECT_EQ(*none, 0);
    EXPECT_EQ(*store().current_revision(), *before);

    auto all = store().erase_prefix("");
    ASSERT_TRUE(all);
    EXPECT_EQ(*all, 2);
    EXPECT_TRUE(store().list("")->empty());
}

// ----- compare-and-swap and transactions -------------------------------------------------------

TEST_P(StoreConformance, CreateIfAbsentSucceedsOnlyOnce) {
    auto first = store().compare_and_swap("/cas/k", 0, "first");
    ASSERT_TRUE(first) << first.error().desc;
    auto second = store().compare_and_swap("/cas/k", 0, "second");
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, Errc::Conflict);
    EXPECT_EQ(second.error().where, "/cas/k");
    EXPECT_EQ(value_of(store(), "/cas/k"), "first");
}

TEST_P(StoreConformance, CasWithAStaleRevisionConflictsAndKeepsTheValue) {
    auto r1 = store().put("/cas/k", "1");
    ASSERT_TRUE(r1);
    auto r2 = store().compare_and_swap("/cas/k", *r1, "2");
    ASSERT_TRUE(r2) << r2.error().desc;
    auto stale = store().compare_and_swap("/cas/k", *r1, "3");
    ASSERT_FALSE(stale);
    EXPECT_EQ(stale.error().code, Errc::Conflict);
    EXPECT_EQ(stale.error().where, "/cas/k");
    EXPECT_EQ(value_of(store(), "/cas/k"), "2");
    EXPECT_EQ(*store().current_revision(), *r2);

    auto missing = store().compare_and_swap("/cas/absent", *r2, "x");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, Errc::Conflict);
    EXPECT_EQ(value_of(store(), "/cas/absent"), "<missing>");
}

TEST_P(StoreConformance, CompareAndEraseNeedsTheCurrentRevision) {
    auto r1 = store().put("/cae/k", "1");
    ASSERT_TRUE(r1);
    auto r2 = store().put("/cae/k", "2");
    ASSERT_TRUE(r2);
    auto stale = store().compare_and_erase("/cae/k", *r1);
    ASSERT_FALSE(stale);
    EXPECT_EQ(stale.error().code, Errc::Conflict);
    EXPECT_EQ(value_of(store(), "/cae/k"), "2");
    ASSERT_TRUE(store().compare_and_erase("/cae/k", *r2));
    EXPECT_EQ(value_of(store(), "/cae/k"), "<missing>");
}

TEST_P(StoreConformance, ATxnWithOneFailingCompareAppliesNothing) {
    auto ra = store().put("/t/a", "a1");
    ASSERT_TRUE(ra);
    auto rb = store().put("/t/b", "b1");
    ASSERT_TRUE(rb);
    ASSERT_TRUE(store().put("/t/b", "b2"));
    auto before = store().current_revision();

    Txn txn{{{"/t/a", *ra}, {"/t/b", *rb}, {"/t/c", 0}},
            {Op::put("/t/a", "a2"), Op::put("/t/c", "c1"), Op::erase("/t/b"), Op::erase_prefix("/t/")}};
    auto result = store().commit(txn);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, Errc::Conflict);
    EXPECT_EQ(result.error().where, "/t/b");
    EXPECT_EQ(value_of(store(), "/t/a"), "a1");
    EXPECT_EQ(value_of(store(), "/t/b"), "b2");
    EXPECT_EQ(value_of(store(), "/t/c"), "<missing>");
    EXPECT_EQ(*store().current_revision(), *before);
}

TEST_P(StoreConformance, ATxnAppliesAllItsOpsUnderOneRevision) {
    auto ra = store().put("/t/a", "a1");
    ASSERT_TRUE(ra);
    ASSERT_TRUE(store().put("/t/old/1", "x"));
    ASSERT_TRUE(store().put("/t/old/2", "x"));

    Txn txn{{{"/t/a", *ra}, {"/t/new", 0}},
            {Op::put("/t/a", "a2"), Op::put("/t/new", "n1"), Op::erase_prefix("/t/old/")}};
    auto revision = store().commit(txn);
    ASSERT_TRUE(revision) << revision.error().desc;
    EXPECT_EQ(*store().current_revision(), *revision);

    auto a = store().get("/t/a");
    ASSERT_TRUE(a && *a);
    EXPECT_EQ((*a)->value, "a2");
    EXPECT_EQ((*a)->mod_revision, *revision);
    EXPECT_EQ((*a)->version, 2);
    auto fresh = store().get("/t/new");
    ASSERT_TRUE(fresh && *fresh);
    EXPECT_EQ((*fresh)->create_revision, *revision);
    EXPECT_EQ((*fresh)->mod_revision, *revision);
    EXPECT_TRUE(store().list("/t/old/")->empty());
}

TEST_P(StoreConformance, ATxnWithoutOpsReturnsTheCurrentRevision) {
    auto r = store().put("/t/a", "1");
    ASSERT_TRUE(r);
    auto result = store().commit(Txn{{{"/t/a", *r}}, {}});
    ASSERT_TRUE(result);
    EXPECT_EQ(*result, *r);
}

TEST_P(StoreConformance, ATxnThatChangesNothingKeepsTheRevision) {
    auto r = store().put("/t/a", "1");
    ASSERT_TRUE(r);
    auto result = store().commit(Txn{{}, {Op::erase("/t/missing"), Op::erase_prefix("/t/none/")}});
    ASSERT_TRUE(result);
    EXPECT_EQ(*result, *r);
    EXPECT_EQ(*store().current_revision(), *r);
}

// ----- watch -----------------------------------------------------------------------------------------

TEST_P(StoreConformance, WatchDeliversAPutThenItsDeleteInOrder) {
    ASSERT_TRUE(store().put("/w/before", "not seen"));
    EventSink sink;
    auto watch = store().watch("/w/", sink.callback());
    ASSERT_TRUE(watch) << watch.error().desc;

    auto put = store().put("/w/a", "1");
    ASSERT_TRUE(put);
    ASSERT_TRUE(store().erase("/w/a"));
    auto deleted_at = store().current_revision();
    ASSERT_TRUE(deleted_at);

    auto events = sink.wait_for_events(2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].type, EventType::Put);
    EXPECT_EQ(events[0].kv.key, "/w/a");
    EXPECT_EQ(events[0].kv.value, "1");
    EXPECT_EQ(events[0].kv.create_revision, *put);
    EXPECT_EQ(events[0].kv.mod_revision, *put);
    EXPECT_EQ(events[0].kv.version, 1);
    EXPECT_EQ(events[1].type, EventType::Delete);
    EXPECT_EQ(events[1].kv.key, "/w/a");
    EXPECT_EQ(events[1].kv.mod_revision, *deleted_at);
}

TEST_P(StoreConformance, WatchSeesOnlyItsPrefix) {
    EventSink sink;
    auto watch = store().watch("/w/", sink.callback());
    ASSERT_TRUE(watch);
    ASSERT_TRUE(store().put("/wx", "neighbour"));
    ASSERT_TRUE(store().put("/other/a", "elsewhere"));
    ASSERT_TRUE(store().put("/w/mine", "1"));
    // Delivery is in revision order, so anything outside the prefix would have come first.
    auto events = sink.wait_for_events(1);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kv.key, "/w/mine");
}

TEST_P(StoreConformance, WatchGetsATxnAsOneBatch) {
    ASSERT_TRUE(store().put("/w/gone", "x"));
    EventSink sink;
    auto watch = store().watch("/w/", sink.callback());
    ASSERT_TRUE(watch);
    auto revision = store().commit(
        Txn{{}, {Op::put("/w/a", "1"), Op::put("/elsewhere", "2"), Op::erase("/w/gone"), Op::put("/w/b", "3")}});
    ASSERT_TRUE(revision);

    auto batches = sink.wait_for(3);
    ASSERT_EQ(batches.size(), 1u);
    ASSERT_EQ(batches[0].size(), 3u);
    for (const auto& event : batches[0]) EXPECT_EQ(event.kv.mod_revision, *revision);
    EXPECT_EQ(batches[0][0].kv.key, "/w/a");
    EXPECT_EQ(batches[0][1].kv.key, "/w/gone");
    EXPECT_EQ(batches[0][1].type, EventType::Delete);
    EXPECT_EQ(batches[0][2].kv.key, "/w/b");
}

TEST_P(StoreConformance, ADestroyedWatchGetsNothingMore) {
    EventSink kept_sink;
    EventSink dropped_sink;
    auto kept = store().watch("/d/", kept_sink.callback());
    auto dropped = store().watch("/d/", dropped_sink.callback());
    ASSERT_TRUE(kept && dropped);
    ASSERT_TRUE(store().put("/d/1", "x"));
    kept_sink.wait_for(1);
    dropped_sink.wait_for(1);

    dropped->reset();
    ASSERT_TRUE(store().put("/d/2", "x"));
    ASSERT_TRUE(store().erase_prefix("/d/"));
    kept_sink.wait_for(4);
    EXPECT_EQ(dropped_sink.event_count(), 1u);
}

// ----- leases -------------------------------------------------------------------------------------

TEST_P(StoreConformance, KeysOfAnExpiredLeaseAreDeletedAndWatchersSeeIt) {
    auto lease = store().grant_lease(4s);
    ASSERT_TRUE(lease) << lease.error().desc;
    EXPECT_GT(*lease, 0);
    ASSERT_TRUE(store().put("/l/a", "1", *lease));
    ASSERT_TRUE(store().put("/l/b", "2", *lease));
    ASSERT_TRUE(store().put("/l/keep", "3"));
    auto kv = store().get("/l/a");
    ASSERT_TRUE(kv && *kv);
    EXPECT_EQ((*kv)->lease, *lease);

    EventSink sink;
    auto watch = store().watch("/l/", sink.callback());
    ASSERT_TRUE(watch);
    let_time_pass(2s);
    EXPECT_EQ(value_of(store(), "/l/a"), "1");
    let_time_pass(3s);
    EXPECT_EQ(value_of(store(), "/l/a"), "<missing>");
    EXPECT_EQ(value_of(store(), "/l/b"), "<missing>");
    EXPECT_EQ(value_of(store(), "/l/keep"), "3");

    auto events = sink.wait_for_events(2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].type, EventType::Delete);
    EXPECT_EQ(events[1].type, EventType::Delete);
    EXPECT_EQ(events[0].kv.key, "/l/a");
    EXPECT_EQ(events[1].kv.key, "/l/b");
    EXPECT_EQ(events[0].kv.mod_revision, events[1].kv.mod_revision);

    auto again = store().keep_alive(*lease);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::NotFound);
}

TEST_P(StoreConformance, KeepAliveRestartsTheTtl) {
    auto lease = store().grant_lease(4s);
    ASSERT_TRUE(lease);
    ASSERT_TRUE(store().put("/ka/a", "1", *lease));
    let_time_pass(3s);
    auto kept = store().keep_alive(*lease);
    ASSERT_TRUE(kept) << kept.error().desc;
    let_time_pass(3s);
    EXPECT_EQ(value_of(store(), "/ka/a"), "1");
    let_time_pass(2s);
    EXPECT_EQ(value_of(store(), "/ka/a"), "<missing>");
}

TEST_P(StoreConformance, AKeyPutAgainWithoutItsLeaseOutlivesTheLease) {
    auto lease = store().grant_lease(4s);
    ASSERT_TRUE(lease);
    ASSERT_TRUE(store().put("/ld/a", "1", *lease));
    ASSERT_TRUE(store().put("/ld/a", "2"));
    let_time_pass(5s);
    EXPECT_EQ(value_of(store(), "/ld/a"), "2");
}

TEST_P(StoreConformance, RevokeDeletesTheKeysAtOnce) {
    auto lease = store().grant_lease(60s);
    ASSERT_TRUE(lease);
    ASSERT_TRUE(store().put("/rv/a", "1", *lease));
    ASSERT_TRUE(store().put("/rv/b", "2", *lease));
    EventSink sink;
    auto watch = store().watch("/rv/", sink.callback());
    ASSERT_TRUE(watch);

    auto revoked = store().revoke_lease(*lease);
    ASSERT_TRUE(revoked) << revoked.error().desc;
    EXPECT_TRUE(store().list("/rv/")->empty());
    auto batches = sink.wait_for(2);
    ASSERT_EQ(batches.size(), 1u);
    EXPECT_EQ(batches[0].size(), 2u);

    auto twice = store().revoke_lease(*lease);
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().code, Errc::NotFound);
    auto put = store().put("/rv/c", "3", *lease);
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, Errc::NotFound);
}

TEST_P(StoreConformance, PutWithAnUnknownLeaseFailsAndWritesNothing) {
    auto put = store().put("/ul/a", "1", 0x1234567);
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, Errc::NotFound);
    EXPECT_EQ(value_of(store(), "/ul/a"), "<missing>");
    auto kept = store().keep_alive(0x1234567);
    ASSERT_FALSE(kept);
    EXPECT_EQ(kept.error().code, Errc::NotFound);
    auto revoked = store().revoke_lease(0x1234567);
    ASSERT_FALSE(revoked);
    EXPECT_EQ(revoked.error().code, Errc::NotFound);
}

// ----- concurrency and health ---------------------------------------------------------------------

TEST_P(StoreConformance, ConcurrentCasIncrementsLoseNoUpdate) {
    constexpr int threads = 8;
    constexpr int increments = 200;
    std::atomic<int> errors{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            for (int i = 0; i < increments; ++i) {
                while (true) {
                    auto kv = store().get("/counter");
                    if (!kv) {
                        ++errors;
                        return;
                    }
                    long long n = *kv ? std::stoll((*kv)->value) : 0;
                    std::int64_t expected = *kv ? (*kv)->mod_revision : 0;
                    auto swapped = store().compare_and_swap("/counter", expected, std::to_string(n + 1));
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
    EXPECT_EQ(value_of(store(), "/counter"), std::to_string(threads * increments));
}

TEST_P(StoreConformance, ConcurrentPutsGetUniqueRevisions) {
    constexpr int threads = 8;
    constexpr int puts = 200;
    std::vector<std::vector<std::int64_t>> revisions(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < puts; ++i) {
                auto r = store().put("/many/" + std::to_string(t) + "/" + std::to_string(i), "v");
                if (r) revisions[t].push_back(*r);
            }
        });
    }
    for (auto& worker : workers) worker.join();
    std::set<std::int64_t> unique;
    for (const auto& per_thread : revisions) {
        EXPECT_EQ(per_thread.size(), static_cast<std::size_t>(puts));
        EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
        unique.insert(per_thread.begin(), per_thread.end());
    }
    EXPECT_EQ(unique.size(), static_cast<std::size_t>(threads * puts));
    auto listed = store().list("/many/");
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->size(), static_cast<std::size_t>(threads * puts));
}

TEST_P(StoreConformance, PingAnswers) {
    auto ok = store().ping();
    EXPECT_TRUE(ok) << ok.error().desc;
}

}  // namespace
}  // namespace kvmhub::test
