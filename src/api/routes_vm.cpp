// /vm/<cmd>/<host>[/<uuid>]: the simplekvm VM commands. Each route's input (api/inputs.hpp)
// names the parameters it takes: like simplekvm, any other query parameter is an error (998);
// `k`, `e` and `l` (tenant link parts) are ignored.
// The tenant routes /user/vm/<cmd>/<host>/<uuid> (api-compat.md) run the same handlers: the
// tenant guard (api/tenant_guard.hpp) has checked the link against the VM in the path and the
// command against the link's rights before they are called.
#include <algorithm>
#include <functional>
#include <set>
#include <string_view>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "api/inputs.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "auth/links.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::api {
namespace {

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

// What every VM reply of simplekvm carries besides its own fields: `desc` (its UI shows it
// after each action) and `uuid` (its UI makes it the current VM; a reply without one clears it).
nlohmann::json vm_fields(const Request& req, std::string desc, nlohmann::json fields = nlohmann::json::object()) {
    if (!fields.contains("desc")) fields["desc"] = std::move(desc);
    fields["uuid"] = uuid_of(req);
    return fields;
}

Reply vm_read(const Request& req, const Result<nlohmann::json>& r, std::string desc) {
    return r ? Reply::ok(vm_fields(req, std::move(desc), *r)) : Reply::error(r.error());
}

// A change to a VM (its input checked by the router): service called, outcome audited; `done`
// says what happened ("started", "stopped", ...).
template <typename Fn>
Reply vm_change(ApiContext& ctx, Request& req, const char* action, const std::string& done, Fn fn) {
    return audited(ctx, req, fmt::format("vm.{}", action), host_of(req) + "/" + uuid_of(req), fn(),
                   vm_fields(req, fmt::format("{} VM {}", done, uuid_of(req))));
}

// A JSON object body, where an empty body means {} (simplekvm's clients often send none).
// simplekvm's older names vm_ip and vm_gw stand for vm_ipaddr and vm_gateway.
Result<nlohmann::json> optional_body(const ApiContext& ctx, const Request& req) {
    if (req.body.empty()) return nlohmann::json::object();
    auto body = parse_json_object(req.body, ctx.config.http.json_depth_limit);
    if (!body) return body;
    for (auto [old_name, name] : {std::pair{"vm_ip", "vm_ipaddr"}, std::pair{"vm_gw", "vm_gateway"}}) {
        auto it = body->find(old_name);
        if (it == body->end()) continue;
        if (!body->contains(name)) (*body)[name] = *it;
        body->erase(old_name);
    }
    return body;
}

// The device a command names: in the path (simplekvm's older form) or in `dev`.
std::string dev_of(const Request& req) {
    const std::string* in_path = req.param("dev");
    return in_path ? *in_path : query_or(req, "dev");
}

// "no template of host h reads x, y" for the variables of `body` that no template of the host
// reads (most likely a typo: said, never refused); "" when all are read.
std::string unread_warning(ApiContext& ctx, const std::string& host, const nlohmann::json& body) {
    std::vector<std::string> names;
    for (const auto& [key, value] : body.items()) names.push_back(key);
    auto unread = ctx.catalog.unread_variables(host, names);
    if (!unread || unread->empty()) return {};
    return fmt::format("no template of host {} reads {}", host, fmt::join(*unread, ", "));
}

Reply vm_create(ApiContext& ctx, Request& req) {
    auto body = optional_body(ctx, req);
    if (!body) return Reply::error(body.error());
    // The machine type must be one of the host's architecture (an unknown host: the service says so).
    if (auto record = ctx.catalog.host(host_of(req)); record)
        if (auto ok = check_for_arch(*body, record->value("arch", "x86_64")); !ok)
            return audited(ctx, req, "vm.create", host_of(req), ok);
    const std::string* key = req.header("idempotency-key");
    auto uuid = ctx.vms.create(host_of(req), *body, req.principal, key ? *key : "");
    if (!uuid) return audited(ctx, req, "vm.create", host_of(req), tl::unexpected(uuid.error()));
    nlohmann::json fields = {{"desc", fmt::format("created VM {} on host {}", *uuid, host_of(req))}, {"uuid", *uuid}};
    if (std::string warn = unread_warning(ctx, host_of(req), *body); !warn.empty()) fields["warn"] = warn;
    return audited(ctx, req, "vm.create", host_of(req) + "/" + *uuid, {}, fields);
}

Reply vm_list_all(ApiContext& ctx, Request&) {
    return with_fields(ctx.vms.list_cached());
}

Reply vm_list_host(ApiContext& ctx, Request& req) {
    return with_fields(ctx.vms.list_host(host_of(req)));
}

Reply vm_list_one(ApiContext& ctx, Request& req) {
    return with_fields(ctx.vms.list_guest(host_of(req), uuid_of(req)));
}

Reply vm_xml(ApiContext& ctx, Request& req) {
    auto xml = ctx.vms.xml(host_of(req), uuid_of(req));
    return xml ? Reply::ok(vm_fields(req, "domain XML of VM " + uuid_of(req), {{"xml", *xml}}))
               : Reply::error(xml.error());
}

Reply vm_start(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "start", "started", [&] { return ctx.vms.start(host_of(req), uuid_of(req)); });
}

