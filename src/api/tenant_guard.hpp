// Tenant access: a link from ctrl_url (?k=&e=&l=) for the VM named by the path's {host}/{uuid},
// allowing the command the path names. Bearer tokens and cookies play no part here.
#pragma once

#include <string_view>

#include "http/router.hpp"

namespace kvmhub::auth {
class LinkService;
}

namespace kvmhub::api {

class TenantGuard final : public http::AccessGuard {
public:
    explicit TenantGuard(const auth::LinkService& links) : links_(links) {}
    // The principal is "link:<id>". Forbidden for a missing, malformed, tampered, unknown or
    // revoked link, a link of another VM, or a command outside its rights; Gone when expired.
    Result<std::string> check(const http::Route& route, const http::Request& request) const override;

private:
    const auth::LinkService& links_;
};

// The link right a tenant route pattern ("/user/vm/<cmd>/{host}/{uuid}") needs; empty for a
// pattern no right covers (the guard refuses it, so a new tenant route must be added here).
std::string_view tenant_right(std::string_view route_pattern);

}  // namespace kvmhub::api
