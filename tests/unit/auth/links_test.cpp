#include "auth/links.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "auth/base64.hpp"
#include "store/sqlite_store.hpp"

namespace kvmhub::auth {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUuidA = "0b5e1c5a-8f55-4d7e-9d56-0c2a1f3c9e01";
constexpr const char* kUuidB = "7f1d2e3c-4b5a-4968-8776-a5b4c3d2e1f0";

class Links : public ::testing::Test {
protected:
    Links() : clock_(std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))) {
        auto opened = store::SqliteStore::open(":memory:", clock_);
        EXPECT_TRUE(opened.has_value());
        store_ = std::move(*opened);
        links_ = std::make_unique<LinkService>(*store_, clock_, 60s, 366 * 24h);
    }

    std::int64_t now() const { return clock_.now_seconds(); }
    IssuedLink issue(const std::string& host = "h1", const std::string& uuid = kUuidA, std::int64_t ttl = 3600,
                     std::vector<std::string> rights = {}) {
        auto link = links_->create(host, uuid, now() + ttl, "admin", std::move(rights));
        EXPECT_TRUE(link) << (link ? "" : link.error().desc);
        return link ? *link : IssuedLink{};
    }
    Result<Link> verify(const IssuedLink& l, const std::string& host = "h1", const std::string& uuid = kUuidA) {
        return links_->verify(host, uuid, l.signature, std::to_string(l.link.expiry), l.link.id);
    }
    static void expect_refused(const Result<Link>& r, Errc code, const std::string& why) {
        ASSERT_FALSE(r.has_value()) << why << " was accepted";
        EXPECT_EQ(r.error().code, code) << why << ": " << r.error().desc;
    }
    // The one key in the ring, raw.
    std::string only_key() {
        auto kv = store_->get(kLinkKeysKey);
        EXPECT_TRUE(kv && *kv);
        auto doc = nlohmann::json::parse((*kv)->value);
        EXPECT_EQ(doc["keys"].size(), 1u);
        return *base64url_decode(doc["keys"][0]["key"].get<std::string>());
    }

    ManualClock clock_;
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<LinkService> links_;
};

// The signature is HMAC-SHA256 over host|uuid|expiry|id, checked against OpenSSL's HMAC.
TEST_F(Links, SignatureIsHmacSha256OfHostUuidExpiryAndId) {
    const std::string key(32, '\x5a');
    const std::string input = std::string("h1|") + kUuidA + "|1700003600|abcDEF_-";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(input.data()),
         input.size(), mac, &len);
    ASSERT_EQ(len, 32u);
    EXPECT_EQ(link_signature(key, "h1", kUuidA, 1700003600, "abcDEF_-"),
              base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), len)));

    const IssuedLink l = issue();
    EXPECT_EQ(l.signature, link_signature(only_key(), "h1", kUuidA, l.link.expiry, l.link.id));
}

TEST_F(Links, AGoodLinkVerifiesAndTheTokenCarriesIt) {
    const IssuedLink l = issue();
    auto ok = verify(l);
    ASSERT_TRUE(ok) << ok.error().desc;
    EXPECT_EQ(ok->id, l.link.id);
    EXPECT_EQ(ok->creator, "admin");
    auto all = all_link_rights();
    std::sort(all.begin(), all.end());
    EXPECT_EQ(ok->rights, all) << "no rights given = all of them";
    for (const auto& right : all_link_rights()) EXPECT_TRUE(ok->allows(right)) << right;

    auto token = decode_token(l.token);
    ASSERT_TRUE(token) << token.error().desc;
    EXPECT_EQ(token->host, "h1");
    EXPECT_EQ(token->uuid, kUuidA);
    EXPECT_EQ(token->k, l.signature);
    EXPECT_EQ(token->e, std::to_string(l.link.expiry));
    EXPECT_EQ(token->l, l.link.id);
    EXPECT_EQ(*base64url_decode(l.token),
              fmt::format("h1/{}?k={}&e={}&l={}", kUuidA, l.signature, l.link.expiry, l.link.id));
}

