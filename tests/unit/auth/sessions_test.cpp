#include "auth/sessions.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/sqlite_store.hpp"
#include "support/stores.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::auth {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kStart = 1'700'000'000;

class SessionServiceTest : public ::testing::Test {
protected:
    std::unique_ptr<store::Store> owned_store = test::open_memory_store();
    store::Store& store = *owned_store;
    ManualClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(kStart))};
    SessionService sessions{store, clock, 600s};
};

TEST_F(SessionServiceTest, StartStoresTheRecordUnderTheUsersPrefix) {
    auto s = sessions.start("alice", "192.0.2.7");
    ASSERT_TRUE(s) << s.error().desc;
    EXPECT_EQ(s->user, "alice");
    EXPECT_EQ(s->created, kStart);
    EXPECT_EQ(s->ends, kStart + 600);
    EXPECT_TRUE(validate_session_id(s->id));
    EXPECT_EQ(s->id.size(), 22u);  // 16 random bytes, base64url
    auto kv = store.get("/sessions/alice/" + s->id);
    ASSERT_TRUE(kv && *kv);
    const auto j = nlohmann::json::parse((*kv)->value);
    EXPECT_EQ(j, (nlohmann::json{{"id", s->id},
                                 {"user", "alice"},
                                 {"created", kStart},
                                 {"ends", kStart + 600},
                                 {"refreshed", 0},
                                 {"refreshes", 0},
                                 {"ip", "192.0.2.7"},
                                 {"source", "local"}}));
}

TEST_F(SessionServiceTest, IdsAreRandomAndDistinct) {
    std::set<std::string> ids;
    for (int i = 0; i < 200; ++i) ids.insert(sessions.make("alice", "").id);
    EXPECT_EQ(ids.size(), 200u);
}

TEST_F(SessionServiceTest, CheckAcceptsAnOpenSessionAndRefusesEverythingElse) {
    auto s = sessions.start("alice", "");
    ASSERT_TRUE(s);
    EXPECT_TRUE(sessions.check("alice", s->id));
    for (auto [user, sid] : std::vector<std::pair<std::string, std::string>>{{"bob", s->id},
                                                                             {"alice", "nope"},
                                                                             {"alice", ""},
                                                                             {"", s->id},
                                                                             {"alice/" + s->id, s->id},
                                                                             {"alice", s->id + "/x"},
                                                                             {"alice", std::string(65, 'a')}}) {
        auto r = sessions.check(user, sid);
        ASSERT_FALSE(r) << user << " " << sid;
        EXPECT_EQ(r.error().code, Errc::Unauthorized);
        EXPECT_EQ(r.error().where, "session");
    }
}

TEST_F(SessionServiceTest, ASessionEndsAtItsAbsoluteEnd) {
    auto s = sessions.start("alice", "");
    ASSERT_TRUE(s);
    clock.advance(599s);
    EXPECT_TRUE(sessions.check("alice", s->id));
    clock.advance(1s);
    auto r = sessions.check("alice", s->id);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::Unauthorized);
    EXPECT_NE(r.error().desc.find("lifetime of 600 s"), std::string::npos) << r.error().desc;
}

TEST_F(SessionServiceTest, RefreshCountsButNeverMovesTheEnd) {
    auto s = sessions.start("alice", "");
    ASSERT_TRUE(s);
    for (int i = 1; i <= 3; ++i) {
        clock.advance(100s);
        auto r = sessions.refresh("alice", s->id);
        ASSERT_TRUE(r) << r.error().desc;
        EXPECT_EQ(r->refreshes, i);
        EXPECT_EQ(r->refreshed, clock.now_seconds());
        EXPECT_EQ(r->ends, kStart + 600);
    }
    const auto j = nlohmann::json::parse((*store.get("/sessions/alice/" + s->id))->value);
    EXPECT_EQ(j["refreshes"], 3);
    EXPECT_EQ(j["ends"], kStart + 600);
}

TEST_F(SessionServiceTest, ASessionPastItsLifetimeCannotBeRefreshed) {
    auto s = sessions.start("alice", "");
    ASSERT_TRUE(s);
    clock.advance(600s);
    auto r = sessions.refresh("alice", s->id);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::Unauthorized);
    EXPECT_NE(r.error().desc.find("cannot be refreshed"), std::string::npos) << r.error().desc;
}