Reply vm_reset(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "reset", "reset", [&] { return ctx.vms.reset(host_of(req), uuid_of(req)); });
}

// `forced` powers off whatever `force` says (a tenant's POST stop); else `force=true` does.
Reply stop_vm(ApiContext& ctx, Request& req, bool forced) {
    const bool force = forced || query_or(req, "force") == "true";  // the input allows true or false
    return vm_change(ctx, req, "stop", force ? "powered off" : "asked to shut down",
                     [&] { return ctx.vms.stop(host_of(req), uuid_of(req), force); });
}

Reply vm_stop(ApiContext& ctx, Request& req) {
    return stop_vm(ctx, req, false);
}

Reply vm_stop_forced(ApiContext& ctx, Request& req) {
    return stop_vm(ctx, req, true);
}

Reply vm_delete(ApiContext& ctx, Request& req) {
    auto failed = ctx.vms.remove(host_of(req), uuid_of(req));
    const std::string target = host_of(req) + "/" + uuid_of(req);
    if (!failed) return audited(ctx, req, "vm.delete", target, tl::unexpected(failed.error()));
    return audited(ctx, req, "vm.delete", target, {},
                   vm_fields(req, fmt::format("deleted VM {}", uuid_of(req)), {{"failed", *failed}}));
}

Reply vm_desc(ApiContext& ctx, Request& req) {
    // An empty vm_desc clears the description; none at all is a mistake, not a silent clear.
    if (req.query_param("vm_desc") == nullptr)
        return audited(ctx, req, "vm.desc", host_of(req) + "/" + uuid_of(req),
                       fail(Errc::BadInput, "vm_desc", "'vm_desc' is missing (an empty one clears the description)"));
    return vm_change(ctx, req, "desc", "changed the description of",
                     [&] { return ctx.vms.set_description(host_of(req), uuid_of(req), query_or(req, "vm_desc")); });
}

Reply vm_setmem(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "setmem", "changed the memory of",
                     [&] { return ctx.vms.set_memory(host_of(req), uuid_of(req), query_or(req, "vm_ram_mb")); });
}

Reply vm_setcpu(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "setcpu", "changed the vCPUs of",
                     [&] { return ctx.vms.set_vcpus(host_of(req), uuid_of(req), query_or(req, "vm_vcpus")); });
}

Reply vm_metadata(ApiContext& ctx, Request& req) {
    auto body = optional_body(ctx, req);
    if (!body) return Reply::error(body.error());
    // As simplekvm, the reply always has `warn` ("" when there is nothing to say).
    return audited(ctx, req, "vm.metadata", host_of(req) + "/" + uuid_of(req),
                   ctx.vms.merge_metadata(host_of(req), uuid_of(req), *body),
                   vm_fields(req, fmt::format("changed the metadata of VM {}", uuid_of(req)),
                             {{"warn", unread_warning(ctx, host_of(req), *body)}}));
}

Reply vm_snapshot_list(ApiContext& ctx, Request& req) {
    return vm_read(req, ctx.vms.snapshots(host_of(req), uuid_of(req)), "snapshots of VM " + uuid_of(req));
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
    return vm_change(ctx, req, "snapshot", "took snapshot " + name + " of",
                     [&] { return ctx.vms.create_snapshot(host_of(req), uuid_of(req), name); });
}

Reply vm_snapshot_revert(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "revert_snapshot", "reverted to snapshot " + query_or(req, "name") + ":",
                     [&] { return ctx.vms.revert_snapshot(host_of(req), uuid_of(req), query_or(req, "name")); });
}

Reply vm_snapshot_delete(ApiContext& ctx, Request& req) {
    return vm_change(ctx, req, "delete_snapshot", "deleted snapshot " + query_or(req, "name") + " of",
                     [&] { return ctx.vms.delete_snapshot(host_of(req), uuid_of(req), query_or(req, "name")); });
}

Reply vm_blksize(ApiContext& ctx, Request& req) {
    const std::string dev = query_or(req, "dev");
    auto size = ctx.vms.block_size(host_of(req), uuid_of(req), dev);
    if (size) (*size)["dev"] = dev;
    return vm_read(req, size, fmt::format("size of {} of VM {}", dev, uuid_of(req)));
}

