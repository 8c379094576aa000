// Admin access: a valid token from `Authorization: Bearer <jwt>` or the `token` cookie.
#pragma once

#include "http/router.hpp"

namespace kvmhub::auth {
class TokenSigner;
}

namespace kvmhub::api {

class AdminGuard final : public http::AccessGuard {
public:
    explicit AdminGuard(const auth::TokenSigner& tokens) : tokens_(tokens) {}
    Result<std::string> check(http::Access access, const http::Request& request) const override;

private:
    const auth::TokenSigner& tokens_;
};

// The token a request carries (bearer header first, then cookie); Unauthorized when none
// or when the Authorization header is not a bearer token.
Result<std::string> request_token(const http::Request& request);

}  // namespace kvmhub::api
