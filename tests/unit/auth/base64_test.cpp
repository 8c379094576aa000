#include "auth/base64.hpp"

#include <string>

#include <gtest/gtest.h>

namespace kvmhub::auth {
namespace {

TEST(Base64Url, EncodesWithoutPaddingInUrlAlphabet) {
    EXPECT_EQ(base64url_encode(""), "");
    EXPECT_EQ(base64url_encode("A"), "QQ");
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(Base64Url, RoundTripsEveryByte) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    auto back = base64url_decode(base64url_encode(all));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, all);
}

TEST(Base64Url, RejectsPaddingWhitespaceAndForeignCharacters) {
    EXPECT_FALSE(base64url_decode("QQ=="));
    EXPECT_FALSE(base64url_decode("Q Q"));
    EXPECT_FALSE(base64url_decode("QQ\n"));
    EXPECT_FALSE(base64url_decode("+/8"));
    EXPECT_FALSE(base64url_decode("QQ."));
}

TEST(Base64Url, RejectsNonCanonicalTrailingBits) {
    EXPECT_TRUE(base64url_decode("QQ"));
    EXPECT_FALSE(base64url_decode("QR"));
    EXPECT_FALSE(base64url_decode("Q"));
}

TEST(Base64, ThePlainAlphabetWithPaddingForBrowsersAtob) {
    EXPECT_EQ(base64_encode("?ticket=a"), "P3RpY2tldD1h");
    EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=") << "the original alphabet, padded";
    EXPECT_EQ(base64_decode("+/8="), "\xfb\xff");
    EXPECT_EQ(base64_decode(base64_encode("any bytes \x01\x02")), "any bytes \x01\x02");
    EXPECT_FALSE(base64_decode("-_8="));
    EXPECT_FALSE(base64_decode("+/8"));
}

}  // namespace
}  // namespace kvmhub::auth
