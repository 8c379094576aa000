#include "api/admin_guard.hpp"

#include "auth/directory.hpp"
#include "auth/jwt.hpp"
#include "auth/sessions.hpp"

namespace kvmhub::api {
namespace {

constexpr std::string_view kBearer = "Bearer ";

Status refuse(std::string why) {
    return fail(Errc::Forbidden, "origin",
                why +
                    ": a request authenticated by the token cookie alone must come from kvmhub's own pages "
                    "(scripts send 'Authorization: Bearer <token>')");
}

}  // namespace

Result<std::string> request_token(const http::Request& request) {
    if (const std::string* authorization = request.header("authorization")) {
        if (authorization->size() <= kBearer.size() || authorization->compare(0, kBearer.size(), kBearer) != 0)
            return fail(Errc::Unauthorized, "authorization", "the Authorization header must be 'Bearer <token>'");
        return authorization->substr(kBearer.size());
    }
    std::string cookie = request.cookie("token");
    if (!cookie.empty()) return cookie;
    return fail(Errc::Unauthorized, "token",
                "no token: log in with POST /api/login and send 'Authorization: Bearer <token>'");
}

std::string expected_origin(const http::Request& request, const std::string& public_origin) {
    if (!public_origin.empty()) return public_origin;
    const std::string* host = request.header("host");
    return std::string(request.tls ? "https://" : "http://") + (host ? *host : std::string());
}

Status same_origin_proof(const http::Request& request, const std::string& origin, bool websocket) {
    const std::string* origin_header = request.header("origin");
    if (websocket && (!origin_header || *origin_header != origin))
        return refuse("the websocket's Origin '" + (origin_header ? *origin_header : std::string()) + "' is not " +
                      origin);
    if (const std::string* site = request.header("sec-fetch-site")) {
        if (*site == "same-origin") return {};
        return refuse("the browser says this request comes from a " + *site + " page");
    }
    if (origin_header) {
        if (*origin_header == origin) return {};
        return refuse("the request's Origin '" + *origin_header + "' is not " + origin);
    }
    if (const std::string* referer = request.header("referer")) {
        if (referer->size() > origin.size() && referer->compare(0, origin.size(), origin) == 0 &&
            (*referer)[origin.size()] == '/')
            return {};
        return refuse("the request's Referer is not a page of " + origin);
    }
    return refuse("the request shows no origin (no Sec-Fetch-Site, Origin or Referer)");
}

Result<auth::TokenClaims> request_claims(const auth::TokenSigner& tokens, const http::Request& request) {
    auto token = request_token(request);
    if (!token) return tl::unexpected(token.error());
    return tokens.verify(*token);
}

Result<std::string> AdminGuard::check(const http::Route& route, const http::Request& request) const {
    auto claims = request_claims(tokens_, request);
    if (!claims) return tl::unexpected(claims.error());
    // The one store read per admin request: the session record, by its primary key.
    auto session = sessions_.check(claims->username, claims->session);
    if (!session) return tl::unexpected(session.error());
    // A directory user blocked (or no longer allowed) since the login: refused from the next
    // request on, as the daemon restarted with the new lists.
    if (session->source == auth::kDirectorySource)
        if (auto permitted = directory_.permits(session->user); !permitted)
            return fail(Errc::Unauthorized, "session", permitted.error().desc);
    const bool cookie_only = request.header("authorization") == nullptr;
    if (cookie_only && (route.effect != http::Effect::Reads || route.websocket)) {
        if (auto proof = same_origin_proof(request, expected_origin(request, public_origin_), route.websocket); !proof)
            return tl::unexpected(proof.error());
    }
    return claims->username;
}

}  // namespace kvmhub::api
