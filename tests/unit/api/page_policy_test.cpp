#include "api/page_policy.hpp"

#include <sodium.h>

#include <gtest/gtest.h>

namespace kvmhub::api {
namespace {

std::string sha256_source(const std::string& text) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
    return std::string("'sha256-") + b64 + "'";
}

TEST(PagePolicy, APageWithoutInlineCodeAllowsOnlyItsOwnOrigin) {
    const auto csp = page_csp("<html><script src=\"a.js\"></script><link rel=stylesheet href=a.css></html>");
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
    EXPECT_NE(csp.find("style-src 'self';"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("object-src 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-hashes"), std::string::npos) << csp;
}

// noVNC's vnc_lite.html has an inline module and an inline style; spice-html5 has onclick.
TEST(PagePolicy, InlineScriptsStylesAndHandlersAreAllowedByTheirHashOnly) {
    const std::string script = "\n import RFB from './core/rfb.js';\n";
    const std::string style = "\n body { margin: 0 }\n";
    const std::string html = "<html><head><STYLE>" + style + "</STYLE><script type=\"module\">" + script +
                             "</script><script src=\"x.js\"></script></head><body><button onclick=\"open_nav()\">"
                             "</button></body></html>";
    const auto csp = page_csp(html);
    EXPECT_NE(csp.find("script-src 'self' " + sha256_source(script) + " 'unsafe-hashes' " +
                       sha256_source("open_nav()") + ";"),
              std::string::npos)
        << csp;
    EXPECT_NE(csp.find("style-src 'self' " + sha256_source(style) + ";"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
}

TEST(PagePolicy, EveryPageIsNeitherFramedNorReferred) {
    const auto headers = page_headers("<html></html>");
    auto has = [&](const std::string& name, const std::string& value) {
        for (const auto& [n, v] : headers)
            if (n == name) return v == value;
        return false;
    };
    EXPECT_TRUE(has("X-Frame-Options", "DENY"));
    EXPECT_TRUE(has("Referrer-Policy", "no-referrer"));
}

}  // namespace
}  // namespace kvmhub::api
