// Gold images and ISOs: checked for reachability and size before they enter the catalog.
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "catalog/catalog.hpp"
#include "catalog/validate.hpp"

namespace kvmhub::catalog {
namespace {

const std::string kGolds = std::string(kCatalogPrefix) + "golds/";
const std::string kIsos = std::string(kCatalogPrefix) + "isos/";
constexpr std::uint64_t kGiB = 1ull << 30;
constexpr double kMaxGiB = 64 * 1024;  // 64 TiB: larger is a typo

// "10", 10 or 10.5 GiB, > 0.
Result<double> gibibytes(const nlohmann::json& body, const std::string& field) {
    auto it = body.find(field);
    double value = 0;
    if (it != body.end() && it->is_number()) {
        value = it->get<double>();
    } else if (it != body.end() && it->is_string()) {
        const std::string& text = it->get_ref<const std::string&>();
        char* end = nullptr;
        value = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size()) value = -1;
    } else {
        return fail(Errc::BadInput, field, fmt::format("'{}' is required: the size in GiB", field), 800);
    }
    if (!(value > 0) || value > kMaxGiB || !std::isfinite(value))
        return fail(Errc::BadInput, field,
                    fmt::format("'{}' must be a number of GiB above 0 and at most {}", field, kMaxGiB));
    return value;
}

}  // namespace

Result<std::uint64_t> Catalog::image_size(const std::string& uri, const std::string& server, const std::string& folder,
                                          const std::string& field) {
    if (uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0) return probe_.content_length(uri, field);
    if (uri.rfind("file://", 0) == 0) {
        namespace fs = std::filesystem;
        std::error_code path_ec, root_ec, ec;
        fs::path path = fs::weakly_canonical(fs::path(uri.substr(7)), path_ec);
        fs::path root = fs::weakly_canonical(fs::path(folder), root_ec);
        // Symlinks and ".." are resolved first, so the prefix test cannot be walked around.
        auto [root_end, unused] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
        (void)unused;
        if (path_ec || root_ec || !path.is_absolute() || root_end != root.end())
            return fail(Errc::BadInput, field, fmt::format("{} is outside the image folder {}", uri, folder));
        auto status = fs::status(path, ec);
        if (ec || !fs::is_regular_file(status))
            return fail(Errc::BadInput, field, fmt::format("{} is not an existing file", uri));
        return static_cast<std::uint64_t>(fs::file_size(path, ec));
    }
    // simplekvm's form: a path on the image server ("/gold/debian12.qcow2").
    if (uri.rfind('/', 0) == 0 && uri.find("..") == std::string::npos &&
        uri.find_first_of(" \t\r\n") == std::string::npos)
        return probe_.content_length(fmt::format("http://{}{}", server, uri), field);
    return fail(Errc::BadInput, field,
                fmt::format("'{}' is not an image URI: use http(s)://..., file:///path under {}, or /path on {}", uri,
                            folder, server));
}

Status Catalog::put_gold(const nlohmann::json& body) {
    if (!body.is_object()) return fail(Errc::BadInput, "body", "expected a JSON object describing the gold image");
    auto name = string_field(body, "name");
    if (!name) return tl::unexpected(name.error());
    if (auto ok = check_name("name", *name); !ok) return ok;
    auto arch = string_field(body, "arch");
    if (!arch) return tl::unexpected(arch.error());
    if (auto ok = check_arch("arch", *arch); !ok) return ok;
    auto uri = string_field(body, "uri");
    if (!uri) return tl::unexpected(uri.error());
    auto size = gibibytes(body, "size");
    if (!size) return tl::unexpected(size.error());
    auto desc = optional_string_field(body, "desc");
    if (!desc) return tl::unexpected(desc.error());
    auto bytes = image_size(*uri, config_.gold_srv, config_.gold_dir, "uri");
    if (!bytes) return tl::unexpected(bytes.error());
    const auto limit = static_cast<std::uint64_t>(*size * static_cast<double>(kGiB));
    if (*bytes > limit)
        return fail(Errc::BadInput, "size",
                    fmt::format("the image is {} bytes, more than the size of {} GiB; raise size", *bytes, *size), 403);
    nlohmann::json gold = {{"name", *name}, {"arch", *arch}, {"uri", *uri}, {"size", limit}, {"desc", *desc}};
    auto put = store_.put(kGolds + *arch + "/" + *name, gold.dump());
    if (!put) return tl::unexpected(put.error());
    return {};
}

Status Catalog::delete_gold(const std::string& name, const std::string& arch) {
    if (auto ok = check_name("name", name); !ok) return ok;
    if (auto ok = check_arch("arch", arch); !ok) return ok;
    auto erased = store_.erase(kGolds + arch + "/" + name);
    if (!erased) return tl::unexpected(erased.error());
    if (!*erased) return fail(Errc::NotFound, "name", fmt::format("no {} gold image named '{}'", arch, name));
    return {};
}

Result<std::vector<nlohmann::json>> Catalog::golds(const std::string& arch) {
    if (!arch.empty())
        if (auto ok = check_arch("arch", arch); !ok) return tl::unexpected(ok.error());
    auto list = list_json(arch.empty() ? kGolds : kGolds + arch + "/");
    if (!list) return list;
    // The unnamed entry per architecture is the blank data disk (simplekvm clients offer it).
    for (const char* a : {"x86_64", "aarch64"})
        if (arch.empty() || arch == a)
            list->push_back({{"name", ""}, {"arch", a}, {"uri", ""}, {"size", 1}, {"desc", "data disk"}});
    return list;
}

Status Catalog::put_iso(const nlohmann::json& body) {
    if (!body.is_object()) return fail(Errc::BadInput, "body", "expected a JSON object describing the ISO");
    auto name = string_field(body, "name");
    if (!name) return tl::unexpected(name.error());
    if (auto ok = check_name("name", *name); !ok) return ok;
    auto uri = string_field(body, "uri");
    if (!uri) return tl::unexpected(uri.error());
    auto desc = optional_string_field(body, "desc");
    if (!desc) return tl::unexpected(desc.error());
    if (auto bytes = image_size(*uri, config_.meta_srv, config_.iso_dir, "uri"); !bytes)
        return tl::unexpected(bytes.error());
    nlohmann::json iso = {{"name", *name}, {"uri", *uri}, {"desc", *desc}};
    auto put = store_.put(kIsos + *name, iso.dump());
    if (!put) return tl::unexpected(put.error());
    return {};
}

Status Catalog::delete_iso(const std::string& name) {
    if (auto ok = check_name("name", name); !ok) return ok;
    auto erased = store_.erase(kIsos + name);
    if (!erased) return tl::unexpected(erased.error());
    if (!*erased) return fail(Errc::NotFound, "name", fmt::format("no ISO named '{}'", name));
    return {};
}

Result<std::vector<nlohmann::json>> Catalog::isos() {
    auto list = list_json(kIsos);
    if (!list) return list;
    // The unnamed entry stands for the VM's own cloud-init (cidata) ISO.
    list->push_back({{"name", ""}, {"uri", ""}, {"desc", "MetaData ISO"}});
    return list;
}

}  // namespace kvmhub::catalog
