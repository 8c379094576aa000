// The route tables. Each resource file declares its routes in one table; build_router()
// joins them, installs the access guards and validates the whole table.
#pragma once

#include <vector>

#include "api/context.hpp"
#include "http/router.hpp"

namespace kvmhub::api {

// A route handler of the form `Reply fn(ApiContext&, Request&)` bound to `ctx`.
inline http::Handler bind(ApiContext& ctx, http::Reply (*fn)(ApiContext&, http::Request&)) {
    return [&ctx, fn](http::Request& request) { return fn(ctx, request); };
}

std::vector<http::Route> auth_routes(ApiContext& ctx);  // routes_auth.cpp
std::vector<http::Route> ops_routes(ApiContext& ctx);   // routes_ops.cpp

Status build_router(http::Router& router, ApiContext& ctx);

}  // namespace kvmhub::api
