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

}  // namespace
}  // namespace kvmhub::auth
