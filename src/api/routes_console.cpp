// Browser consoles: /vm/display/ mints a console ticket and the page URL (admin);
// /vm/websockify/ takes the ticket back and becomes the websocket bridge (the ticket is the
// credential: noVNC cannot send an Authorization header); /vm/console_log/ follows the serial
// log read-only (admin; browsers send the token cookie with the websocket request);
// /api/hosts/<host>/ssh_hostkey shows or forgets the ssh host key pinned for a host whose
// consoles are reached through ssh (admin).
// A tenant's consoles: /user/vm/display/ mints a ticket bound to the tenant's link and answers a
// page whose websocket path is /user/vm/websockify/...?ticket=&k=&e=&l=. That route is a tenant
// route: the guard verifies the link (revoked 403, expired 410, right `console`) on every
// connection, and the ticket must have been minted for that very link. So a ticket alone opens
// nothing on the tenant route, and a link alone opens nothing either.
#include <cstdlib>

#include <fmt/format.h>

#include "api/inputs.hpp"
#include "api/routes.hpp"
#include "auth/audit.hpp"
#include "auth/base64.hpp"
#include "catalog/catalog.hpp"
#include "console/console_service.hpp"
#include "http/websocket.hpp"

namespace kvmhub::api {
namespace {

std::string param_or_empty(const Request& req, const char* name) {
    const std::string* v = req.param(name);
    return v ? *v : std::string();
}
std::string query_or_empty(const Request& req, const char* name) {
    const std::string* v = req.query_param(name);
    return v ? *v : std::string();
}

Status need_websocket(const Request& req) {
    if (http::is_websocket_request(req)) return {};
    return fail(Errc::BadInput, "upgrade",
                "this is a websocket endpoint: connect with a websocket client (GET with Upgrade: websocket)");
}

// The reply for a websocket request: a bridge for `plan`, or the refusal. Refusals carry an
// upgrade too, so a browser learns the reason from the close frame (4000 + HTTP status).
Reply bridge_reply(const Result<console::SessionPlan>& plan) {
    if (!plan) return http::refuse_websocket(plan.error());
    auto up = std::make_shared<http::WebsocketUpgrade>();
    up->tcp_host = plan->tcp_host;
    up->tcp_port = plan->tcp_port;
    up->pipe = plan->pipe;
    up->read_only = plan->read_only;
    up->idle_timeout = plan->idle_timeout;
    up->max_session = plan->max_session;
    up->ping_interval = plan->ping_interval;
    up->log_fields = plan->log_fields;
    if (plan->attach) up->on_open = plan->attach;
    if (plan->detach) up->on_close = plan->detach;
    Reply reply;
    reply.status = 101;
    reply.upgrade = std::move(up);
    return reply;
}

// The tenant link of a /user/vm/ request, which the tenant guard has verified: its id (from
// the principal "link:<id>"), the query the websocket path must carry, and its expiry.
struct LinkParts {
    std::string id;
    std::string query;
    std::int64_t expiry = 0;
};

LinkParts link_of(const Request& req) {
    constexpr std::string_view kPrefix = "link:";
    LinkParts link;
    if (std::string_view(req.principal).starts_with(kPrefix)) link.id = req.principal.substr(kPrefix.size());
    const std::string e = query_or_empty(req, "e");
    link.query = "k=" + query_or_empty(req, "k") + "&e=" + e + "&l=" + query_or_empty(req, "l");
    link.expiry = std::strtoll(e.c_str(), nullptr, 10);  // canonical decimal: the guard checked it
    return link;
}

// display for an admin (`tenant` false) or for the tenant link of the request.
Reply show_display(ApiContext& ctx, Request& req, bool tenant) {
    console::DisplayRequest display;
    display.host = param_or_empty(req, "host");
    display.uuid = param_or_empty(req, "uuid");
    display.disp = query_or_empty(req, "disp");
    display.prefix = query_or_empty(req, "prefix");
    display.timeout_mins = query_or_empty(req, "timeout_mins");
    if (tenant) {
        LinkParts link = link_of(req);
        display.link = std::move(link.id);
        display.link_query = std::move(link.query);
        display.link_expiry = link.expiry;
    }
    auto shown = ctx.consoles.display(display);
    const std::string target = display.host + "/" + display.uuid;
    if (!shown) return audited(ctx, req, "vm.display", target, tl::unexpected(shown.error()));
    // The ticket is a credential: the audit log names the console, never the ticket.
    ctx.audit.record(auth::AuditEntry{req.principal.empty() ? "-" : req.principal, "vm.display", target,
                                      "ok " + shown->value("disp", ""), req.request_id});
    // simplekvm's UI opens display + "/" + encodeURIComponent(atob(access) + "&token=" + token +
    // "&disp=" + disp + "&expire=" + expire); `token` is the VM there, the ticket is kvmhub's own.
    nlohmann::json out = std::move(*shown);
    out["access"] = auth::base64_encode("?" + out["query"].get<std::string>());
    out.erase("query");
    out["token"] = display.uuid;
    out["uuid"] = display.uuid;
    out["desc"] = out["disp"];
    return Reply::ok(out);
}

Reply vm_display(ApiContext& ctx, Request& req) {
    return show_display(ctx, req, false);
}

// simplekvm's older /vm/console/: display?disp=console.
Reply vm_console(ApiContext& ctx, Request& req) {
    req.query.emplace_back("disp", "console");
    return show_display(ctx, req, false);
}

Reply user_display(ApiContext& ctx, Request& req) {
    return show_display(ctx, req, true);
}

// The websocket for a ticket: an admin's (`tenant` false, the ticket is the credential) or one
// minted for the tenant link the guard verified on this request.
Reply open_console(ApiContext& ctx, Request& req, bool tenant) {
    if (auto ok = need_websocket(req); !ok) return Reply::error(ok.error());
    const std::string host = param_or_empty(req, "host");
    const std::string uuid = param_or_empty(req, "uuid");
    auto plan = ctx.consoles.open(host, uuid, query_or_empty(req, "ticket"), query_or_empty(req, "disp"),
                                  tenant ? link_of(req).id : std::string());
    ctx.audit.record(auth::AuditEntry{tenant ? req.principal : "ticket", "vm.console", host + "/" + uuid,
                                      plan ? "ok" : plan.error().desc, req.request_id});
    return bridge_reply(plan);
}

Reply vm_websockify(ApiContext& ctx, Request& req) {
    return open_console(ctx, req, false);
}

Reply user_websockify(ApiContext& ctx, Request& req) {
    return open_console(ctx, req, true);
}

Reply vm_console_log(ApiContext& ctx, Request& req) {
    if (auto ok = need_websocket(req); !ok) return Reply::error(ok.error());
    return bridge_reply(ctx.consoles.open_log(param_or_empty(req, "host"), param_or_empty(req, "uuid")));
}

// The host must exist for its pin to be shown or forgotten (a typo is a 404, not "no pin").
Reply ssh_hostkey_show(ApiContext& ctx, Request& req) {
    const std::string host = param_or_empty(req, "host");
    if (auto found = ctx.catalog.host(host); !found) return Reply::error(found.error());
    auto pin = ctx.consoles.host_keys().pinned(host);
    if (!pin) return Reply::error(pin.error());
    if (pin->is_null())
        return Reply::error(Error{Errc::NotFound, "host",
                                  "no ssh host key is pinned for host " + host +
                                      " (kvmhub pins it the first time it reaches a console through ssh)"});
    return Reply::ok(*pin);
}

Reply ssh_hostkey_forget(ApiContext& ctx, Request& req) {
    const std::string host = param_or_empty(req, "host");
    if (auto found = ctx.catalog.host(host); !found) return Reply::error(found.error());
    return audited(ctx, req, "host.ssh_hostkey.forget", host, ctx.consoles.host_keys().forget(host));
}

}  // namespace

std::vector<http::Route> console_routes(ApiContext& ctx) {
    using namespace http;
    // vnc, spice or console: the console service explains the choice when it is wrong.
    const auto disp = [] { return name("disp").eg("vnc"); };
    const Input display = vm_command()
                              .query(disp())
                              .query(text("prefix", 256).eg("/kvm"))
                              .query(integer("timeout_mins", 1, 7 * 24 * 60).eg("5"));
    // `token` and `expire`: what simplekvm's UI appends to the socket's URL (ignored).
    const Input socket =
        vm_command().query(token("ticket", 128).eg("t1")).query(disp()).ignore_query({"token", "expire"});
    return {
        Route{Method::Get, "/vm/display/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, vm_display), 0}
            .accepts(display),
        Route{Method::Get, "/vm/console/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, vm_console), 0}
            .accepts(vm_command()
                         .query(text("prefix", 256).eg("/kvm"))
                         .query(integer("timeout_mins", 1, 7 * 24 * 60).eg("5"))),
        Route{Method::Get, "/vm/websockify/{host}/{uuid}", Access::Public, Effect::Changes, Surface::Admin,
              bind(ctx, vm_websockify), 0, false, true}
            .accepts(socket),
        Route{Method::Get, "/vm/websockify/{host}/{uuid}/", Access::Public, Effect::Changes, Surface::Admin,
              bind(ctx, vm_websockify), 0, false, true}
            .accepts(socket),
        Route{Method::Get, "/vm/console_log/{host}/{uuid}", Access::Admin, Effect::Reads, Surface::Admin,
              bind(ctx, vm_console_log), 0, false, true}
            .accepts(vm_command()),
        Route{Method::Get, "/user/vm/display/{host}/{uuid}", Access::Tenant, Effect::Changes, Surface::Tenant,
              bind(ctx, user_display), 0}
            .accepts(display),
        Route{Method::Get, "/user/vm/websockify/{host}/{uuid}", Access::Tenant, Effect::Changes, Surface::Tenant,
              bind(ctx, user_websockify), 0, false, true}
            .accepts(socket),
        Route{Method::Get, "/user/vm/websockify/{host}/{uuid}/", Access::Tenant, Effect::Changes, Surface::Tenant,
              bind(ctx, user_websockify), 0, false, true}
            .accepts(socket),
        Route{Method::Get, "/api/hosts/{host}/ssh_hostkey", Access::Admin, Effect::Reads, Surface::Admin,
              bind(ctx, ssh_hostkey_show), 0}
            .accepts(host_path()),
        Route{Method::Delete, "/api/hosts/{host}/ssh_hostkey", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, ssh_hostkey_forget), 0}
            .accepts(host_path()),
    };
}

}  // namespace kvmhub::api