TEST_F(Links, EveryTamperedPartIsForbidden) {
    const IssuedLink l = issue();
    const IssuedLink other = issue();
    const std::string e = std::to_string(l.link.expiry);
    std::string k_last = l.signature;
    k_last.back() = k_last.back() == 'A' ? 'B' : 'A';  // differs in the last character only
    std::string k_first = l.signature;
    k_first.front() = k_first.front() == 'A' ? 'B' : 'A';
    const struct {
        std::string host, uuid, k, e, l, why;
    } cases[] = {
        {"h2", kUuidA, l.signature, e, l.link.id, "host"},
        {"h1", kUuidB, l.signature, e, l.link.id, "uuid"},
        {"h1", "0B5E1C5A-8F55-4D7E-9D56-0C2A1F3C9E01", l.signature, e, l.link.id, "uuid in upper case"},
        {"h1", kUuidA, l.signature, std::to_string(l.link.expiry + 1), l.link.id, "expiry + 1"},
        {"h1", kUuidA, l.signature, std::to_string(l.link.expiry + 86400 * 365), l.link.id, "expiry + 1 year"},
        {"h1", kUuidA, l.signature, "0" + e, l.link.id, "expiry with a leading zero"},
        {"h1", kUuidA, k_last, e, l.link.id, "signature, last character"},
        {"h1", kUuidA, k_first, e, l.link.id, "signature, first character"},
        {"h1", kUuidA, other.signature, e, l.link.id, "another link's signature"},
        {"h1", kUuidA, l.signature, e, other.link.id, "another link's id"},
        {"h1", kUuidA, l.signature + "A", e, l.link.id, "signature too long"},
        {"h1", kUuidA, l.signature, e, "", "no link id"},
        {"h1", kUuidA, "", e, l.link.id, "no signature"},
        {"h1", kUuidA, l.signature, "", l.link.id, "no expiry"},
        {"h1|x", kUuidA, l.signature, e, l.link.id, "host with a separator"},
        {"h1", kUuidA, l.signature, "-" + e, l.link.id, "negative expiry"},
    };
    for (const auto& c : cases) expect_refused(links_->verify(c.host, c.uuid, c.k, c.e, c.l), Errc::Forbidden, c.why);
    EXPECT_TRUE(verify(l)) << "the untouched link still works";
}

TEST_F(Links, ALinkForOneVmNeverOpensAnother) {
    const IssuedLink a = issue("h1", kUuidA);
    const IssuedLink b = issue("h1", kUuidB);
    expect_refused(verify(a, "h1", kUuidB), Errc::Forbidden, "link A on VM B");
    expect_refused(verify(b, "h1", kUuidA), Errc::Forbidden, "link B on VM A");
    EXPECT_TRUE(verify(a, "h1", kUuidA));
    EXPECT_TRUE(verify(b, "h1", kUuidB));
}

TEST_F(Links, ExpiredIsGoneButATamperedExpiredLinkIsForbidden) {
    const IssuedLink l = issue("h1", kUuidA, 10);
    clock_.advance(9s);
    EXPECT_TRUE(verify(l));
    clock_.advance(1s);
    expect_refused(verify(l), Errc::Gone, "expired");
    expect_refused(links_->verify("h2", kUuidA, l.signature, std::to_string(l.link.expiry), l.link.id), Errc::Forbidden,
                   "expired and tampered");
}

TEST_F(Links, RevokedIsForbiddenAndRevokingTwiceKeepsTheFirst) {
    const IssuedLink l = issue();
    auto revoked = links_->revoke(l.link.id, "alice");
    ASSERT_TRUE(revoked);
    EXPECT_TRUE(revoked->revoked);
    expect_refused(verify(l), Errc::Forbidden, "revoked");
    clock_.advance(5s);
    auto again = links_->revoke(l.link.id, "bob");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->revoked_by, "alice");
    EXPECT_EQ(links_->revoke("no-such-link", "alice").error().code, Errc::NotFound);
    EXPECT_EQ(links_->revoke("../x", "alice").error().code, Errc::NotFound);
}

TEST_F(Links, UnknownLinkIsForbiddenEvenWithAValidSignature) {
    const IssuedLink l = issue();
    ASSERT_TRUE(store_->erase(std::string(kLinksPrefix) + l.link.id));
    expect_refused(verify(l), Errc::Forbidden, "deleted record");
}

TEST_F(Links, RotationKeepsOldLinksForTheGraceThenRefusesThem) {
    const IssuedLink old_link = issue("h1", kUuidA, 7200);
    auto rotated = links_->rotate();
    ASSERT_TRUE(rotated) << rotated.error().desc;
    EXPECT_FALSE(rotated->previous_id.empty());
    EXPECT_EQ(rotated->previous_until, now() + 60);
    const IssuedLink new_link = issue("h1", kUuidA, 7200);
    EXPECT_TRUE(verify(old_link)) << "within the grace";
    EXPECT_TRUE(verify(new_link));
    clock_.advance(59s);
    EXPECT_TRUE(verify(old_link)) << "one second before the grace ends";
    clock_.advance(1s);
    expect_refused(verify(old_link), Errc::Forbidden, "after the grace");
    EXPECT_TRUE(verify(new_link));
    // The next rotation drops the dead key from the ring.
    ASSERT_TRUE(links_->rotate());
    auto ring = nlohmann::json::parse((*store_->get(kLinkKeysKey))->value);
    EXPECT_EQ(ring["keys"].size(), 2u) << "current + the one just retired";
}

TEST_F(Links, RotationWithNoGraceRefusesOldLinksAtOnce) {
    LinkService strict(*store_, clock_, 0s, 24h);
    auto l = strict.create("h1", kUuidA, now() + 600, "admin");
    ASSERT_TRUE(l);
    ASSERT_TRUE(strict.rotate());
    expect_refused(strict.verify("h1", kUuidA, l->signature, std::to_string(l->link.expiry), l->link.id),
                   Errc::Forbidden, "old key, no grace");
}

