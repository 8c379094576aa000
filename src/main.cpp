// kvmhubd: the composition root. Parses the command line, loads the configuration, opens
// the store, wires the services into the route tables and runs the server. Subcommands
// manage users offline and print the route table.
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api/routes.hpp"
#include "auth/audit.hpp"
#include "auth/directory.hpp"
#include "auth/jwt.hpp"
#include "auth/links.hpp"
#include "auth/secrets.hpp"
#include "auth/sessions.hpp"
#include "auth/ssh_identity.hpp"
#include "auth/throttle.hpp"
#include "auth/users.hpp"
#include "catalog/bootstrap.hpp"
#include "catalog/catalog.hpp"
#include "cloudinit/seed.hpp"
#include "common/config.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "console/console_service.hpp"
#include "disks/gold_cache.hpp"
#include "disks/provisioner.hpp"
#include "http/server.hpp"
#include "store/sqlite_store.hpp"
#include "virt/hypervisor.hpp"
#include "virt/probe.hpp"
#include "vm/cache_updater.hpp"
#include "vm/tasks.hpp"
#include "vm/vm_service.hpp"

namespace kvmhub {
namespace {

constexpr int kExitConfig = 2;

int config_error(const Error& e) {
    std::cerr << fmt::format("kvmhubd: invalid configuration: {}: {}\n", e.where, e.desc);
    return kExitConfig;
}

int runtime_error(const Error& e) {
    std::cerr << fmt::format("kvmhubd: {}: {}\n", e.where, e.desc);
    return 1;
}

// Everything a running daemon (or a subcommand) needs, built from one Config.
struct Services {
    const Config& config;
    SystemClock clock;
    Metrics metrics;
    std::unique_ptr<store::Store> store;
    std::unique_ptr<auth::UserService> users;
    std::unique_ptr<auth::Directory> directory;
    std::unique_ptr<auth::TokenSigner> tokens;
    std::unique_ptr<auth::SessionService> sessions;
    std::unique_ptr<auth::LoginThrottle> throttle;
    std::unique_ptr<auth::AuditLog> audit;
    std::unique_ptr<auth::LinkService> links;
    catalog::CurlUrlProbe url_probe;
    std::unique_ptr<catalog::Catalog> catalog;
    std::unique_ptr<virt::Hypervisor> hypervisor;
    std::unique_ptr<cloudinit::SeedService> seeds;
    std::unique_ptr<disks::GoldCache> golds;
    std::unique_ptr<disks::Provisioner> provisioner;
    std::unique_ptr<vm::TaskService> tasks;
    std::unique_ptr<vm::VmService> vms;
    std::unique_ptr<vm::CacheUpdater> cache_updater;
    std::unique_ptr<console::ConsoleService> consoles;

    explicit Services(const Config& c) : config(c) {}
    // Teardown in dependency order: no more events (on_event waits for a running callback),
    // then the updater (its thread uses the VM service and the hypervisor), then the rest.
    ~Services() {
        if (hypervisor) hypervisor->on_event({});
        cache_updater.reset();
        vms.reset();
        provisioner.reset();  // stops and joins uploads, which use the hypervisor
    }

    // `store_path` overrides the configured SQLite file (":memory:" for the routes listing).
    Status open(const std::string& store_path) {
        if (config.store.backend != StoreBackend::Sqlite)
            return fail(Errc::BadInput, "store.backend",
                        "this build has no etcd store yet; use backend = \"sqlite\" (the default)");
        auto opened = store::SqliteStore::open(store_path, clock, &metrics);
        if (!opened) return tl::unexpected(opened.error());
        store = std::move(*opened);
        auto secret = auth::load_or_create_secret(*store, auth::kJwtSecretKey, auth::kJwtSecretBytes);
        if (!secret) return tl::unexpected(secret.error());
        users = std::make_unique<auth::UserService>(*store, clock);
        directory = std::make_unique<auth::Directory>(config.ldap);
        tokens = std::make_unique<auth::TokenSigner>(*secret, clock);
        sessions = std::make_unique<auth::SessionService>(*store, clock, config.auth.session_lifetime);
        const auto& a = config.auth;
        throttle = std::make_unique<auth::LoginThrottle>(clock, a.login_max_failures_per_user,
                                                         a.login_max_failures_per_ip, a.login_window, a.login_lockout);
        audit = std::make_unique<auth::AuditLog>(*store, clock);
        // The link signing key is made at the first ctrl_url, not here.
        links = std::make_unique<auth::LinkService>(*store, clock, config.tenant.key_grace,
                                                    config.tenant.max_link_lifetime);
        catalog = std::make_unique<catalog::Catalog>(*store, config, url_probe);
        virt::VirtOptions virt_options;
        virt_options.call_timeout = config.libvirt.call_timeout;
        virt_options.max_in_flight_per_host = config.libvirt.max_calls_per_host;
        virt_options.metrics = &metrics;
        hypervisor = virt::make_libvirt_hypervisor(virt_options);
        seeds = std::make_unique<cloudinit::SeedService>(*store, *catalog);
        golds = std::make_unique<disks::GoldCache>(
            (std::filesystem::path(config.data_dir) / "gold-cache").string(), config.gold_dir, config.gold_srv);
        provisioner = std::make_unique<disks::Provisioner>(*hypervisor, metrics);
        // The owner id survives restarts with the data dir; ":memory:" stores (the routes listing)
        // have no past to recover and get a throwaway one.
        std::string owner = new_uuid();
        if (store_path != ":memory:") {
            auto id = vm::load_or_create_instance_id(config.data_dir);
            if (!id) return tl::unexpected(id.error());
            owner = *id;
        }
        tasks = std::make_unique<vm::TaskService>(*store, clock, owner);
        vms = std::make_unique<vm::VmService>(*store, *catalog, *hypervisor, *seeds, *golds, *provisioner, *tasks,
                                              config, clock);
        consoles = std::make_unique<console::ConsoleService>(*catalog, *hypervisor, *store, config, clock);
        // Lifecycle events keep the guest cache current without a list call.
        cache_updater = std::make_unique<vm::CacheUpdater>(*vms, config.libvirt.resync_interval);
        hypervisor->on_event([updater = cache_updater.get()](const virt::DomainEvent& e) { updater->push(e); });
        return {};
    }

