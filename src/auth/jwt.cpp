#include "auth/jwt.hpp"

#include <array>
#include <ctime>

#include <limits>

#include <fmt/format.h>
#include <sodium.h>
#include <nlohmann/json.hpp>

#include "auth/base64.hpp"
#include "auth/password.hpp"

namespace kvmhub::auth {

namespace {

using json = nlohmann::json;

constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::string_view kTokenType = "admin";
constexpr std::size_t kJtiBytes = 16;

tl::unexpected<Error> unauthorized(std::string desc) {
    return fail(Errc::Unauthorized, "token", std::move(desc));
}

// One base64url part as a JSON object, or null json if it is anything else.
json decode_object(std::string_view part) {
    auto raw = base64url_decode(part);
    if (!raw) return json();
    // Depth is bounded by the token size cap; parse never throws with allow_exceptions=false.
    json j = json::parse(*raw, nullptr, false);
    return j.is_object() ? j : json();
}

bool get_int(const json& obj, const char* name, std::int64_t& out) {
    auto it = obj.find(name);
    if (it == obj.end() || !it->is_number_integer()) return false;
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max())) {
        return false;
    }
    out = it->get<std::int64_t>();
    return true;
}

bool string_equals(const json& obj, const char* name, std::string_view want) {
    auto it = obj.find(name);
    return it != obj.end() && it->is_string() && it->get_ref<const std::string&>() == want;
}

// ISO 8601 UTC; by hand rather than fmt::gmtime, which throws for out-of-range times.
std::string utc_time(std::int64_t seconds) {
    std::tm tm{};
    const auto t = static_cast<std::time_t>(seconds);
    if (gmtime_r(&t, &tm) == nullptr) return fmt::format("{} (Unix time)", seconds);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min, tm.tm_sec);
}

}  // namespace

TokenSigner::TokenSigner(std::string secret, const Clock& clock) : secret_(std::move(secret)), clock_(clock) {}

TokenSigner::~TokenSigner() {
    sodium_memzero(secret_.data(), secret_.size());
}

std::string TokenSigner::sign(std::string_view signing_input) const {
    ensure_sodium();
    crypto_auth_hmacsha256_state state;
    std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
    // The init/update/final form takes keys of any length (RFC 2104), unlike crypto_auth_hmacsha256().
    crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret_.data()), secret_.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(signing_input.data()),
                                  signing_input.size());
    crypto_auth_hmacsha256_final(&state, mac.data());
    sodium_memzero(&state, sizeof state);
    return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

Result<IssuedToken> TokenSigner::issue(const std::string& username, const std::string& session,
                                       std::chrono::seconds ttl, int refresh_count) const {
    if (secret_.empty()) return fail(Errc::Internal, "jwt", "no signing secret configured");
    if (username.empty()) return fail(Errc::BadInput, "username", "user name must not be empty");
    if (session.empty()) return fail(Errc::BadInput, "sid", "a token needs a session id");
    if (ttl.count() <= 0) return fail(Errc::BadInput, "ttl", "token lifetime must be positive");
    if (refresh_count < 0) return fail(Errc::BadInput, "refresh_count", "refresh count must not be negative");

    const std::int64_t now = clock_.now_seconds();
    const std::int64_t exp = now + ttl.count();
    // `username` repeats `sub` for simplekvm's UI, whose header badge shows that claim.
    const json payload = {{"sub", username},
                          {"username", username},
                          {"iat", now},
                          {"exp", exp},
                          {"jti", random_bytes_b64(kJtiBytes)},
                          {"cnt", refresh_count},
                          {"sid", session},
                          {"typ", kTokenType}};
    // dump() throws only on invalid UTF-8; `replace` makes it total (user names are ASCII anyway).
    std::string input = base64url_encode(kHeader) + "." +
                        base64url_encode(payload.dump(-1, ' ', false, json::error_handler_t::replace));
    std::string token = input + "." + base64url_encode(sign(input));
    return IssuedToken{std::move(token), exp};
}

Result<TokenClaims> TokenSigner::verify(std::string_view token) const {
    if (secret_.empty()) return fail(Errc::Internal, "jwt", "no signing secret configured");
    if (token.empty()) return unauthorized("no token given");
    if (token.size() > kMaxTokenBytes) return unauthorized("token is too long");

    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
        return unauthorized("token is not a JWT (expected three dot-separated parts)");
    }
    const auto header_part = token.substr(0, dot1);
    const auto payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
    const auto signature_part = token.substr(dot2 + 1);

    // The algorithm is pinned: the header may only confirm HS256, never choose another one.
    const json header = decode_object(header_part);
    if (header.is_null()) return unauthorized("token header is not base64url-encoded JSON");
    if (!string_equals(header, "alg", "HS256")) return unauthorized("token algorithm must be HS256");
    if (header.contains("typ") && !string_equals(header, "typ", "JWT")) {
        return unauthorized("token header typ must be JWT");
    }
    if (header.contains("crit")) return unauthorized("token header has critical extensions we do not support");

    // Check the signature before looking at any claim, so unsigned data never steers anything.
    const auto signature = base64url_decode(signature_part);
    const std::string expected = sign(token.substr(0, dot2));
    if (!signature || signature->size() != expected.size() ||
        sodium_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
        return unauthorized("token signature is invalid");
    }

    const json payload = decode_object(payload_part);
    if (payload.is_null()) return unauthorized("token payload is not base64url-encoded JSON");
    TokenClaims claims;
    auto sub = payload.find("sub");
    if (sub == payload.end() || !sub->is_string() || sub->get_ref<const std::string&>().empty()) {
        return unauthorized("token has no subject (sub)");
    }
    claims.username = sub->get<std::string>();
    if (!get_int(payload, "exp", claims.expires)) return unauthorized("token has no expiry (exp)");
    if (!string_equals(payload, "typ", kTokenType)) return unauthorized("token is not an admin token");
    get_int(payload, "iat", claims.issued_at);
    if (auto jti = payload.find("jti"); jti != payload.end() && jti->is_string()) claims.id = jti->get<std::string>();
    auto sid = payload.find("sid");
    if (sid == payload.end() || !sid->is_string() || sid->get_ref<const std::string&>().empty())
        return unauthorized("token predates sessions; log in again");
    claims.session = sid->get<std::string>();
    std::int64_t cnt = 0;
    if (get_int(payload, "cnt", cnt) && cnt >= 0 && cnt <= std::numeric_limits<int>::max()) {
        claims.refresh_count = static_cast<int>(cnt);
    }

    if (claims.expires <= clock_.now_seconds()) {
        return unauthorized(fmt::format("token expired at {}; log in again", utc_time(claims.expires)));
    }
    return claims;
}

}  // namespace kvmhub::auth
