#include "auth/password.hpp"

#include <cctype>
#include <string>

#include <gtest/gtest.h>

#include "auth/base64.hpp"

namespace kvmhub::auth {
namespace {

TEST(Password, HashThenVerifyRoundTrips) {
    auto hash = hash_password("correct horse");
    ASSERT_TRUE(hash) << hash.error().desc;
    EXPECT_TRUE(verify_password(*hash, "correct horse"));
}

TEST(Password, VerifyRejectsWrongPassword) {
    auto hash = hash_password("correct horse");
    ASSERT_TRUE(hash);
    EXPECT_FALSE(verify_password(*hash, "correct horsE"));
    EXPECT_FALSE(verify_password(*hash, "correct horse "));
}

TEST(Password, HashIsArgon2id) {
    auto hash = hash_password("pw");
    ASSERT_TRUE(hash);
    EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
}

TEST(Password, TwoHashesOfSamePasswordDiffer) {
    auto a = hash_password("same");
    auto b = hash_password("same");
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
    EXPECT_TRUE(verify_password(*a, "same"));
    EXPECT_TRUE(verify_password(*b, "same"));
}

TEST(Password, RefusesEmptyPassword) {
    auto hash = hash_password("");
    ASSERT_FALSE(hash);
    EXPECT_EQ(hash.error().code, Errc::BadInput);
    EXPECT_EQ(hash.error().where, "password");
}

TEST(Password, RefusesPasswordLongerThan1024Bytes) {
    EXPECT_TRUE(validate_password(std::string(kMaxPasswordBytes, 'x')));
    auto hash = hash_password(std::string(kMaxPasswordBytes + 1, 'x'));
    ASSERT_FALSE(hash);
    EXPECT_EQ(hash.error().code, Errc::BadInput);
    EXPECT_EQ(hash.error().where, "password");
}

TEST(Password, VerifyReturnsFalseForMalformedHashes) {
    EXPECT_FALSE(verify_password("", "pw"));
    EXPECT_FALSE(verify_password("garbage", "pw"));
    EXPECT_FALSE(verify_password("$argon2id$", "pw"));
    EXPECT_FALSE(verify_password(std::string(1000, '$'), "pw"));
}

TEST(Password, VerifyReturnsFalseForOutOfRangePasswords) {
    auto hash = hash_password("pw");
    ASSERT_TRUE(hash);
    EXPECT_FALSE(verify_password(*hash, ""));
    EXPECT_FALSE(verify_password(*hash, std::string(kMaxPasswordBytes + 1, 'x')));
}

TEST(Password, RandomPasswordIs20UnambiguousCharacters) {
    const std::string pw = random_password();
    EXPECT_EQ(pw.size(), 20u);
    EXPECT_EQ(pw.find_first_of("0O1lI"), std::string::npos) << pw;
    for (char c : pw) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << pw;
    EXPECT_NE(random_password(), pw);
}

TEST(Password, RandomBytesB64DecodesToRequestedLength) {
    const std::string a = random_bytes_b64(16);
    auto raw = base64url_decode(a);
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->size(), 16u);
    EXPECT_NE(random_bytes_b64(16), a);
    EXPECT_EQ(random_bytes(7).size(), 7u);
}

}  // namespace
}  // namespace kvmhub::auth
