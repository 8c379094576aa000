// kvmhubd's configuration: one struct, filled from (lowest to highest precedence)
// built-in defaults, the TOML file, the environment, and command-line flags; validated
// once at start. Services receive the slice they need by constructor.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.hpp"

namespace kvmhub {

// Which group of routes a listener serves (api-compat.md: admin on :443, tenants on :1443,
// metadata on :80 in the reference deployment; by default one listener serves them all).
enum class Surface { Admin, Tenant, Metadata };

struct ListenerConfig {
    std::string name = "default";
    std::string address = "127.0.0.1";  // IPv4/IPv6 literal or "localhost"
    std::uint16_t port = 8080;          // 0 = pick a free port (tests)
    std::vector<Surface> surfaces{Surface::Admin, Surface::Tenant, Surface::Metadata};
    std::string tls_cert;  // PEM file; TLS is on when both cert and key are set
    std::string tls_key;
};

enum class StoreBackend { Sqlite, Etcd };

struct StoreConfig {
    StoreBackend backend = StoreBackend::Sqlite;
    std::string sqlite_path;                                           // default: <data_dir>/kvmhub.db
    std::vector<std::string> etcd_endpoints{"http://127.0.0.1:2379"};  // "http[s]://host:port"
    std::string etcd_prefix = "/kvmhub";
};

struct AuthConfig {
    std::chrono::seconds token_ttl{3600};
    // The absolute end of a login session: /api/refresh never extends a session past it.
    std::chrono::seconds session_lifetime{43200};
    int login_max_failures_per_user = 5;  // failures inside the window before a user is locked
    int login_max_failures_per_ip = 20;   // failures inside the window before a client IP is locked
    std::chrono::seconds login_window{300};
    std::chrono::seconds login_lockout{300};
    std::string initial_admin_password;  // KVMHUB_ADMIN_PASSWORD only (never read from a file)
};

// Directory logins (auth/directory.hpp): a simple bind as the user to an LDAP server. Off while
// `url` is empty.
struct LdapConfig {
    std::string url;                       // ldap://host[:port] or ldaps://host[:port]
    std::string base_dn;                   // appended to the user's RDN, e.g. "ou=people,dc=example,dc=org"
    std::string uid_format = "uid={uid}";  // the user's RDN; {uid} is the login name
    bool starttls = false;                 // ldap:// only: StartTLS before the bind, a failure refuses
    std::string ca_file;                   // PEM CA certificates for ldaps and StartTLS ("": the system's)
    std::chrono::seconds timeout{5};       // connect and each operation
    // Who may log in through the directory: nobody in `block`; when `allow` is not empty, only
    // those in it (simplekvm's JWT_BLOCKS and JWT_ALLOWS).
    std::vector<std::string> allow;
    std::vector<std::string> block;
};

struct HttpConfig {
    int io_threads = 0;      // 0 = number of cores
    int worker_threads = 0;  // blocking handler pool; 0 = max(4, 2 x cores)
    // Handlers of a host's routes (a {host} in the path) run in that host's lane, not on the
    // workers: this many at once per host, and this many more waiting (http/lanes.hpp).
    int host_requests = 8;
    int host_queue = 64;
    std::size_t body_limit = 1024 * 1024;
    int json_depth_limit = 64;
    std::chrono::seconds request_timeout{60};
    std::chrono::seconds idle_timeout{120};
    std::chrono::seconds shutdown_grace{30};
    bool access_log = true;
    // scheme://host[:port] of kvmhub's pages as browsers see them (behind a TLS proxy); empty:
    // the origin of each request itself (http or https by the listener, and its Host header).
    // A cookie-only request that changes state must come from this origin.
    std::string public_origin;
};

// GET /metrics would list the fleet: who may read it.
struct MetricsConfig {
    std::string allow = "127.0.0.0/8,::1/128";  // client networks, comma-separated; empty: none
    std::string token;                           // also a scrape token (Authorization: Bearer); secret
};

struct LibvirtConfig {
    std::chrono::seconds call_timeout{30};      // a call to a host that takes longer answers 504
    int max_calls_per_host = 4;                 // in flight at once; libvirtd serves 5 per client
    std::chrono::seconds resync_interval{60};   // every host's guest cache is re-read this often
    // Host URLs test:///<file> and test+unix:///<file> (libvirt's test driver reading a node
    // file). Off: libvirt echoes a line of any file it cannot parse. For kvmhub's own tests.
    bool allow_test_files = false;
};

// Tenant self-service links (auth/links.hpp).
struct TenantConfig {
    // How long a link signed with the previous key keeps working after POST /api/links/rotate.
    std::chrono::seconds key_grace{24 * 3600};
    // The furthest expiry ctrl_url accepts, counted from now.
    std::chrono::seconds max_link_lifetime{366 * 24 * 3600};
};

struct ConsoleConfig {
    std::chrono::seconds max_ticket_ttl{4 * 3600};  // cap on display's timeout_mins (ticket and session)
    std::chrono::seconds idle_timeout{1200};        // a session with no bytes either way for this long ends
    std::chrono::seconds ping_interval{30};         // websocket keepalive ping; a silent client is dropped
    bool takeover = true;                           // a second console on a VM takes over; false: refused
    std::string ui_dir;                             // the web assets (ui/); default: the source tree's ui/
    std::string simplekvm_ui_dir;                   // simplekvm's ui/ folder, served at /ui/; "": none
};

struct Config {
    std::string config_file;  // the file that was read, empty if none
    std::string data_dir = "./data";
    std::string log_level = "info";  // trace debug info warn error critical off
    std::vector<ListenerConfig> listeners{ListenerConfig{}};
    StoreConfig store;
    AuthConfig auth;
    LdapConfig ldap;
    HttpConfig http;
    LibvirtConfig libvirt;
    TenantConfig tenant;
    ConsoleConfig console;

