// The environment layer of the configuration: KVMHUB_* variables, the simplekvm names kept
// as aliases (DATA_DIR, META_SRV, ETCD_SRV, ...) and the ACT_* values for action scripts.
#include "common/config_detail.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kvmhub::config_detail {
namespace {

// Variables that are not a plain scalar field of the schema.
constexpr std::array<std::string_view, 5> kSpecialNames{
    "KVMHUB_LISTEN", "KVMHUB_ETCD_ENDPOINTS", "KVMHUB_ADMIN_PASSWORD", "KVMHUB_LDAP_ALLOW", "KVMHUB_LDAP_BLOCK"};
// Set for the test suite to rewrite golden files (style.md, rule 20); a daemon started by those
// tests inherits it and must still start.
constexpr std::string_view kTolerated = "KVMHUB_REGENERATE";

struct Found {
    std::string name;  // the variable actually used, for messages
    std::string value;
};

// The KVMHUB_ name wins over the simplekvm alias. Empty values count as unset: env files and
// compose files write "FOO=" to mean "not set", and an empty path or address is never wanted.
std::optional<Found> lookup(const Environment& env, std::string_view name, std::string_view alias) {
    for (std::string_view candidate : {name, alias}) {
        if (candidate.empty()) continue;
        const auto it = env.find(std::string(candidate));
        if (it != env.end() && !it->second.empty()) return Found{it->first, it->second};
    }
    return std::nullopt;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return s;
}

Result<Scalar> parse_scalar(Kind kind, const Found& found) {
    if (kind == Kind::String) return Scalar{found.value};
    if (kind == Kind::Bool) {
        const std::string v = lower(found.value);
        if (v == "true" || v == "1") return Scalar{true};
        if (v == "false" || v == "0") return Scalar{false};
        return fail(Errc::BadInput, found.name, fmt::format("expected true, false, 1 or 0, got '{}'", found.value));
    }
    std::int64_t n = 0;
    const char* end = found.value.data() + found.value.size();
    const auto [ptr, ec] = std::from_chars(found.value.data(), end, n);
    if (ec != std::errc() || ptr != end)
        return fail(Errc::BadInput, found.name, fmt::format("expected an integer, got '{}'", found.value));
    return Scalar{n};
}

// A mistyped KVMHUB_ variable would otherwise be ignored and the daemon would run with a default
// the operator believes they changed.
Status check_names(const Environment& env) {
    std::vector<std::string_view> known(kSpecialNames.begin(), kSpecialNames.end());
    for (const Field& field : fields()) {
        if (!field.env.empty()) known.push_back(field.env);
    }
    for (const auto& [name, value] : env) {
        if (!name.starts_with("KVMHUB_") || name == kTolerated) continue;
        if (std::find(known.begin(), known.end(), name) != known.end()) continue;
        return fail(Errc::BadInput, name,
                    fmt::format("unknown variable{}; the KVMHUB_* settings are listed in kvmhub.toml.example",
                                suggestion(name, known)));
    }
    return {};
}

std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    return std::string(s.substr(first, s.find_last_not_of(" \t") - first + 1));
}

// "a, b,c" -> {"a", "b", "c"} (empty items dropped).
std::vector<std::string> split_commas(std::string_view rest) {
    std::vector<std::string> items;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string item = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (!item.empty()) items.push_back(std::move(item));
    }
    return items;
}

