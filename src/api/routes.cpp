#include "api/routes.hpp"

#include "api/admin_guard.hpp"

namespace kvmhub::api {

Status build_router(http::Router& router, ApiContext& ctx) {
    router.set_guard(http::Access::Admin, std::make_shared<AdminGuard>(ctx.tokens));
    router.add(auth_routes(ctx));
    router.add(ops_routes(ctx));
    return router.seal();
}

}  // namespace kvmhub::api