Reply vm_netstat(ApiContext& ctx, Request& req) {
    const std::string dev = query_or(req, "dev");
    auto stats = ctx.vms.net_stats(host_of(req), uuid_of(req), dev);
    if (stats) (*stats)["dev"] = dev;
    return vm_read(req, stats, fmt::format("counters of NIC {} of VM {}", dev, uuid_of(req)));
}

Reply vm_ipaddr(ApiContext& ctx, Request& req) {
    return vm_read(req, ctx.vms.addresses(host_of(req), uuid_of(req)), "addresses of VM " + uuid_of(req));
}

// simplekvm's attach_device: progress lines, the last one the JSON result (an error found once
// the work has started comes as that last line, after the 200). What is known before the stream
// starts (unknown VM, host, device or gold, a bad size) is answered with a real status.
Reply vm_attach_device(ApiContext& ctx, Request& req) {
    const std::string dev = query_or(req, "dev");
    auto body = optional_body(ctx, req);
    if (!body) return Reply::error(body.error());
    if (auto ok = ctx.vms.check_attach(host_of(req), uuid_of(req), dev, *body); !ok)
        return audited(ctx, req, "vm.attach_device", host_of(req) + "/" + uuid_of(req), ok);
    return Reply::streamed([&ctx, req, device = dev, vars = std::move(*body)](const http::StreamWrite& write) {
        auto line = [&write](std::string_view text) { return write(std::string(text) + "\n"); };
        auto attached = ctx.vms.attach_device(host_of(req), uuid_of(req), device, vars, line);
        const std::string target = host_of(req) + "/" + uuid_of(req);
        Reply last = attached ? audited(ctx, req, "vm.attach_device", target, {}, vm_fields(req, "", *attached))
                              : audited(ctx, req, "vm.attach_device", target, tl::unexpected(attached.error()));
        write(last.body + "\n");
    });
}

Reply vm_detach_device(ApiContext& ctx, Request& req) {
    auto detached = ctx.vms.detach_device(host_of(req), uuid_of(req), dev_of(req));
    const std::string target = host_of(req) + "/" + uuid_of(req);
    if (!detached) return audited(ctx, req, "vm.detach_device", target, tl::unexpected(detached.error()));
    return audited(ctx, req, "vm.detach_device", target, {}, vm_fields(req, "", *detached));
}

