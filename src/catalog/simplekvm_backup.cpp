#include "catalog/simplekvm_backup.hpp"

#include <array>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kvmhub::catalog {
namespace {

constexpr std::array<std::string_view, 4> kDirs{"cidata", "devices", "domains", "meta"};
constexpr std::array<std::string_view, 5> kTables{"devices.json", "golds.json", "hosts.json", "iso.json", "vars.json"};

std::string dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

tl::unexpected<Error> bad_table(const std::string& member, const std::string& why) {
    return fail(Errc::BadInput, member,
                fmt::format("{}: {} (a simplekvm table is a JSON list of objects)", member, why));
}

// One table's records as (key, record). `key_of` names the record's key, empty to skip it.
template <typename KeyOf>
Status table(const std::string& member, const std::string& text, std::vector<std::pair<std::string, std::string>>& out,
             std::vector<std::string>& skip, KeyOf key_of) {
    const auto list = nlohmann::json::parse(text, nullptr, false);
    if (!list.is_array()) return bad_table(member, "not a JSON list");
    for (const auto& record : list) {
        if (!record.is_object()) return bad_table(member, "an entry is not an object");
        const std::string key = key_of(record);
        if (key.empty()) {
            skip.push_back(fmt::format("{}: entry {} (kvmhub provides the blank entry itself)", member, dump(record)));
            continue;
        }
        out.emplace_back(key, dump(record));
    }
    return {};
}

std::string field(const nlohmann::json& record, const char* name) {
    auto it = record.find(name);
    return it != record.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

bool is_simplekvm_path(std::string_view path) {
    for (std::string_view t : kTables)
        if (path == t) return true;
    for (std::string_view d : kDirs)
        if (path == d || (path.starts_with(d) && path.size() > d.size() && path[d.size()] == '/')) return true;
    return false;
}

Result<std::vector<std::pair<std::string, std::string>>> convert_simplekvm_backup(
    const std::vector<std::pair<std::string, std::string>>& members, std::vector<std::string>& skip) {
    std::vector<std::pair<std::string, std::string>> out;
    nlohmann::json vars = nlohmann::json::object();
    bool has_vars = false;
    for (const auto& [name, data] : members) {
        const auto slash = name.find('/');
        const std::string dir = slash == std::string::npos ? std::string() : name.substr(0, slash);
        const std::string file = slash == std::string::npos ? name : name.substr(slash + 1);
        if (!dir.empty() && file.find('/') == std::string::npos) {
            const char* kind = dir == "domains"   ? "domain"
                               : dir == "devices" ? "device"
                               : dir == "meta"    ? "meta"
                                                  : nullptr;
            if (kind != nullptr && file.ends_with(".tpl") && file.size() > 4) {
                out.emplace_back(fmt::format("/templates/{}/{}", kind, file.substr(0, file.size() - 4)), data);
                continue;
            }
            if (dir == "devices" && file.ends_with(".action") && file.size() > 7) {
                out.emplace_back(fmt::format("/templates/action/{}", file.substr(0, file.size() - 7)), data);
                continue;
            }
        }
        if (dir == "cidata") {
            skip.push_back(name + ": cloud-init data is rebuilt by kvmhub");
            continue;
        }
        Status ok;
        if (name == "hosts.json") {
            ok = table(name, data, out, skip, [](const nlohmann::json& r) {
                const std::string n = field(r, "name");
                return n.empty() ? n : "/catalog/hosts/" + n;
            });
        } else if (name == "devices.json") {
            ok = table(name, data, out, skip, [](const nlohmann::json& r) {
                const std::string host = field(r, "kvmhost"), n = field(r, "name");
                return host.empty() || n.empty() ? std::string() : fmt::format("/catalog/devices/{}/{}", host, n);
            });
        } else if (name == "golds.json") {
            ok = table(name, data, out, skip, [](const nlohmann::json& r) {
                const std::string arch = field(r, "arch"), n = field(r, "name");
                return arch.empty() || n.empty() ? std::string() : fmt::format("/catalog/golds/{}/{}", arch, n);
            });
        } else if (name == "iso.json") {
            ok = table(name, data, out, skip, [](const nlohmann::json& r) {
                const std::string n = field(r, "name");
                return n.empty() ? n : "/catalog/isos/" + n;
            });
        } else if (name == "vars.json") {
            // A list of {"var":"description"} objects, or one object: merged into the one table.
            const auto parsed = nlohmann::json::parse(data, nullptr, false);
            const auto entries = parsed.is_object() ? nlohmann::json::array({parsed}) : parsed;
            if (!entries.is_array()) return bad_table(name, "not a JSON list");
            for (const auto& e : entries) {
                if (!e.is_object()) return bad_table(name, "an entry is not an object");
                for (const auto& [var, desc] : e.items()) vars[var] = desc;
            }
            has_vars = true;
        } else {
            skip.push_back(name + ": not part of a simplekvm configuration");
        }
        if (!ok) return tl::unexpected(ok.error());
    }
    if (has_vars) out.emplace_back("/catalog/vars", dump(vars));
    return out;
}

}  // namespace kvmhub::catalog
