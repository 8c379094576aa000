// Admin access: a valid token from `Authorization: Bearer <jwt>` or the `token` cookie, whose
// session (claim "sid") is still open: one read of the session record by its key per request
// (auth/sessions.hpp), with no cache, so a session ended by any process on the store (another
// request, the offline `kvmhubd user ...`) is refused on the next request. A token without a
// session id is one from before sessions: 401 "token predates sessions; log in again".
//
// Cross-site request forgery: a browser attaches the cookie to requests that other sites make
// (a link, a form, a fetch, a websocket; SameSite=Lax still sends it on top-level navigations
// and to other ports of the same host). So a request whose only credential is the cookie may
// run a route that changes state (http::Effect::Changes), or open a websocket, only with the
// browser's own word that it comes from kvmhub's pages:
//   Sec-Fetch-Site: same-origin, when the browser sends Sec-Fetch-Site;
//   otherwise an Origin equal to kvmhub's origin; otherwise a Referer under it.
// Websockets must also carry a matching Origin (browsers always send one). kvmhub's origin is
// http.public_origin, or else the request's own (http/https by the listener + its Host header).
// Bearer tokens are not sent by browsers on their own, so they need none of this.
#pragma once

#include <string>

#include "http/router.hpp"

namespace kvmhub::auth {
class TokenSigner;
class SessionService;
class Directory;
struct TokenClaims;
}  // namespace kvmhub::auth

namespace kvmhub::api {

class AdminGuard final : public http::AccessGuard {
public:
    AdminGuard(const auth::TokenSigner& tokens, const auth::SessionService& sessions, const auth::Directory& directory,
               std::string public_origin)
        : tokens_(tokens), sessions_(sessions), directory_(directory), public_origin_(std::move(public_origin)) {}
    Result<std::string> check(const http::Route& route, const http::Request& request) const override;

private:
    const auth::TokenSigner& tokens_;
    const auth::SessionService& sessions_;
    const auth::Directory& directory_;
    std::string public_origin_;
};

// The verified claims of the request's token (for handlers that need the session id; the
// guard has checked the session already).
Result<auth::TokenClaims> request_claims(const auth::TokenSigner& tokens, const http::Request& request);

// The token a request carries (bearer header first, then cookie); Unauthorized when none
// or when the Authorization header is not a bearer token.
Result<std::string> request_token(const http::Request& request);

// Forbidden unless the request shows it comes from `origin`'s own pages (see above);
// `websocket` also requires a matching Origin header.
Status same_origin_proof(const http::Request& request, const std::string& origin, bool websocket);

// kvmhub's origin for this request: `public_origin` when set, else scheme://<Host header>.
std::string expected_origin(const http::Request& request, const std::string& public_origin);

}  // namespace kvmhub::api
