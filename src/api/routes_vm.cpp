// /vm/<cmd>/<host>[/<uuid>]: the simplekvm VM commands. Like simplekvm, a query parameter
// the command does not take is an error (998); `k`, `e` and `l` (tenant link parts) are ignored.
// The tenant routes /user/vm/<cmd>/<host>/<uuid> (api-compat.md) run the same handlers: the
// tenant guard (api/tenant_guard.hpp) has checked the link against the VM in the path and the
// command against the link's rights before they are called.
#include <algorithm>
#include <functional>
#include <set>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "auth/links.hpp"
#include "catalog/validate.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::api {
namespace {

Status only_params(const Request& req, std::initializer_list<const char*> allowed) {
    for (const auto& [name, value] : req.query) {
        if (name == "k" || name == "e" || name == "l") continue;
        bool known = false;
        for (const char* a : allowed) known = known || name == a;
        if (!known)
            return fail(Errc::BadInput, name, fmt::format("unknown parameter '{}' for this command", name), 998);
    }
    return {};
}

std::string host_of(const Request& req) {
    return req.param("host") ? *req.param("host") : std::string();
}
std::string uuid_of(const Request& req) {
    return req.param("uuid") ? *req.param("uuid") : std::string();
}
std::string query_or(const Request& req, const char* name, std::string fallback = {}) {
    const std::string* v = req.query_param(name);
    return v ? *v : fallback;
}

Reply with_fields(const Result<nlohmann::json>& r) {
    return r ? Reply::ok(*r) : Reply::error(r.error());
}

Reply with_fields(const Result<std::string>& r) {
    return r ? Reply::ok_serialized(*r) : Reply::error(r.error());
}

// A change to a VM: parameters checked, service called, outcome audited.
template <typename Fn>
Reply vm_change(ApiContext& ctx, Request& req, const char* action, std::initializer_list<const char*> allowed, Fn fn) {
    if (auto ok = only_params(req, allowed); !ok) return Reply::error(ok.error());
    return audited(ctx, req, fmt::format("vm.{}", action), host_of(req) + "/" + uuid_of(req), fn());
}

// A JSON object body, where an empty body means {} (simplekvm's clients often send none).
Result<nlohmann::json> optional_body(const ApiContext& ctx, const Request& req) {
    if (req.body.empty()) return nlohmann::json::object();
    return parse_json_object(req.body, ctx.config.http.json_depth_limit);
}

Reply vm_create(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {}); !ok) return Reply::error(ok.error());
    auto body = optional_body(ctx, req);
    if (!body) return Reply::error(body.error());
    const std::string* key = req.header("idempotency-key");
    auto uuid = ctx.vms.create(host_of(req), *body, req.principal, key ? *key : "");
    if (!uuid) return audited(ctx, req, "vm.create", host_of(req), tl::unexpected(uuid.error()));
    return audited(ctx, req, "vm.create", host_of(req) + "/" + *uuid, {}, {{"uuid", *uuid}});
}

Reply vm_list_all(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {}); !ok) return Reply::error(ok.error());
    return with_fields(ctx.vms.list_cached());
}

Reply vm_list_host(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {}); !ok) return Reply::error(ok.error());
    return with_fields(ctx.vms.list_host(host_of(req)));
}

Reply vm_list_one(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {}); !ok) return Reply::error(ok.error());
    return with_fields(ctx.vms.list_guest(host_of(req), uuid_of(req)));
}

Reply vm_xml(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {}); !ok) return Reply::error(ok.error());
    auto xml = ctx.vms.xml(host_of(req), uuid_of(req));
    return xml ? Reply::ok({{"xml", *xml}}) : Reply::error(xml.error());
}

Reply vm_start(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "start", {}, [&] { return ctx.vms.start(host_of(req), uuid_of(req)); });
}

Reply vm_reset(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "reset", {}, [&] { return ctx.vms.reset(host_of(req), uuid_of(req)); });
}