TEST_F(SessionServiceTest, AnEndedSessionIsRefusedAndCannotBeRefreshed) {
    auto a = sessions.start("alice", "");
    auto b = sessions.start("alice", "");
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(*sessions.end("alice", a->id));
    EXPECT_FALSE(*sessions.end("alice", a->id));
    EXPECT_FALSE(sessions.check("alice", a->id));
    EXPECT_FALSE(sessions.refresh("alice", a->id));
    EXPECT_TRUE(sessions.check("alice", b->id)) << "ending one session ends only that one";
}

TEST_F(SessionServiceTest, AnotherStoreObjectOnTheSameFileSeesTheEndAtOnce) {
    // The daemon and the offline CLI each open the SQLite file: no watch, no cache between them.
    test::TempDir dir;
    const std::string path = dir.file("kvmhub.db");
    auto daemon_store = store::SqliteStore::open(path, clock);
    auto cli_store = store::SqliteStore::open(path, clock);
    ASSERT_TRUE(daemon_store && cli_store);
    SessionService daemon(**daemon_store, clock, 600s);
    SessionService cli(**cli_store, clock, 600s);
    auto s = daemon.start("alice", "");
    ASSERT_TRUE(s);
    ASSERT_TRUE(daemon.check("alice", s->id));
    ASSERT_TRUE((*cli_store)->erase_prefix(session_user_prefix("alice")));
    EXPECT_FALSE(daemon.check("alice", s->id));
}

TEST_F(SessionServiceTest, ListShowsOpenSessionsOnlyAndFindLooksAcrossUsers) {
    auto a = sessions.start("alice", "1");
    clock.advance(10s);
    auto b = sessions.start("bob", "2");
    clock.advance(10s);
    auto c = sessions.start("alice2", "3");  // a prefix of no one's: /sessions/alice/ is not /sessions/alice2/
    ASSERT_TRUE(a && b && c);
    auto all = sessions.list();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0].id, a->id);
    EXPECT_EQ((*all)[1].id, b->id);
    auto alice = sessions.list("alice");
    ASSERT_TRUE(alice);
    ASSERT_EQ(alice->size(), 1u);
    EXPECT_EQ((*alice)[0].id, a->id);
    auto found = sessions.find(b->id);
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->user, "bob");
    EXPECT_FALSE(*sessions.find("no-such-id"));
    EXPECT_FALSE(*sessions.find("../bad"));
    clock.advance(585s);  // a ended (600 s after its start), b and c not yet
    auto later = sessions.list();
    ASSERT_TRUE(later);
    EXPECT_EQ(later->size(), 2u);
    EXPECT_FALSE(*sessions.find(a->id));
}

TEST_F(SessionServiceTest, PruneDeletesOnlyEndedRecords) {
    auto old = sessions.start("alice", "");
    clock.advance(300s);
    auto young = sessions.start("alice", "");
    ASSERT_TRUE(old && young);
    clock.advance(300s);
    auto pruned = sessions.prune_expired();
    ASSERT_TRUE(pruned);
    EXPECT_EQ(*pruned, 1);
    EXPECT_FALSE(*store.get(session_key("alice", old->id)));
    EXPECT_TRUE(*store.get(session_key("alice", young->id)));
    EXPECT_EQ(*sessions.prune_expired(), 0);
}

TEST_F(SessionServiceTest, ACorruptRecordCountsAsNoSession) {
    ASSERT_TRUE(store.put("/sessions/alice/abc", "{not json"));
    EXPECT_FALSE(sessions.check("alice", "abc"));
    ASSERT_TRUE(store.put("/sessions/alice/abd", R"({"id":"abd","user":"bob","created":1,"ends":9999999999})"));
    EXPECT_FALSE(sessions.check("alice", "abd")) << "a record must agree with its key";
}

TEST(SessionIds, ThePatternIsEnforced) {
    EXPECT_TRUE(validate_session_id("AZaz09-_"));
    for (std::string bad : {std::string(), std::string(65, 'a'), std::string("a/b"), std::string("a.b"),
                            std::string("a b"), std::string("x\0y", 3)}) {
        auto r = validate_session_id(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().where, "sid");
    }
}

}  // namespace
}  // namespace kvmhub::auth
