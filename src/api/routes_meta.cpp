// The NoCloud metadata service (metadata surface, no authentication: guests fetch it at
// boot): /<uuid>/meta-data, user-data, vendor-data and network-config, as rendered for the
// VM, and /<uuid>/cidata.iso built from them on request (with an ETag, and byte ranges for
// qemu's HTTP CD-ROM). Nothing else of kvmhub is reachable through these routes.
#include <charconv>

#include <fmt/format.h>

#include "api/routes.hpp"
#include "cloudinit/seed.hpp"

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

// A decimal number that is the whole of `text`.
bool parse_offset(std::string_view text, std::uint64_t& out) {
    if (text.empty()) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

// Sets `reply`'s body to `whole` (200), or to the one byte range a Range header asks for: 206,
// or 416 when it lies outside. A header this does not understand (another unit, several
// ranges) gets the whole body, as RFC 9110 allows. Only the bytes sent are copied.
void set_ranged_body(Reply& reply, std::string_view whole, const std::string* header) {
    reply.body.clear();
    std::string_view range = header ? std::string_view(*header) : std::string_view();
    const std::uint64_t size = whole.size();
    std::uint64_t first = 0;
    std::uint64_t last = size == 0 ? 0 : size - 1;
    bool ranged = range.starts_with("bytes=") && range.find(',') == std::string_view::npos;
    if (ranged) range.remove_prefix(6);
    const auto dash = range.find('-');
    ranged = ranged && dash != std::string_view::npos;
    if (ranged && dash == 0) {  // the last N bytes
        std::uint64_t suffix = 0;
        ranged = parse_offset(range.substr(1), suffix);
        first = suffix >= size ? 0 : size - suffix;
        if (suffix == 0) first = size;
    } else if (ranged) {
        ranged = parse_offset(range.substr(0, dash), first) &&
                 (dash + 1 == range.size() || parse_offset(range.substr(dash + 1), last));
        if (last >= size) last = size == 0 ? 0 : size - 1;
    }
    if (!ranged) {
        reply.body.assign(whole);
        return;
    }
    if (first >= size || first > last) {
        reply.status = 416;
        reply.headers.emplace_back("Content-Range", fmt::format("bytes */{}", size));
        return;
    }
    reply.status = 206;
    reply.headers.emplace_back("Content-Range", fmt::format("bytes {}-{}/{}", first, last, size));
    reply.body.assign(whole.substr(first, last - first + 1));
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
    };
}

}  // namespace kvmhub::api
