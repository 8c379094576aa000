#include "http/router.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "http/websocket.hpp"

namespace kvmhub::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    while (true) {
        auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return out;
}

bool is_param(std::string_view seg) {
    return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}
bool is_rest(std::string_view seg) {
    return is_param(seg) && seg[seg.size() - 2] == '*';
}
std::string param_name(std::string_view seg) {
    seg = seg.substr(1, seg.size() - 2);
    if (!seg.empty() && seg.back() == '*') seg.remove_suffix(1);
    return std::string(seg);
}

// Matches a path split into `parts` against a compiled pattern; fills params on success.
bool match_segments(const std::vector<std::string>& pattern, const std::vector<std::string_view>& parts,
                    Fields& params) {
    // Literals and lengths first: most routes fail there, and then no parameter is copied.
    const bool rest = !pattern.empty() && is_rest(pattern.back());
    const std::size_t fixed = rest ? pattern.size() - 1 : pattern.size();
    if (rest ? parts.size() < fixed : parts.size() != fixed) return false;
    for (std::size_t i = 0; i < fixed; ++i) {
        if (is_param(pattern[i]) ? parts[i].empty() : pattern[i] != parts[i]) return false;
    }
    params.clear();
    for (std::size_t i = 0; i < fixed; ++i)
        if (is_param(pattern[i])) params.emplace_back(param_name(pattern[i]), std::string(parts[i]));
    if (rest) {
        // The rest of the path, slashes included, possibly empty.
        std::string tail;
        for (std::size_t j = fixed; j < parts.size(); ++j) {
            if (j > fixed) tail += '/';
            tail += parts[j];
        }
        params.emplace_back(param_name(pattern.back()), std::move(tail));
    }
    return true;
}

}  // namespace

const char* access_name(Access a) {
    switch (a) {
        case Access::Unset:
            return "unset";
        case Access::Public:
            return "public";
        case Access::Admin:
            return "admin";
        case Access::Tenant:
            return "tenant";
    }
    return "unset";
}

const char* effect_name(Effect e) {
    switch (e) {
        case Effect::Reads:
            return "reads";
        case Effect::Changes:
            return "changes";
        case Effect::Unset:
            break;
    }
    return "unset";
}

void Router::add(std::vector<Route> routes) {
    for (auto& r : routes) {
        // The input is checked before the handler sees the request; a websocket route refuses
        // with a completed handshake and a close frame, as its handler's own refusals do.
        if (r.input.declared && r.handler) {
            // The hook gets the route as declared (without this wrapper), a copy of its own.
            Route declared{r.method, r.pattern, r.access, r.effect, r.surface, nullptr, r.body_limit};
            r.handler = [input = r.input, websocket = r.websocket, depth = json_depth_, hook = input_refused_,
                         declared = std::move(declared), handler = std::move(r.handler)](Request& request) {
                if (auto ok = check_input(input, request, depth); !ok) {
                    if (hook) hook(declared, request, ok.error());
                    return websocket && is_websocket_request(request) ? refuse_websocket(ok.error())
                                                                      : Reply::error(ok.error());
                }
                return handler(request);
            };
        }
        routes_.push_back(std::move(r));
    }
    sealed_ = false;
}

void Router::set_guard(Access access, std::shared_ptr<const AccessGuard> guard) {
    if (access == Access::Admin) admin_guard_ = std::move(guard);
    if (access == Access::Tenant) tenant_guard_ = std::move(guard);
}

