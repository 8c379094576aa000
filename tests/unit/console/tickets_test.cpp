#include "console/tickets.hpp"

#include <gtest/gtest.h>

namespace kvmhub::console {
namespace {

using namespace std::chrono_literals;

class Tickets : public ::testing::Test {
protected:
    Ticket ticket(const std::string& uuid = "u1", DisplayKind kind = DisplayKind::Vnc) {
        return Ticket{"h1", uuid, kind, "127.0.0.1:5900", clock.now() + 15min, 15min};
    }
    ManualClock clock;
    TicketBook book{clock};
};

TEST_F(Tickets, AreRandomUrlSafeAndLong) {
    auto a = book.mint(ticket());
    auto b = book.mint(ticket());
    EXPECT_NE(a, b);
    EXPECT_EQ(a.size(), 43u);  // 32 bytes, base64url without padding
    EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
}

TEST_F(Tickets, AreTakenOnce) {
    auto secret = book.mint(ticket());
    auto taken = book.take(secret, "h1", "u1");
    ASSERT_TRUE(taken) << taken.error().desc;
    EXPECT_EQ(taken->target, "127.0.0.1:5900");
    EXPECT_EQ(taken->session_limit, 15min);
    auto again = book.take(secret, "h1", "u1");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::Forbidden);
    EXPECT_NE(again.error().desc.find("already used"), std::string::npos);
}

TEST_F(Tickets, ForAnotherVmHostOrKindAreRefusedAndKept) {
    auto secret = book.mint(ticket("u1", DisplayKind::Console));
    for (auto [host, uuid] : {std::pair{"h1", "u2"}, std::pair{"h2", "u1"}}) {
        auto other = book.take(secret, host, uuid);
        ASSERT_FALSE(other);
        EXPECT_EQ(other.error().code, Errc::Forbidden);
        EXPECT_NE(other.error().desc.find("another VM"), std::string::npos);
    }
    auto kind = book.take(secret, "h1", "u1", DisplayKind::Vnc);
    ASSERT_FALSE(kind);
    EXPECT_NE(kind.error().desc.find("for a console console, not vnc"), std::string::npos);
    EXPECT_TRUE(book.take(secret, "h1", "u1", DisplayKind::Console));
}

TEST_F(Tickets, AreBoundToTheTenantLinkTheyWereMintedFor) {
    Ticket tenant = ticket();
    tenant.link = "L1";
    auto secret = book.mint(tenant);
    auto admin = book.take(secret, "h1", "u1");  // the admin route passes no link
    ASSERT_FALSE(admin);
    EXPECT_EQ(admin.error().code, Errc::Forbidden);
    EXPECT_NE(admin.error().desc.find("belongs to a tenant link"), std::string::npos);
    auto other = book.take(secret, "h1", "u1", std::nullopt, "L2");
    ASSERT_FALSE(other);
    EXPECT_NE(other.error().desc.find("another tenant link"), std::string::npos);
    auto taken = book.take(secret, "h1", "u1", std::nullopt, "L1");
    ASSERT_TRUE(taken) << taken.error().desc;
    EXPECT_EQ(taken->link, "L1");

    auto admins = book.mint(ticket());
    auto on_tenant_route = book.take(admins, "h1", "u1", std::nullopt, "L1");
    ASSERT_FALSE(on_tenant_route);
    EXPECT_NE(on_tenant_route.error().desc.find("made by an admin"), std::string::npos);
    EXPECT_TRUE(book.take(admins, "h1", "u1"));
}

TEST_F(Tickets, ExpireAndAreSweptAway) {
    auto secret = book.mint(ticket());
    book.mint(ticket("u2"));
    clock.advance(15min);
    auto late = book.take(secret, "h1", "u1");
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().code, Errc::Gone);
    EXPECT_NE(late.error().desc.find("expired"), std::string::npos);
    EXPECT_EQ(book.size(), 1u);
    book.sweep();
    EXPECT_EQ(book.size(), 0u);
}

TEST_F(Tickets, UnknownSecretsAreRefused) {
    book.mint(ticket());
    auto forged = book.take("", "h1", "u1");
    ASSERT_FALSE(forged);
    EXPECT_EQ(forged.error().code, Errc::Forbidden);
}

}  // namespace
}  // namespace kvmhub::console
