// Admin session tokens: JWT (RFC 7519) signed with HMAC-SHA256.
//
// Why not cpp-jwt: it checks `exp` against the system clock (we need the injected Clock, and
// turning its check off also turns off signature verification), it compares signatures with
// `==` (not constant time), reports errors by exceptions, and treats alg "none" as a decode
// path of its own. HS256 is small enough to do here: libsodium's HMAC-SHA256, strict
// base64url, nlohmann::json, sodium_memcmp for the signature. Only what we issue is accepted:
// header alg exactly "HS256", typ absent or "JWT", no "crit"; payload typ "admin" and a session
// id "sid" (auth/sessions.hpp: a token from before sessions is refused).
// Expiry has zero leeway: a token is dead once now >= exp. Several daemons share one secret
// (auth/secrets.hpp) and are expected to run NTP-synchronised clocks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "common/result.hpp"

namespace kvmhub::auth {

// Tokens above this size are refused before any decoding (ours are ~250 bytes).
inline constexpr std::size_t kMaxTokenBytes = 4096;

struct IssuedToken {
    std::string token;
    std::int64_t expires = 0;  // Unix seconds
};

struct TokenClaims {
    std::string username;        // "sub"
    std::int64_t issued_at = 0;  // "iat", Unix seconds
    std::int64_t expires = 0;    // "exp", Unix seconds
    std::string id;              // "jti", random, for revocation lists and audit
    int refresh_count = 0;       // "cnt", how many times the session was refreshed
    std::string session;         // "sid", the session's id (auth/sessions.hpp), never empty
};

class TokenSigner {
public:
    // `secret` is raw key bytes (32+ recommended). An empty secret makes issue and verify fail
    // with Internal rather than sign with a guessable key.
    TokenSigner(std::string secret, const Clock& clock);
    ~TokenSigner();
    TokenSigner(const TokenSigner&) = delete;
    TokenSigner& operator=(const TokenSigner&) = delete;

    // BadInput for an empty username or session, a non-positive ttl or a negative refresh_count.
    Result<IssuedToken> issue(const std::string& username, const std::string& session, std::chrono::seconds ttl,
                              int refresh_count = 0) const;

    // Unauthorized (where="token") for anything but an intact, unexpired admin token of ours
    // that names a session. Whether the session is still open is SessionService::check's part.
    Result<TokenClaims> verify(std::string_view token) const;

private:
    std::string sign(std::string_view signing_input) const;

    std::string secret_;
    const Clock& clock_;
};

}  // namespace kvmhub::auth
