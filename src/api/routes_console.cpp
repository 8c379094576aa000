// Browser consoles: /vm/display/ mints a console ticket and the page URL (admin);
// /vm/websockify/ takes the ticket back and becomes the websocket bridge (the ticket is the
// credential: noVNC cannot send an Authorization header); /vm/console_log/ follows the serial
// log read-only (admin; browsers send the token cookie with the websocket request);
// /api/hosts/<host>/ssh_hostkey shows or forgets the ssh host key pinned for a host whose
// consoles are reached through ssh (admin).
#include <fmt/format.h>

#include "api/routes.hpp"
#include "auth/audit.hpp"
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

Status only_params(const Request& req, std::initializer_list<const char*> allowed) {
    for (const auto& [name, value] : req.query) {
        bool known = name == "k" || name == "e";
        for (const char* a : allowed) known = known || name == a;
        if (!known)
            return fail(Errc::BadInput, name, fmt::format("unknown parameter '{}' for this command", name), 998);
    }
    return {};
}

Status need_websocket(const Request& req) {
    if (http::is_websocket_request(req)) return {};
    return fail(Errc::BadInput, "upgrade",
                "this is a websocket endpoint: connect with a websocket client (GET with Upgrade: websocket)");
}

// The reply for a websocket request: a bridge for `plan`, or the refusal. Refusals carry an
// upgrade too, so a browser learns the reason from the close frame (4000 + HTTP status).
Reply bridge_reply(const Result<console::SessionPlan>& plan) {
    auto up = std::make_shared<http::WebsocketUpgrade>();
    if (!plan) {
        Reply refused = Reply::error(plan.error());
        up->refuse_code = 4000 + http::http_status(plan.error().code);
        up->refuse_reason = plan.error().desc;
        refused.upgrade = std::move(up);
        return refused;
    }
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

Reply vm_display(ApiContext& ctx, Request& req) {
    if (auto ok = only_params(req, {"disp", "prefix", "timeout_mins"}); !ok) return Reply::error(ok.error());
    console::DisplayRequest display{param_or_empty(req, "host"), param_or_empty(req, "uuid"),
                                    query_or_empty(req, "disp"), query_or_empty(req, "prefix"),
                                    query_or_empty(req, "timeout_mins")};
    auto shown = ctx.consoles.display(display);
    const std::string target = display.host + "/" + display.uuid;
    if (!shown) return audited(ctx, req, "vm.display", target, tl::unexpected(shown.error()));
    // The ticket is a credential: the audit log names the console, never the ticket.
    ctx.audit.record(auth::AuditEntry{req.principal.empty() ? "-" : req.principal, "vm.display", target,
                                      "ok " + shown->value("disp", ""), req.request_id});
    return Reply::ok(*shown);
}

Reply vm_websockify(ApiContext& ctx, Request& req) {
    if (auto ok = need_websocket(req); !ok) return Reply::error(ok.error());
    if (auto ok = only_params(req, {"ticket", "disp"}); !ok) return bridge_reply(tl::unexpected(ok.error()));
    const std::string host = param_or_empty(req, "host");
    const std::string uuid = param_or_empty(req, "uuid");
    auto plan = ctx.consoles.open(host, uuid, query_or_empty(req, "ticket"), query_or_empty(req, "disp"));
    ctx.audit.record(
        auth::AuditEntry{"ticket", "vm.console", host + "/" + uuid, plan ? "ok" : plan.error().desc, req.request_id});
    return bridge_reply(plan);
}

Reply vm_console_log(ApiContext& ctx, Request& req) {
    if (auto ok = need_websocket(req); !ok) return Reply::error(ok.error());
    if (auto ok = only_params(req, {}); !ok) return bridge_reply(tl::unexpected(ok.error()));
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
    return {
        {Method::Get, "/vm/display/{host}/{uuid}", Access::Admin, Surface::Admin, bind(ctx, vm_display), 0},
        {Method::Get, "/vm/websockify/{host}/{uuid}", Access::Public, Surface::Admin, bind(ctx, vm_websockify), 0},
        {Method::Get, "/vm/console_log/{host}/{uuid}", Access::Admin, Surface::Admin, bind(ctx, vm_console_log), 0},
        {Method::Get, "/api/hosts/{host}/ssh_hostkey", Access::Admin, Surface::Admin, bind(ctx, ssh_hostkey_show), 0},
        {Method::Delete, "/api/hosts/{host}/ssh_hostkey", Access::Admin, Surface::Admin, bind(ctx, ssh_hostkey_forget),
         0},
    };
}

}  // namespace kvmhub::api
