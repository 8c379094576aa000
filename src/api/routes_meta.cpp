// The NoCloud metadata service (metadata surface, no authentication: guests fetch it at
// boot): /<uuid>/meta-data, user-data, vendor-data and network-config, as rendered for the
// VM, and /<uuid>/cidata.iso built from them on request (with an ETag, and byte ranges for
// qemu's HTTP CD-ROM); /gold/<file> and /iso/<file>, the files of gold_dir and iso_dir, for the
// hosts (with ranges, so a download resumes). Nothing else of kvmhub is reachable here.
#include <algorithm>
#include <filesystem>
#include <variant>

#include <fmt/format.h>

#include "api/routes.hpp"
#include "cloudinit/seed.hpp"
#include "http/file_reply.hpp"

namespace kvmhub::api {
namespace {

constexpr const char* kYaml = "text/plain; charset=utf-8";

Reply seed_file(ApiContext& ctx, Request& req, const std::string& name) {
    const std::string& uuid = *req.param("uuid");
    auto seed = ctx.seeds.seed(uuid);
    if (!seed) return Reply::error(seed.error());
    const auto& files = (*seed)->files().files;
    if (auto it = files.find(name); it != files.end()) return Reply::text(it->second, kYaml);
    // vendor-data is optional: a VM without one gets an empty file, as cloud-init expects.
    if (name == "vendor-data") return Reply::text("", kYaml);
    return Reply::error(Error{Errc::NotFound, "uuid", fmt::format("no {} for VM {}", name, uuid)});
}

// Sets `reply`'s body to `whole` (200), or to the one byte range a Range header asks for: 206,
// or 416 when it lies outside (http::parse_range). Only the bytes sent are copied.
void set_ranged_body(Reply& reply, std::string_view whole, const std::string* header) {
    const http::RangeAnswer range = header ? http::parse_range(*header, whole.size()) : http::WholeFile{};
    if (std::holds_alternative<http::Unsatisfiable>(range)) {
        reply.status = 416;
        reply.headers.emplace_back("Content-Range", fmt::format("bytes */{}", whole.size()));
        return;
    }
    if (const auto* bytes = std::get_if<http::ByteRange>(&range)) {
        reply.status = 206;
        reply.headers.emplace_back("Content-Range",
                                   fmt::format("bytes {}-{}/{}", bytes->first, bytes->last, whole.size()));
        reply.body.assign(whole.substr(bytes->first, bytes->last - bytes->first + 1));
        return;
    }
    reply.body.assign(whole);
}

// A file under `root` (gold_dir or iso_dir) by its path below the route's prefix: plain names
// only (http::safe_relative), and the file the path resolves to must still be under the real
// root, so a symbolic link inside the folder cannot hand out a file outside it.
Reply folder_file(const std::string& root, const Request& req) {
    const std::string* rest = req.param("path");
    auto relative = http::safe_relative(rest ? *rest : "");
    const Reply missing = Reply::error(Error{Errc::NotFound, "path", "no such file: " + req.path});
    if (!relative) return missing;
    std::error_code root_ec, file_ec;
    const auto real_root = std::filesystem::canonical(root, root_ec);
    const auto real_file = std::filesystem::canonical(std::filesystem::path(root) / *relative, file_ec);
    if (root_ec || file_ec) return missing;
    auto [root_end, unused] = std::mismatch(real_root.begin(), real_root.end(), real_file.begin(), real_file.end());
    (void)unused;
    if (root_end != real_root.end()) return missing;
    // Images can be replaced under the same name: a cache revalidates with the ETag first.
    return http::file_reply(real_file.string(), req, {.cache_control = "no-cache"});
}

Reply cidata_iso(ApiContext& ctx, Request& req) {
    const std::string& uuid = *req.param("uuid");
    auto seed = ctx.seeds.seed(uuid);
    if (!seed) return Reply::error(seed.error());
    // The image is a function of the files, which change only with a new render (revision).
    const std::string etag = fmt::format("\"{}-{}\"", uuid, (*seed)->files().revision);
    if (const std::string* match = req.header("if-none-match"); match != nullptr && *match == etag) {
        Reply unchanged = Reply::text("", "application/x-iso9660-image");
        unchanged.status = 304;
        unchanged.headers.emplace_back("ETag", etag);
        return unchanged;
    }
    const auto& iso = (*seed)->iso();
    if (!iso) return Reply::error(iso.error());
    Reply reply = Reply::text("", "application/x-iso9660-image");
    reply.headers.emplace_back("ETag", etag);
    reply.headers.emplace_back("Accept-Ranges", "bytes");
    const std::string* if_range = req.header("if-range");
    const bool range_applies = if_range == nullptr || *if_range == etag;
    set_ranged_body(reply, *iso, range_applies ? req.header("range") : nullptr);
    return reply;
}

Reply meta_data(ApiContext& ctx, Request& req) {
    return seed_file(ctx, req, "meta-data");
}
Reply user_data(ApiContext& ctx, Request& req) {
    return seed_file(ctx, req, "user-data");
}
Reply vendor_data(ApiContext& ctx, Request& req) {
    return seed_file(ctx, req, "vendor-data");
}
Reply network_config(ApiContext& ctx, Request& req) {
    return seed_file(ctx, req, "network-config");
}

}  // namespace

std::vector<http::Route> meta_routes(ApiContext& ctx) {
    // A seed file is one indexed read of the local SQLite file: answered on the I/O thread
    // (boot storms fetch these). On etcd the read is a network round trip: the worker pool.
    const bool local = ctx.config.store.backend == StoreBackend::Sqlite;
    // Guests' cloud-init may add parameters of its own; they are ignored.
    const http::Input seed = http::Input::none().path(http::uuid("uuid")).other_query(http::Extras::Ignore);
    // The file below the folder: one line of text here, each segment checked by safe_relative().
    const http::Input file =
        http::Input::none().path(http::text("path", 1024).eg("nonexistent.qcow2")).other_query(http::Extras::Ignore);
    return {
        http::Route{Method::Get, "/{uuid}/meta-data", Access::Public, Effect::Reads, Surface::Metadata,
                    bind(ctx, meta_data), 0, local}
            .accepts(seed),
        http::Route{Method::Get, "/{uuid}/user-data", Access::Public, Effect::Reads, Surface::Metadata,
                    bind(ctx, user_data), 0, local}
            .accepts(seed),
        http::Route{Method::Get, "/{uuid}/vendor-data", Access::Public, Effect::Reads, Surface::Metadata,
                    bind(ctx, vendor_data), 0, local}
            .accepts(seed),
        http::Route{Method::Get, "/{uuid}/network-config", Access::Public, Effect::Reads, Surface::Metadata,
                    bind(ctx, network_config), 0, local}
            .accepts(seed),
        http::Route{Method::Get, "/{uuid}/cidata.iso", Access::Public, Effect::Reads, Surface::Metadata,
                    bind(ctx, cidata_iso), 0}
            .accepts(seed),
        // Gold images and ISOs for the hosts (GOLD_SRV and META_SRV default to this service):
        // opened on the I/O thread and sent from there piece by piece (Reply::file).
        http::Route{Method::Get, "/gold/{path*}", Access::Public, Effect::Reads, Surface::Metadata,
                    [root = ctx.config.gold_dir](Request& req) { return folder_file(root, req); }, 0, true}
            .accepts(file),
        http::Route{Method::Get, "/iso/{path*}", Access::Public, Effect::Reads, Surface::Metadata,
                    [root = ctx.config.iso_dir](Request& req) { return folder_file(root, req); }, 0, true}
            .accepts(file),
    };
}

}  // namespace kvmhub::api
