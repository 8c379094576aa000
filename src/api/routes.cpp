#include "api/routes.hpp"

#include "api/admin_guard.hpp"
#include "api/tenant_guard.hpp"
#include "auth/audit.hpp"

#include <fmt/format.h>

namespace kvmhub::api {

http::Reply audited(ApiContext& ctx, const http::Request& request, const std::string& action, const std::string& target,
                    const Status& result, const nlohmann::json& ok_fields) {
    ctx.audit.record(auth::AuditEntry{request.principal.empty() ? "-" : request.principal, action, target,
                                      result ? "ok" : result.error().desc, request.request_id});
    return result ? http::Reply::ok(ok_fields) : http::Reply::error(result.error());
}

http::Reply audit_reply(ApiContext& ctx, const http::Request& request, const std::string& action,
                        const std::string& target, http::Reply reply) {
    std::string result = "ok";
    if (reply.status >= 400) {
        const auto body = nlohmann::json::parse(reply.body, nullptr, false);
        result = body.is_object() && body.contains("desc") && body["desc"].is_string()
                     ? body["desc"].get<std::string>()
                     : "HTTP " + std::to_string(reply.status);
    }
    ctx.audit.record(auth::AuditEntry{request.principal.empty() ? "-" : request.principal, action, target, result,
                                      request.request_id});
    return reply;
}

Status build_router(http::Router& router, ApiContext& ctx) {
    router.set_guard(http::Access::Admin, std::make_shared<AdminGuard>(ctx.tokens, ctx.sessions, ctx.directory,
                                                                       ctx.config.http.public_origin));
    router.set_guard(http::Access::Tenant, std::make_shared<TenantGuard>(ctx.links));
    router.set_json_depth_limit(ctx.config.http.json_depth_limit);
    // A refused change is audited like one a service refused: who tried what, and why not.
    router.on_input_refused([&ctx](const http::Route& route, const http::Request& request, const Error& error) {
        if (route.effect != http::Effect::Changes || route.access == http::Access::Public) return;
        // The target as the handlers write it ("host/uuid"), or the path of a route without parameters.
        std::string target;
        for (const auto& [name, value] : request.params) target += (target.empty() ? "" : "/") + value;
        ctx.audit.record(auth::AuditEntry{request.principal.empty() ? "-" : request.principal,
                                          fmt::format("{} {}", http::method_name(route.method), route.pattern),
                                          target.empty() ? request.path : target, error.desc, request.request_id});
    });
    router.add(auth_routes(ctx));
    router.add(user_routes(ctx));
    router.add(ops_routes(ctx));
    router.add(catalog_routes(ctx));
    router.add(template_routes(ctx));
    router.add(vm_routes(ctx));
    router.add(meta_routes(ctx));
    router.add(task_routes(ctx));
    router.add(link_routes(ctx));
    router.add(console_routes(ctx));
    router.add(ui_routes(ctx));
    return router.seal();
}

}  // namespace kvmhub::api
