// Catalog routes (simplekvm paths): hosts (a deleted host takes its VM cache along), gold
// images, ISOs, and the /tpl/ listings (the ISO one for tenants too).
#include <algorithm>

#include "api/inputs.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "catalog/catalog.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::api {
namespace {

const std::vector<std::string> kArches{"x86_64", "aarch64"};

// Answers `{"<field>": value}` or the error.
template <typename T>
Reply listing(const char* field, const Result<T>& value, nlohmann::json extra = nlohmann::json::object()) {
    if (!value) return Reply::error(value.error());
    extra[field] = *value;
    return Reply::ok(extra);
}

std::string param(const Request& req, const char* name) {
    const std::string* value = req.param(name);
    return value ? *value : std::string();
}

Reply host_put(ApiContext& ctx, Request& req) {
    auto body = parse_json_object(req.body, ctx.config.http.json_depth_limit);
    if (!body) return Reply::error(body.error());
    auto name = ctx.catalog.put_host(*body);
    const std::string target = string_or_empty(*body, "name");
    if (!name) return audited(ctx, req, "host.put", target, tl::unexpected(name.error()));
    return audited(ctx, req, "host.put", *name, {}, {{"desc", "saved host " + *name}, {"name", *name}});
}

Reply host_delete(ApiContext& ctx, Request& req) {
    const std::string name = *req.query_param("name");  // required by the route's input
    Status deleted = ctx.catalog.delete_host(name);
    if (deleted) ctx.vms.forget_host(name);
    return audited(ctx, req, "host.delete", name, deleted, {{"desc", "deleted host " + name}, {"name", name}});
}

Reply gold_put(ApiContext& ctx, Request& req) {
    auto body = parse_json_object(req.body, ctx.config.http.json_depth_limit);
    if (!body) return Reply::error(body.error());
    const std::string name = string_or_empty(*body, "name"), arch = string_or_empty(*body, "arch");
    return audited(ctx, req, "gold.put", arch + "/" + name, ctx.catalog.put_gold(*body),
                   {{"desc", "saved gold image " + name + " (" + arch + ")"}, {"name", name}, {"arch", arch}});
}

Reply gold_delete(ApiContext& ctx, Request& req) {
    const std::string name = *req.query_param("name"), arch = *req.query_param("arch");  // required
    return audited(ctx, req, "gold.delete", arch + "/" + name, ctx.catalog.delete_gold(name, arch),
                   {{"desc", "deleted gold image " + name + " (" + arch + ")"}, {"name", name}, {"arch", arch}});
}

Reply iso_put(ApiContext& ctx, Request& req) {
    auto body = parse_json_object(req.body, ctx.config.http.json_depth_limit);
    if (!body) return Reply::error(body.error());
    const std::string name = string_or_empty(*body, "name");
    return audited(ctx, req, "iso.put", name, ctx.catalog.put_iso(*body),
                   {{"desc", "saved ISO " + name}, {"name", name}});
}

Reply iso_delete(ApiContext& ctx, Request& req) {
    const std::string name = *req.query_param("name");  // required by the route's input
    return audited(ctx, req, "iso.delete", name, ctx.catalog.delete_iso(name),
                   {{"desc", "deleted ISO " + name}, {"name", name}});
}

// How the host's libvirt calls went lately: a host that answers, but slowly, shows here, and
// one that does not answer at all is `"reachable": false` (absent until a first call told).
nlohmann::json libvirt_state(const std::map<std::string, virt::HostCallStats>& calls, const std::string& host) {
    auto it = calls.find(host);
    if (it == calls.end()) return {{"calls", 0}, {"timeouts", 0}, {"slow", false}, {"in_flight", 0}, {"stuck", 0}};
    const auto& s = it->second;
    nlohmann::json out = {{"calls", s.calls},
                          {"timeouts", s.timeouts},
                          {"slow", s.slow()},
                          {"in_flight", s.in_flight},
                          {"stuck", s.stuck}};
    if (s.known()) out["reachable"] = s.reachable();
    if (s.calls == 0) return out;
    out["last_op"] = s.last_op;
    out["last_call_ms"] = s.last_ms;
    out["last_call_at"] = s.last_at_ms;
    out["last_timed_out"] = s.last_timed_out;
    if (s.last_timeout_at_ms) out["last_timeout_at"] = s.last_timeout_at_ms;
    return out;
}

Reply tpl_host(ApiContext& ctx, Request&) {
    auto hosts = ctx.catalog.host_view();
    if (hosts) {
        const auto calls = ctx.vms.host_calls();
        for (auto& h : *hosts) h["libvirt"] = libvirt_state(calls, h.value("name", ""));
    }
    return listing("host", hosts);
}

// A well-formed name that matches nothing lists nothing, as in simplekvm (its UI asks for the
// devices and golds of whatever it shows); the route's input refuses a malformed one.
Reply tpl_device(ApiContext& ctx, Request& req) {
    auto view = ctx.catalog.device_view(param(req, "host"));
    if (!view && view.error().code == Errc::NotFound)
        return listing("device", Result<nlohmann::json>(nlohmann::json::array()));
    return listing("device", view);
}

Reply tpl_gold(ApiContext& ctx, Request& req) {
    const std::string arch = param(req, "arch");
    const nlohmann::json server = {{"server", ctx.config.gold_srv}};
    if (!arch.empty() && std::find(kArches.begin(), kArches.end(), arch) == kArches.end())
        return listing("gold", Result<nlohmann::json>(nlohmann::json::array()), server);
    return listing("gold", ctx.catalog.golds(arch), server);
}

Reply tpl_iso(ApiContext& ctx, Request&) {
    return listing("iso", ctx.catalog.isos(), {{"server", ctx.config.meta_srv}});
}

// The tenant's view of the ISO catalog, for changing its VM's CD-ROM; audited like every tenant call.
Reply user_getiso(ApiContext& ctx, Request& req) {
    return audit_reply(ctx, req, "iso.list", param(req, "host") + "/" + param(req, "uuid"), tpl_iso(ctx, req));
}

}  // namespace

