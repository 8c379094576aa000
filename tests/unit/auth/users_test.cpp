#include "auth/users.hpp"

#include <latch>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/stores.hpp"

namespace kvmhub::auth {
namespace {

class UserServiceTest : public ::testing::Test {
protected:
    std::unique_ptr<store::Store> owned_store = test::open_memory_store();
    store::Store& store = *owned_store;
    ManualClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
    UserService users{store, clock};
    SessionService sessions{store, clock, std::chrono::seconds(3600)};

    std::string open_session(const std::string& name, const std::string& password) {
        auto s = users.sign_in(name, password, sessions, "192.0.2.1");
        EXPECT_TRUE(s) << (s ? "" : s.error().desc);
        return s ? s->id : std::string();
    }
    bool is_open(const std::string& name, const std::string& sid) { return bool(sessions.check(name, sid)); }
};

TEST_F(UserServiceTest, AddedUserAuthenticates) {
    ASSERT_TRUE(users.add("alice", "s3cret"));
    auto who = users.authenticate("alice", "s3cret");
    ASSERT_TRUE(who) << who.error().desc;
    EXPECT_EQ(*who, "alice");
}

TEST_F(UserServiceTest, AddingAnExistingUserIsConflict) {
    ASSERT_TRUE(users.add("alice", "one"));
    auto again = users.add("alice", "two");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::Conflict);
    EXPECT_TRUE(users.authenticate("alice", "one"));
}

TEST_F(UserServiceTest, StoredRecordHoldsArgon2HashNotPassword) {
    ASSERT_TRUE(users.add("alice", "plaintext-pw"));
    auto kv = store.get("/users/alice");
    ASSERT_TRUE(kv && *kv);
    EXPECT_EQ((*kv)->value.find("plaintext-pw"), std::string::npos);
    const auto j = nlohmann::json::parse((*kv)->value);
    EXPECT_EQ(j["name"], "alice");
    EXPECT_EQ(j["hash"].get<std::string>().rfind("$argon2id$", 0), 0u);
    EXPECT_EQ(j["created"], 1'700'000'000);
    EXPECT_EQ(j["updated"], 1'700'000'000);
}

TEST_F(UserServiceTest, SetPasswordReplacesOldPasswordAndKeepsCreated) {
    ASSERT_TRUE(users.add("alice", "old"));
    clock.advance(std::chrono::seconds(100));
    ASSERT_TRUE(users.set_password("alice", "new"));
    EXPECT_TRUE(users.authenticate("alice", "new"));
    EXPECT_FALSE(users.authenticate("alice", "old"));
    const auto j = nlohmann::json::parse((*store.get("/users/alice"))->value);
    EXPECT_EQ(j["created"], 1'700'000'000);
    EXPECT_EQ(j["updated"], 1'700'000'100);
}

TEST_F(UserServiceTest, SetPasswordOfUnknownUserIsNotFound) {
    auto r = users.set_password("nobody", "pw");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::NotFound);
}

TEST_F(UserServiceTest, WrongPasswordAndUnknownUserGiveTheSameError) {
    ASSERT_TRUE(users.add("alice", "right"));
    auto wrong = users.authenticate("alice", "wrong");
    auto unknown = users.authenticate("bob", "wrong");
    auto invalid = users.authenticate("../etc", "wrong");
    ASSERT_FALSE(wrong);
    ASSERT_FALSE(unknown);
    ASSERT_FALSE(invalid);
    EXPECT_EQ(wrong.error().code, Errc::Unauthorized);
    EXPECT_EQ(wrong.error().desc, "wrong user name or password");
    for (const auto* e : {&unknown.error(), &invalid.error()}) {
        EXPECT_EQ(e->code, wrong.error().code);
        EXPECT_EQ(e->where, wrong.error().where);
        EXPECT_EQ(e->desc, wrong.error().desc);
    }
}

TEST_F(UserServiceTest, InvalidNamesAreRefusedWithThePattern) {
    for (std::string bad : {std::string(), std::string(65, 'a'), std::string("a/b"), std::string("a b"),
                            std::string("caf\xc3\xa9"), std::string("x\0y", 3), std::string("a:b")}) {
        auto r = users.add(bad, "pw");
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, Errc::BadInput);
        EXPECT_EQ(r.error().where, "username");
        EXPECT_NE(r.error().desc.find("[A-Za-z0-9._-]{1,64}"), std::string::npos);
    }
    EXPECT_TRUE(validate_username(std::string(64, 'a')));
    EXPECT_TRUE(validate_username("Ops.team_1-x"));
}

TEST_F(UserServiceTest, InvalidPasswordIsRefused) {
    EXPECT_EQ(users.add("alice", "").error().where, "password");
    EXPECT_EQ(users.add("alice", std::string(2000, 'x')).error().code, Errc::BadInput);
}

TEST_F(UserServiceTest, ListsUsersSortedAndReportsWhetherAnyExist) {
    EXPECT_FALSE(*users.any_user());
    EXPECT_TRUE(users.list()->empty());
    ASSERT_TRUE(users.add("carol", "pw"));
    ASSERT_TRUE(users.add("alice", "pw"));
    EXPECT_TRUE(*users.any_user());
    EXPECT_EQ(*users.list(), (std::vector<std::string>{"alice", "carol"}));
}

TEST_F(UserServiceTest, EnsureAdminCreatesAdminOnceThenReturnsEmpty) {
    auto first = users.ensure_admin("initial-pw");
    ASSERT_TRUE(first) << first.error().desc;
    EXPECT_EQ(*first, "initial-pw");
    EXPECT_TRUE(users.authenticate("admin", "initial-pw"));
    auto second = users.ensure_admin("other-pw");
    ASSERT_TRUE(second);
    EXPECT_EQ(*second, "");
    EXPECT_TRUE(users.authenticate("admin", "initial-pw"));
}

TEST_F(UserServiceTest, EnsureAdminGeneratesRandomPasswordWhenNoneGiven) {
    auto pw = users.ensure_admin("");
    ASSERT_TRUE(pw);
    EXPECT_EQ(pw->size(), 20u);
    EXPECT_TRUE(users.authenticate("admin", *pw));
}

TEST_F(UserServiceTest, EnsureAdminLeavesExistingUsersAlone) {
    ASSERT_TRUE(users.add("alice", "pw"));
    EXPECT_EQ(*users.ensure_admin(""), "");
    EXPECT_EQ(*users.list(), std::vector<std::string>{"alice"});
}

TEST_F(UserServiceTest, EnsureAdminRacingDaemonsCreateExactlyOneAdmin) {
    UserService a(store, clock);
    UserService b(store, clock);
    Result<std::string> ra, rb;
    std::latch start(2);
    std::thread ta([&] {
        start.arrive_and_wait();
        ra = a.ensure_admin("");
    });
    std::thread tb([&] {
        start.arrive_and_wait();
        rb = b.ensure_admin("");
    });
    ta.join();
    tb.join();
    ASSERT_TRUE(ra && rb);
    EXPECT_TRUE(ra->empty() != rb->empty()) << "exactly one daemon sets the password";
    EXPECT_TRUE(users.authenticate("admin", ra->empty() ? *rb : *ra));
}

TEST_F(UserServiceTest, SignInOpensASessionAndRecordsTheLogin) {
    ASSERT_TRUE(users.add("alice", "pw"));
    clock.advance(std::chrono::seconds(5));
    auto s = users.sign_in("alice", "pw", sessions, "192.0.2.9");
    ASSERT_TRUE(s) << s.error().desc;
    EXPECT_EQ(s->user, "alice");
    EXPECT_EQ(s->ip, "192.0.2.9");
    EXPECT_EQ(s->ends, 1'700'000'005 + 3600);
    EXPECT_TRUE(is_open("alice", s->id));
    const auto j = nlohmann::json::parse((*store.get("/users/alice"))->value);
    EXPECT_EQ(j["last_login"], 1'700'000'005);
    EXPECT_EQ(j["disabled"], false);
    auto info = users.describe();
    ASSERT_TRUE(info);
    ASSERT_EQ(info->size(), 1u);
    EXPECT_EQ((*info)[0].last_login, 1'700'000'005);
    EXPECT_FALSE((*info)[0].to_json().contains("hash"));
}

TEST_F(UserServiceTest, SignInPrunesEndedSessions) {
    ASSERT_TRUE(users.add("alice", "pw"));
    ASSERT_TRUE(users.add("bob", "pw"));
    const auto old = open_session("bob", "pw");
    clock.advance(std::chrono::seconds(3600));
    open_session("alice", "pw");
    EXPECT_FALSE(*store.get(session_key("bob", old))) << "the ended record of another user is pruned too";
    EXPECT_EQ(store.list(kSessionsPrefix)->size(), 1u);
}

TEST_F(UserServiceTest, ADisabledUserGetsTheSameErrorAsAWrongPassword) {
    ASSERT_TRUE(users.add("alice", "pw"));
    ASSERT_TRUE(users.add("bob", "pw"));
    ASSERT_TRUE(users.set_disabled("alice", true));
    auto disabled = users.sign_in("alice", "pw", sessions, "");
    auto wrong = users.sign_in("bob", "nope", sessions, "");
    ASSERT_FALSE(disabled);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(disabled.error().code, wrong.error().code);
    EXPECT_EQ(disabled.error().where, wrong.error().where);
    EXPECT_EQ(disabled.error().desc, wrong.error().desc);
    EXPECT_FALSE(users.authenticate("alice", "pw"));
    ASSERT_TRUE(users.set_disabled("alice", false));
    EXPECT_TRUE(users.sign_in("alice", "pw", sessions, ""));
}

TEST_F(UserServiceTest, DisableAndRemoveEndEverySessionOfThatUserOnly) {
    ASSERT_TRUE(users.add("alice", "pw"));
    ASSERT_TRUE(users.add("bob", "pw"));
    ASSERT_TRUE(users.add("carol", "pw"));
    const auto a1 = open_session("alice", "pw"), a2 = open_session("alice", "pw");
    const auto b1 = open_session("bob", "pw"), c1 = open_session("carol", "pw");
    ASSERT_TRUE(users.set_disabled("alice", true));
    EXPECT_FALSE(is_open("alice", a1));
    EXPECT_FALSE(is_open("alice", a2));
    EXPECT_TRUE(is_open("bob", b1));
    ASSERT_TRUE(users.remove("bob"));
    EXPECT_FALSE(is_open("bob", b1));
    EXPECT_FALSE(*store.get("/users/bob"));
    EXPECT_TRUE(is_open("carol", c1));
    EXPECT_EQ(users.remove("bob").error().code, Errc::NotFound);
    EXPECT_EQ(users.set_disabled("bob", true).error().code, Errc::NotFound);
    EXPECT_EQ(users.remove("../x").error().where, "username");
}

TEST_F(UserServiceTest, TheLastEnabledUserCannotBeRemovedOrDisabled) {
    ASSERT_TRUE(users.add("alice", "pw"));
    ASSERT_TRUE(users.add("bob", "pw"));
    ASSERT_TRUE(users.set_disabled("bob", true));
    for (auto r : {users.remove("alice"), users.set_disabled("alice", true)}) {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, Errc::Conflict);
        EXPECT_EQ(r.error().where, "username");
        EXPECT_NE(r.error().desc.find("last enabled user"), std::string::npos) << r.error().desc;
    }
    EXPECT_TRUE(users.authenticate("alice", "pw"));
    // A disabled user is no one's last door: it can go.
    EXPECT_TRUE(users.remove("bob"));
    EXPECT_FALSE(users.remove("alice"));
}

TEST_F(UserServiceTest, RacingRemovalsOfTheLastTwoUsersLeaveOne) {
    ASSERT_TRUE(users.add("alice", "pw"));
    ASSERT_TRUE(users.add("bob", "pw"));
    UserService a(store, clock);
    UserService b(store, clock);
    Status ra, rb;
    std::latch start(2);
    std::thread ta([&] {
        start.arrive_and_wait();
        ra = a.remove("alice");
    });
    std::thread tb([&] {
        start.arrive_and_wait();
        rb = b.remove("bob");
    });
    ta.join();
    tb.join();
    EXPECT_TRUE(bool(ra) != bool(rb)) << "exactly one removal succeeds";
    EXPECT_EQ(users.list()->size(), 1u);
}

TEST_F(UserServiceTest, APasswordChangeEndsAllSessionsOrAllButTheOneKept) {
    ASSERT_TRUE(users.add("alice", "pw"));
    ASSERT_TRUE(users.add("bob", "pw"));
    const auto a1 = open_session("alice", "pw"), a2 = open_session("alice", "pw"), b1 = open_session("bob", "pw");
    ASSERT_TRUE(users.set_password("alice", "new", a1));
    EXPECT_TRUE(is_open("alice", a1)) << "the kept session";
    EXPECT_FALSE(is_open("alice", a2));
    EXPECT_TRUE(is_open("bob", b1));
    ASSERT_TRUE(users.set_password("alice", "newer"));
    EXPECT_FALSE(is_open("alice", a1));
    EXPECT_FALSE(users.sign_in("alice", "new", sessions, ""));
    EXPECT_TRUE(users.sign_in("alice", "newer", sessions, ""));
}

}  // namespace
}  // namespace kvmhub::auth