Reply vm_cdrom(ApiContext& ctx, Request& req) {
    const std::string dev = dev_of(req);
    auto body = optional_body(ctx, req);
    if (!body) return Reply::error(body.error());
    const std::string isoname = string_or_empty(*body, "isoname");  // the input allows a name or nothing
    return audited(
        ctx, req, "vm.cdrom", host_of(req) + "/" + uuid_of(req),
        ctx.vms.change_cdrom(host_of(req), uuid_of(req), dev, isoname),
        vm_fields(req,
                  fmt::format("{} VM {}'s CD-ROM {}",
                              isoname.empty() ? "put the cidata ISO in" : "put " + isoname + " in", uuid_of(req), dev),
                  {{"dev", dev}, {"isoname", isoname}}));
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
    using namespace http;
    const Input none = Input::none().ignore_query({"k", "e", "l"});
    const Input vm = vm_command();
    const Input dev = vm_command().query(token("dev", 64).need().eg("vda"));
    Input create = host_path().ignore_query({"k", "e", "l"}).json(Extras::TemplateVars, true);
    Input metadata = vm_command().json(Extras::TemplateVars, true);
    for (const Field& f : vm_variables()) {
        create.body(f);
        metadata.body(f);
    }
    Input attach = vm_command().query(name("dev").need().eg("disk.file")).json(Extras::TemplateVars, true);
    for (const Field& f : attach_variables()) attach.body(f);
    const Input cdrom =
        vm_command().query(token("dev", 64).need().eg("hdc")).json(Extras::Ignore, true).body(name("isoname").eg(""));
    const Input snapshot_name = vm_command().query(name("name").need().eg("s1"));
    std::vector<Route> routes{
        Route{Method::Post, "/vm/create/{host}", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, vm_create),
              0}
            .accepts(create),
        Route{Method::Get, "/vm/list/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, vm_list_all), 0}
            .accepts(none),
        Route{Method::Get, "/vm/list/{host}", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, vm_list_host), 0}
            .accepts(host_path().ignore_query({"k", "e", "l"})),
        Route{Method::Get, "/vm/list/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin,
              bind(ctx, vm_list_one), 0}
            .accepts(vm),
        Route{Method::Get, "/vm/snapshot/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin,
              bind(ctx, vm_snapshot_list), 0}
            .accepts(vm),
        Route{Method::Post, "/vm/snapshot/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, vm_snapshot_create), 0}
            .accepts(vm_command().query(name("name").eg("s1"))),
        Route{Method::Post, "/vm/metadata/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, vm_metadata), 0}
            .accepts(metadata),
        Route{Method::Get, "/vm/blksize/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin,
              bind(ctx, vm_blksize), 0}
            .accepts(dev),
        Route{Method::Get, "/vm/netstat/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin,
              bind(ctx, vm_netstat), 0}
            .accepts(dev),
        Route{Method::Get, "/vm/ipaddr/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin,
              bind(ctx, vm_ipaddr), 0}
            .accepts(vm),
        Route{Method::Post, "/vm/attach_device/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, vm_attach_device), 0}
            .accepts(attach),
        Route{Method::Post, "/vm/cdrom/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, vm_cdrom), 0}
            .accepts(cdrom),
        // simplekvm's older path forms, the device in the path (a `dev` in the body is ignored).
        Route{Method::Post, "/vm/cdrom/{host}/{uuid}/{dev}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, vm_cdrom), 0}
            .accepts(
                vm_command().path(token("dev", 64).eg("hdc")).json(Extras::Ignore, true).body(name("isoname").eg(""))),
        Route{Method::Post, "/vm/detach_device/{host}/{uuid}/{dev}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, vm_detach_device), 0}
            .accepts(vm_command().path(token("dev", 64).eg("vdz")).json(Extras::Ignore, true)),
    };
    // simplekvm used GET for these changes; POST is accepted as well.
    const std::tuple<const char*, http::Reply (*)(ApiContext&, Request&), Input> changes[] = {
        {"xml", vm_xml, vm},
        {"start", vm_start, vm},
        {"reset", vm_reset, vm},
        {"stop", vm_stop, vm_command().query(boolean("force"))},
        {"delete", vm_delete, vm},
        {"desc", vm_desc, vm_command().query(text("vm_desc", 1024).eg("a <b> & 'c'"))},
        {"setmem", vm_setmem, vm_command().query(integer("vm_ram_mb", 1, 16 << 20).need().eg("64"))},
        {"setcpu", vm_setcpu, vm_command().query(integer("vm_vcpus", 1, 1024).need())},
        {"revert_snapshot", vm_snapshot_revert, snapshot_name},
        {"delete_snapshot", vm_snapshot_delete, snapshot_name},
        {"detach_device", vm_detach_device, vm_command().query(token("dev", 64).need().eg("vdz"))},
    };
    for (const auto& [cmd, fn, input] : changes)
        for (Method m : {Method::Get, Method::Post})
            routes.push_back(Route{m, fmt::format("/vm/{}/{{host}}/{{uuid}}", cmd), Access::Admin, Effect::Changes,
                                   Surface::Admin, bind(ctx, fn), 0}
                                 .accepts(input));

    // A tenant's commands on the one VM of its link. GET stop shuts down gracefully unless
    // force=true; POST stop powers off (api-compat.md). The ISO catalog route is in routes_catalog.cpp.
    const std::tuple<Method, const char*, Effect, http::Reply (*)(ApiContext&, Request&), Input> tenant[] = {
        {Method::Get, "list", Effect::Reads, user_list, vm},
        {Method::Get, "start", Effect::Changes, vm_start, vm},
        {Method::Post, "start", Effect::Changes, vm_start, vm},
        {Method::Get, "reset", Effect::Changes, vm_reset, vm},
        {Method::Post, "reset", Effect::Changes, vm_reset, vm},
        {Method::Get, "stop", Effect::Changes, vm_stop, vm_command().query(boolean("force"))},
        {Method::Post, "stop", Effect::Changes, vm_stop_forced, vm_command().query(boolean("force"))},
        {Method::Get, "snapshot", Effect::Reads, user_snapshot_list, vm},
        {Method::Post, "snapshot", Effect::Changes, vm_snapshot_create, vm_command().query(name("name").eg("s1"))},
        {Method::Get, "revert_snapshot", Effect::Changes, vm_snapshot_revert, snapshot_name},
        {Method::Post, "revert_snapshot", Effect::Changes, vm_snapshot_revert, snapshot_name},
        {Method::Get, "delete_snapshot", Effect::Changes, vm_snapshot_delete, snapshot_name},
        {Method::Post, "delete_snapshot", Effect::Changes, vm_snapshot_delete, snapshot_name},
        {Method::Post, "cdrom", Effect::Changes, vm_cdrom, cdrom},
    };
    for (const auto& [m, cmd, effect, fn, input] : tenant)
        routes.push_back(Route{m, fmt::format("/user/vm/{}/{{host}}/{{uuid}}", cmd), Access::Tenant, effect,
                               Surface::Tenant, bind(ctx, fn), 0}
                             .accepts(input));
    return routes;
}

}  // namespace kvmhub::api
