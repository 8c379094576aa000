// The route tables. Each resource file declares its routes in one table; build_router()
// joins them, installs the access guards and validates the whole table.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "http/router.hpp"

namespace kvmhub::api {

// The HTTP facade names every route file uses.
using http::Access;
using http::Effect;
using http::Method;
using http::Reply;
using http::Request;

// A route handler of the form `Reply fn(ApiContext&, Request&)` bound to `ctx`.
inline http::Handler bind(ApiContext& ctx, http::Reply (*fn)(ApiContext&, http::Request&)) {
    return [&ctx, fn](http::Request& request) { return fn(ctx, request); };
}

std::vector<http::Route> auth_routes(ApiContext& ctx);      // routes_auth.cpp
std::vector<http::Route> user_routes(ApiContext& ctx);      // routes_users.cpp
std::vector<http::Route> ops_routes(ApiContext& ctx);       // routes_ops.cpp
std::vector<http::Route> catalog_routes(ApiContext& ctx);   // routes_catalog.cpp
std::vector<http::Route> template_routes(ApiContext& ctx);  // routes_templates.cpp
std::vector<http::Route> vm_routes(ApiContext& ctx);        // routes_vm.cpp
std::vector<http::Route> meta_routes(ApiContext& ctx);      // routes_meta.cpp
std::vector<http::Route> task_routes(ApiContext& ctx);      // routes_tasks.cpp
std::vector<http::Route> link_routes(ApiContext& ctx);      // routes_links.cpp
std::vector<http::Route> console_routes(ApiContext& ctx);   // routes_console.cpp
std::vector<http::Route> ui_routes(ApiContext& ctx);        // routes_ui.cpp

// Records the change in the audit log and answers: `ok_fields` on success, the error otherwise.
http::Reply audited(ApiContext& ctx, const http::Request& request, const std::string& action, const std::string& target,
                    const Status& result, const nlohmann::json& ok_fields = nullptr);
// Records a reply that came from elsewhere (a read a tenant made): "ok", or the error's desc.
http::Reply audit_reply(ApiContext& ctx, const http::Request& request, const std::string& action,
                        const std::string& target, http::Reply reply);

Status build_router(http::Router& router, ApiContext& ctx);

}  // namespace kvmhub::api
