// Operations: /healthz (public), /metrics (public, Prometheus), /conf/ (admin config dump).
#include <nlohmann/json.hpp>

#include "api/routes.hpp"

namespace kvmhub::api {
namespace {

Reply healthz(ApiContext& ctx, Request&) {
    auto store = ctx.store.ping();
    nlohmann::json body = {{"status", store ? "ok" : "degraded"},
                           {"store", store ? std::string("ok") : store.error().desc},
                           {"backend", ctx.store.backend()}};
    Reply reply = Reply::text(body.dump(), "application/json");
    if (!store) reply.status = 503;
    return reply;
}

Reply metrics(ApiContext& ctx, Request&) {
    return Reply::text(ctx.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
}

Reply conf(ApiContext& ctx, Request&) {
    return Reply::ok({{"conf", config_to_json(ctx.config)}});
}

}  // namespace

std::vector<http::Route> ops_routes(ApiContext& ctx) {
    std::vector<http::Route> routes{
        {Method::Get, "/metrics", Access::Public, Effect::Reads, Surface::Admin, bind(ctx, metrics), 0},
        {Method::Get, "/conf/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, conf), 0},
    };
    // Every listener answers health checks, whichever surfaces it serves.
    for (Surface s : {Surface::Admin, Surface::Tenant, Surface::Metadata})
        routes.push_back({Method::Get, "/healthz", Access::Public, Effect::Reads, s, bind(ctx, healthz), 0});
    return routes;
}

}  // namespace kvmhub::api
