// Templates, the manager's ssh key, backup/restore and the audit log.
#include <fmt/format.h>

#include "api/routes.hpp"
#include "auth/audit.hpp"
#include "auth/ssh_identity.hpp"
#include "catalog/backup.hpp"
#include "catalog/catalog.hpp"
#include "http/multipart.hpp"

namespace kvmhub::api {
namespace {

constexpr std::size_t kRestoreBodyLimit = 64 << 20;

Result<catalog::TemplateKind> kind_of(const Request& req) {
    const std::string* kind = req.param("kind");
    return catalog::parse_kind(kind ? *kind : "");
}

std::string name_of(const Request& req) {
    const std::string* name = req.param("name");
    return name ? *name : std::string();
}

Reply template_get(ApiContext& ctx, Request& req) {
    auto kind = kind_of(req);
    if (!kind) return Reply::error(kind.error());
    auto source = ctx.catalog.template_source(*kind, name_of(req));
    if (!source) return Reply::error(source.error());
    return Reply::text(std::move(*source));
}

Reply template_put(ApiContext& ctx, Request& req) {
    auto kind = kind_of(req);
    if (!kind) return Reply::error(kind.error());
    const std::string target = fmt::format("{}/{}", catalog::kind_name(*kind), name_of(req));
    return audited(ctx, req, "template.put", target, ctx.catalog.put_template(*kind, name_of(req), req.body));
}

Reply template_delete(ApiContext& ctx, Request& req) {
    auto kind = kind_of(req);
    if (!kind) return Reply::error(kind.error());
    const std::string target = fmt::format("{}/{}", catalog::kind_name(*kind), name_of(req));
    return audited(ctx, req, "template.delete", target, ctx.catalog.delete_template(*kind, name_of(req)));
}

Reply template_list(ApiContext& ctx, Request& req) {
    auto kind = kind_of(req);
    if (!kind) return Reply::error(kind.error());
    auto names = ctx.catalog.template_names(*kind);
    if (!names) return Reply::error(names.error());
    return Reply::ok({{"templates", *names}});
}

Reply conf_domains(ApiContext& ctx, Request&) {
    auto names = ctx.catalog.template_names(catalog::TemplateKind::Domain);
    if (!names) return Reply::error(names.error());
    return Reply::ok({{"domains", *names}});
}

Reply conf_devices(ApiContext& ctx, Request&) {
    auto devices = ctx.catalog.device_descriptions();
    if (!devices) return Reply::error(devices.error());
    return Reply::ok({{"devices", *devices}});
}

Reply ssh_pubkey(ApiContext& ctx, Request&) {
    auto key = auth::ensure_ssh_identity(ctx.store);
    if (!key) return Reply::error(key.error());
    return Reply::text(*key + "\n");
}

catalog::BackupSpec backup_spec(ApiContext& ctx) {
    catalog::BackupSpec spec;
    spec.prefixes = {std::string(catalog::kCatalogPrefix), std::string(catalog::kTemplatesPrefix)};
    spec.validate = [&ctx](const std::string& key, const std::string& value) {
        return ctx.catalog.validate_record(key, value);
    };
    return spec;
}

Reply backup(ApiContext& ctx, Request& req) {
    auto archive = catalog::make_backup(ctx.store, backup_spec(ctx), ctx.clock);
    if (!archive) return Reply::error(archive.error());
    std::time_t now = ctx.clock.now_seconds();
    std::tm tm{};
    gmtime_r(&now, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
    Reply reply = Reply::text(std::move(*archive), "application/gzip");
    reply.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"{}.tgz\"", stamp));
    ctx.audit.record(auth::AuditEntry{req.principal, "backup", "catalog", "ok", req.request_id});
    return reply;
}

Reply restore(ApiContext& ctx, Request& req) {
    const std::string* content_type = req.header("content-type");
    auto parts = http::parse_multipart(content_type ? *content_type : "", req.body);
    if (!parts) return Reply::error(parts.error());
    const http::FormPart* file = http::find_part(*parts, "file");
    if (file == nullptr)
        return Reply::error(Error{Errc::BadInput, "file", "send the backup as the multipart field 'file'", 800});
    const std::string* replace = req.query_param("replace");
    auto report = catalog::restore_backup(ctx.store, backup_spec(ctx), file->data, replace && *replace == "true");
    if (!report) return audited(ctx, req, "restore", file->filename, tl::unexpected(report.error()));
    return audited(ctx, req, "restore", file->filename, {},
                   {{"desc", fmt::format("restored {} of the {} members of {} ({} skipped)", report->apply,
                                         report->total, file->filename, report->skip.size())},
                    {"total", report->total},
                    {"apply", report->apply},
                    {"skip", report->skip}});
}

Reply audit_list(ApiContext& ctx, Request& req) {
    std::size_t limit = 100;
    // The input allows 1 to 1000.
    if (const std::string* text = req.query_param("limit"); text && !text->empty()) limit = std::stoul(*text);
    const std::string* before = req.query_param("before");
    auto page = ctx.audit.list(limit, before ? *before : "");
    if (!page) return Reply::error(page.error());
    return Reply::ok({{"audit", page->entries}, {"next", page->next}});
}

}  // namespace

std::vector<http::Route> template_routes(ApiContext& ctx) {
    using namespace http;
    // Like the other catalog routes, these ignore query parameters they do not take.
    const Input nothing = Input::none().other_query(Extras::Ignore);
    Input kind = nothing;
    kind.path(one_of("kind", {"domain", "device", "meta", "action"}));
    Input named = kind;
    named.path(name("name").eg("t1"));
    Input source = named;
    source.text_body();
    Input restore_input = nothing;
    restore_input.form().query(boolean("replace"));
    Input audit = nothing;
    audit.query(integer("limit", 1, 1000).eg("10")).query(token("before", 128).eg("0"));
    return {
        Route{Method::Get, "/conf/domains/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, conf_domains), 0}
            .accepts(nothing),
        Route{Method::Get, "/conf/devices/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, conf_devices), 0}
            .accepts(nothing),
        Route{Method::Get, "/conf/ssh_pubkey/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, ssh_pubkey), 0}
            .accepts(nothing),
        Route{Method::Get, "/conf/template/{kind}/", Access::Admin, Effect::Reads, Surface::Admin,
              bind(ctx, template_list), 0}
            .accepts(kind),
        Route{Method::Get, "/conf/template/{kind}/{name}", Access::Admin, Effect::Reads, Surface::Admin,
              bind(ctx, template_get), 0}
            .accepts(named),
        Route{Method::Put, "/conf/template/{kind}/{name}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, template_put), 0}
            .accepts(source),
        Route{Method::Post, "/conf/template/{kind}/{name}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, template_put), 0}
            .accepts(source),
        Route{Method::Delete, "/conf/template/{kind}/{name}", Access::Admin, Effect::Changes, Surface::Admin,
              bind(ctx, template_delete), 0}
            .accepts(named),
        Route{Method::Get, "/conf/backup/", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, backup), 0}.accepts(
            nothing),
        Route{Method::Post, "/conf/restore/", Access::Admin, Effect::Changes, Surface::Admin, bind(ctx, restore),
              kRestoreBodyLimit}
            .accepts(restore_input),
        Route{Method::Get, "/api/audit", Access::Admin, Effect::Reads, Surface::Admin, bind(ctx, audit_list), 0}
            .accepts(audit),
    };
}

}  // namespace kvmhub::api