Status Router::seal() {
    compiled_.clear();
    std::set<std::string> seen;
    for (const auto& r : routes_) {
        std::string id = fmt::format("{} {} ({})", method_name(r.method), r.pattern, surface_name(r.surface));
        if (r.access == Access::Unset) return fail(Errc::Internal, "router", "route " + id + " has no access class");
        if (r.effect == Effect::Unset)
            return fail(Errc::Internal, "router", "route " + id + " does not say whether it changes state");
        if (r.access == Access::Admin && !admin_guard_)
            return fail(Errc::Internal, "router", "route " + id + " needs the admin guard, none installed");
        if (r.access == Access::Tenant && !tenant_guard_)
            return fail(Errc::Internal, "router", "route " + id + " needs the tenant guard, none installed");
        if (!r.handler) return fail(Errc::Internal, "router", "route " + id + " has no handler");
        if (r.pattern.empty() || r.pattern.front() != '/')
            return fail(Errc::Internal, "router", "route " + id + ": pattern must start with '/'");
        if (!seen.insert(id).second) return fail(Errc::Internal, "router", "route " + id + " is declared twice");
        Compiled c;
        for (auto seg : split_path(r.pattern)) c.segments.emplace_back(seg);
        for (std::size_t i = 0; i + 1 < c.segments.size(); ++i)
            if (is_rest(c.segments[i]))
                return fail(Errc::Internal, "router", "route " + id + ": a {name*} segment must come last");
        if (!r.input.declared)
            return fail(Errc::Internal, "router",
                        "route " + id + " declares no input: add .accepts(http::Input::none()...) to it");
        std::set<std::string> params;
        for (const auto& seg : c.segments)
            if (is_param(seg)) params.insert(param_name(seg));
        std::set<std::string> declared;
        for (const auto& f : r.input.fields)
            if (f.where == Where::Path) declared.insert(f.name);
        if (params != declared)
            return fail(Errc::Internal, "router",
                        fmt::format("route {}: its input's path fields ({}) are not the pattern's parameters ({})", id,
                                    fmt::join(declared, ", "), fmt::join(params, ", ")));
        compiled_.push_back(std::move(c));
    }
    sealed_ = true;
    return {};
}

Result<Match> Router::match(Method method, std::string_view path, const std::vector<Surface>& surfaces,
                            std::string* allowed) const {
    // HEAD is served by the GET route of the same path.
    const Method wanted = method == Method::Head ? Method::Get : method;
    std::string allow;
    Match m;
    // simplekvm's paths end in '/' ("/conf/host/"); accept them with or without it.
    std::string with_slash;
    if (!path.empty() && path.back() != '/') with_slash = std::string(path) + '/';
    for (std::string_view candidate : {path, std::string_view(with_slash)}) {
        if (candidate.empty()) continue;
        // Split once, not once per route: the table has about a hundred routes.
        const auto parts = split_path(candidate);
        for (std::size_t i = 0; i < routes_.size(); ++i) {
            const Route& r = routes_[i];
            if (std::find(surfaces.begin(), surfaces.end(), r.surface) == surfaces.end() ||
                !match_segments(compiled_[i].segments, parts, m.params))
                continue;
            if (r.method == wanted) {
                m.route = &r;
                return m;
            }
            if (allow.find(method_name(r.method)) == std::string::npos) {
                if (!allow.empty()) allow += ", ";
                allow += method_name(r.method);
            }
        }
        if (!allow.empty()) break;
    }
    if (!allow.empty()) {
        if (allowed) *allowed = allow;
        return fail(Errc::BadInput, "method",
                    fmt::format("{} is not allowed on {}; use {}", method_name(method), path, allow), 405);
    }
    return fail(Errc::NotFound, "path", fmt::format("no such route: {}", path));
}

Status Router::authorize(const Route& route, Request& request) const {
    const AccessGuard* guard = nullptr;
    switch (route.access) {
        case Access::Public:
            return {};
        case Access::Admin:
            guard = admin_guard_.get();
            break;
        case Access::Tenant:
            guard = tenant_guard_.get();
            break;
        case Access::Unset:
            break;
    }
    if (!sealed_ || guard == nullptr) return fail(Errc::Forbidden, "access", "route has no access decision");
    auto who = guard->check(route, request);
    if (!who) return tl::unexpected(who.error());
    request.principal = std::move(*who);
    return {};
}

}  // namespace kvmhub::http
