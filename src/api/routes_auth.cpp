// /api/login, /api/refresh, /logout: local users, JWT in the reply and in a `token` cookie;
// every token names its session (auth/sessions.hpp).
#include <algorithm>

#include <fmt/format.h>

#include "api/admin_guard.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "auth/directory.hpp"
#include "auth/jwt.hpp"
#include "auth/sessions.hpp"
#include "auth/throttle.hpp"
#include "auth/users.hpp"
#include "common/log.hpp"

namespace kvmhub::api {
namespace {

std::string token_cookie(const std::string& token, std::int64_t max_age, bool secure) {
    return fmt::format("token={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}", token, max_age,
                       secure ? "; Secure" : "");
}

// As simplekvm: `expires` is the token's lifetime in seconds (its UI sets the cookie's max-age
// and its countdown from it); `expires_at` is the same end as a Unix time.
Reply token_reply(const auth::IssuedToken& issued, std::int64_t now, bool secure) {
    const std::int64_t lifetime = std::max<std::int64_t>(issued.expires - now, 0);
    Reply reply = Reply::ok({{"token", issued.token}, {"expires", lifetime}, {"expires_at", issued.expires}});
    reply.headers.emplace_back("Set-Cookie", token_cookie(issued.token, lifetime, secure));
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
    auto session = auth::sign_in(ctx.users, ctx.directory, ctx.sessions, *username, *password, req.client_ip);
    if (!session) {
        if (session.error().code == Errc::Unauthorized) ctx.throttle.record_failure(*username, req.client_ip);
        log::get("auth")->warn("login failed req={} user={} ip={}", req.request_id, *username, req.client_ip);
        return Reply::error(session.error());
    }
    ctx.throttle.record_success(*username, req.client_ip);
    // No token outlives its session (session_lifetime >= token_ttl is checked at start; the
    // clock may have ticked since the session was made).
    const std::int64_t now = ctx.clock.now_seconds();
    const std::int64_t expires = std::min(now + ctx.config.auth.token_ttl.count(), session->ends);
    auto issued =
        ctx.tokens.issue(session->user, session->id, std::chrono::seconds(std::max<std::int64_t>(expires - now, 1)));
    if (!issued) return Reply::error(issued.error());
    req.principal = session->user;
    return token_reply(*issued, now, req.tls);
}

// simplekvm's shape ({"result","token","expires"} and the cookie, plus "expires_at"), but the new token ends at the
// earlier of now + token_ttl and the session's absolute end; a session past its end is refused.
Reply refresh(ApiContext& ctx, Request& req) {
    // The guard has checked the token and its session already; read it again for the claims.
    auto claims = request_claims(ctx.tokens, req);
    if (!claims) return Reply::error(claims.error());
    auto session = ctx.sessions.refresh(claims->username, claims->session);
    if (!session) return Reply::error(session.error());
    const std::int64_t now = ctx.clock.now_seconds();
    const std::int64_t expires = std::min(now + ctx.config.auth.token_ttl.count(), session->ends);
    auto issued = ctx.tokens.issue(claims->username, claims->session, std::chrono::seconds(expires - now),
                                   claims->refresh_count + 1);
    if (!issued) return Reply::error(issued.error());
    return token_reply(*issued, now, req.tls);
}

// Ends the session of the token presented, and clears the cookie. A bearer token is proof
// enough (another site cannot send the header). A cookie alone is a credential the browser
// attaches for any site, so ending its session needs the same-origin proof of every
// state-changing route (admin_guard.hpp); without it: 403, the session is kept. A token that
// is not valid any more (or none) has nothing to end: the cookie is cleared all the same.
Reply logout(ApiContext& ctx, Request& req) {
    Reply cleared = Reply::ok();
    cleared.headers.emplace_back("Set-Cookie", token_cookie("", 0, req.tls));
    auto claims = request_claims(ctx.tokens, req);
    if (!claims) return cleared;
    auto open = ctx.sessions.check(claims->username, claims->session);
    if (!open) return open.error().code == Errc::Unauthorized ? cleared : Reply::error(open.error());
    const bool cookie_only = req.header("authorization") == nullptr;
    if (cookie_only) {
        auto proof = same_origin_proof(req, expected_origin(req, ctx.config.http.public_origin), false);
        if (!proof) return Reply::error(proof.error());
    }
    req.principal = claims->username;
    auto ended = ctx.sessions.end(claims->username, claims->session);
    if (!ended) return Reply::error(ended.error());
    log::get("auth")->info("logout req={} user={} session ended", req.request_id, claims->username);
    return cleared;
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