// `forced` powers off whatever `force` says (a tenant's POST stop); else `force=true` does.
Reply stop_vm(ApiContext& ctx, Request& req, bool forced) {
    const std::string force = query_or(req, "force", "false");
    return vm_change(ctx, req, "stop", {"force"}, [&]() -> Status {
        if (force != "true" && force != "false") return fail(Errc::BadInput, "force", "force must be true or false");
        return ctx.vms.stop(host_of(req), uuid_of(req), forced || force == "true");
    });
}

Reply vm_stop(ApiContext& ctx, Request& req) {
    return stop_vm(ctx, req, false);
}

Reply vm_stop_forced(ApiContext& ctx, Request& req) {
    return stop_vm(ctx, req, true);
}

Reply vm_delete(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {}); !ok) return Reply::error(ok.error());
    auto failed = ctx.vms.remove(host_of(req), uuid_of(req));
    const std::string target = host_of(req) + "/" + uuid_of(req);
    if (!failed) return audited(ctx, req, "vm.delete", target, tl::unexpected(failed.error()));
    return audited(ctx, req, "vm.delete", target, {}, {{"failed", *failed}});
}

Reply vm_desc(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "desc", {"vm_desc"},
                     [&] { return ctx.vms.set_description(host_of(req), uuid_of(req), query_or(req, "vm_desc")); });
}

Reply vm_setmem(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "setmem", {"vm_ram_mb"},
                     [&] { return ctx.vms.set_memory(host_of(req), uuid_of(req), query_or(req, "vm_ram_mb")); });
}

Reply vm_setcpu(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "setcpu", {"vm_vcpus"},
                     [&] { return ctx.vms.set_vcpus(host_of(req), uuid_of(req), query_or(req, "vm_vcpus")); });
}

Reply vm_metadata(ApiContext& ctx, Request& req) {
    auto body = optional_body(ctx, req);
    if (!body) return Reply::error(body.error());
    return vm_change(ctx, req, "metadata", {},
                     [&] { return ctx.vms.merge_metadata(host_of(req), uuid_of(req), *body); });
}

Reply vm_snapshot_list(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {}); !ok) return Reply::error(ok.error());
    return with_fields(ctx.vms.snapshots(host_of(req), uuid_of(req)));
}

Reply vm_snapshot_create(ApiContext& ctx, Request& req) {
    std::string name = query_or(req, "name");
    if (name.empty()) {
        std::time_t now = ctx.clock.now_seconds();
        std::tm tm{};
        localtime_r(&now, &tm);
        char stamp[16];
        std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
        name = stamp;
    }
    return vm_change(ctx, req, "snapshot", {"name"}, [&]() -> Status {
        if (auto ok = catalog::check_name("name", name); !ok) return ok;
        return ctx.vms.create_snapshot(host_of(req), uuid_of(req), name);
    });
}

Reply vm_snapshot_revert(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "revert_snapshot", {"name"}, [&]() -> Status {
        auto name = required_query(req, "name");
        if (!name) return tl::unexpected(name.error());
        return ctx.vms.revert_snapshot(host_of(req), uuid_of(req), *name);
    });
}

Reply vm_snapshot_delete(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "delete_snapshot", {"name"}, [&]() -> Status {
        auto name = required_query(req, "name");
        if (!name) return tl::unexpected(name.error());
        return ctx.vms.delete_snapshot(host_of(req), uuid_of(req), *name);
    });
}

Reply vm_blksize(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {"dev"}); !ok) return Reply::error(ok.error());
    auto dev = required_query(req, "dev");
    if (!dev) return Reply::error(dev.error());
    return with_fields(ctx.vms.block_size(host_of(req), uuid_of(req), *dev));
}

Reply vm_netstat(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {"dev"}); !ok) return Reply::error(ok.error());
    auto dev = required_query(req, "dev");
    if (!dev) return Reply::error(dev.error());
    return with_fields(ctx.vms.net_stats(host_of(req), uuid_of(req), *dev));
}