    // Tasks this daemon was running when it stopped are failed, and what they made so far is removed.
    // A SQLite store is this daemon's alone, so every running task in it was interrupted and every
    // VM lock in it is left over.
    Status recover_tasks() {
        auto recovered = tasks->recover(
            [this](const nlohmann::json& task, const std::string& entry) {
                return vms->cleanup_interrupted(task, entry);
            },
            store->backend() == "sqlite");
        if (!recovered) return tl::unexpected(recovered.error());
        if (store->backend() == "sqlite")
            if (auto released = vms->release_locks(); !released) return tl::unexpected(released.error());
        if (auto pruned = tasks->prune(); !pruned) return tl::unexpected(pruned.error());
        return {};
    }

    // First start (and upgrades): shipped templates, variables, demo hosts, the ssh key pair.
    Status bootstrap() {
        auto report = catalog::bootstrap_catalog(*store, *catalog, config.demo, virt::connection_answers);
        if (!report) return tl::unexpected(report.error());
        if (auto key = auth::ensure_ssh_identity(*store); !key) return tl::unexpected(key.error());
        return {};
    }

    api::ApiContext context() {
        return api::ApiContext{config,    clock,  *store,   metrics, *users, *directory, *tokens, *sessions,
                               *throttle, *audit, *catalog, *vms,    *seeds, *tasks,     *links,  *consoles};
    }
};

Status ensure_data_dir(const Config& config) {
    std::error_code ec;
    std::filesystem::create_directories(config.data_dir, ec);
    if (ec) return fail(Errc::BadInput, "data_dir", fmt::format("cannot create {}: {}", config.data_dir, ec.message()));
    return {};
}

// <data_dir>/initial-admin-password, mode 0600, holding the generated first password.
Result<std::string> write_initial_password(const Config& config, const std::string& password) {
    const std::string path = (std::filesystem::path(config.data_dir) / "initial-admin-password").string();
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return fail(Errc::Internal, "data_dir", fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    const std::string line = password + "\n";
    const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!written) return fail(Errc::Internal, "data_dir", "cannot write " + path);
    return path;
}

int serve(const Config& config) {
    if (auto ok = ensure_data_dir(config); !ok) return runtime_error(ok.error());
    Services services(config);
    if (auto ok = services.open(config.store.sqlite_path); !ok) return runtime_error(ok.error());
    auto created = services.users->ensure_admin(config.auth.initial_admin_password);
    if (!created) return runtime_error(created.error());
    if (auto ok = services.bootstrap(); !ok) return runtime_error(ok.error());
    if (auto ok = services.recover_tasks(); !ok) return runtime_error(ok.error());

    auto ctx = services.context();
    http::Router router;
    if (auto ok = api::build_router(router, ctx); !ok) return runtime_error(ok.error());
    http::Server server(config, router, services.metrics);
    if (auto ok = server.listen(); !ok) return runtime_error(ok.error());

    for (const auto& l : server.bound())
        std::cout << fmt::format("kvmhubd {} listening on {}://{}:{} (listener {})\n", KVMHUB_VERSION,
                                 l.tls ? "https" : "http", l.address, l.port, l.name);
    if (!created->empty()) {
        // Never into the log: a password the operator chose is theirs already; a generated one
        // goes to a file only root (kvmhubd's user) can read. The store keeps just the argon2id hash.
        if (!config.auth.initial_admin_password.empty()) {
            std::cout << "first start: created user 'admin' with the password of KVMHUB_ADMIN_PASSWORD\n";
        } else if (auto file = write_initial_password(config, *created); file) {
            std::cout << fmt::format("first start: created user 'admin'; its password is in {} (delete it once read)\n",
                                     *file);
        } else {
            return runtime_error(file.error());
        }
    }
    std::cout << std::flush;
    return server.run() ? 0 : 1;
}

// Reads a password: twice without echo from a terminal, else the first line of stdin.
Result<std::string> read_password() {
    if (!isatty(STDIN_FILENO)) {
        std::string line;
        std::getline(std::cin, line);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
    }
    termios saved{};
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::string first, second;
    std::cerr << "password: " << std::flush;
    std::getline(std::cin, first);
    std::cerr << "\nagain: " << std::flush;
    std::getline(std::cin, second);
    std::cerr << "\n";
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    if (first != second) return fail(Errc::BadInput, "password", "the two passwords differ");
    return first;
}

// Offline user changes, on the same store file as a running daemon (SQLite serialises the
// writers). The daemon reads a token's session record on every request, so sessions ended
// here are refused on their next request. Each change is audited as who="cli".
int user_command(const Config& config, const std::string& action, const std::string& name) {
    if (auto ok = ensure_data_dir(config); !ok) return runtime_error(ok.error());
    Services services(config);
    if (auto ok = services.open(config.store.sqlite_path); !ok) return runtime_error(ok.error());
    Status done;
    std::string said;
    if (action == "add" || action == "passwd") {
        auto password = read_password();
        if (!password) return runtime_error(password.error());
        done = action == "add" ? services.users->add(name, *password) : services.users->set_password(name, *password);
        said = action == "add" ? "added" : "password changed; all of its sessions ended";
    } else if (action == "del") {
        done = services.users->remove(name);
        said = "deleted; all of its sessions ended";
    } else if (action == "disable") {
        done = services.users->set_disabled(name, true);
        said = "disabled; all of its sessions ended";
    } else {
        done = services.users->set_disabled(name, false);
        said = "enabled";
    }
    const std::string audit_action = action == "add"       ? "user.add"
                                     : action == "passwd"  ? "user.password"
                                     : action == "del"     ? "user.delete"
                                     : action == "disable" ? "user.disable"
                                                           : "user.enable";
    services.audit->record(auth::AuditEntry{"cli", audit_action, name, done ? "ok" : done.error().desc, ""});
    if (!done) return runtime_error(done.error());
    std::cout << fmt::format("user '{}' {}\n", name, said);
    return 0;
}

int routes_command(const Config& config) {
    log::set_level("warn");  // stdout is the JSON table; keep start-up chatter out of it
    Services services(config);
    if (auto ok = services.open(":memory:"); !ok) return runtime_error(ok.error());
    auto ctx = services.context();
    http::Router router;
    if (auto ok = api::build_router(router, ctx); !ok) return runtime_error(ok.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : router.routes())
        out.push_back({{"method", http::method_name(r.method)},
                       {"pattern", r.pattern},
                       {"access", http::access_name(r.access)},
                       {"effect", http::effect_name(r.effect)},
                       {"surface", surface_name(r.surface)},
                       {"input", r.input.to_json()}});
    std::cout << out.dump(2) << "\n";
    return 0;
}

int run(int argc, char** argv) {
    CLI::App app{"kvmhubd: a fleet manager for KVM hosts"};
    app.set_version_flag("--version", std::string("kvmhubd ") + KVMHUB_VERSION);
    std::string config_file;
    ConfigOverrides overrides;
    // A flag given twice: the last one wins, as in most daemons.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_option("-c,--config", config_file, "TOML configuration file (default: ./kvmhub.toml if present)");
    app.add_option("--listen", overrides.listen, "ADDR:PORT of the one listener, e.g. 127.0.0.1:8080");
    app.add_option("--data-dir", overrides.data_dir, "directory for the SQLite store and other state");
    app.add_option("--log-level", overrides.log_level, "trace, debug, info, warn, error, critical or off");

    auto* user = app.add_subcommand("user", "manage local users (add and passwd read the password from stdin)");
    user->require_subcommand(1);
    std::string user_name;
    auto* user_add = user->add_subcommand("add", "add a user");
    user_add->add_option("name", user_name, "user name")->required();
    auto* user_passwd = user->add_subcommand("passwd", "change a user's password (ends all of its sessions)");
    user_passwd->add_option("name", user_name, "user name")->required();
    auto* user_del = user->add_subcommand("del", "delete a user (ends all of its sessions)");
    user_del->add_option("name", user_name, "user name")->required();
    auto* user_disable =
        user->add_subcommand("disable", "disable a user (ends all of its sessions, refuses its logins)");
    user_disable->add_option("name", user_name, "user name")->required();
    auto* user_enable = user->add_subcommand("enable", "enable a disabled user");
    user_enable->add_option("name", user_name, "user name")->required();
    auto* routes = app.add_subcommand("routes", "print the route table as JSON and exit");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : kExitConfig;
    }

    auto config = load_config(config_file, current_environment(), overrides);
    if (!config) return config_error(config.error());
    log::set_level(config->log_level);

    if (*routes) return routes_command(*config);
    if (*user_add) return user_command(*config, "add", user_name);
    if (*user_passwd) return user_command(*config, "passwd", user_name);
    if (*user_del) return user_command(*config, "del", user_name);
    if (*user_disable) return user_command(*config, "disable", user_name);
    if (*user_enable) return user_command(*config, "enable", user_name);
    return serve(*config);
}

}  // namespace
}  // namespace kvmhub

int main(int argc, char** argv) {
    return kvmhub::run(argc, argv);
}
