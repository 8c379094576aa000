// Users and sessions, the admin side: list/add users, change a password, disable, enable and
// delete a user, list sessions and end one. Every change is audited; changes that end sessions
// end them in the same store transaction (auth/users.hpp). Input is checked field by field
// (the routes' declared inputs: 400 naming the field before a handler runs): bodies are JSON
// objects with known fields only, names and session ids match their patterns, and no route
// takes a query parameter it does not know.
#include <fmt/format.h>

#include "api/admin_guard.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "auth/sessions.hpp"
#include "auth/users.hpp"

namespace kvmhub::api {
namespace {

constexpr std::size_t kUserBodyLimit = 4096;  // a name and a password (kMaxPasswordBytes)
constexpr std::size_t kNoBodyLimit = 1024;

// The body as a JSON object (its fields were checked against the route's input).
Result<nlohmann::json> body_of(const ApiContext& ctx, const Request& req) {
    if (req.body.empty()) return nlohmann::json::object();
    return parse_json_object(req.body, ctx.config.http.json_depth_limit);
}

Reply users_list(ApiContext& ctx, Request&) {
    auto users = ctx.users.describe();
    if (!users) return Reply::error(users.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& u : *users) out.push_back(u.to_json());
    return Reply::ok({{"users", out}});
}

Reply users_add(ApiContext& ctx, Request& req) {
    auto body = body_of(ctx, req);
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
    const std::string name = *req.param("username");
    auto body = body_of(ctx, req);
    if (!body) return audited(ctx, req, "user.password", name, tl::unexpected(body.error()));
    auto password = required_string(*body, "password");
    if (!password) return audited(ctx, req, "user.password", name, tl::unexpected(password.error()));
    std::string keep;
    if (name == req.principal) {
        auto claims = request_claims(ctx.tokens, req);
        if (!claims) return Reply::error(claims.error());
        keep = claims->session;
    }
    return audited(ctx, req, "user.password", name, ctx.users.set_password(name, *password, keep),
                   {{"username", name}});
}

Reply users_state(ApiContext& ctx, Request& req, const char* action) {
    const std::string name = *req.param("username");
    const std::string_view a(action);
    Status done = a == "user.delete"    ? ctx.users.remove(name)
                  : a == "user.disable" ? ctx.users.set_disabled(name, true)
                                        : ctx.users.set_disabled(name, false);
    return audited(ctx, req, action, name, done, {{"username", name}});
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
    const std::string* user = req.query_param("user");
    auto sessions = ctx.sessions.list(user ? *user : std::string());
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
    const std::string id = *req.param("sid");
    // Stricter than the route's token: only the characters of the ids kvmhub makes.
    if (auto ok = auth::validate_session_id(id); !ok) return audited(ctx, req, "session.end", "", ok);
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
    using namespace http;
    // Examples name no user or session that exists: a valid request the bad-input test builds
    // from them changes nothing.
    const Input none = Input::none();
    const Input new_user = Input::none()
                               .json()
                               .body(name("username").need().eg("carol"))
                               .body(text("password", auth::kMaxPasswordBytes).need().eg("a-new-password"));
    const Input user = Input::none().path(name("username").need().eg("nobody")).json(Extras::Refuse, true);
    const Input password = Input::none()
                               .path(name("username").need().eg("nobody"))
                               .json()
                               .body(text("password", auth::kMaxPasswordBytes).need().eg("a-new-password"));
    const Input sessions = Input::none().query(name("user").eg("admin"));
    const Input session =
        Input::none().path(token("sid", auth::kMaxSidLength).need().eg("no-such-session")).json(Extras::Refuse, true);
    return {
        Route{Method::Get, "/api/users", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, users_list), 0}
            .accepts(none),
        Route{Method::Post, "/api/users", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, users_add),
              kUserBodyLimit}
            .accepts(new_user),
        Route{Method::Post, "/api/users/{username}/password", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, users_password), kUserBodyLimit}
            .accepts(password),
        Route{Method::Post, "/api/users/{username}/disable", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, users_disable), kNoBodyLimit}
            .accepts(user),
        Route{Method::Post, "/api/users/{username}/enable", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, users_enable), kNoBodyLimit}
            .accepts(user),
        Route{Method::Delete, "/api/users/{username}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, users_delete), kNoBodyLimit}
            .accepts(user),
        Route{Method::Get, "/api/sessions", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, sessions_list), 0}
            .accepts(sessions),
        Route{Method::Delete, "/api/sessions/{sid}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, sessions_end), kNoBodyLimit}
            .accepts(session),
    };
}

}  // namespace kvmhub::api
