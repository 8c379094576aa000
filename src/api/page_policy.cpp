#include "api/page_policy.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>

namespace kvmhub::api {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// 'sha256-<base64>' of `text`, as CSP spells a hash source.
std::string hash_source(std::string_view text) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
    return std::string("'sha256-") + b64 + "'";
}

// The content of every inline <tag>...</tag> block (a <script> with a src has none).
std::vector<std::string_view> inline_blocks(std::string_view html, const std::string& folded, std::string_view tag) {
    std::vector<std::string_view> out;
    const std::string open = "<" + std::string(tag);
    const std::string close = "</" + std::string(tag) + ">";
    for (auto at = folded.find(open); at != std::string::npos; at = folded.find(open, at + 1)) {
        const char after = at + open.size() < folded.size() ? folded[at + open.size()] : '>';
        if (after != '>' && !std::isspace(static_cast<unsigned char>(after))) continue;  // <scripts>, <styleX>
        const auto end_of_tag = folded.find('>', at);
        if (end_of_tag == std::string::npos) break;
        const std::string_view attributes(folded.data() + at, end_of_tag - at);
        const auto end = folded.find(close, end_of_tag);
        if (end == std::string::npos) break;
        if (tag == "script" && attributes.find(" src=") != std::string_view::npos) continue;
        out.push_back(html.substr(end_of_tag + 1, end - end_of_tag - 1));
    }
    return out;
}

// The values of inline event handler attributes (onclick="...").
std::vector<std::string_view> event_handlers(std::string_view html, const std::string& folded) {
    std::vector<std::string_view> out;
    for (auto at = folded.find(" on"); at != std::string::npos; at = folded.find(" on", at + 1)) {
        auto name_end = at + 3;
        while (name_end < folded.size() && std::islower(static_cast<unsigned char>(folded[name_end]))) ++name_end;
        if (name_end == at + 3 || folded.compare(name_end, 2, "=\"") != 0) continue;
        const auto value_end = folded.find('"', name_end + 2);
        if (value_end == std::string::npos) break;
        out.push_back(html.substr(name_end + 2, value_end - name_end - 2));
    }
    return out;
}

}  // namespace

std::string page_csp(std::string_view html) {
    const std::string folded = lower(html);
    std::string scripts = "'self'";
    for (auto block : inline_blocks(html, folded, "script")) scripts += " " + hash_source(block);
    const auto handlers = event_handlers(html, folded);
    if (!handlers.empty()) {
        scripts += " 'unsafe-hashes'";
        for (auto handler : handlers) scripts += " " + hash_source(handler);
    }
    std::string styles = "'self'";
    for (auto block : inline_blocks(html, folded, "style")) styles += " " + hash_source(block);
    return "default-src 'self'; script-src " + scripts + "; style-src " + styles +
           "; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
           "form-action 'self'; frame-ancestors 'none'";
}

std::vector<std::pair<std::string, std::string>> page_headers(std::string_view html) {
    return {{"Content-Security-Policy", page_csp(html)},
            {"X-Frame-Options", "DENY"},
            {"Referrer-Policy", "no-referrer"}};
}

}  // namespace kvmhub::api
