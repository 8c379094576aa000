// The scalar settings of kvmhub.toml and their environment names, in one table, so the file,
// the environment and the command line share one set of checks.
#include "common/config_detail.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "common/cidr.hpp"

namespace kvmhub::config_detail {
namespace {

// Stores a Scalar into the member reached by `Path` (e.g. &Config::http, &HttpConfig::body_limit).
template <auto... Path>
void assign(Config& config, const Scalar& value) {
    auto& member = (config.*....*Path);
    using M = std::remove_cvref_t<decltype(member)>;
    if constexpr (std::is_same_v<M, std::string>) {
        member = std::get<std::string>(value);
    } else if constexpr (std::is_same_v<M, bool>) {
        member = std::get<bool>(value);
    } else if constexpr (std::is_same_v<M, std::chrono::seconds>) {
        member = std::chrono::seconds(std::get<std::int64_t>(value));
    } else if constexpr (std::is_same_v<M, StoreBackend>) {
        member = std::get<std::string>(value) == "etcd" ? StoreBackend::Etcd : StoreBackend::Sqlite;
    } else {
        static_assert(std::is_integral_v<M>);
        member = static_cast<M>(std::get<std::int64_t>(value));  // range-checked before
    }
}

const char* check_not_empty(std::string_view value) {
    return value.empty() ? "must not be empty" : nullptr;
}

// META_SRV and friends end up inside URLs written into guest metadata: a scheme or path here
// would produce "http://http://..." there, so refuse it now rather than at first boot of a guest.
const char* check_host_port(std::string_view value) {
    if (value.find_first_of(" \t/") != std::string_view::npos)
        return "expected host[:port] without scheme or path, e.g. 192.0.2.10:8080";
    return nullptr;
}

// An origin as browsers send it in Origin: scheme://host[:port], nothing after.
const char* check_origin(std::string_view value) {
    if (value.empty()) return nullptr;
    const bool scheme = value.starts_with("http://") || value.starts_with("https://");
    const auto rest = value.substr(value.find("://") + 3);
    if (!scheme || rest.empty() || rest.find_first_of("/?# \t") != std::string_view::npos)
        return "expected scheme://host[:port] without a path, e.g. https://kvm.example.com";
    return nullptr;
}

const char* check_cidr_list(std::string_view value) {
    return parse_cidr_list(value, "") ? nullptr : "expected comma-separated IP networks, e.g. 127.0.0.0/8,::1/128";
}

const char* check_host_port_required(std::string_view value) {
    if (value.empty()) return "must not be empty; expected host[:port], e.g. 192.0.2.10:8080";
    return check_host_port(value);
}

// The directory's address: the scheme says whether the connection is TLS from the start.
const char* check_ldap_url(std::string_view value) {
    if (value.empty()) return nullptr;
    const bool scheme = value.starts_with("ldap://") || value.starts_with("ldaps://");
    const auto rest = value.substr(value.find("://") + 3);
    if (!scheme || rest.empty() || rest.find_first_of(" \t,") != std::string_view::npos)
        return "expected ldap://host[:port] or ldaps://host[:port], e.g. ldaps://ldap.example.com";
    return nullptr;
}

// The user's RDN: exactly one {uid}, and an attribute=value form.
const char* check_uid_format(std::string_view value) {
    const auto at = value.find("{uid}");
    if (at == std::string_view::npos || value.find("{uid}", at + 1) != std::string_view::npos ||
        value.find('=') == std::string_view::npos || value.find('=') > at)
        return "expected an RDN with one {uid}, e.g. uid={uid} or cn={uid}";
    return nullptr;
}

constexpr std::array<std::string_view, 7> kLogLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};
constexpr std::array<std::string_view, 2> kBackends{"sqlite", "etcd"};

constexpr std::int64_t kDay = 24 * 3600;
constexpr std::int64_t kMaxSeconds = 30 * kDay;  // keeps ms/us conversions far from overflow
constexpr std::int64_t kTenYears = 3660 * kDay;
constexpr std::int64_t kMaxFailures = 1'000'000;

// clang-format off
const std::array kFields{
    Field{.key = "data_dir", .env = "KVMHUB_DATA_DIR", .alias = "DATA_DIR",
          .check = check_not_empty, .set = assign<&Config::data_dir>},
    Field{.key = "log_level", .env = "KVMHUB_LOG_LEVEL", .choices = kLogLevels, .set = assign<&Config::log_level>},
    Field{.key = "meta_srv", .env = "KVMHUB_META_SRV", .alias = "META_SRV",
          .check = check_host_port_required, .set = assign<&Config::meta_srv>},
    Field{.key = "gold_srv", .env = "KVMHUB_GOLD_SRV", .alias = "GOLD_SRV",
          .check = check_host_port, .set = assign<&Config::gold_srv>},
    Field{.key = "ctrl_srv", .env = "KVMHUB_CTRL_SRV", .alias = "CTRL_SRV",
          .check = check_host_port, .set = assign<&Config::ctrl_srv>},
    Field{.key = "ctrl_key", .env = "KVMHUB_CTRL_KEY", .alias = "CTRL_KEY", .set = assign<&Config::ctrl_key>},
    Field{.key = "gold_dir", .env = "KVMHUB_GOLD_DIR", .set = assign<&Config::gold_dir>},
    Field{.key = "iso_dir", .env = "KVMHUB_ISO_DIR", .set = assign<&Config::iso_dir>},
    Field{.key = "actions.timeout", .env = "KVMHUB_ACTION_TIMEOUT", .kind = Kind::Int, .min = 1, .max = kDay,
          .unit = "seconds", .set = assign<&Config::action_timeout>},
    Field{.key = "demo", .env = "KVMHUB_DEMO", .kind = Kind::Bool, .set = assign<&Config::demo>},

    Field{.key = "http.io_threads", .kind = Kind::Int, .min = 0, .max = 256, .unit = "threads (0 = one per core)",
          .set = assign<&Config::http, &HttpConfig::io_threads>},
    Field{.key = "http.worker_threads", .kind = Kind::Int, .min = 0, .max = 256, .unit = "threads (0 = automatic)",
          .set = assign<&Config::http, &HttpConfig::worker_threads>},
    Field{.key = "http.host_requests", .kind = Kind::Int, .min = 1, .max = 256, .unit = "requests per host",
          .set = assign<&Config::http, &HttpConfig::host_requests>},
    Field{.key = "http.host_queue", .kind = Kind::Int, .min = 0, .max = 4096, .unit = "requests per host",
          .set = assign<&Config::http, &HttpConfig::host_queue>},
    Field{.key = "http.body_limit", .env = "KVMHUB_BODY_LIMIT", .kind = Kind::Int, .min = 1024, .max = 64 << 20,
          .unit = "bytes (1 KiB to 64 MiB)", .set = assign<&Config::http, &HttpConfig::body_limit>},
    Field{.key = "http.json_depth_limit", .kind = Kind::Int, .min = 1, .max = 512, .unit = "levels",
          .set = assign<&Config::http, &HttpConfig::json_depth_limit>},
    Field{.key = "http.request_timeout", .kind = Kind::Int, .min = 1, .max = kMaxSeconds, .unit = "seconds",
          .set = assign<&Config::http, &HttpConfig::request_timeout>},
    Field{.key = "http.idle_timeout", .kind = Kind::Int, .min = 1, .max = kMaxSeconds, .unit = "seconds",
          .set = assign<&Config::http, &HttpConfig::idle_timeout>},
    Field{.key = "http.shutdown_grace", .kind = Kind::Int, .min = 1, .max = kMaxSeconds, .unit = "seconds",
          .set = assign<&Config::http, &HttpConfig::shutdown_grace>},
    Field{.key = "http.access_log", .env = "KVMHUB_ACCESS_LOG", .kind = Kind::Bool,
          .set = assign<&Config::http, &HttpConfig::access_log>},
    Field{.key = "http.public_origin", .env = "KVMHUB_PUBLIC_ORIGIN", .check = check_origin,
          .set = assign<&Config::http, &HttpConfig::public_origin>},

    Field{.key = "metrics.allow", .env = "KVMHUB_METRICS_ALLOW", .check = check_cidr_list,
          .set = assign<&Config::metrics, &MetricsConfig::allow>},
    Field{.key = "metrics.token", .env = "KVMHUB_METRICS_TOKEN", .set = assign<&Config::metrics, &MetricsConfig::token>},

    Field{.key = "libvirt.call_timeout", .env = "KVMHUB_LIBVIRT_CALL_TIMEOUT", .kind = Kind::Int, .min = 1,
          .max = 3600, .unit = "seconds", .set = assign<&Config::libvirt, &LibvirtConfig::call_timeout>},
    Field{.key = "libvirt.max_calls_per_host", .kind = Kind::Int, .min = 1, .max = 64, .unit = "calls",
          .set = assign<&Config::libvirt, &LibvirtConfig::max_calls_per_host>},
    Field{.key = "libvirt.allow_test_files", .env = "KVMHUB_LIBVIRT_ALLOW_TEST_FILES", .kind = Kind::Bool,
          .set = assign<&Config::libvirt, &LibvirtConfig::allow_test_files>},
    Field{.key = "libvirt.resync_interval", .env = "KVMHUB_LIBVIRT_RESYNC_INTERVAL", .kind = Kind::Int, .min = 1,
          .max = kDay, .unit = "seconds", .set = assign<&Config::libvirt, &LibvirtConfig::resync_interval>},

    Field{.key = "console.max_ticket_ttl", .env = "KVMHUB_CONSOLE_MAX_TICKET_TTL", .kind = Kind::Int, .min = 1,
          .max = kDay, .unit = "seconds", .set = assign<&Config::console, &ConsoleConfig::max_ticket_ttl>},
    Field{.key = "console.idle_timeout", .env = "KVMHUB_CONSOLE_IDLE_TIMEOUT", .kind = Kind::Int, .min = 1,
          .max = kDay, .unit = "seconds", .set = assign<&Config::console, &ConsoleConfig::idle_timeout>},
    Field{.key = "console.ping_interval", .env = "KVMHUB_CONSOLE_PING_INTERVAL", .kind = Kind::Int, .min = 1,
          .max = 3600, .unit = "seconds", .set = assign<&Config::console, &ConsoleConfig::ping_interval>},
    Field{.key = "console.takeover", .env = "KVMHUB_CONSOLE_TAKEOVER", .kind = Kind::Bool,
          .set = assign<&Config::console, &ConsoleConfig::takeover>},
    Field{.key = "console.ui_dir", .env = "KVMHUB_UI_DIR", .set = assign<&Config::console, &ConsoleConfig::ui_dir>},
    Field{.key = "console.simplekvm_ui_dir", .env = "KVMHUB_SIMPLEKVM_UI_DIR",
          .set = assign<&Config::console, &ConsoleConfig::simplekvm_ui_dir>},

    Field{.key = "store.backend", .env = "KVMHUB_STORE_BACKEND", .choices = kBackends,
          .set = assign<&Config::store, &StoreConfig::backend>},
    Field{.key = "store.sqlite_path", .set = assign<&Config::store, &StoreConfig::sqlite_path>},
    Field{.key = "store.etcd_prefix", .env = "KVMHUB_ETCD_PREFIX", .alias = "ETCD_PREFIX",
          .set = assign<&Config::store, &StoreConfig::etcd_prefix>},

    Field{.key = "ldap.url", .env = "KVMHUB_LDAP_URL", .alias = "LDAP_SRV_URL", .check = check_ldap_url,
          .set = assign<&Config::ldap, &LdapConfig::url>},
    Field{.key = "ldap.base_dn", .env = "KVMHUB_LDAP_BASE_DN", .alias = "LDAP_BASE_DN",
          .set = assign<&Config::ldap, &LdapConfig::base_dn>},
    Field{.key = "ldap.uid_format", .env = "KVMHUB_LDAP_UID_FORMAT", .alias = "LDAP_UID_FMT",
          .check = check_uid_format, .set = assign<&Config::ldap, &LdapConfig::uid_format>},
    Field{.key = "ldap.starttls", .env = "KVMHUB_LDAP_STARTTLS", .kind = Kind::Bool,
          .set = assign<&Config::ldap, &LdapConfig::starttls>},
    Field{.key = "ldap.ca_file", .env = "KVMHUB_LDAP_CA_FILE", .set = assign<&Config::ldap, &LdapConfig::ca_file>},
    Field{.key = "ldap.timeout", .env = "KVMHUB_LDAP_TIMEOUT", .kind = Kind::Int, .min = 1, .max = 120,
          .unit = "seconds", .set = assign<&Config::ldap, &LdapConfig::timeout>},

    Field{.key = "auth.token_ttl", .env = "KVMHUB_TOKEN_TTL", .kind = Kind::Int, .min = 60, .max = kMaxSeconds,
          .unit = "seconds (1 minute to 30 days)", .set = assign<&Config::auth, &AuthConfig::token_ttl>},
    Field{.key = "auth.session_lifetime", .env = "KVMHUB_SESSION_LIFETIME", .kind = Kind::Int, .min = 60,
          .max = kMaxSeconds, .unit = "seconds (1 minute to 30 days)",
          .set = assign<&Config::auth, &AuthConfig::session_lifetime>},
    Field{.key = "auth.login_max_failures_per_user", .env = "KVMHUB_LOGIN_MAX_FAILURES_PER_USER", .kind = Kind::Int,
          .min = 1, .max = kMaxFailures, .unit = "failures",
          .set = assign<&Config::auth, &AuthConfig::login_max_failures_per_user>},
    Field{.key = "auth.login_max_failures_per_ip", .env = "KVMHUB_LOGIN_MAX_FAILURES_PER_IP", .kind = Kind::Int,
          .min = 1, .max = kMaxFailures, .unit = "failures",
          .set = assign<&Config::auth, &AuthConfig::login_max_failures_per_ip>},
    Field{.key = "auth.login_window", .env = "KVMHUB_LOGIN_WINDOW", .kind = Kind::Int, .min = 1, .max = kMaxSeconds,
          .unit = "seconds", .set = assign<&Config::auth, &AuthConfig::login_window>},
    Field{.key = "auth.login_lockout", .env = "KVMHUB_LOGIN_LOCKOUT", .kind = Kind::Int, .min = 1, .max = kMaxSeconds,
          .unit = "seconds", .set = assign<&Config::auth, &AuthConfig::login_lockout>},

    Field{.key = "tenant.key_grace", .env = "KVMHUB_TENANT_KEY_GRACE", .kind = Kind::Int, .min = 0, .max = kMaxSeconds,
          .unit = "seconds (0 to 30 days)", .set = assign<&Config::tenant, &TenantConfig::key_grace>},
    Field{.key = "tenant.max_link_lifetime", .env = "KVMHUB_TENANT_MAX_LINK_LIFETIME", .kind = Kind::Int, .min = 60,
          .max = kTenYears, .unit = "seconds (1 minute to 10 years)",
          .set = assign<&Config::tenant, &TenantConfig::max_link_lifetime>},
};
// clang-format on

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::span<const Field> fields() {
    return kFields;
}

const Field* find_field(std::string_view key) {
    const auto it = std::find_if(kFields.begin(), kFields.end(), [&](const Field& f) { return f.key == key; });
    return it == kFields.end() ? nullptr : &*it;
}

Status store_field(Config& config, const Field& field, const Scalar& value, const std::string& where) {
    if (field.kind == Kind::Int) {
        const std::int64_t n = std::get<std::int64_t>(value);
        if (n < field.min || n > field.max)
            return fail(Errc::BadInput, where,
                        fmt::format("must be between {} and {} {}, got {}", field.min, field.max, field.unit, n));
    } else if (field.kind == Kind::String) {
        const std::string& s = std::get<std::string>(value);
        if (!field.choices.empty() && std::find(field.choices.begin(), field.choices.end(), s) == field.choices.end())
            return fail(Errc::BadInput, where,
                        fmt::format("must be one of {}; got '{}'", fmt::join(field.choices, ", "), s));
        if (field.check != nullptr) {
            if (const char* problem = field.check(s))
                return fail(Errc::BadInput, where, fmt::format("{}; got '{}'", problem, s));
        }
    }
    field.set(config, value);
    return {};
}

Status check_etcd_endpoint(const std::string& endpoint, const std::string& where) {
    const bool has_scheme = endpoint.starts_with("http://") || endpoint.starts_with("https://");
    if (!has_scheme || endpoint.find_first_of(" \t,") != std::string::npos)
        return fail(
            Errc::BadInput, where,
            fmt::format("'{}' is not an etcd endpoint; expected http://HOST:PORT or https://HOST:PORT", endpoint));
    return {};
}

std::string suggestion(std::string_view name, std::span<const std::string_view> candidates) {
    std::string_view best;
    std::size_t best_distance = 3;  // beyond two edits it is a different word, not a typo
    for (std::string_view candidate : candidates) {
        const std::size_t d = edit_distance(name, candidate);
        if (d < best_distance) {
            best = candidate;
            best_distance = d;
        }
    }
    return best.empty() ? std::string() : fmt::format(" (did you mean {}?)", best);
}

}  // namespace kvmhub::config_detail
