// Tenant links, the admin side: ctrl_url makes one (simplekvm's route), /api/links lists a VM's
// links, revokes one, and rotates the signing key. The tenant side is the /user/vm/* routes.
#include <charconv>
#include <ctime>

#include <fmt/format.h>

#include "api/inputs.hpp"
#include "api/routes.hpp"
#include "auth/links.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::api {
namespace {

std::string param(const Request& req, const char* name) {
    const std::string* value = req.param(name);
    return value ? *value : std::string();
}

// simplekvm's "expire": local time, "YYYY-mm-dd HH:MM:SS".
std::string local_time(std::int64_t seconds) {
    const auto t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    if (localtime_r(&t, &tm) == nullptr) return std::to_string(seconds);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
    return text;
}

// The scheme tenants reach CTRL_SRV with: https when the listener serving tenants has TLS.
std::string tenant_scheme(const Config& config) {
    for (const ListenerConfig& l : config.listeners)
        for (Surface s : l.surfaces)
            if (s == Surface::Tenant) return !l.tls_cert.empty() && !l.tls_key.empty() ? "https" : "http";
    return "http";
}

// The expiry in Unix seconds; the route's input made it a whole number.
std::int64_t epoch_param(const Request& req) {
    const std::string& text = *req.query_param("epoch");
    std::int64_t epoch = 0;
    std::from_chars(text.data(), text.data() + text.size(), epoch);
    return epoch;
}

std::vector<std::string> rights_param(const Request& req) {
    std::vector<std::string> out;
    const std::string* text = req.query_param("rights");
    if (text == nullptr) return out;
    std::string_view rest(*text);
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        if (auto item = rest.substr(0, comma); !item.empty()) out.emplace_back(item);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    return out;
}

nlohmann::json link_view(const auth::Link& link, std::int64_t now) {
    nlohmann::json j = link.to_json();
    j["expire"] = local_time(link.expiry);
    j["state"] = link.revoked ? "revoked" : now >= link.expiry ? "expired" : "active";
    return j;
}

Reply ctrl_url(ApiContext& ctx, Request& req) {
    const std::string host = param(req, "host"), uuid = param(req, "uuid");
    const std::string target = host + "/" + uuid;
    const std::int64_t epoch = epoch_param(req);
    // The VM must exist now (the cache answers, else the host): no links to typos.
    if (auto vm = ctx.vms.list_guest(host, uuid); !vm)
        return audited(ctx, req, "link.create", target, tl::unexpected(vm.error()));
    auto issued = ctx.links.create(host, uuid, epoch, req.principal, rights_param(req));
    if (!issued) return audited(ctx, req, "link.create", target, tl::unexpected(issued.error()));
    // simplekvm's shape: `url` is the page, its UI appends "?token=" + token; `link` is the whole link.
    const std::string url = fmt::format("{}://{}/guest.html", tenant_scheme(ctx.config), ctx.config.ctrl_srv);
    return audited(ctx, req, "link.create", target + "/link/" + issued->link.id, {},
                   {{"desc", fmt::format("tenant link {} to VM {}", issued->link.id, uuid)},
                    {"uuid", uuid},
                    {"url", url},
                    {"link", url + "?token=" + issued->token},
                    {"token", issued->token},
                    {"expire", local_time(issued->link.expiry)},
                    {"id", issued->link.id},
                    {"expiry", issued->link.expiry},
                    {"rights", issued->link.rights}});
}

Reply links_list(ApiContext& ctx, Request& req) {
    auto links = ctx.links.list(*req.query_param("host"), *req.query_param("uuid"));  // required by the input
    if (!links) return Reply::error(links.error());
    const std::int64_t now = ctx.clock.now_seconds();
    nlohmann::json out = nlohmann::json::array();
    for (const auth::Link& link : *links) out.push_back(link_view(link, now));
    return Reply::ok({{"links", out}});
}

Reply links_revoke(ApiContext& ctx, Request& req) {
    const std::string id = param(req, "id");
    auto link = ctx.links.revoke(id, req.principal);
    if (!link) return audited(ctx, req, "link.revoke", "link/" + id, tl::unexpected(link.error()));
    return audited(ctx, req, "link.revoke", link->host + "/" + link->uuid + "/link/" + id, {},
                   {{"link", link_view(*link, ctx.clock.now_seconds())}});
}

Reply links_rotate(ApiContext& ctx, Request& req) {
    auto rotated = ctx.links.rotate();
    if (!rotated) return audited(ctx, req, "link.rotate", "keys", tl::unexpected(rotated.error()));
    nlohmann::json fields = {{"key", rotated->key_id}};
    if (!rotated->previous_id.empty()) {
        fields["previous"] = rotated->previous_id;
        fields["previous_valid_until"] = rotated->previous_until;
        fields["previous_expire"] = local_time(rotated->previous_until);
    }
    return audited(ctx, req, "link.rotate", "key/" + rotated->key_id, {}, fields);
}

}  // namespace

std::vector<http::Route> link_routes(ApiContext& ctx) {
    using namespace http;
    // Rights are a comma list of command names; the link service checks each one.
    const Input create = vm_path()
                             .query(integer("epoch", 0, std::int64_t{1} << 40).need().eg("4102444800"))
                             .query(token("rights", 256).eg("start,stop"));
    return {
        Route{Method::Get, "/vm/ctrl_url/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, ctrl_url), 0}
            .accepts(create),
        Route{Method::Post, "/vm/ctrl_url/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, ctrl_url), 0}
            .accepts(create),
        // simplekvm's older name of ctrl_url.
        Route{Method::Get, "/vm/ui/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, ctrl_url),
              0}
            .accepts(create),
        Route{Method::Post, "/vm/ui/{host}/{uuid}", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, ctrl_url),
              0}
            .accepts(create),
        Route{Method::Get, "/api/links", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, links_list), 0}
            .accepts(Input::none().query(name("host").need().eg("h1")).query(uuid("uuid").need())),
        Route{Method::Delete, "/api/links/{id}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, links_revoke), 0}
            .accepts(Input::none().path(token("id", 64))),
        Route{Method::Post, "/api/links/rotate", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, links_rotate), 0}
            .accepts(Input::none()),
    };
}

}  // namespace kvmhub::api
