// The NoCloud metadata service (metadata surface, no authentication: guests fetch it at
// boot): /<uuid>/meta-data, user-data, vendor-data and network-config, as rendered for the
// VM. Nothing else of kvmhub is reachable through these routes.
#include "api/routes.hpp"
#include "cloudinit/seed.hpp"

namespace kvmhub::api {
namespace {

constexpr const char* kYaml = "text/plain; charset=utf-8";

Reply seed_file(ApiContext& ctx, Request& req, const std::string& name) {
    const std::string& uuid = *req.param("uuid");
    auto text = ctx.seeds.file(uuid, name);
    if (text) return Reply::text(std::move(*text), kYaml);
    // vendor-data is optional: a VM without one gets an empty file, as cloud-init expects.
    if (name == "vendor-data" && text.error().code == Errc::NotFound && ctx.seeds.context(uuid))
        return Reply::text("", kYaml);
    return Reply::error(text.error());
}

Reply meta_data(ApiContext& ctx, Request& req) {
    return seed_file(ctx, req, "meta-data");
}
Reply user_data(ApiContext& ctx, Request& req) {
    return seed_file(ctx, req, "user-data");
}
Reply vendor_data(ApiContext& ctx, Request& req) {
    return seed_file(ctx, req, "vendor-data");
}
Reply network_config(ApiContext& ctx, Request& req) {
    return seed_file(ctx, req, "network-config");
}

}  // namespace

std::vector<http::Route> meta_routes(ApiContext& ctx) {
    return {
        {Method::Get, "/{uuid}/meta-data", Access::Public, Surface::Metadata, bind(ctx, meta_data), 0},
        {Method::Get, "/{uuid}/user-data", Access::Public, Surface::Metadata, bind(ctx, user_data), 0},
        {Method::Get, "/{uuid}/vendor-data", Access::Public, Surface::Metadata, bind(ctx, vendor_data), 0},
        {Method::Get, "/{uuid}/network-config", Access::Public, Surface::Metadata, bind(ctx, network_config), 0},
    };
}

}  // namespace kvmhub::api
