// Route tables: every route names its method, path pattern, access class, effect, surface,
// body limit and input (http/schema.hpp). The router refuses to start when a route has no
// access class, no input, or needs a guard that was not installed; it checks access before
// the body is read and the input before the handler runs.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "common/result.hpp"
#include "http/message.hpp"
#include "http/schema.hpp"

namespace kvmhub::http {

enum class Access {
    Unset,   // a route left without a decision; the router refuses it
    Public,  // anyone
    Admin,   // a valid admin token (Authorization: Bearer or the `token` cookie)
    Tenant,  // a valid, unexpired, unrevoked tenant link for the VM in the path
};

const char* access_name(Access a);

// Whether a route changes state. The one place that says so: a request whose only credential
// is a cookie may run a Changes route only with proof that it comes from kvmhub's own pages
// (api/admin_guard.cpp), since simplekvm's API changes state with GET too.
enum class Effect {
    Unset,    // a route left without a decision; the router refuses it
    Reads,    // answers without changing anything a user could care about
    Changes,  // starts, stops, deletes, writes, mints a ticket or a link, ends a session, ...
};

const char* effect_name(Effect e);

using Handler = std::function<Reply(Request&)>;

struct Route {
    Method method = Method::Get;
    std::string pattern;  // "/vm/list/{host}/{uuid}"; a last segment "{name*}" takes the rest of the path
    Access access = Access::Unset;
    Effect effect = Effect::Unset;
    Surface surface = Surface::Admin;
    Handler handler;
    std::size_t body_limit = 0;  // 0 = the configured default (1 MiB)
    // The handler answers in microseconds without waiting on the network (a local store read):
    // it runs on the connection's I/O thread. Other handlers run on the worker pool, so that a
    // slow one never stalls other connections; the hop there and back costs two thread wake-ups.
    bool on_io_thread = false;
    // A websocket endpoint: a websocket request it refuses before the handler (no or a bad
    // credential) still gets the handshake and a close frame with the reason (4000 + status),
    // because browsers do not show a page the status of a failed handshake.
    bool websocket = false;
    // Every path parameter, query parameter and body field the handler reads (http/schema.hpp):
    // checked before the handler runs, 400 naming the field. Set with accepts(); required.
    Input input = {};

    Route&& accepts(Input in) && {
        input = std::move(in);
        input.declared = true;
        return std::move(*this);
    }
};

// Decides who is calling. Returns the principal (user name, link id) or the refusal.
class AccessGuard {
public:
    virtual ~AccessGuard() = default;
    virtual Result<std::string> check(const Route& route, const Request& request) const = 0;
};

struct Match {
    const Route* route = nullptr;
    Fields params;
};

class Router {
public:
    // Adds routes, each handler behind its input check; Router::seal() validates them all at once.
    void add(std::vector<Route> routes);
    // The nesting cap of JSON bodies (http.json_depth_limit); set before add().
    void set_json_depth_limit(int depth) { json_depth_ = depth; }
    // Told of every request the input check refuses (the handler never runs); set before add().
    using InputRefused = std::function<void(const Route& route, const Request& request, const Error& error)>;
    void on_input_refused(InputRefused hook) { input_refused_ = std::move(hook); }
    // Installs the guard for an access class (Admin, Tenant).
    void set_guard(Access access, std::shared_ptr<const AccessGuard> guard);
    // Validates the table: access set, guards present, patterns well-formed, no duplicates, an
    // input declared whose path fields are exactly the pattern's parameters.
    Status seal();

    // The route for `path` among those of `surfaces` (a listener's). NotFound when none; when
    // the path exists with other methods, BadInput (legacy code 405) and `allowed` lists them.
    Result<Match> match(Method method, std::string_view path, const std::vector<Surface>& surfaces,
                        std::string* allowed = nullptr) const;

    // Runs the guard for the route's access class; fills request.principal.
    Status authorize(const Route& route, Request& request) const;

    const std::vector<Route>& routes() const { return routes_; }

private:
    struct Compiled {
        std::vector<std::string> segments;  // literal, or "{name}" / "{name*}"
    };
    std::vector<Route> routes_;
    std::vector<Compiled> compiled_;
    std::shared_ptr<const AccessGuard> admin_guard_;
    std::shared_ptr<const AccessGuard> tenant_guard_;
    bool sealed_ = false;
    int json_depth_ = 64;
    InputRefused input_refused_;
};

}  // namespace kvmhub::http
