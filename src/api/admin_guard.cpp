#include "api/admin_guard.hpp"

#include "auth/jwt.hpp"

namespace kvmhub::api {

Result<std::string> request_token(const http::Request& request) {
    if (const std::string* authorization = request.header("authorization")) {
        constexpr std::string_view kBearer = "Bearer ";
        if (authorization->size() <= kBearer.size() || authorization->compare(0, kBearer.size(), kBearer) != 0)
            return fail(Errc::Unauthorized, "authorization", "the Authorization header must be 'Bearer <token>'");
        return authorization->substr(kBearer.size());
    }
    std::string cookie = request.cookie("token");
    if (!cookie.empty()) return cookie;
    return fail(Errc::Unauthorized, "token",
                "no token: log in with POST /api/login and send 'Authorization: Bearer <token>'");
}

Result<std::string> AdminGuard::check(http::Access, const http::Request& request) const {
    auto token = request_token(request);
    if (!token) return tl::unexpected(token.error());
    auto claims = tokens_.verify(*token);
    if (!claims) return tl::unexpected(claims.error());
    return claims->username;
}

}  // namespace kvmhub::api
