// Static web assets, public (they hold no data; the websocket needs a ticket): the console
// pages and the tenant page (ui/www at /kvmhub/, the latter also at /guest.html, the URL
// ctrl_url hands out), xterm.js (npm, ui/node_modules), noVNC and spice-html5 (Debian
// packages), and simplekvm's own admin UI at /ui/ when console.simplekvm_ui_dir names it. They are on
// the admin and the tenant surface alike, so a listener serving only tenants has its page and
// consoles.
// Paths are checked segment by segment before the file system sees them: no "..", no hidden
// names, no empty segments; files only, with a content type from the extension, an ETag and
// caching headers (pages are revalidated, libraries cached for a day). kvmhub's pages get a
// strict Content-Security-Policy and no framing, no referrer (api/page_policy.hpp).
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "api/page_policy.hpp"
#include "api/routes.hpp"
#include "http/file_reply.hpp"

namespace kvmhub::api {
namespace {

constexpr std::size_t kMaxPage = 16 * 1024 * 1024;

struct Mount {
    const char* prefix;   // URL prefix, e.g. "/kvmhub"
    std::string root;     // folder it maps to
    const char* package;  // where the files come from, for the 404 message
    // kvmhub's own pages get its strict Content-Security-Policy (api/page_policy.hpp); another
    // project's pages (simplekvm's UI) would break under it and get only no-framing.
    bool own_pages = true;
};

// The file `rest` (the path below the mount's prefix) of the mount.
Reply serve_file(const Mount& mount, const std::string& rest, const Request& req) {
    auto relative = http::safe_relative(rest);
    if (!relative) return Reply::error(Error{Errc::NotFound, "path", "no such file: " + req.path});
    const std::string file = mount.root + "/" + *relative;
    const bool page = relative->ends_with(".html");
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        (page && static_cast<std::size_t>(st.st_size) > kMaxPage)) {
        struct stat root_st {};
        if (::stat(mount.root.c_str(), &root_st) != 0)
            return Reply::error(
                Error{Errc::NotFound, "path",
                      fmt::format("{} is not installed ({} missing); {}", mount.prefix, mount.root, mount.package)});
        return Reply::error(Error{Errc::NotFound, "path", "no such file: " + req.path});
    }
    // Libraries are sent from the file as they are (ranges and all). A page is read whole, for
    // the policy headers that depend on its text; a Range on it is ignored, as RFC 9110 allows.
    if (!page) return http::file_reply(file, req, {.cache_control = "public, max-age=86400"});
    Request whole = req;
    std::erase_if(whole.headers, [](const auto& header) { return header.first == "range"; });
    Reply reply = http::file_reply(file, whole, {.cache_control = "no-cache"});
    if (reply.status != 200) return reply;
    reply.file.reset();
    std::ifstream in(file, std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) return Reply::error(Error{Errc::Internal, "path", "cannot read " + req.path});
    reply.body = std::move(body).str();
    if (mount.own_pages)
        for (auto& header : page_headers(reply.body)) reply.headers.push_back(std::move(header));
    else
        reply.headers.emplace_back("X-Frame-Options", "DENY");
    return reply;
}

}  // namespace

std::vector<http::Route> ui_routes(ApiContext& ctx) {
    const std::string& ui = ctx.config.console.ui_dir;
    std::vector<Mount> mounts{
        {"/kvmhub", ui + "/www", "the ui/ folder of the kvmhub sources"},
        {"/xterm", ui + "/node_modules/@xterm/xterm", "run `npm ci` in ui/ (make does)"},
        {"/xterm-addon-fit", ui + "/node_modules/@xterm/addon-fit", "run `npm ci` in ui/ (make does)"},
        {"/novnc", "/usr/share/novnc", "install the Debian package novnc"},
        {"/spice", "/usr/share/spice-html5", "install the Debian package spice-html5"},
    };
    // An unmodified simplekvm admin UI (its ui/ folder) where its pages expect to be.
    if (!ctx.config.console.simplekvm_ui_dir.empty())
        mounts.push_back({"/ui", ctx.config.console.simplekvm_ui_dir, "console.simplekvm_ui_dir", false});
    // The pages' own parameters (the tenant link, cache busters) are the scripts', not the server's.
    const http::Input page = http::Input::none().other_query(http::Extras::Ignore);
    // The file under the mount: one line of text here, each segment checked by safe_relative().
    http::Input file = page;
    file.path(http::text("path", 1024).eg("nonexistent.js"));
    file.fields.back().required = false;  // "/kvmhub/" names no file: 404, as before
    std::vector<http::Route> routes;
    for (Surface surface : {Surface::Admin, Surface::Tenant}) {
        for (const auto& mount : mounts)
            routes.push_back(http::Route{Method::Get, std::string(mount.prefix) + "/{path*}", Access::Public,
                                         Effect::Reads, surface,
                                         [mount](Request& req) {
                                             const std::string* rest = req.param("path");
                                             return serve_file(mount, rest ? *rest : "", req);
                                         },
                                         0}
                                 .accepts(file));
        routes.push_back(
            http::Route{Method::Get, "/guest.html", Access::Public, Effect::Reads, surface,
                        [www = mounts.front()](Request& req) { return serve_file(www, "guest.html", req); }, 0}
                .accepts(page));
    }
    return routes;
}

}  // namespace kvmhub::api