Reply vm_ipaddr(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {}); !ok) return Reply::error(ok.error());
    auto addrs = ctx.vms.addresses(host_of(req), uuid_of(req));
    return addrs ? Reply::ok(*addrs) : Reply::error(addrs.error());
}

// simplekvm's attach_device: progress lines, the last one the JSON result (an error too comes
// as that last line, after the 200). What can be checked without the host is checked first and
// answered with a real status.
Reply vm_attach_device(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {"dev"}); !ok) return Reply::error(ok.error());
    auto dev = required_query(req, "dev");
    if (!dev) return Reply::error(dev.error());
    auto body = optional_body(ctx, req);
    if (!body) return Reply::error(body.error());
    auto devices = ctx.catalog.devices(host_of(req));
    if (!devices) return Reply::error(devices.error());
    if (std::none_of(devices->begin(), devices->end(), [&](const auto& d) { return d.value("name", "") == *dev; }))
        return Reply::error(Error{Errc::NotFound, "dev",
                                  fmt::format("device '{}' is not enabled on host {}: enable it with \"{}\":\"on\" "
                                              "in POST /conf/host/",
                                              *dev, host_of(req), *dev)});
    return Reply::streamed([&ctx, req, device = *dev, vars = std::move(*body)](const http::StreamWrite& write) {
        auto line = [&write](std::string_view text) { return write(std::string(text) + "\n"); };
        auto attached = ctx.vms.attach_device(host_of(req), uuid_of(req), device, vars, line);
        const std::string target = host_of(req) + "/" + uuid_of(req);
        Reply last = attached ? audited(ctx, req, "vm.attach_device", target, {}, *attached)
                              : audited(ctx, req, "vm.attach_device", target, tl::unexpected(attached.error()));
        write(last.body + "\n");
    });
}

Reply vm_detach_device(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {"dev"}); !ok) return Reply::error(ok.error());
    auto dev = required_query(req, "dev");
    if (!dev) return Reply::error(dev.error());
    auto detached = ctx.vms.detach_device(host_of(req), uuid_of(req), *dev);
    const std::string target = host_of(req) + "/" + uuid_of(req);
    if (!detached) return audited(ctx, req, "vm.detach_device", target, tl::unexpected(detached.error()));
    return audited(ctx, req, "vm.detach_device", target, {}, *detached);
}

Reply vm_cdrom(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {"dev"}); !ok) return Reply::error(ok.error());
    auto dev = required_query(req, "dev");
    if (!dev) return Reply::error(dev.error());
    auto body = optional_body(ctx, req);
    if (!body) return Reply::error(body.error());
    auto iso = body->find("isoname");
    if (iso != body->end() && !iso->is_string() && !iso->is_null())
        return Reply::error(Error{Errc::BadInput, "isoname", "'isoname' must be a string (empty for the cidata ISO)"});
    const std::string isoname = iso != body->end() && iso->is_string() ? iso->get<std::string>() : "";
    return audited(ctx, req, "vm.cdrom", host_of(req) + "/" + uuid_of(req),
                   ctx.vms.change_cdrom(host_of(req), uuid_of(req), *dev, isoname),
                   {{"dev", *dev}, {"isoname", isoname}});
}

// Reads change nothing, so the admin routes do not audit them; a tenant's every call is audited.
// The tenant's list also says what its link allows and until when, so the tenant page shows
// only the buttons that work (the guard verified the link; this reads its record once more).
Reply user_list(ApiContext& ctx, Request& req) {
    Reply reply = vm_list_one(ctx, req);
    auto link =
        ctx.links.verify(host_of(req), uuid_of(req), query_or(req, "k"), query_or(req, "e"), query_or(req, "l"));
    if (reply.status == 200 && link) {
        nlohmann::json body = nlohmann::json::parse(reply.body, nullptr, false);
        if (body.is_object()) {
            body["link"] = {{"id", link->id}, {"expiry", link->expiry}, {"rights", link->rights}};
            reply.body = body.dump();
        }
    }
    return audit_reply(ctx, req, "vm.list", host_of(req) + "/" + uuid_of(req), std::move(reply));
}

