// The configuration as `GET /conf/` shows it: simplekvm's names first, so its clients keep
// working, then kvmhub's own sections. Nothing secret leaves this function unmasked.
#include "common/config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kvmhub {
namespace {

using nlohmann::json;

constexpr std::string_view kMask = "***";

std::string mask(const std::string& value) {
    return value.empty() ? std::string() : std::string(kMask);
}

// ACT_* values are opaque to kvmhub; guess secrets from the name as the action scripts' authors
// name them (ACT_API_KEY, ACT_DB_PASSWORD, ...).
bool looks_secret(std::string name) {
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    constexpr std::array<std::string_view, 4> kWords{"KEY", "SECRET", "PASS", "TOKEN"};
    return std::any_of(kWords.begin(), kWords.end(),
                       [&](std::string_view word) { return name.find(word) != std::string::npos; });
}

// An endpoint may carry credentials ("http://user:pw@host:2379"); show the host only.
std::string without_userinfo(const std::string& endpoint) {
    const auto scheme_end = endpoint.find("://");
    const auto start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
    const auto at = endpoint.find('@', start);
    if (at == std::string::npos || at > endpoint.find('/', start)) return endpoint;
    return endpoint.substr(0, start) + std::string(kMask) + endpoint.substr(at);
}

struct HostPort {
    std::string host;
    std::string port;
};

HostPort split_endpoint(const std::string& endpoint) {
    const auto scheme_end = endpoint.find("://");
    std::string authority = endpoint.substr(scheme_end == std::string::npos ? 0 : scheme_end + 3);
    authority = authority.substr(0, authority.find('/'));
    if (const auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
    const auto close = authority.rfind(']');
    const auto colon = authority.rfind(':');
    if (colon == std::string::npos || (close != std::string::npos && colon < close)) return {authority, ""};
    return {authority.substr(0, colon), authority.substr(colon + 1)};
}

json listener_json(const ListenerConfig& l) {
    json serves = json::array();
    for (Surface s : l.surfaces) serves.push_back(surface_name(s));
    const bool v6 = l.address.find(':') != std::string::npos;
    return {
        {"name", l.name},         {"listen", (v6 ? "[" + l.address + "]" : l.address) + ":" + std::to_string(l.port)},
        {"address", l.address},   {"port", l.port},
        {"serves", serves},       {"tls", !l.tls_cert.empty()},
        {"tls_cert", l.tls_cert}, {"tls_key", l.tls_key},  // a path, not the key itself
    };
}

}  // namespace

json config_to_json(const Config& c) {
    const bool etcd = c.store.backend == StoreBackend::Etcd;
    // simplekvm reads "ETCD_PREFIX is set" as "etcd is in use": leave the etcd names empty otherwise.
    const HostPort first =
        etcd && !c.store.etcd_endpoints.empty() ? split_endpoint(c.store.etcd_endpoints.front()) : HostPort{};
    json out = {
        {"VERSION", KVMHUB_VERSION},
        {"DATA_DIR", c.data_dir},
        {"META_SRV", c.meta_srv},
        {"GOLD_SRV", c.gold_srv},
        {"CTRL_SRV", c.ctrl_srv},
        {"CTRL_KEY", mask(c.ctrl_key)},
        {"STORE", etcd ? "etcd" : "sqlite"},
        {"ETCD_PREFIX", etcd ? c.store.etcd_prefix : std::string()},
        {"ETCD_SRV", first.host},
        {"ETCD_PORT", first.port},
    };
    for (const auto& [name, value] : c.actions) out[name] = looks_secret(name) ? mask(value) : value;

    out["config_file"] = c.config_file;
    out["data_dir"] = c.data_dir;
    out["gold_dir"] = c.gold_dir;
    out["iso_dir"] = c.iso_dir;
    out["log_level"] = c.log_level;
    out["demo"] = c.demo;
    out["listeners"] = json::array();
    for (const ListenerConfig& l : c.listeners) out["listeners"].push_back(listener_json(l));
    out["http"] = {
        {"io_threads", c.http.io_threads},
        {"worker_threads", c.http.worker_threads},
        {"host_requests", c.http.host_requests},
        {"host_queue", c.http.host_queue},
        {"body_limit", c.http.body_limit},
        {"json_depth_limit", c.http.json_depth_limit},
        {"request_timeout", c.http.request_timeout.count()},
        {"idle_timeout", c.http.idle_timeout.count()},
        {"shutdown_grace", c.http.shutdown_grace.count()},
        {"access_log", c.http.access_log},
        {"public_origin", c.http.public_origin},
    };
    out["actions"] = {{"timeout", c.action_timeout.count()}};
    out["metrics"] = {{"allow", c.metrics.allow}, {"token", mask(c.metrics.token)}};
    out["libvirt"] = {
        {"call_timeout", c.libvirt.call_timeout.count()},
        {"max_calls_per_host", c.libvirt.max_calls_per_host},
        {"allow_test_files", c.libvirt.allow_test_files},
        {"resync_interval", c.libvirt.resync_interval.count()},
    };
    out["tenant"] = {
        {"key_grace", c.tenant.key_grace.count()},
        {"max_link_lifetime", c.tenant.max_link_lifetime.count()},
    };
    out["console"] = {
        {"max_ticket_ttl", c.console.max_ticket_ttl.count()},
        {"idle_timeout", c.console.idle_timeout.count()},
        {"ping_interval", c.console.ping_interval.count()},
        {"takeover", c.console.takeover},
        {"ui_dir", c.console.ui_dir},
        {"simplekvm_ui_dir", c.console.simplekvm_ui_dir},
    };
    json endpoints = json::array();
    for (const std::string& e : c.store.etcd_endpoints) endpoints.push_back(without_userinfo(e));
    out["store"] = {
        {"backend", etcd ? "etcd" : "sqlite"},
        {"sqlite_path", c.store.sqlite_path},
        {"etcd_endpoints", endpoints},
        {"etcd_prefix", c.store.etcd_prefix},
    };
    // initial_admin_password is deliberately absent, not even as "set"/"unset".
    out["auth"] = {
        {"token_ttl", c.auth.token_ttl.count()},
        {"session_lifetime", c.auth.session_lifetime.count()},
        {"login_max_failures_per_user", c.auth.login_max_failures_per_user},
        {"login_max_failures_per_ip", c.auth.login_max_failures_per_ip},
        {"login_window", c.auth.login_window.count()},
        {"login_lockout", c.auth.login_lockout.count()},
    };
    out["ldap"] = {
        {"url", c.ldap.url},           {"base_dn", c.ldap.base_dn}, {"uid_format", c.ldap.uid_format},
        {"starttls", c.ldap.starttls}, {"ca_file", c.ldap.ca_file}, {"timeout", c.ldap.timeout.count()},
        {"allow", c.ldap.allow},       {"block", c.ldap.block},
    };
    return out;
}

}  // namespace kvmhub