namespace {

// The catalog routes ignore query parameters they do not take, as simplekvm did.
http::Input catalog_input() {
    return http::Input::none().other_query(http::Extras::Ignore);
}

}  // namespace

std::vector<http::Route> catalog_routes(ApiContext& ctx) {
    using namespace http;
    // Types and lengths only; what a value means (a reachable URL, a known template) is the
    // catalog's to check, which restore uses too.
    const Input host_body = catalog_input()
                                .json(Extras::Flags)
                                .body(name("name").need().eg("h2"))
                                .body(name("tpl").need().eg("domain"))
                                .body(text("url", 1024).need().eg("test:///default"))
                                .body(one_of("arch", kArches).need())
                                .body(text("ipaddr", 253).need().eg("127.0.0.1"))
                                .body(integer("sshport", 1, 65535).need().eg("22"))
                                .body(name("sshuser").need().eg("root"))
                                .body(name("pool").eg("kvmhub"))
                                .body(text("pool_path", 1024).eg("/var/lib/kvmhub/pool"))
                                // url/pool and auto/ssh/off: the catalog explains them when wrong.
                                .body(name("meta_iso").eg("url"))
                                .body(name("console_tunnel").eg("auto"));
    const Input gold_body = catalog_input()
                                .json(Extras::Ignore)
                                .body(name("name").need().eg("g1"))
                                .body(one_of("arch", kArches).need())
                                .body(text("uri", 2048).need().eg("file:///nonexistent/g1.qcow2"))
                                .body(text("desc", 1024));
    const Input iso_body = catalog_input()
                               .json(Extras::Ignore)
                               .body(name("name").need().eg("i1"))
                               .body(text("uri", 2048).need().eg("http://127.0.0.1:9/i1.iso"))
                               .body(text("desc", 1024));
    return {
        Route{Method::Post, "/conf/host/", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, host_put), 0}
            .accepts(host_body),
        Route{Method::Delete, "/conf/host/", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, host_delete), 0}
            .accepts(catalog_input().query(name("name").need().eg("nohost"))),
        Route{Method::Post, "/conf/gold/", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, gold_put), 0}
            .accepts(gold_body),
        Route{Method::Delete, "/conf/gold/", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, gold_delete), 0}
            .accepts(catalog_input().query(name("name").need().eg("nogold")).query(one_of("arch", kArches).need())),
        Route{Method::Post, "/conf/iso/", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, iso_put), 0}
            .accepts(iso_body),
        Route{Method::Delete, "/conf/iso/", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, iso_delete), 0}
            .accepts(catalog_input().query(name("name").need().eg("noiso"))),
        Route{Method::Get, "/tpl/host/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, tpl_host), 0}.accepts(
            catalog_input()),
        Route{Method::Get, "/tpl/device/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, tpl_device), 0}
            .accepts(catalog_input()),
        Route{Method::Get, "/tpl/device/{host}", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, tpl_device), 0}
            .accepts(host_path().other_query(Extras::Ignore)),
        Route{Method::Get, "/tpl/gold/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, tpl_gold), 0}.accepts(
            catalog_input()),
        Route{Method::Get, "/tpl/gold/{arch}", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, tpl_gold), 0}
            .accepts(catalog_input().path(name("arch").eg("x86_64"))),
        Route{Method::Get, "/tpl/iso/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, tpl_iso), 0}.accepts(
            catalog_input()),
        Route{Method::Get, "/user/vm/getiso/{host}/{uuid}", Access::Tenant, Effect::Reads, Surface::Tenant,
              bind(ctx, user_getiso), 0}
            .accepts(vm_command()),
    };
}

}  // namespace kvmhub::api
