// /api/login, /api/refresh, /logout: local users, JWT in the reply and in a `token` cookie.
#include <fmt/format.h>

#include "api/admin_guard.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "auth/jwt.hpp"
#include "auth/throttle.hpp"
#include "auth/users.hpp"
#include "common/log.hpp"

namespace kvmhub::api {
namespace {

std::string token_cookie(const std::string& token, std::int64_t max_age, bool secure) {
    return fmt::format("token={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}", token, max_age,
                       secure ? "; Secure" : "");
}

Reply token_reply(ApiContext& ctx, const auth::IssuedToken& issued, bool secure) {
    Reply reply = Reply::ok({{"token", issued.token}, {"expires", issued.expires}});
    reply.headers.emplace_back("Set-Cookie", token_cookie(issued.token, ctx.config.auth.token_ttl.count(), secure));
    return reply;
}

Reply login(ApiContext& ctx, Request& req) {
    auto body = parse_json_object(req.body, ctx.config.http.json_depth_limit);
    if (!body) return Reply::error(body.error());
    auto username = required_string(*body, "username");
    if (!username) return Reply::error(username.error());
    auto password = required_string(*body, "password");
    if (!password) return Reply::error(password.error());

    // The throttle is asked first, so a locked account costs no password hashing.
    if (auto open = ctx.throttle.check(*username, req.client_ip); !open) {
        Reply reply = Reply::error(open.error());
        reply.headers.emplace_back("Retry-After",
                                   std::to_string(ctx.throttle.retry_after_seconds(*username, req.client_ip)));
        return reply;
    }
    auto user = ctx.users.authenticate(*username, *password);
    if (!user) {
        ctx.throttle.record_failure(*username, req.client_ip);
        log::get("auth")->warn("login failed req={} user={} ip={}", req.request_id, *username, req.client_ip);
        return Reply::error(user.error());
    }
    ctx.throttle.record_success(*username, req.client_ip);
    auto issued = ctx.tokens.issue(*user, ctx.config.auth.token_ttl);
    if (!issued) return Reply::error(issued.error());
    req.principal = *user;
    return token_reply(ctx, *issued, req.tls);
}

Reply refresh(ApiContext& ctx, Request& req) {
    // The guard has verified the token already; read it again for the refresh count.
    auto token = request_token(req);
    if (!token) return Reply::error(token.error());
    auto claims = ctx.tokens.verify(*token);
    if (!claims) return Reply::error(claims.error());
    auto issued = ctx.tokens.issue(claims->username, ctx.config.auth.token_ttl, claims->refresh_count + 1);
    if (!issued) return Reply::error(issued.error());
    return token_reply(ctx, *issued, req.tls);
}

Reply logout(ApiContext&, Request& req) {
    Reply reply = Reply::ok();
    reply.headers.emplace_back("Set-Cookie", token_cookie("", 0, req.tls));
    return reply;
}

}  // namespace

std::vector<http::Route> auth_routes(ApiContext& ctx) {
    using namespace http;
    // A malformed user name still costs a password check (users.cpp), so the name is only text
    // here: a 400 for it would tell a client which names cannot exist, nothing more, but keep
    // login's answers what they were.
    const Input credentials = Input::none()
                                  .other_query(Extras::Ignore)
                                  .json(Extras::Ignore)
                                  .body(text("username", 256).need().eg("admin"))
                                  .body(text("password", 1024).need().eg("wrong-password"));
    const Input nothing = Input::none().other_query(Extras::Ignore);
    return {
        Route{Method::Post, "/api/login", Access::Public, Effect::Changes, Surface::Admin, bind(ctx, login), 4096}
            .accepts(credentials),
        Route{Method::Get, "/api/refresh", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, refresh), 0}
            .accepts(nothing),
        Route{Method::Post, "/api/refresh", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, refresh), 0}
            .accepts(nothing),
        Route{Method::Get, "/logout", Access::Public, Effect::Changes, Surface::Admin, bind(ctx, logout), 0}.accepts(
            nothing),
        Route{Method::Post, "/logout", Access::Public, Effect::Changes, Surface::Admin, bind(ctx, logout), 0}.accepts(
            nothing),
    };
}

}  // namespace kvmhub::api