TEST_F(Links, TwoServicesOnOneStoreShareTheKey) {
    LinkService other(*store_, clock_, 60s, 24h);
    const IssuedLink l = issue();
    EXPECT_TRUE(other.verify("h1", kUuidA, l.signature, std::to_string(l.link.expiry), l.link.id));
}

TEST_F(Links, CreateRefusesBadInput) {
    EXPECT_EQ(links_->create("h1", kUuidA, now(), "admin").error().code, Errc::BadInput) << "now";
    EXPECT_EQ(links_->create("h1", kUuidA, now() - 1, "admin").error().code, Errc::BadInput) << "past";
    EXPECT_EQ(links_->create("h1", kUuidA, now() + 367 * 86400, "admin").error().code, Errc::BadInput) << "too far";
    EXPECT_TRUE(links_->create("h1", kUuidA, now() + 366 * 86400, "admin")) << "at the limit";
    EXPECT_EQ(links_->create("h 1", kUuidA, now() + 60, "admin").error().code, Errc::BadInput) << "host";
    EXPECT_EQ(links_->create("h1", "not-a-uuid", now() + 60, "admin").error().code, Errc::BadInput) << "uuid";
    EXPECT_EQ(links_->create("h1", kUuidA, now() + 60, "").error().code, Errc::BadInput) << "creator";
    auto bad_right = links_->create("h1", kUuidA, now() + 60, "admin", {"view", "delete"});
    ASSERT_FALSE(bad_right);
    EXPECT_EQ(bad_right.error().where, "rights");
    EXPECT_TRUE(links_->list("h1", kUuidA)->size() == 1) << "refused links leave no record";
}

TEST_F(Links, RightsAreKeptAndListedWithoutSecrets) {
    const IssuedLink l = issue("h1", kUuidA, 3600, {"view", "start", "view"});
    auto ok = verify(l);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->rights, (std::vector<std::string>{"start", "view"}));
    EXPECT_FALSE(ok->allows("stop"));
    issue("h1", kUuidB);
    auto listed = links_->list("h1", kUuidA);
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 1u);
    const std::string dumped = (*listed)[0].to_json().dump();
    EXPECT_EQ(dumped.find(l.signature), std::string::npos);
    EXPECT_EQ(dumped.find(base64url_encode(only_key())), std::string::npos);
}

TEST_F(Links, LinksExpiredForAMonthAreDroppedWhenANewOneIsMade) {
    const IssuedLink l = issue("h1", kUuidA, 60);
    clock_.advance(std::chrono::hours(24 * 30));
    issue("h1", kUuidB);
    EXPECT_EQ(links_->list("h1", kUuidA)->size(), 1u) << "30 days after expiry: kept";
    clock_.advance(2min);
    issue("h1", kUuidB);
    EXPECT_TRUE(links_->list("h1", kUuidA)->empty()) << "dropped";
    (void)l;
}

TEST(TenantToken, DecodeRefusesAnythingButOurShape) {
    const std::string k(43, 'A');
    const std::string good = std::string("h1/") + kUuidA + "?k=" + k + "&e=1700000000&l=abc";
    ASSERT_TRUE(decode_token(base64url_encode(good)));
    EXPECT_EQ(encode_token(*decode_token(base64url_encode(good))), base64url_encode(good));
    const std::string bad[] = {
        "",
        std::string("h1/") + kUuidA,
        std::string("h1/") + kUuidA + "?k=" + k + "&e=1700000000",
        std::string("h1/") + kUuidA + "?k=" + k + "&e=1700000000&l=abc&x=1",
        std::string("h1/") + kUuidA + "?k=" + k + "&e=1700000000&l=abc&l=abd",
        std::string("h1/") + kUuidA + "?e=1700000000&k=" + k + "&l=abc",
        std::string("h1/") + kUuidA + "?k=" + k + "&e=1700000000&l=abc&",
        std::string("h1/") + kUuidA + "?k=" + k + "&&e=1700000000&l=abc",
        std::string("h1/") + kUuidA + "?k=" + k + "&e=17000000x0&l=abc",
        std::string("h1/") + kUuidA + "?k=" + k + "&e=01700000000&l=abc",
        std::string("h1/") + kUuidA + "?k=short&e=1700000000&l=abc",
        std::string("h1/") + kUuidA + "?k=" + k + "&e=1700000000&l=a/b",
        std::string("h1/") + kUuidA + "?k=" + k + "&e=1700000000&l",
        std::string("../") + kUuidA + "?k=" + k + "&e=1700000000&l=abc",
        std::string("h1/not-a-uuid?k=") + k + "&e=1700000000&l=abc",
        std::string("h1/") + kUuidA + "/x?k=" + k + "&e=1700000000&l=abc",
    };
    for (const auto& text : bad) {
        auto r = decode_token(base64url_encode(text));
        EXPECT_FALSE(r) << text;
        if (!r) {
            EXPECT_EQ(r.error().code, Errc::BadInput);
        }
    }
    EXPECT_FALSE(decode_token(base64url_encode(good) + "="));
    EXPECT_FALSE(decode_token("!!!"));
    EXPECT_FALSE(decode_token(std::string(2000, 'A')));
}

}  // namespace
}  // namespace kvmhub::auth
