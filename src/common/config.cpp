// Loading kvmhub.toml: defaults < file < environment (config_env.cpp) < command line. Every
// value is checked where it is read, so the error names the key or variable it came from.
#include "common/config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/config_detail.hpp"

namespace kvmhub {
namespace {

using config_detail::Field;
using config_detail::Kind;
using config_detail::LoadState;
using config_detail::Scalar;

constexpr std::array<Surface, 3> kSurfaces{Surface::Admin, Surface::Tenant, Surface::Metadata};
constexpr std::array<std::string_view, 5> kListenerKeys{"name", "listen", "serves", "tls_cert", "tls_key"};
// Keys that are not scalar fields: sections and the lists handled by FileReader.
constexpr std::array<std::string_view, 14> kOtherKeys{"http",       "store",     "auth",        "libvirt",
                                                      "tenant",     "metrics",   "console",     "ldap",
                                                      "listener",   "actions",   "http.listen", "store.etcd_endpoints",
                                                      "ldap.allow", "ldap.block"};

const char* type_name(toml::node_type type) {
    switch (type) {
        case toml::node_type::table:
            return "table";
        case toml::node_type::array:
            return "array";
        case toml::node_type::string:
            return "string";
        case toml::node_type::integer:
            return "integer";
        case toml::node_type::floating_point:
            return "float";
        case toml::node_type::boolean:
            return "boolean";
        case toml::node_type::date:
            return "date";
        case toml::node_type::time:
            return "time";
        case toml::node_type::date_time:
            return "date-time";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

tl::unexpected<Error> wrong_type(const std::string& key, const char* expected, const toml::node& node) {
    return fail(Errc::BadInput, key, fmt::format("expected {}, got {}", expected, type_name(node.type())));
}

// `name` is what the candidates are compared with: the full key, or the part inside a listener table.
tl::unexpected<Error> unknown_key(const std::string& key, std::string_view name,
                                  std::span<const std::string_view> candidates) {
    return fail(Errc::BadInput, key,
                fmt::format("unknown key{}; the keys are listed in kvmhub.toml.example",
                            config_detail::suggestion(name, candidates)));
}

Result<std::string> string_of(const toml::node& node, const std::string& key) {
    if (const auto* v = node.as_string()) return v->get();
    return wrong_type(key, "a string", node);
}

Result<Scalar> scalar_of(const Field& field, const toml::node& node, const std::string& key) {
    switch (field.kind) {
        case Kind::String:
            if (const auto* v = node.as_string()) return Scalar{v->get()};
            return wrong_type(key, "a string", node);
        case Kind::Int:
            if (const auto* v = node.as_integer()) return Scalar{v->get()};
            return wrong_type(key, "an integer", node);
        case Kind::Bool:
            if (const auto* v = node.as_boolean()) return Scalar{v->get()};
            return wrong_type(key, "a boolean (true or false)", node);
    }
    return wrong_type(key, "a value", node);
}

// Opens the file to report the OS's reason ("Permission denied") rather than a generic failure.
Status check_readable(const std::string& path, const std::string& where) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Errc::BadInput, where, fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
    struct stat st {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    ::close(fd);
    if (!regular) return fail(Errc::BadInput, where, fmt::format("cannot read '{}': not a regular file", path));
    return {};
}

Result<std::string> read_text(const std::string& path) {
    if (auto ok = check_readable(path, path); !ok) return tl::unexpected(ok.error());
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return fail(Errc::BadInput, path, fmt::format("cannot read '{}'", path));
    return text.str();
}

Result<toml::table> parse_toml(const std::string& text, const std::string& path) {
    try {
        return toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        return fail(Errc::BadInput, path,
                    fmt::format("TOML syntax error at line {}, column {}: {}", e.source().begin.line,
                                e.source().begin.column, e.description()));
    }
}

Result<Surface> surface_of(const std::string& name, const std::string& key) {
    for (Surface s : kSurfaces) {
        if (name == surface_name(s)) return s;
    }
    return fail(Errc::BadInput, key, fmt::format("unknown surface '{}'; expected admin, tenant or metadata", name));
}

// Walks the parsed file, rejecting anything the schema does not know.
class FileReader {
public:
    FileReader(Config& config, LoadState& state) : config_(config), state_(state) {}

    Status read(const toml::table& root) {
        if (auto ok = section(root, ""); !ok) return ok;
        if (http_listen_ && listener_tables_)
            return fail(Errc::BadInput, "http.listen",
                        "cannot be combined with [[listener]] tables; move the address into a [[listener]] table "
                        "or drop the tables");
        return listener_tables_ ? check_listeners() : Status{};
    }

private:
    Status section(const toml::table& table, const std::string& prefix) {
        for (const auto& [name, node] : table) {
            const std::string key = prefix.empty() ? std::string(name.str()) : fmt::format("{}.{}", prefix, name.str());
            if (auto ok = entry(key, node); !ok) return ok;
        }
        return {};
    }

    Status entry(const std::string& key, const toml::node& node) {
        if (const Field* field = config_detail::find_field(key)) {
            auto value = scalar_of(*field, node, key);
            if (!value) return tl::unexpected(value.error());
            if (key == "store.backend") state_.backend_explicit = true;
            return config_detail::store_field(config_, *field, *value, key);
        }
        if (key == "http" || key == "store" || key == "auth" || key == "libvirt" || key == "tenant" ||
            key == "console" || key == "metrics" || key == "ldap") {
            const auto* table = node.as_table();
            if (table == nullptr) return wrong_type(key, "a table", node);
            return section(*table, key);
        }
        if (key == "listener") return listeners(node);
        if (key == "actions") return actions(node);
        if (key == "store.etcd_endpoints") return endpoints(node, key);
        if (key == "ldap.allow") return user_names(node, key, config_.ldap.allow);
        if (key == "ldap.block") return user_names(node, key, config_.ldap.block);
        if (key == "http.listen") {
            auto text = string_of(node, key);
            if (!text) return tl::unexpected(text.error());
            auto listener = parse_listen(*text, key);
            if (!listener) return tl::unexpected(listener.error());
            config_.listeners = {*listener};
            http_listen_ = true;
            return {};
        }
        if (key.ends_with("admin_password"))
            return fail(Errc::BadInput, key,
                        "the admin password is never read from a file; set KVMHUB_ADMIN_PASSWORD in the "
                        "environment instead");
        std::vector<std::string_view> known(kOtherKeys.begin(), kOtherKeys.end());
        for (const Field& field : config_detail::fields()) known.push_back(field.key);
        return unknown_key(key, key, known);
    }

    Status listeners(const toml::node& node) {
        const auto* array = node.as_array();
        if (array == nullptr) return wrong_type("listener", "an array of tables ([[listener]])", node);
        std::vector<ListenerConfig> list;
        for (std::size_t i = 0; i < array->size(); ++i) {
            const std::string base = fmt::format("listener[{}]", i);
            const auto* table = (*array)[i].as_table();
            if (table == nullptr) return wrong_type(base, "a table", (*array)[i]);
            auto listener = read_listener(*table, base, i);
            if (!listener) return tl::unexpected(listener.error());
            list.push_back(std::move(*listener));
        }
        config_.listeners = std::move(list);
        listener_tables_ = true;
        return {};
    }

    Result<ListenerConfig> read_listener(const toml::table& table, const std::string& base, std::size_t index) {
        ListenerConfig out;
        out.name = fmt::format("listener{}", index);
        bool has_listen = false;
        for (const auto& [name, node] : table) {
            const std::string key = fmt::format("{}.{}", base, name.str());
            if (name.str() == "serves") {
                auto surfaces = read_surfaces(node, key);
                if (!surfaces) return tl::unexpected(surfaces.error());
                out.surfaces = std::move(*surfaces);
                continue;
            }
            if (std::find(kListenerKeys.begin(), kListenerKeys.end(), name.str()) == kListenerKeys.end())
                return unknown_key(key, name.str(), kListenerKeys);
            auto text = string_of(node, key);
            if (!text) return tl::unexpected(text.error());
            if (name.str() == "name") {
                if (text->empty()) return fail(Errc::BadInput, key, "must not be empty");
                out.name = *text;
            } else if (name.str() == "listen") {
                auto parsed = parse_listen(*text, key);
                if (!parsed) return tl::unexpected(parsed.error());
                out.address = parsed->address;
                out.port = parsed->port;
                has_listen = true;
            } else {
                (name.str() == "tls_cert" ? out.tls_cert : out.tls_key) = *text;
            }
        }
        if (!has_listen)
            return fail(Errc::BadInput, base + ".listen", "missing; every [[listener]] needs listen = \"ADDR:PORT\"");
        if (out.tls_cert.empty() != out.tls_key.empty())
            return fail(Errc::BadInput, base + (out.tls_cert.empty() ? ".tls_cert" : ".tls_key"),
                        "missing; tls_cert and tls_key go together: set both for TLS, neither for plain HTTP");
        if (!out.tls_cert.empty()) {
            if (auto ok = check_readable(out.tls_cert, base + ".tls_cert"); !ok) return tl::unexpected(ok.error());
            if (auto ok = check_readable(out.tls_key, base + ".tls_key"); !ok) return tl::unexpected(ok.error());
        }
        return out;
    }

    static Result<std::vector<Surface>> read_surfaces(const toml::node& node, const std::string& key) {
        const auto* array = node.as_array();
        if (array == nullptr) return wrong_type(key, "an array of strings", node);
        std::vector<Surface> out;
        for (const toml::node& item : *array) {
            auto text = string_of(item, key);
            if (!text) return tl::unexpected(text.error());
            auto surface = surface_of(*text, key);
            if (!surface) return tl::unexpected(surface.error());
            if (std::find(out.begin(), out.end(), *surface) == out.end()) out.push_back(*surface);
        }
        if (out.empty())
            return fail(Errc::BadInput, key, "must not be empty; list one or more of admin, tenant, metadata");
        return out;
    }

    Status check_listeners() const {
        const auto& list = config_.listeners;
        if (list.empty()) return fail(Errc::BadInput, "listener", "no listener defined; add a [[listener]] table");
        for (std::size_t i = 0; i < list.size(); ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (list[i].name == list[j].name)
                    return fail(
                        Errc::BadInput, fmt::format("listener[{}].name", i),
                        fmt::format("'{}' is already the name of listener[{}]; names must be unique", list[i].name, j));
                if (list[i].port != 0 && list[i].port == list[j].port && list[i].address == list[j].address)
                    return fail(Errc::BadInput, fmt::format("listener[{}].listen", i),
                                fmt::format("{}:{} is already used by listener '{}'", list[i].address, list[i].port,
                                            list[j].name));
            }
        }
        for (Surface s : kSurfaces) {
            const bool served = std::any_of(list.begin(), list.end(), [&](const ListenerConfig& l) {
                return std::find(l.surfaces.begin(), l.surfaces.end(), s) != l.surfaces.end();
            });
            if (!served)
                return fail(Errc::BadInput, "listener",
                            fmt::format("no listener serves the {0} routes; add \"{0}\" to the serves list of one",
                                        surface_name(s)));
        }
        return {};
    }

    Status endpoints(const toml::node& node, const std::string& key) {
        const auto* array = node.as_array();
        if (array == nullptr) return wrong_type(key, "an array of strings", node);
        std::vector<std::string> list;
        for (const toml::node& item : *array) {
            auto text = string_of(item, key);
            if (!text) return tl::unexpected(text.error());
            if (auto ok = config_detail::check_etcd_endpoint(*text, key); !ok) return ok;
            list.push_back(std::move(*text));
        }
        config_.store.etcd_endpoints = std::move(list);
        return {};
    }

    Status user_names(const toml::node& node, const std::string& key, std::vector<std::string>& out) {
        const auto* array = node.as_array();
        if (array == nullptr) return wrong_type(key, "an array of user names", node);
        std::vector<std::string> list;
        for (const toml::node& item : *array) {
            auto text = string_of(item, key);
            if (!text) return tl::unexpected(text.error());
            list.push_back(std::move(*text));
        }
        out = std::move(list);
        return {};
    }

    Status actions(const toml::node& node) {
        const auto* table = node.as_table();
        if (table == nullptr) return wrong_type("actions", "a table", node);
        for (const auto& [name, value] : *table) {
            const std::string key = fmt::format("actions.{}", name.str());
            if (config_detail::find_field(key) != nullptr) {  // actions.timeout
                if (auto ok = entry(key, value); !ok) return ok;
                continue;
            }
            const bool valid_name = name.str().size() > 4 && name.str().starts_with("ACT_") &&
                                    std::all_of(name.str().begin(), name.str().end(), [](char c) {
                                        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                                    });
            if (!valid_name)
                return fail(Errc::BadInput, key,
                            "action settings are `timeout` (seconds) and environment variables named ACT_* "
                            "(letters, digits and _)");
            auto text = string_of(value, key);
            if (!text) return tl::unexpected(text.error());
            config_.actions[std::string(name.str())] = std::move(*text);
        }
        return {};
    }

    Config& config_;
    LoadState& state_;
    bool http_listen_ = false;
    bool listener_tables_ = false;
};

Status apply_overrides(Config& config, const ConfigOverrides& overrides) {
    if (overrides.data_dir) {
        auto ok = config_detail::store_field(config, *config_detail::find_field("data_dir"), *overrides.data_dir,
                                             "--data-dir");
        if (!ok) return ok;
    }
    if (overrides.log_level) {
        auto ok = config_detail::store_field(config, *config_detail::find_field("log_level"), *overrides.log_level,
                                             "--log-level");
        if (!ok) return ok;
    }
    if (overrides.listen) {
        auto listener = parse_listen(*overrides.listen, "--listen");
        if (!listener) return tl::unexpected(listener.error());
        // Moves the first listener and keeps what the file said it serves and its TLS files.
        config.listeners.front().address = listener->address;
        config.listeners.front().port = listener->port;
    }
    return {};
}

Status finish(Config& config) {
    if (config.store.sqlite_path.empty())
        config.store.sqlite_path = (std::filesystem::path(config.data_dir) / "kvmhub.db").string();
    if (config.gold_srv.empty()) config.gold_srv = config.meta_srv;
    if (config.gold_dir.empty()) config.gold_dir = (std::filesystem::path(config.data_dir) / "gold").string();
    if (config.console.ui_dir.empty()) config.console.ui_dir = KVMHUB_DEFAULT_UI_DIR;
    if (config.iso_dir.empty()) config.iso_dir = (std::filesystem::path(config.data_dir) / "iso").string();
    if (config.ctrl_srv.empty()) config.ctrl_srv = config.meta_srv;
    if (config.auth.session_lifetime < config.auth.token_ttl)
        return fail(Errc::BadInput, "auth.session_lifetime",
                    fmt::format("must be at least auth.token_ttl ({} s), got {} s: a token never outlives its "
                                "session",
                                config.auth.token_ttl.count(), config.auth.session_lifetime.count()));
    if (config.ldap.starttls && config.ldap.url.starts_with("ldaps://"))
        return fail(Errc::BadInput, "ldap.starttls",
                    "an ldaps:// directory is TLS from the start; StartTLS is for ldap:// URLs");
    if (config.store.backend == StoreBackend::Etcd && config.store.etcd_endpoints.empty())
        return fail(Errc::BadInput, "store.etcd_endpoints",
                    "the etcd backend needs at least one endpoint; set store.etcd_endpoints, KVMHUB_ETCD_ENDPOINTS "
                    "or ETCD_SRV");
    return {};
}

}  // namespace

const char* surface_name(Surface s) {
    switch (s) {
        case Surface::Admin:
            return "admin";
        case Surface::Tenant:
            return "tenant";
        case Surface::Metadata:
            return "metadata";
    }
    return "unknown";
}

Result<ListenerConfig> parse_listen(const std::string& text, const std::string& where) {
    const auto bad = [&](std::string_view why) {
        return fail(Errc::BadInput, where,
                    fmt::format("'{}': {}; expected ADDR:PORT, [IPv6]:PORT or :PORT", text, why));
    };
    std::string address;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return bad("an IPv6 address in brackets must be followed by :PORT");
        address = text.substr(1, close - 1);
        port = std::string_view(text).substr(close + 2);
        in6_addr v6{};
        if (inet_pton(AF_INET6, address.c_str(), &v6) != 1) return bad("not an IPv6 address inside the brackets");
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos) return bad("missing port");
        address = text.substr(0, colon);
        port = std::string_view(text).substr(colon + 1);
        in_addr v4{};
        if (address.empty()) {
            address = "0.0.0.0";
        } else if (address.find(':') != std::string::npos) {
            return bad("IPv6 addresses go in brackets, e.g. [::1]:8080");
        } else if (address != "localhost" && inet_pton(AF_INET, address.c_str(), &v4) != 1) {
            return bad("the address must be an IPv4 or IPv6 literal or localhost");
        }
    }
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535)
        return bad("the port must be a number from 0 to 65535");
    ListenerConfig listener;
    listener.address = std::move(address);
    listener.port = static_cast<std::uint16_t>(value);
    return listener;
}

Result<Config> load_config(const std::string& file, const Environment& env, const ConfigOverrides& overrides,
                           const std::string& default_file) {
    Config config;
    LoadState state;
    std::string path = file;
    std::error_code ec;
    // The default file is optional, but one that exists and cannot be read is still an error.
    if (path.empty() && !default_file.empty() && std::filesystem::exists(default_file, ec)) path = default_file;
    if (!path.empty()) {
        auto text = read_text(path);
        if (!text) return tl::unexpected(text.error());
        auto root = parse_toml(*text, path);
        if (!root) return tl::unexpected(root.error());
        if (auto ok = FileReader(config, state).read(*root); !ok) return tl::unexpected(ok.error());
        config.config_file = path;
    }
    if (auto ok = config_detail::apply_environment(config, env, state); !ok) return tl::unexpected(ok.error());
    if (auto ok = apply_overrides(config, overrides); !ok) return tl::unexpected(ok.error());
    if (auto ok = finish(config); !ok) return tl::unexpected(ok.error());
    return config;
}

}  // namespace kvmhub