    // simplekvm-compatible settings (their environment names are accepted as aliases)
    std::string meta_srv = "127.0.0.1:8080";  // host[:port] guests and hosts reach the metadata service on
    std::string gold_srv;                      // default: meta_srv
    std::string ctrl_srv;                      // default: meta_srv
    std::string ctrl_key;                      // secret; masked in dumps
    MetricsConfig metrics;
    std::map<std::string, std::string> actions;  // every ACT_* value, passed to action scripts
    std::chrono::seconds action_timeout{300};    // an action script running longer is killed

    std::string gold_dir;  // local gold images (file:// URIs must point inside); default <data_dir>/gold
    std::string iso_dir;   // local ISO images; default <data_dir>/iso

    bool demo = true;  // register demo hosts on first start
};

// Command-line values that override file and environment (unset = not given).
struct ConfigOverrides {
    std::optional<std::string> listen;  // "ADDR:PORT" for the first listener
    std::optional<std::string> data_dir;
    std::optional<std::string> log_level;
};

// The environment as a map, so tests can pass their own.
using Environment = std::map<std::string, std::string>;
Environment current_environment();

// Reads `file` (if non-empty; else `default_file` when it exists), applies `env` and
// `overrides`, fills derived defaults and validates. The error names the key at fault
// (`where`, e.g. "http.body_limit" or "KVMHUB_LISTEN") and says how to fix it.
// `default_file` is a parameter so tests need not change the working directory.
Result<Config> load_config(const std::string& file, const Environment& env, const ConfigOverrides& overrides,
                           const std::string& default_file = "kvmhub.toml");

// Parses "ADDR:PORT", "[v6]:PORT" or ":PORT" (address 0.0.0.0).
Result<ListenerConfig> parse_listen(const std::string& text, const std::string& where);

const char* surface_name(Surface s);

// Everything an admin wants to see in `GET /conf/`: the simplekvm names (DATA_DIR, META_SRV,
// ..., VERSION, STORE, every ACT_*) at top level, then `listeners`, `http`, `store`, `auth`.
// Secrets are masked ("***"); the initial admin password is never included.
nlohmann::json config_to_json(const Config& config);

}  // namespace kvmhub
