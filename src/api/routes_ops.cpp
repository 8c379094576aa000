// Operations: /healthz (public), /metrics (Prometheus; metrics.allow networks or the scrape
// token), /conf/ (admin config dump).
#include <chrono>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include <sodium.h>

#include "api/routes.hpp"
#include "catalog/catalog.hpp"
#include "common/cidr.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub::api {
namespace {

// How many hosts answer, as the last calls to them went: counts only, since anyone may ask.
// Counted at most once a second: /healthz is public and polled, and counting lists the whole
// catalog (with 100 hosts, counting on every request cut /healthz from 21,900 to 4,100 req/s).
class HostCounts {
public:
    nlohmann::json get(ApiContext& ctx) {
        const auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex_);
        if (now - counted_at_ < std::chrono::seconds(1) && !counts_.is_null()) return counts_;
        counts_ = count(ctx);
        counted_at_ = now;
        return counts_;
    }

private:
    static nlohmann::json count(ApiContext& ctx) {
        auto hosts = ctx.catalog.hosts();
        if (!hosts) return nullptr;
        const auto calls = ctx.vms.host_calls();
        int up = 0, down = 0, unknown = 0;
        for (const auto& host : *hosts) {
            auto it = calls.find(host.value("name", ""));
            if (it == calls.end() || !it->second.known()) {
                ++unknown;
            } else if (it->second.reachable()) {
                ++up;
            } else {
                ++down;
            }
        }
        return {{"up", up}, {"down", down}, {"unknown", unknown}};
    }

    std::mutex mutex_;
    std::chrono::steady_clock::time_point counted_at_{};
    nlohmann::json counts_;
};

// The daemon's own health: its store. Hosts that do not answer are the fleet's trouble, not
// the daemon's, so they are counted here but never make it 503.
Reply healthz(ApiContext& ctx, HostCounts& counts, Request&) {
    auto store = ctx.store.ping();
    nlohmann::json body = {{"status", store ? "ok" : "degraded"},
                           {"store", store ? std::string("ok") : store.error().desc},
                           {"backend", ctx.store.backend()},
                           {"hosts", store ? counts.get(ctx) : nlohmann::json(nullptr)}};
    Reply reply = Reply::text(body.dump(), "application/json");
    if (!store) reply.status = 503;
    return reply;
}

// /metrics lists the fleet (host names, routes, counts): only for clients of `allowed`
// networks, or with the scrape token when one is set.
Reply metrics(ApiContext& ctx, const std::vector<Cidr>& allowed, Request& req) {
    const std::string& token = ctx.config.metrics.token;
    const std::string* authorization = req.header("authorization");
    const std::string expected = "Bearer " + token;
    const bool has_token = !token.empty() && authorization && authorization->size() == expected.size() &&
                           sodium_memcmp(authorization->data(), expected.data(), expected.size()) == 0;
    if (!has_token && !any_contains(allowed, req.client_ip))
        return Reply::error(Error{Errc::Forbidden, "metrics",
                                  "/metrics is open to the networks of metrics.allow and to its scrape token "
                                  "(metrics.token) only"});
    return Reply::text(ctx.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
}

// Adds `value` to `out` as strings under dotted keys ("auth.token_ttl"); a list is one JSON text.
void flatten(const nlohmann::json& value, const std::string& key, nlohmann::json& out) {
    if (value.is_object() && !value.empty()) {
        for (const auto& [name, item] : value.items()) flatten(item, key.empty() ? name : key + "." + name, out);
        return;
    }
    out[key] = value.is_string() ? value.get<std::string>() : value.dump();
}

// As simplekvm, `conf` is one flat map of strings (its UI shows it as a two-column table).
Reply conf(ApiContext& ctx, Request&) {
    nlohmann::json flat = nlohmann::json::object();
    flatten(config_to_json(ctx.config), "", flat);
    return Reply::ok({{"conf", flat}});
}

}  // namespace

std::vector<http::Route> ops_routes(ApiContext& ctx) {
    // None of them reads a parameter; monitoring systems add their own, which are ignored.
    const http::Input nothing = http::Input::none().other_query(http::Extras::Ignore);
    std::vector<http::Route> routes{
        http::Route{
            Method::Get, "/metrics", Access::Public, Effect::Reads, Surface::Admin,
            [&ctx, allowed = parse_cidr_list(ctx.config.metrics.allow, "metrics.allow").value_or(std::vector<Cidr>{})](
                Request& req) { return metrics(ctx, allowed, req); },
            0}
            .accepts(nothing),
        http::Route{Method::Get, "/conf/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, conf), 0}.accepts(
            nothing),
    };
    // Every listener answers health checks, whichever surfaces it serves.
    auto counts = std::make_shared<HostCounts>();
    for (Surface s : {Surface::Admin, Surface::Tenant, Surface::Metadata})
        routes.push_back(http::Route{Method::Get, "/healthz", Access::Public, Effect::Reads, s,
                                     [&ctx, counts](Request& req) { return healthz(ctx, *counts, req); }, 0}
                             .accepts(nothing));
    return routes;
}

}  // namespace kvmhub::api
