#include "auth/jwt.hpp"

#include <array>
#include <string>

#include <gtest/gtest.h>
#include <sodium.h>
#include <nlohmann/json.hpp>

#include "auth/base64.hpp"

namespace kvmhub::auth {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kSecret(32, 'k');
constexpr std::int64_t kStart = 1'700'000'000;

std::string hs256(const std::string& key, const std::string& input) {
    crypto_auth_hmacsha256_state st;
    std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    crypto_auth_hmacsha256_final(&st, mac.data());
    return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

std::string hs512(const std::string& key, const std::string& input) {
    crypto_auth_hmacsha512_state st;
    std::array<unsigned char, crypto_auth_hmacsha512_BYTES> mac{};
    crypto_auth_hmacsha512_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    crypto_auth_hmacsha512_update(&st, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    crypto_auth_hmacsha512_final(&st, mac.data());
    return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

json valid_payload() {
    return {{"sub", "alice"}, {"iat", kStart}, {"exp", kStart + 3600}, {"jti", "x"},
            {"cnt", 0},       {"sid", "s1"},   {"typ", "admin"}};
}

// header.payload without the signature
std::string signing_input(const std::string& header, const std::string& payload) {
    return base64url_encode(header) + "." + base64url_encode(payload);
}

std::string signed_token(const json& header, const json& payload, const std::string& key = kSecret) {
    const std::string input = signing_input(header.dump(), payload.dump());
    return input + "." + base64url_encode(hs256(key, input));
}

class TokenSignerTest : public ::testing::Test {
protected:
    ManualClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(kStart))};
    TokenSigner signer{kSecret, clock};

    void expect_unauthorized(const std::string& token) {
        auto claims = signer.verify(token);
        ASSERT_FALSE(claims) << "accepted: " << token.substr(0, 200);
        EXPECT_EQ(claims.error().code, Errc::Unauthorized);
        EXPECT_FALSE(claims.error().desc.empty());
    }
};

TEST_F(TokenSignerTest, IssuedTokenVerifiesWithItsClaims) {
    auto issued = signer.issue("alice", "s1", 3600s, 2);
    ASSERT_TRUE(issued) << issued.error().desc;
    EXPECT_EQ(issued->expires, kStart + 3600);
    auto claims = signer.verify(issued->token);
    ASSERT_TRUE(claims) << claims.error().desc;
    EXPECT_EQ(claims->username, "alice");
    EXPECT_EQ(claims->issued_at, kStart);
    EXPECT_EQ(claims->expires, kStart + 3600);
    EXPECT_EQ(claims->refresh_count, 2);
    EXPECT_EQ(claims->session, "s1");
    EXPECT_FALSE(claims->id.empty());
}

TEST_F(TokenSignerTest, ATokenWithoutASessionIdPredatesSessionsAndIsRefused) {
    auto p = valid_payload();
    p.erase("sid");
    auto no_sid = signer.verify(signed_token(json{{"alg", "HS256"}, {"typ", "JWT"}}, p));
    ASSERT_FALSE(no_sid);
    EXPECT_EQ(no_sid.error().code, Errc::Unauthorized);
    EXPECT_EQ(no_sid.error().desc, "token predates sessions; log in again");
    for (const json& bad : {json(""), json(7), json(nullptr), json::array({"s1"})}) {
        p["sid"] = bad;
        expect_unauthorized(signed_token(json{{"alg", "HS256"}, {"typ", "JWT"}}, p));
    }
    p["sid"] = "s1";
    EXPECT_TRUE(signer.verify(signed_token(json{{"alg", "HS256"}, {"typ", "JWT"}}, p)));
}

TEST_F(TokenSignerTest, IssuedTokenIsHs256AdminJwt) {
    auto issued = signer.issue("alice", "s1", 60s);
    ASSERT_TRUE(issued);
    const auto& t = issued->token;
    const auto header = json::parse(*base64url_decode(t.substr(0, t.find('.'))));
    EXPECT_EQ(header["alg"], "HS256");
    const auto payload_part = t.substr(t.find('.') + 1, t.rfind('.') - t.find('.') - 1);
    const auto payload = json::parse(*base64url_decode(payload_part));
    EXPECT_EQ(payload["typ"], "admin");
    EXPECT_EQ(payload["cnt"], 0);
}

TEST_F(TokenSignerTest, EveryTokenGetsItsOwnId) {
    auto a = signer.issue("alice", "s1", 60s);
    auto b = signer.issue("alice", "s1", 60s);
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->token, b->token);
    EXPECT_NE(signer.verify(a->token)->id, signer.verify(b->token)->id);
}

TEST_F(TokenSignerTest, AnotherSignerWithTheSameSecretVerifies) {
    TokenSigner other(kSecret, clock);
    auto issued = signer.issue("alice", "s1", 60s);
    ASSERT_TRUE(issued);
    EXPECT_TRUE(other.verify(issued->token));
}

TEST_F(TokenSignerTest, SecretsLongerThanABlockWork) {
    TokenSigner long_key(std::string(200, 'z'), clock);
    auto issued = long_key.issue("alice", "s1", 60s);
    ASSERT_TRUE(issued);
    EXPECT_TRUE(long_key.verify(issued->token));
    EXPECT_FALSE(signer.verify(issued->token));
}

TEST_F(TokenSignerTest, HandCraftedHs256TokenVerifies) {
    EXPECT_TRUE(signer.verify(signed_token({{"alg", "HS256"}, {"typ", "JWT"}}, valid_payload())));
}

TEST_F(TokenSignerTest, RejectsAlgNoneWithEmptySignature) {
    const std::string input = signing_input(R"({"alg":"none","typ":"JWT"})", valid_payload().dump());
    expect_unauthorized(input + ".");
    expect_unauthorized(input);
}

TEST_F(TokenSignerTest, RejectsAlgNoneEvenWithAValidHs256Signature) {
    expect_unauthorized(signed_token({{"alg", "none"}, {"typ", "JWT"}}, valid_payload()));
    expect_unauthorized(signed_token({{"alg", "None"}}, valid_payload()));
    expect_unauthorized(signed_token({{"alg", "hs256"}}, valid_payload()));
}

TEST_F(TokenSignerTest, RejectsHs512SignedToken) {
    const std::string input = signing_input(R"({"alg":"HS512","typ":"JWT"})", valid_payload().dump());
    expect_unauthorized(input + "." + base64url_encode(hs512(kSecret, input)));
}

TEST_F(TokenSignerTest, RejectsRs256AndMissingAlg) {
    expect_unauthorized(signed_token({{"alg", "RS256"}}, valid_payload()));
    expect_unauthorized(signed_token({{"typ", "JWT"}}, valid_payload()));
    expect_unauthorized(signed_token({{"alg", nullptr}}, valid_payload()));
    expect_unauthorized(signed_token({{"alg", json::array({"HS256"})}}, valid_payload()));
}

TEST_F(TokenSignerTest, RejectsUnknownCriticalHeaderAndForeignTyp) {
    expect_unauthorized(signed_token({{"alg", "HS256"}, {"crit", json::array({"exp"})}}, valid_payload()));
    expect_unauthorized(signed_token({{"alg", "HS256"}, {"typ", "at+jwt"}}, valid_payload()));
}

TEST_F(TokenSignerTest, RejectsWrongSecret) {
    TokenSigner other(std::string(32, 'x'), clock);
    auto issued = other.issue("alice", "s1", 60s);
    ASSERT_TRUE(issued);
    expect_unauthorized(issued->token);
}

TEST_F(TokenSignerTest, RejectsTamperedPayload) {
    auto issued = signer.issue("alice", "s1", 60s);
    ASSERT_TRUE(issued);
    const auto& t = issued->token;
    const auto dot1 = t.find('.');
    const auto dot2 = t.rfind('.');
    auto payload = json::parse(*base64url_decode(t.substr(dot1 + 1, dot2 - dot1 - 1)));
    payload["sub"] = "mallory";
    expect_unauthorized(t.substr(0, dot1 + 1) + base64url_encode(payload.dump()) + t.substr(dot2));
}

TEST_F(TokenSignerTest, RejectsTamperedSignature) {
    auto issued = signer.issue("alice", "s1", 60s);
    ASSERT_TRUE(issued);
    std::string t = issued->token;
    t[t.size() - 2] = t[t.size() - 2] == 'A' ? 'B' : 'A';
    expect_unauthorized(t);
    expect_unauthorized(issued->token + "A");
    expect_unauthorized(issued->token.substr(0, issued->token.size() - 1));
}

TEST_F(TokenSignerTest, RejectsExpiredTokenWithTimeInMessage) {
    auto issued = signer.issue("alice", "s1", 60s);
    ASSERT_TRUE(issued);
    clock.advance(61s);
    auto claims = signer.verify(issued->token);
    ASSERT_FALSE(claims);
    EXPECT_EQ(claims.error().code, Errc::Unauthorized);
    EXPECT_EQ(claims.error().desc, "token expired at 2023-11-14T22:14:20Z; log in again");
}

TEST_F(TokenSignerTest, RejectsTokenWhoseExpiryIsExactlyNow) {
    auto issued = signer.issue("alice", "s1", 60s);
    ASSERT_TRUE(issued);
    clock.advance(59s);
    EXPECT_TRUE(signer.verify(issued->token));
    clock.advance(1s);
    expect_unauthorized(issued->token);
}

TEST_F(TokenSignerTest, RejectsMalformedStringsWithoutCrashing) {
    expect_unauthorized("");
    expect_unauthorized("a.b");
    expect_unauthorized("a.b.c");
    expect_unauthorized("a.b.c.d");
    expect_unauthorized("..");
    expect_unauthorized("garbage");
    expect_unauthorized(std::string(10 * 1024, 'A'));
    expect_unauthorized(std::string(10 * 1024, '.'));
    expect_unauthorized("eyJ.eyJ.sig");
    std::string junk;
    for (int i = 0; i < 10 * 1024; ++i) junk += static_cast<char>((i * 131 + 7) % 256);
    expect_unauthorized(junk);
    expect_unauthorized(base64url_encode("[[[[[[[[") + "." + base64url_encode("{}") + ".c2ln");
}

TEST_F(TokenSignerTest, RejectsSignedTokensWithBadClaims) {
    const json header = {{"alg", "HS256"}};
    auto without = [](const char* claim) {
        json p = valid_payload();
        p.erase(claim);
        return p;
    };
    expect_unauthorized(signed_token(header, without("sub")));
    expect_unauthorized(signed_token(header, without("exp")));
    expect_unauthorized(signed_token(header, without("typ")));
    json p = valid_payload();
    p["exp"] = "tomorrow";
    expect_unauthorized(signed_token(header, p));
    p = valid_payload();
    p["typ"] = "tenant";
    expect_unauthorized(signed_token(header, p));
    p = valid_payload();
    p["sub"] = "";
    expect_unauthorized(signed_token(header, p));
    p = valid_payload();
    p["exp"] = -9'000'000'000'000'000'000LL;
    expect_unauthorized(signed_token(header, p));
    const std::string input = signing_input(header.dump(), "not json");
    expect_unauthorized(input + "." + base64url_encode(hs256(kSecret, input)));
}

TEST_F(TokenSignerTest, IssueRefusesBadArguments) {
    EXPECT_EQ(signer.issue("", "s1", 60s).error().code, Errc::BadInput);
    EXPECT_EQ(signer.issue("alice", "s1", 0s).error().code, Errc::BadInput);
    EXPECT_EQ(signer.issue("alice", "s1", 60s, -1).error().code, Errc::BadInput);
    EXPECT_EQ(signer.issue("alice", "", 60s).error().where, "sid");
}

TEST_F(TokenSignerTest, EmptySecretFailsClosed) {
    TokenSigner empty("", clock);
    EXPECT_EQ(empty.issue("alice", "s1", 60s).error().code, Errc::Internal);
    const std::string input = signing_input(R"({"alg":"HS256"})", valid_payload().dump());
    EXPECT_FALSE(empty.verify(input + "." + base64url_encode(hs256("", input))));
}

}  // namespace
}  // namespace kvmhub::auth