Status apply_etcd_endpoints(Config& config, const Environment& env) {
    if (const auto found = lookup(env, "KVMHUB_ETCD_ENDPOINTS", "")) {
        std::vector<std::string> endpoints = split_commas(found->value);
        for (const std::string& item : endpoints)
            if (auto ok = check_etcd_endpoint(item, found->name); !ok) return ok;
        config.store.etcd_endpoints = std::move(endpoints);
        return {};
    }
    // simplekvm names one etcd server by host and port.
    const auto srv = lookup(env, "ETCD_SRV", "");
    const auto port = lookup(env, "ETCD_PORT", "");
    if (!srv && !port) return {};
    std::string host = srv ? srv->value : "127.0.0.1";
    if (host.find_first_of(" \t/,") != std::string::npos)
        return fail(Errc::BadInput, "ETCD_SRV",
                    fmt::format("expected a host name or address without scheme or port, got '{}'", host));
    if (host.find(':') != std::string::npos && !host.starts_with('[')) host = "[" + host + "]";
    std::string port_text = "2379";
    if (port) {
        int n = 0;
        const char* end = port->value.data() + port->value.size();
        const auto [ptr, ec] = std::from_chars(port->value.data(), end, n);
        if (ec != std::errc() || ptr != end || n < 1 || n > 65535)
            return fail(Errc::BadInput, "ETCD_PORT", fmt::format("expected a port 1..65535, got '{}'", port->value));
        port_text = port->value;
    }
    config.store.etcd_endpoints = {fmt::format("http://{}:{}", host, port_text)};
    return {};
}

// simplekvm's JWT_ALLOWS and JWT_BLOCKS are JSON lists of names; a comma-separated list is
// taken too.
Result<std::optional<std::vector<std::string>>> user_list(const Environment& env, std::string_view name,
                                                          std::string_view alias) {
    const auto found = lookup(env, name, alias);
    if (!found) return std::nullopt;
    if (trim(found->value).starts_with('[')) {
        const auto parsed = nlohmann::json::parse(found->value, nullptr, false);
        std::vector<std::string> names;
        const bool ok = parsed.is_array() && std::all_of(parsed.begin(), parsed.end(), [&](const auto& item) {
                            if (!item.is_string()) return false;
                            names.push_back(item.template get<std::string>());
                            return true;
                        });
        if (!ok)
            return fail(Errc::BadInput, found->name,
                        R"(expected a JSON list of user names, e.g. ["alice","bob"], or alice,bob)");
        return names;
    }
    return split_commas(found->value);
}

Status apply_ldap_lists(Config& config, const Environment& env) {
    auto allow = user_list(env, "KVMHUB_LDAP_ALLOW", "JWT_ALLOWS");
    if (!allow) return tl::unexpected(allow.error());
    if (*allow) config.ldap.allow = std::move(**allow);
    auto block = user_list(env, "KVMHUB_LDAP_BLOCK", "JWT_BLOCKS");
    if (!block) return tl::unexpected(block.error());
    if (*block) config.ldap.block = std::move(**block);
    return {};
}

}  // namespace

Status apply_environment(Config& config, const Environment& env, LoadState& state) {
    if (auto ok = check_names(env); !ok) return ok;
    for (const Field& field : fields()) {
        const auto found = lookup(env, field.env, field.alias);
        if (!found) continue;
        auto value = parse_scalar(field.kind, *found);
        if (!value) return tl::unexpected(value.error());
        if (auto ok = store_field(config, field, *value, found->name); !ok) return ok;
    }
    if (lookup(env, "KVMHUB_STORE_BACKEND", "")) state.backend_explicit = true;
    // In simplekvm, setting ETCD_PREFIX is how one asks for etcd.
    if (lookup(env, "KVMHUB_ETCD_PREFIX", "ETCD_PREFIX") && !state.backend_explicit)
        config.store.backend = StoreBackend::Etcd;
    if (auto ok = apply_etcd_endpoints(config, env); !ok) return ok;
    if (auto ok = apply_ldap_lists(config, env); !ok) return ok;

    if (const auto found = lookup(env, "KVMHUB_LISTEN", "")) {
        auto listener = parse_listen(found->value, found->name);
        if (!listener) return tl::unexpected(listener.error());
        config.listeners = {*listener};
    }
    if (const auto found = lookup(env, "KVMHUB_ADMIN_PASSWORD", "")) config.auth.initial_admin_password = found->value;

    // ACT_* values are passed through verbatim, empty ones included: they belong to the scripts.
    for (auto it = env.lower_bound("ACT_"); it != env.end() && it->first.starts_with("ACT_"); ++it) {
        if (it->first.size() > 4) config.actions[it->first] = it->second;
    }
    return {};
}

}  // namespace kvmhub::config_detail

namespace kvmhub {

Environment current_environment() {
    Environment env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const auto eq = text.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
    }
    return env;
}

}  // namespace kvmhub