Reply user_snapshot_list(ApiContext& ctx, Request& req) {
    return audit_reply(ctx, req, "vm.snapshot_list", host_of(req) + "/" + uuid_of(req), vm_snapshot_list(ctx, req));
}

}  // namespace

std::vector<http::Route> vm_routes(ApiContext& ctx) {
    std::vector<http::Route> routes{
        {Method::Post, "/vm/create/{host}", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, vm_create), 0},
        {Method::Get, "/vm/list/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, vm_list_all), 0},
        {Method::Get, "/vm/list/{host}", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, vm_list_host), 0},
        {Method::Get, "/vm/list/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, vm_list_one),
         0},
        {Method::Get, "/vm/snapshot/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin,
         bind(ctx, vm_snapshot_list), 0},
        {Method::Post, "/vm/snapshot/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
         bind(ctx, vm_snapshot_create), 0},
        {Method::Post, "/vm/metadata/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
         bind(ctx, vm_metadata), 0},
        {Method::Get, "/vm/blksize/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, vm_blksize),
         0},
        {Method::Get, "/vm/netstat/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, vm_netstat),
         0},
        {Method::Get, "/vm/ipaddr/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, vm_ipaddr),
         0},
        {Method::Post, "/vm/attach_device/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
         bind(ctx, vm_attach_device), 0},
        {Method::Post, "/vm/cdrom/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, vm_cdrom),
         0},
    };
    // simplekvm used GET for these changes; POST is accepted as well.
    const std::pair<const char*, http::Reply (*)(ApiContext&, Request&)> changes[] = {
        {"xml", vm_xml},
        {"start", vm_start},
        {"reset", vm_reset},
        {"stop", vm_stop},
        {"delete", vm_delete},
        {"desc", vm_desc},
        {"setmem", vm_setmem},
        {"setcpu", vm_setcpu},
        {"revert_snapshot", vm_snapshot_revert},
        {"delete_snapshot", vm_snapshot_delete},
        {"detach_device", vm_detach_device},
    };
    for (const auto& [cmd, fn] : changes)
        for (Method m : {Method::Get, Method::Post})
            routes.push_back({m, fmt::format("/vm/{}/{{host}}/{{uuid}}", cmd), Access::Admin, Effect::Changes,
                              Surface::Admin, bind(ctx, fn), 0});

    // A tenant's commands on the one VM of its link. GET stop shuts down gracefully unless
    // force=true; POST stop powers off (api-compat.md). The ISO catalog route is in routes_catalog.cpp.
    const std::tuple<Method, const char*, Effect, http::Reply (*)(ApiContext&, Request&)> tenant[] = {
        {Method::Get, "list", Effect::Reads, user_list},
        {Method::Get, "start", Effect::Changes, vm_start},
        {Method::Post, "start", Effect::Changes, vm_start},
        {Method::Get, "reset", Effect::Changes, vm_reset},
        {Method::Post, "reset", Effect::Changes, vm_reset},
        {Method::Get, "stop", Effect::Changes, vm_stop},
        {Method::Post, "stop", Effect::Changes, vm_stop_forced},
        {Method::Get, "snapshot", Effect::Reads, user_snapshot_list},
        {Method::Post, "snapshot", Effect::Changes, vm_snapshot_create},
        {Method::Get, "revert_snapshot", Effect::Changes, vm_snapshot_revert},
        {Method::Post, "revert_snapshot", Effect::Changes, vm_snapshot_revert},
        {Method::Get, "delete_snapshot", Effect::Changes, vm_snapshot_delete},
        {Method::Post, "delete_snapshot", Effect::Changes, vm_snapshot_delete},
        {Method::Post, "cdrom", Effect::Changes, vm_cdrom},
    };
    for (const auto& [m, cmd, effect, fn] : tenant)
        routes.push_back({m, fmt::format("/user/vm/{}/{{host}}/{{uuid}}", cmd), Access::Tenant, effect, Surface::Tenant,
                          bind(ctx, fn), 0});
    return routes;
}

}  // namespace kvmhub::api
