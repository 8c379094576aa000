// Users and sessions, the admin side: list/add users, change a password, disable, enable and
// delete a user, list sessions and end one. Every change is audited; changes that end sessions
// end them in the same store transaction (auth/users.hpp). Input is checked here field by field
// (400 naming the field, never a 5xx): bodies are JSON objects with known fields only, names
// and session ids match their patterns, and no route takes a query parameter it does not know.
#include <fmt/format.h>

#include "api/admin_guard.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "auth/jwt.hpp"
#include "auth/sessions.hpp"
#include "auth/users.hpp"

namespace kvmhub::api {
namespace {

constexpr std::size_t kUserBodyLimit = 4096;  // a name and a password (kMaxPasswordBytes)
constexpr std::size_t kNoBodyLimit = 1024;

Status only_query(const Request& req, std::initializer_list<std::string_view> allowed) {
    for (const auto& [name, value] : req.query) {
        bool known = false;
        for (std::string_view a : allowed) known = known || name == a;
        if (!known) return fail(Errc::BadInput, name, fmt::format("unknown query parameter '{}'", name));
    }
    return {};
}

// The body as a JSON object with exactly the fields `allowed` may name.
Result<nlohmann::json> body_with(const ApiContext& ctx, const Request& req,
                                 std::initializer_list<std::string_view> allowed) {
    auto body = parse_json_object(req.body, ctx.config.http.json_depth_limit);
    if (!body) return body;
    for (const auto& [name, value] : body->items()) {
        bool known = false;
        for (std::string_view a : allowed) known = known || name == a;
        if (!known) return fail(Errc::BadInput, name, fmt::format("unknown field '{}'", name));
    }
    return body;
}

// Routes that act on the user in the path take no body (an empty one or `{}`).
Status no_body(const ApiContext& ctx, const Request& req) {
    if (req.body.empty()) return {};
    auto body = body_with(ctx, req, {});
    if (!body) return tl::unexpected(body.error());
    return {};
}

// The user named in the path, checked against the name pattern.
Result<std::string> path_user(const Request& req) {
    const std::string* name = req.param("name");
    std::string value = name ? *name : std::string();
    if (auto ok = auth::validate_username(value); !ok) return tl::unexpected(ok.error());
    return value;
}

Reply users_list(ApiContext& ctx, Request& req) {
    if (auto ok = only_query(req, {}); !ok) return Reply::error(ok.error());
    auto users = ctx.users.describe();
    if (!users) return Reply::error(users.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& u : *users) out.push_back(u.to_json());
    return Reply::ok({{"users", out}});
}

Reply users_add(ApiContext& ctx, Request& req) {
    if (auto ok = only_query(req, {}); !ok) return Reply::error(ok.error());
    auto body = body_with(ctx, req, {"username", "password"});
    if (!body) return Reply::error(body.error());
    const std::string target = string_or_empty(*body, "username");
    auto name = required_string(*body, "username");
    if (!name) return audited(ctx, req, "user.add", target, tl::unexpected(name.error()));
    auto password = required_string(*body, "password");
    if (!password) return audited(ctx, req, "user.add", target, tl::unexpected(password.error()));
    return audited(ctx, req, "user.add", *name, ctx.users.add(*name, *password), {{"username", *name}});
}

// A new password ends the user's other sessions: all of them when an admin changes another
// user's password, all but the caller's own when it changes its own.
Reply users_password(ApiContext& ctx, Request& req) {
    if (auto ok = only_query(req, {}); !ok) return Reply::error(ok.error());
    auto name = path_user(req);
    if (!name) return audited(ctx, req, "user.password", "", tl::unexpected(name.error()));
    auto body = body_with(ctx, req, {"password"});
    if (!body) return audited(ctx, req, "user.password", *name, tl::unexpected(body.error()));
    auto password = required_string(*body, "password");
    if (!password) return audited(ctx, req, "user.password", *name, tl::unexpected(password.error()));
    std::string keep;
    if (*name == req.principal) {
        auto claims = request_claims(ctx.tokens, req);
        if (!claims) return Reply::error(claims.error());
        keep = claims->session;
    }
    return audited(ctx, req, "user.password", *name, ctx.users.set_password(*name, *password, keep),
                   {{"username", *name}});
}

Reply users_state(ApiContext& ctx, Request& req, const char* action) {
    if (auto ok = only_query(req, {}); !ok) return Reply::error(ok.error());
    auto name = path_user(req);
    if (!name) return audited(ctx, req, action, "", tl::unexpected(name.error()));
    if (auto ok = no_body(ctx, req); !ok) return audited(ctx, req, action, *name, ok);
    const std::string_view a(action);
    Status done = a == "user.delete"    ? ctx.users.remove(*name)
                  : a == "user.disable" ? ctx.users.set_disabled(*name, true)
                                        : ctx.users.set_disabled(*name, false);
    return audited(ctx, req, action, *name, done, {{"username", *name}});
}

Reply users_disable(ApiContext& ctx, Request& req) {
    return users_state(ctx, req, "user.disable");
}
Reply users_enable(ApiContext& ctx, Request& req) {
    return users_state(ctx, req, "user.enable");
}
Reply users_delete(ApiContext& ctx, Request& req) {
    return users_state(ctx, req, "user.delete");
}

Reply sessions_list(ApiContext& ctx, Request& req) {
    if (auto ok = only_query(req, {"user"}); !ok) return Reply::error(ok.error());
    std::string user;
    if (const std::string* u = req.query_param("user")) {
        if (auto ok = auth::validate_username(*u); !ok)
            return Reply::error(Error{Errc::BadInput, "user", ok.error().desc});
        user = *u;
    }
    auto sessions = ctx.sessions.list(user);
    if (!sessions) return Reply::error(sessions.error());
    auto claims = request_claims(ctx.tokens, req);
    const std::string current = claims ? claims->session : std::string();
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : *sessions) {
        auto j = s.to_json();
        j["current"] = s.id == current;
        out.push_back(std::move(j));
    }
    return Reply::ok({{"sessions", out}});
}

Reply sessions_end(ApiContext& ctx, Request& req) {
    if (auto ok = only_query(req, {}); !ok) return Reply::error(ok.error());
    const std::string* sid = req.param("sid");
    const std::string id = sid ? *sid : std::string();
    if (auto ok = auth::validate_session_id(id); !ok) return audited(ctx, req, "session.end", "", ok);
    if (auto ok = no_body(ctx, req); !ok) return audited(ctx, req, "session.end", id, ok);
    auto found = ctx.sessions.find(id);
    if (!found) return audited(ctx, req, "session.end", id, tl::unexpected(found.error()));
    if (!*found) return audited(ctx, req, "session.end", id, fail(Errc::NotFound, "sid", "no open session " + id));
    const std::string target = (*found)->user + "/" + id;
    auto ended = ctx.sessions.end((*found)->user, id);
    if (!ended) return audited(ctx, req, "session.end", target, tl::unexpected(ended.error()));
    if (!*ended) return audited(ctx, req, "session.end", target, fail(Errc::NotFound, "sid", "no open session " + id));
    return audited(ctx, req, "session.end", target, {}, {{"user", (*found)->user}, {"id", id}});
}

}  // namespace

std::vector<http::Route> user_routes(ApiContext& ctx) {
    return {
        {Method::Get, "/api/users", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, users_list), 0},
        {Method::Post, "/api/users", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, users_add),
         kUserBodyLimit},
        {Method::Post, "/api/users/{name}/password", Access::Admin, Effect::Changes, Surface::Admin,
         bind(ctx, users_password), kUserBodyLimit},
        {Method::Post, "/api/users/{name}/disable", Access::Admin, Effect::Changes, Surface::Admin,
         bind(ctx, users_disable), kNoBodyLimit},
        {Method::Post, "/api/users/{name}/enable", Access::Admin, Effect::Changes, Surface::Admin,
         bind(ctx, users_enable), kNoBodyLimit},
        {Method::Delete, "/api/users/{name}", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, users_delete),
         kNoBodyLimit},
        {Method::Get, "/api/sessions", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, sessions_list), 0},
        {Method::Delete, "/api/sessions/{sid}", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, sessions_end),
         kNoBodyLimit},
    };
}

}  // namespace kvmhub::api
