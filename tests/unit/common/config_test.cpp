#include "common/config.hpp"

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"

namespace kvmhub {
namespace {

using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

// Passes when loading failed with BadInput at `where` and the description contains `fragment`.
AssertionResult FailsAt(const Result<Config>& result, const std::string& where, const std::string& fragment = "") {
    if (result) return AssertionFailure() << "loaded without error";
    const Error& e = result.error();
    if (e.code != Errc::BadInput || e.where != where || e.desc.find(fragment) == std::string::npos)
        return AssertionFailure() << "got where='" << e.where << "' desc='" << e.desc << "' code=" << errc_name(e.code);
    return AssertionSuccess();
}

std::string error_of(const Result<Config>& result) {
    return result ? std::string("(no error)") : result.error().where + ": " + result.error().desc;
}

class ConfigTest : public ::testing::Test {
protected:
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(dir_.file(name)) << text;
        return dir_.file(name);
    }
    // A default file that does not exist, so the working directory never matters.
    std::string no_default() const { return dir_.file("absent.toml"); }

    Result<Config> load(const std::string& toml, const Environment& env = {}, const ConfigOverrides& flags = {}) const {
        return load_config(write("kvmhub.toml", toml), env, flags, no_default());
    }
    Result<Config> load_env(const Environment& env, const ConfigOverrides& flags = {}) const {
        return load_config("", env, flags, no_default());
    }

    test::TempDir dir_;
};

const std::vector<Surface> kAll{Surface::Admin, Surface::Tenant, Surface::Metadata};

// ---- defaults and files ----

TEST_F(ConfigTest, WithoutFileOrEnvironmentOneLocalListenerServesEverything) {
    auto c = load_env({});
    ASSERT_TRUE(c) << error_of(c);
    ASSERT_EQ(c->listeners.size(), 1u);
    EXPECT_EQ(c->listeners[0].address, "127.0.0.1");
    EXPECT_EQ(c->listeners[0].port, 8080);
    EXPECT_EQ(c->listeners[0].surfaces, kAll);
    EXPECT_TRUE(c->listeners[0].tls_cert.empty());
    EXPECT_EQ(c->config_file, "");
    EXPECT_EQ(c->store.backend, StoreBackend::Sqlite);
    EXPECT_EQ(c->log_level, "info");
    EXPECT_TRUE(c->demo);
}

TEST_F(ConfigTest, DerivesSqlitePathAndServersFromOtherSettings) {
    auto c = load("data_dir = \"/var/lib/kvmhub\"\nmeta_srv = \"10.0.0.1:80\"\n");
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->store.sqlite_path, "/var/lib/kvmhub/kvmhub.db");
    EXPECT_EQ(c->gold_srv, "10.0.0.1:80");
    EXPECT_EQ(c->ctrl_srv, "10.0.0.1:80");
}

TEST_F(ConfigTest, ExplicitSqlitePathAndServersAreKept) {
    auto c = load("gold_srv = \"10.0.0.2\"\nctrl_srv = \"10.0.0.3:9000\"\n[store]\nsqlite_path = \"/db/x.db\"\n");
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->store.sqlite_path, "/db/x.db");
    EXPECT_EQ(c->gold_srv, "10.0.0.2");
    EXPECT_EQ(c->ctrl_srv, "10.0.0.3:9000");
}

TEST_F(ConfigTest, ReadsEveryKeyOfTheFile) {
    auto c = load(R"(
data_dir = "/d"
log_level = "debug"
meta_srv = "192.0.2.1:8080"
ctrl_key = "s3cret"
demo = false
[http]
listen = ":9000"
io_threads = 2
worker_threads = 8
host_requests = 3
host_queue = 5
body_limit = 2048
json_depth_limit = 10
request_timeout = 5
idle_timeout = 6
shutdown_grace = 7
access_log = false
[store]
backend = "etcd"
etcd_endpoints = ["http://a:2379", "https://b:2379"]
etcd_prefix = "/x"
[auth]
token_ttl = 600
session_lifetime = 7200
login_max_failures_per_user = 3
login_max_failures_per_ip = 9
login_window = 60
login_lockout = 120
[tenant]
key_grace = 0
max_link_lifetime = 86400
[actions]
ACT_TMOUT = "5"
)");
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->data_dir, "/d");
    EXPECT_EQ(c->log_level, "debug");
    EXPECT_EQ(c->meta_srv, "192.0.2.1:8080");
    EXPECT_EQ(c->ctrl_key, "s3cret");
    EXPECT_FALSE(c->demo);
    ASSERT_EQ(c->listeners.size(), 1u);
    EXPECT_EQ(c->listeners[0].address, "0.0.0.0");
    EXPECT_EQ(c->listeners[0].port, 9000);
    EXPECT_EQ(c->listeners[0].surfaces, kAll);
    EXPECT_EQ(c->http.io_threads, 2);
    EXPECT_EQ(c->http.worker_threads, 8);
    EXPECT_EQ(c->http.host_requests, 3);
    EXPECT_EQ(c->http.host_queue, 5);
    EXPECT_EQ(c->http.body_limit, 2048u);
    EXPECT_EQ(c->http.json_depth_limit, 10);
    EXPECT_EQ(c->http.request_timeout, std::chrono::seconds(5));
    EXPECT_EQ(c->http.idle_timeout, std::chrono::seconds(6));
    EXPECT_EQ(c->http.shutdown_grace, std::chrono::seconds(7));
    EXPECT_FALSE(c->http.access_log);
    EXPECT_EQ(c->store.backend, StoreBackend::Etcd);
    EXPECT_EQ(c->store.etcd_endpoints, (std::vector<std::string>{"http://a:2379", "https://b:2379"}));
    EXPECT_EQ(c->store.etcd_prefix, "/x");
    EXPECT_EQ(c->auth.token_ttl, std::chrono::seconds(600));
    EXPECT_EQ(c->auth.session_lifetime, std::chrono::seconds(7200));
    EXPECT_EQ(c->auth.login_max_failures_per_user, 3);
    EXPECT_EQ(c->auth.login_max_failures_per_ip, 9);
    EXPECT_EQ(c->auth.login_window, std::chrono::seconds(60));
    EXPECT_EQ(c->auth.login_lockout, std::chrono::seconds(120));
    EXPECT_EQ(c->tenant.key_grace, std::chrono::seconds(0));
    EXPECT_EQ(c->tenant.max_link_lifetime, std::chrono::seconds(86400));
    EXPECT_EQ(c->actions.at("ACT_TMOUT"), "5");
    EXPECT_EQ(c->config_file, dir_.file("kvmhub.toml"));
}

TEST_F(ConfigTest, ExampleFileLoadsAndMatchesTheDefaults) {
    auto example = load_config(KVMHUB_SOURCE_DIR "/kvmhub.toml.example", {}, {}, no_default());
    ASSERT_TRUE(example) << error_of(example);
    auto defaults = load_env({});
    ASSERT_TRUE(defaults);
    auto a = config_to_json(*example);
    auto b = config_to_json(*defaults);
    a.erase("config_file");
    b.erase("config_file");
    EXPECT_EQ(a, b) << a.dump(2) << "\n" << b.dump(2);
}

TEST_F(ConfigTest, PicksUpTheDefaultFileWhenPresent) {
    const std::string path = write("default.toml", "log_level = \"warn\"\n");
    auto c = load_config("", {}, {}, path);
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->log_level, "warn");
    EXPECT_EQ(c->config_file, path);
}

TEST_F(ConfigTest, MissingDefaultFileIsNotAnError) {
    auto c = load_config("", {}, {}, no_default());
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->config_file, "");
}

TEST_F(ConfigTest, ExplicitFileIsPreferredOverTheDefaultFile) {
    const std::string fallback = write("default.toml", "log_level = \"warn\"\n");
    auto c = load_config(write("given.toml", "log_level = \"error\"\n"), {}, {}, fallback);
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->log_level, "error");
}

TEST_F(ConfigTest, MissingExplicitFileNamesThePath) {
    const std::string path = dir_.file("nope.toml");
    EXPECT_TRUE(FailsAt(load_config(path, {}, {}, no_default()), path, "No such file"));
}

TEST_F(ConfigTest, DirectoryGivenAsFileIsRejected) {
    EXPECT_TRUE(
        FailsAt(load_config(dir_.path().string(), {}, {}, no_default()), dir_.path().string(), "not a regular file"));
}

TEST_F(ConfigTest, SyntaxErrorReportsLineAndColumn) {
    auto c = load("demo = true\nlog_level = info\n");
    EXPECT_TRUE(FailsAt(c, dir_.file("kvmhub.toml"), "line 2, column"));
}

// ---- precedence and the environment ----

TEST_F(ConfigTest, EnvironmentOverridesFile) {
    auto c = load("data_dir = \"/file\"\nlog_level = \"warn\"\n[http]\nbody_limit = 2048\n",
                  {{"KVMHUB_DATA_DIR", "/env"}, {"KVMHUB_BODY_LIMIT", "4096"}});
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->data_dir, "/env");
    EXPECT_EQ(c->log_level, "warn");
    EXPECT_EQ(c->http.body_limit, 4096u);
}

TEST_F(ConfigTest, FlagsOverrideEnvironmentAndFile) {
    ConfigOverrides flags;
    flags.data_dir = "/flag";
    flags.log_level = "trace";
    flags.listen = "127.0.0.1:0";
    auto c = load("data_dir = \"/file\"\nlog_level = \"warn\"\n[http]\nlisten = \":9000\"\n",
                  {{"KVMHUB_DATA_DIR", "/env"}, {"KVMHUB_LOG_LEVEL", "error"}, {"KVMHUB_LISTEN", ":9001"}}, flags);
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->data_dir, "/flag");
    EXPECT_EQ(c->log_level, "trace");
    ASSERT_EQ(c->listeners.size(), 1u);
    EXPECT_EQ(c->listeners[0].address, "127.0.0.1");
    EXPECT_EQ(c->listeners[0].port, 0);
    EXPECT_EQ(c->store.sqlite_path, "/flag/kvmhub.db");
}

TEST_F(ConfigTest, InvalidFlagNamesTheFlag) {
    ConfigOverrides flags;
    flags.log_level = "loud";
    EXPECT_TRUE(FailsAt(load_env({}, flags), "--log-level", "must be one of"));
    flags = {};
    flags.listen = "nowhere";
    EXPECT_TRUE(FailsAt(load_env({}, flags), "--listen", "missing port"));
    flags = {};
    flags.data_dir = "";
    EXPECT_TRUE(FailsAt(load_env({}, flags), "--data-dir", "must not be empty"));
}

TEST_F(ConfigTest, ListenFlagMovesTheFirstListenerAndKeepsTheOthers) {
    ConfigOverrides flags;
    flags.listen = ":0";
    auto c = load(R"(
[[listener]]
name = "admin"
listen = "127.0.0.1:8443"
serves = ["admin", "tenant"]
[[listener]]
name = "meta"
listen = ":8081"
serves = ["metadata"]
)",
                  {}, flags);
    ASSERT_TRUE(c) << error_of(c);
    ASSERT_EQ(c->listeners.size(), 2u);
    EXPECT_EQ(c->listeners[0].name, "admin");
    EXPECT_EQ(c->listeners[0].address, "0.0.0.0");
    EXPECT_EQ(c->listeners[0].port, 0);
    EXPECT_EQ(c->listeners[0].surfaces, (std::vector<Surface>{Surface::Admin, Surface::Tenant}));
    EXPECT_EQ(c->listeners[1].port, 8081);
}

TEST_F(ConfigTest, KvmhubListenReplacesTheListenersWithOneServingEverything) {
    auto c = load(R"(
[[listener]]
name = "admin"
listen = "127.0.0.1:8443"
serves = ["admin"]
[[listener]]
name = "rest"
listen = "127.0.0.1:8444"
serves = ["tenant", "metadata"]
)",
                  {{"KVMHUB_LISTEN", "[::1]:7000"}});
    ASSERT_TRUE(c) << error_of(c);
    ASSERT_EQ(c->listeners.size(), 1u);
    EXPECT_EQ(c->listeners[0].address, "::1");
    EXPECT_EQ(c->listeners[0].port, 7000);
    EXPECT_EQ(c->listeners[0].surfaces, kAll);
}

TEST_F(ConfigTest, SimplekvmNamesAreAcceptedAsAliases) {
    auto c = load_env({{"DATA_DIR", "/srv/data"},
                       {"META_SRV", "10.1.1.1:80"},
                       {"GOLD_SRV", "10.1.1.2"},
                       {"CTRL_SRV", "10.1.1.3:8000"},
                       {"CTRL_KEY", "k"},
                       {"ETCD_PREFIX", "/skvm"}});
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->data_dir, "/srv/data");
    EXPECT_EQ(c->meta_srv, "10.1.1.1:80");
    EXPECT_EQ(c->gold_srv, "10.1.1.2");
    EXPECT_EQ(c->ctrl_srv, "10.1.1.3:8000");
    EXPECT_EQ(c->ctrl_key, "k");
    EXPECT_EQ(c->store.etcd_prefix, "/skvm");
}

TEST_F(ConfigTest, KvmhubNameWinsOverSimplekvmAlias) {
    auto c = load_env({{"DATA_DIR", "/alias"},
                       {"KVMHUB_DATA_DIR", "/kvmhub"},
                       {"META_SRV", "10.0.0.1"},
                       {"KVMHUB_META_SRV", "10.0.0.2"},
                       {"CTRL_KEY", "a"},
                       {"KVMHUB_CTRL_KEY", "b"}});
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->data_dir, "/kvmhub");
    EXPECT_EQ(c->meta_srv, "10.0.0.2");
    EXPECT_EQ(c->ctrl_key, "b");
}

TEST_F(ConfigTest, EmptyEnvironmentValueCountsAsUnset) {
    auto c = load("data_dir = \"/file\"\n", {{"KVMHUB_DATA_DIR", ""}, {"DATA_DIR", ""}, {"KVMHUB_LISTEN", ""}});
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->data_dir, "/file");
    EXPECT_EQ(c->listeners[0].port, 8080);
}

TEST_F(ConfigTest, EnvironmentErrorNamesTheVariableUsed) {
    EXPECT_TRUE(FailsAt(load_env({{"KVMHUB_BODY_LIMIT", "12"}}), "KVMHUB_BODY_LIMIT", "between 1024 and 67108864"));
    EXPECT_TRUE(FailsAt(load_env({{"KVMHUB_TOKEN_TTL", "1h"}}), "KVMHUB_TOKEN_TTL", "expected an integer"));
    EXPECT_TRUE(FailsAt(load_env({{"KVMHUB_DEMO", "yes"}}), "KVMHUB_DEMO", "expected true, false, 1 or 0"));
    EXPECT_TRUE(FailsAt(load_env({{"META_SRV", "http://x/"}}), "META_SRV", "without scheme"));
    EXPECT_TRUE(FailsAt(load_env({{"KVMHUB_LISTEN", "1.2.3.4"}}), "KVMHUB_LISTEN", "missing port"));
    EXPECT_TRUE(FailsAt(load_env({{"KVMHUB_STORE_BACKEND", "mysql"}}), "KVMHUB_STORE_BACKEND", "sqlite, etcd"));
}

TEST_F(ConfigTest, EveryScalarVariableIsRead) {
    auto c = load_env({{"KVMHUB_LOG_LEVEL", "debug"},
                       {"KVMHUB_TOKEN_TTL", "120"},
                       {"KVMHUB_SESSION_LIFETIME", "300"},
                       {"KVMHUB_LOGIN_MAX_FAILURES_PER_USER", "2"},
                       {"KVMHUB_LOGIN_MAX_FAILURES_PER_IP", "4"},
                       {"KVMHUB_LOGIN_WINDOW", "30"},
                       {"KVMHUB_LOGIN_LOCKOUT", "40"},
                       {"KVMHUB_ACCESS_LOG", "0"},
                       {"KVMHUB_DEMO", "FALSE"},
                       {"KVMHUB_GOLD_SRV", "g"},
                       {"KVMHUB_CTRL_SRV", "c"},
                       {"KVMHUB_TENANT_KEY_GRACE", "5"},
                       {"KVMHUB_TENANT_MAX_LINK_LIFETIME", "600"}});
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->log_level, "debug");
    EXPECT_EQ(c->auth.token_ttl, std::chrono::seconds(120));
    EXPECT_EQ(c->auth.session_lifetime, std::chrono::seconds(300));
    EXPECT_EQ(c->auth.login_max_failures_per_user, 2);
    EXPECT_EQ(c->auth.login_max_failures_per_ip, 4);
    EXPECT_EQ(c->auth.login_window, std::chrono::seconds(30));
    EXPECT_EQ(c->auth.login_lockout, std::chrono::seconds(40));
    EXPECT_FALSE(c->http.access_log);
    EXPECT_FALSE(c->demo);
    EXPECT_EQ(c->gold_srv, "g");
    EXPECT_EQ(c->ctrl_srv, "c");
    EXPECT_EQ(c->tenant.key_grace, std::chrono::seconds(5));
    EXPECT_EQ(c->tenant.max_link_lifetime, std::chrono::seconds(600));
}

TEST_F(ConfigTest, AccessLogAcceptsTrueFalseOneZero) {
    for (const auto& [text, expected] :
         std::vector<std::pair<std::string, bool>>{{"true", true}, {"1", true}, {"false", false}, {"0", false}}) {
        auto c = load("[http]\naccess_log = " + std::string(expected ? "false" : "true") + "\n",
                      {{"KVMHUB_ACCESS_LOG", text}});
        ASSERT_TRUE(c) << error_of(c);
        EXPECT_EQ(c->http.access_log, expected) << text;
    }
}

TEST_F(ConfigTest, UnknownKvmhubVariableIsRejectedByName) {
    EXPECT_TRUE(FailsAt(load_env({{"KVMHUB_DATADIR", "/x"}}), "KVMHUB_DATADIR", "did you mean KVMHUB_DATA_DIR"));
    EXPECT_TRUE(FailsAt(load_env({{"KVMHUB_WHATEVER", "1"}}), "KVMHUB_WHATEVER", "unknown variable"));
}

TEST_F(ConfigTest, OtherVariablesAreIgnored) {
    auto c = load_env({{"PATH", "/usr/bin"}, {"HOME", "/root"}, {"KVMHUBX", "1"}, {"KVMHUB_REGENERATE", "1"}});
    ASSERT_TRUE(c) << error_of(c);
}

TEST_F(ConfigTest, EtcdPrefixSelectsEtcdWhenNoBackendWasChosen) {
    for (const std::string name : {"ETCD_PREFIX", "KVMHUB_ETCD_PREFIX"}) {
        auto c = load_env({{name, "/skvm"}});
        ASSERT_TRUE(c) << error_of(c);
        EXPECT_EQ(c->store.backend, StoreBackend::Etcd) << name;
        EXPECT_EQ(c->store.etcd_prefix, "/skvm");
        EXPECT_EQ(c->store.etcd_endpoints, std::vector<std::string>{"http://127.0.0.1:2379"});
    }
}

TEST_F(ConfigTest, EtcdPrefixKeepsABackendChosenExplicitly) {
    auto from_file = load("[store]\nbackend = \"sqlite\"\n", {{"ETCD_PREFIX", "/p"}});
    ASSERT_TRUE(from_file) << error_of(from_file);
    EXPECT_EQ(from_file->store.backend, StoreBackend::Sqlite);
    auto from_env = load_env({{"ETCD_PREFIX", "/p"}, {"KVMHUB_STORE_BACKEND", "sqlite"}});
    ASSERT_TRUE(from_env) << error_of(from_env);
    EXPECT_EQ(from_env->store.backend, StoreBackend::Sqlite);
}

TEST_F(ConfigTest, EtcdPrefixInTheFileDoesNotSelectEtcd) {
    auto c = load("[store]\netcd_prefix = \"/p\"\n");
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->store.backend, StoreBackend::Sqlite);
}

TEST_F(ConfigTest, EtcdSrvAndPortBuildOneEndpoint) {
    auto c = load_env({{"ETCD_SRV", "10.0.0.9"}, {"ETCD_PORT", "2390"}});
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->store.etcd_endpoints, std::vector<std::string>{"http://10.0.0.9:2390"});
    auto no_port = load_env({{"ETCD_SRV", "etcd.local"}});
    ASSERT_TRUE(no_port) << error_of(no_port);
    EXPECT_EQ(no_port->store.etcd_endpoints, std::vector<std::string>{"http://etcd.local:2379"});
    EXPECT_TRUE(FailsAt(load_env({{"ETCD_SRV", "x"}, {"ETCD_PORT", "http"}}), "ETCD_PORT", "1..65535"));
    EXPECT_TRUE(FailsAt(load_env({{"ETCD_SRV", "http://x"}}), "ETCD_SRV", "without scheme"));
}

TEST_F(ConfigTest, EtcdEndpointsVariableIsACommaListAndWinsOverEtcdSrv) {
    auto c =
        load_env({{"KVMHUB_ETCD_ENDPOINTS", "http://a:2379, https://b:2379"}, {"ETCD_SRV", "c"}, {"ETCD_PORT", "1"}});
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->store.etcd_endpoints, (std::vector<std::string>{"http://a:2379", "https://b:2379"}));
    EXPECT_TRUE(FailsAt(load_env({{"KVMHUB_ETCD_ENDPOINTS", "a:2379"}}), "KVMHUB_ETCD_ENDPOINTS", "http://"));
}

TEST_F(ConfigTest, DirectorySettingsFromTheFileAndSimplekvmsNames) {
    auto file = load(R"(
[ldap]
url = "ldaps://ldap.example:636"
base_dn = "ou=people,dc=example"
uid_format = "cn={uid}"
ca_file = "/etc/ssl/ca.pem"
timeout = 3
allow = ["alice", "bob"]
block = ["bob"]
)");
    ASSERT_TRUE(file) << error_of(file);
    EXPECT_EQ(file->ldap.url, "ldaps://ldap.example:636");
    EXPECT_EQ(file->ldap.base_dn, "ou=people,dc=example");
    EXPECT_EQ(file->ldap.uid_format, "cn={uid}");
    EXPECT_EQ(file->ldap.ca_file, "/etc/ssl/ca.pem");
    EXPECT_EQ(file->ldap.timeout, std::chrono::seconds(3));
    EXPECT_EQ(file->ldap.allow, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(file->ldap.block, std::vector<std::string>{"bob"});

    auto env = load_env({{"LDAP_SRV_URL", "ldap://10.0.0.5:10389"},
                         {"LDAP_BASE_DN", "dc=x"},
                         {"LDAP_UID_FMT", "uid={uid}"},
                         {"KVMHUB_LDAP_STARTTLS", "true"},
                         {"JWT_ALLOWS", R"(["a", "b"])"},
                         {"JWT_BLOCKS", "c, d"}});
    ASSERT_TRUE(env) << error_of(env);
    EXPECT_EQ(env->ldap.url, "ldap://10.0.0.5:10389");
    EXPECT_EQ(env->ldap.base_dn, "dc=x");
    EXPECT_TRUE(env->ldap.starttls);
    EXPECT_EQ(env->ldap.allow, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(env->ldap.block, (std::vector<std::string>{"c", "d"}));
    auto kvmhub_names = load_env({{"KVMHUB_LDAP_ALLOW", "x"}, {"JWT_ALLOWS", R"(["y"])"}});
    ASSERT_TRUE(kvmhub_names) << error_of(kvmhub_names);
    EXPECT_EQ(kvmhub_names->ldap.allow, std::vector<std::string>{"x"}) << "the KVMHUB_ name wins";

    EXPECT_TRUE(FailsAt(load_env({{"LDAP_SRV_URL", "ldap.example"}}), "LDAP_SRV_URL", "ldap://"));
    EXPECT_TRUE(FailsAt(load_env({{"LDAP_UID_FMT", "uid"}}), "LDAP_UID_FMT", "{uid}"));
    EXPECT_TRUE(FailsAt(load_env({{"LDAP_UID_FMT", "uid={uid}+cn={uid}"}}), "LDAP_UID_FMT", "one {uid}"));
    EXPECT_TRUE(FailsAt(load_env({{"JWT_BLOCKS", R"(["a", 1])"}}), "JWT_BLOCKS", "JSON list"));
    EXPECT_TRUE(FailsAt(load(R"([ldap]
allow = "alice")"),
                        "ldap.allow", "array"));
    EXPECT_TRUE(FailsAt(load(R"([ldap]
url = "ldaps://x"
starttls = true)"),
                        "ldap.starttls", "ldap://"));
}

TEST_F(ConfigTest, ActVariablesAreCollectedAndOverrideFileValuesPerKey) {
    auto c = load("[actions]\nACT_TMOUT = \"5\"\nACT_POOL = \"default\"\n",
                  {{"ACT_TMOUT", "30"}, {"ACT_EMPTY", ""}, {"ACTX", "no"}, {"PATH", "/bin"}});
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->actions,
              (std::map<std::string, std::string>{{"ACT_TMOUT", "30"}, {"ACT_POOL", "default"}, {"ACT_EMPTY", ""}}));
}

TEST_F(ConfigTest, ActionTimeoutFromFileAndEnvironment) {
    auto d = load("");
    ASSERT_TRUE(d) << error_of(d);
    EXPECT_EQ(d->action_timeout, std::chrono::seconds(300));
    auto c = load("[actions]\ntimeout = 20\nACT_TMOUT = \"5\"\n");
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->action_timeout, std::chrono::seconds(20));
    EXPECT_EQ(c->actions, (std::map<std::string, std::string>{{"ACT_TMOUT", "5"}})) << "timeout is not an ACT_* value";
    EXPECT_EQ(config_to_json(*c)["actions"]["timeout"], 20);
    auto e = load("[actions]\ntimeout = 20\n", {{"KVMHUB_ACTION_TIMEOUT", "45"}});
    ASSERT_TRUE(e) << error_of(e);
    EXPECT_EQ(e->action_timeout, std::chrono::seconds(45));
    EXPECT_TRUE(FailsAt(load("[actions]\ntimeout = 0\n"), "actions.timeout", "between 1 and 86400"));
    EXPECT_TRUE(FailsAt(load("[actions]\ntimeout = \"5m\"\n"), "actions.timeout", "expected an integer"));
    EXPECT_TRUE(FailsAt(load_env({{"KVMHUB_ACTION_TIMEOUT", "-1"}}), "KVMHUB_ACTION_TIMEOUT", "between 1 and 86400"));
}

TEST_F(ConfigTest, AdminPasswordComesFromTheEnvironmentOnly) {
    auto c = load_env({{"KVMHUB_ADMIN_PASSWORD", "pw"}});
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->auth.initial_admin_password, "pw");
    EXPECT_TRUE(FailsAt(load("[auth]\nadmin_password = \"pw\"\n"), "auth.admin_password", "KVMHUB_ADMIN_PASSWORD"));
    EXPECT_TRUE(FailsAt(load("admin_password = \"pw\"\n"), "admin_password", "KVMHUB_ADMIN_PASSWORD"));
}

// ---- validation of the file ----

TEST_F(ConfigTest, UnknownKeyNamesTheFullDottedKey) {
    EXPECT_TRUE(FailsAt(load("[http]\nlisen = \":80\"\n"), "http.lisen", "did you mean http.listen"));
    EXPECT_TRUE(FailsAt(load("[store]\nbackend = \"sqlite\"\n[store.extra]\nx = 1\n"), "store.extra", "unknown key"));
    EXPECT_TRUE(FailsAt(load("dat_dir = \"/x\"\n"), "dat_dir", "did you mean data_dir"));
    EXPECT_TRUE(FailsAt(load("[metrics]\nport = 1\n"), "metrics.port", "unknown key"));
    EXPECT_TRUE(FailsAt(load("[metricz]\nport = 1\n"), "metricz", "unknown key"));
}

TEST_F(ConfigTest, WrongTypeNamesTheKeyAndBothTypes) {
    EXPECT_TRUE(FailsAt(load("[http]\nbody_limit = \"1M\"\n"), "http.body_limit", "expected an integer, got string"));
    EXPECT_TRUE(FailsAt(load("demo = 1\n"), "demo", "expected a boolean (true or false), got integer"));
    EXPECT_TRUE(FailsAt(load("data_dir = 5\n"), "data_dir", "expected a string, got integer"));
    EXPECT_TRUE(FailsAt(load("[auth]\ntoken_ttl = 1.5\n"), "auth.token_ttl", "got float"));
    EXPECT_TRUE(FailsAt(load("http = 5\n"), "http", "expected a table, got integer"));
    EXPECT_TRUE(FailsAt(load("[store]\netcd_endpoints = \"http://a:1\"\n"), "store.etcd_endpoints",
                        "expected an array of strings"));
    EXPECT_TRUE(FailsAt(load("[actions]\nACT_TMOUT = 5\n"), "actions.ACT_TMOUT", "expected a string, got integer"));
}

struct RangeCase {
    std::string toml;
    std::string where;
    std::string fragment;
};

// Shown by gtest and ctest beside the test name instead of the raw bytes.
void PrintTo(const RangeCase& c, std::ostream* os) { *os << c.where; }

class ConfigRejects : public ConfigTest, public ::testing::WithParamInterface<RangeCase> {};

TEST_P(ConfigRejects, ValueOutsideItsRangeNamingTheKey) {
    EXPECT_TRUE(FailsAt(load(GetParam().toml), GetParam().where, GetParam().fragment));
}

INSTANTIATE_TEST_SUITE_P(
    Config, ConfigRejects,
    ::testing::Values(
        RangeCase{"log_level = \"verbose\"", "log_level", "trace, debug, info, warn, error, critical, off"},
        RangeCase{"[http]\nbody_limit = 1023", "http.body_limit", "1 KiB to 64 MiB"},
        RangeCase{"[http]\nbody_limit = 67108865", "http.body_limit", "got 67108865"},
        RangeCase{"[http]\njson_depth_limit = 0", "http.json_depth_limit", "between 1 and 512"},
        RangeCase{"[http]\njson_depth_limit = 513", "http.json_depth_limit", "between 1 and 512"},
        RangeCase{"[http]\nrequest_timeout = 0", "http.request_timeout", "seconds"},
        RangeCase{"[http]\nidle_timeout = 0", "http.idle_timeout", "seconds"},
        RangeCase{"[http]\nshutdown_grace = -1", "http.shutdown_grace", "seconds"},
        RangeCase{"[http]\nio_threads = 257", "http.io_threads", "between 0 and 256"},
        RangeCase{"[http]\nworker_threads = -1", "http.worker_threads", "between 0 and 256"},
        RangeCase{"[http]\nhost_requests = 0", "http.host_requests", "between 1 and 256"},
        RangeCase{"[http]\nhost_queue = 4097", "http.host_queue", "between 0 and 4096"},
        RangeCase{"[auth]\ntoken_ttl = 59", "auth.token_ttl", "1 minute to 30 days"},
        RangeCase{"[auth]\ntoken_ttl = 2592001", "auth.token_ttl", "1 minute to 30 days"},
        RangeCase{"[auth]\nsession_lifetime = 59", "auth.session_lifetime", "1 minute to 30 days"},
        RangeCase{"[auth]\nsession_lifetime = 2592001", "auth.session_lifetime", "1 minute to 30 days"},
        RangeCase{"[auth]\ntoken_ttl = 7200\nsession_lifetime = 3600", "auth.session_lifetime",
                  "at least auth.token_ttl (7200 s)"},
        RangeCase{"[auth]\nlogin_max_failures_per_user = 0", "auth.login_max_failures_per_user", ""},
        RangeCase{"[auth]\nlogin_max_failures_per_ip = 0", "auth.login_max_failures_per_ip", ""},
        RangeCase{"[auth]\nlogin_window = 0", "auth.login_window", ""},
        RangeCase{"[auth]\nlogin_lockout = 0", "auth.login_lockout", ""},
        RangeCase{"[tenant]\nkey_grace = -1", "tenant.key_grace", "0 to 30 days"},
        RangeCase{"[tenant]\nkey_grace = 2592001", "tenant.key_grace", "0 to 30 days"},
        RangeCase{"[tenant]\nmax_link_lifetime = 59", "tenant.max_link_lifetime", "1 minute to 10 years"},
        RangeCase{"[tenant]\nmax_link_lifetime = 316224001", "tenant.max_link_lifetime", "1 minute to 10 years"},
        RangeCase{"[store]\nbackend = \"mysql\"", "store.backend", "sqlite, etcd"},
        RangeCase{"[store]\netcd_endpoints = [\"127.0.0.1:2379\"]", "store.etcd_endpoints", "http://"},
        RangeCase{"[store]\nbackend = \"etcd\"\netcd_endpoints = []", "store.etcd_endpoints", "at least one endpoint"},
        RangeCase{"data_dir = \"\"", "data_dir", "must not be empty"},
        RangeCase{"meta_srv = \"\"", "meta_srv", "must not be empty"},
        RangeCase{"gold_srv = \"http://x\"", "gold_srv", "without scheme"},
        RangeCase{"[http]\nlisten = \"example.com:80\"", "http.listen", "IPv4 or IPv6 literal"},
        RangeCase{"[actions]\nTMOUT = \"5\"", "actions.TMOUT", "ACT_*"},
        RangeCase{"[actions]\n\"ACT_A-B\" = \"5\"", "actions.ACT_A-B", "ACT_*"}),
    // Stable, readable test names (ctest lists them at build time and runs them by name).
    [](const ::testing::TestParamInfo<RangeCase>& info) {
        std::string name = std::to_string(info.index) + "_" + info.param.where;
        for (char& c : name)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        return name;
    });

TEST_F(ConfigTest, BoundaryValuesAreAccepted) {
    auto low = load(
        "[http]\nbody_limit = 1024\nio_threads = 0\nrequest_timeout = 1\n[auth]\ntoken_ttl = 60\nsession_lifetime = "
        "60\n");
    ASSERT_TRUE(low) << error_of(low);
    auto high = load(
        "[http]\nbody_limit = 67108864\nio_threads = 256\njson_depth_limit = 512\n"
        "[auth]\ntoken_ttl = 2592000\nsession_lifetime = 2592000\n");
    ASSERT_TRUE(high) << error_of(high);
    EXPECT_EQ(high->http.body_limit, 64u << 20);
}

// ---- listeners ----

TEST(ParseListen, AcceptsTheDocumentedForms) {
    struct Case {
        std::string text, address;
        std::uint16_t port;
    };
    for (const auto& c : std::vector<Case>{{"127.0.0.1:8080", "127.0.0.1", 8080},
                                           {"[::1]:8443", "::1", 8443},
                                           {"[::]:80", "::", 80},
                                           {":9000", "0.0.0.0", 9000},
                                           {"localhost:1", "localhost", 1},
                                           {"0.0.0.0:0", "0.0.0.0", 0},
                                           {"10.0.0.1:65535", "10.0.0.1", 65535}}) {
        auto l = parse_listen(c.text, "k");
        ASSERT_TRUE(l) << c.text << ": " << l.error().desc;
        EXPECT_EQ(l->address, c.address) << c.text;
        EXPECT_EQ(l->port, c.port) << c.text;
        EXPECT_EQ(l->surfaces, kAll);
    }
}

TEST(ParseListen, RejectsMalformedAddressesNamingTheKey) {
    for (const std::string text :
         {"", "8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1:-1", "::1:8080",
          "[::1]8080", "[::1]", "[1.2.3.4]:80", "host.example:80", "999.0.0.1:80", "127.0.0.1: 80"}) {
        auto l = parse_listen(text, "http.listen");
        ASSERT_FALSE(l) << text;
        EXPECT_EQ(l.error().where, "http.listen");
        EXPECT_EQ(l.error().code, Errc::BadInput);
        EXPECT_NE(l.error().desc.find("expected ADDR:PORT"), std::string::npos) << l.error().desc;
    }
}

TEST_F(ConfigTest, SeveralListenersEachServeTheirRoutes) {
    auto c = load(R"(
[[listener]]
name = "admin"
listen = "0.0.0.0:8443"
serves = ["admin"]
[[listener]]
name = "tenant"
listen = "0.0.0.0:1443"
serves = ["tenant", "admin"]
[[listener]]
listen = ":80"
serves = ["metadata"]
)");
    ASSERT_TRUE(c) << error_of(c);
    ASSERT_EQ(c->listeners.size(), 3u);
    EXPECT_EQ(c->listeners[0].name, "admin");
    EXPECT_EQ(c->listeners[0].surfaces, std::vector<Surface>{Surface::Admin});
    EXPECT_EQ(c->listeners[1].port, 1443);
    EXPECT_EQ(c->listeners[1].surfaces, (std::vector<Surface>{Surface::Tenant, Surface::Admin}));
    EXPECT_EQ(c->listeners[2].name, "listener2");
    EXPECT_EQ(c->listeners[2].address, "0.0.0.0");
}

TEST_F(ConfigTest, ListenerWithoutServesServesEverything) {
    auto c = load("[[listener]]\nlisten = \"127.0.0.1:0\"\n");
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->listeners[0].surfaces, kAll);
}

TEST_F(ConfigTest, ListenerRulesNameTheKeyAtFault) {
    const std::string ok = "[[listener]]\nname = \"a\"\nlisten = \":1\"\n";
    EXPECT_TRUE(FailsAt(load(ok + "[[listener]]\nname = \"a\"\nlisten = \":2\"\n"), "listener[1].name", "unique"));
    EXPECT_TRUE(FailsAt(load(ok + "[[listener]]\nname = \"b\"\nlisten = \":1\"\n"), "listener[1].listen",
                        "already used by listener 'a'"));
    EXPECT_TRUE(FailsAt(load("[[listener]]\nname = \"a\"\n"), "listener[0].listen", "missing"));
    EXPECT_TRUE(FailsAt(load(ok + "serves = [\"admin\", \"web\"]\n"), "listener[0].serves", "unknown surface 'web'"));
    EXPECT_TRUE(FailsAt(load(ok + "serves = []\n"), "listener[0].serves", "must not be empty"));
    EXPECT_TRUE(FailsAt(load(ok + "serves = \"admin\"\n"), "listener[0].serves", "expected an array of strings"));
    EXPECT_TRUE(FailsAt(load(ok + "tls_crt = \"x\"\n"), "listener[0].tls_crt", "did you mean tls_cert"));
    EXPECT_TRUE(FailsAt(load(ok + "[[listener]]\nlisten = \"1.2.3:4\"\n"), "listener[1].listen", "IPv4 or IPv6"));
    EXPECT_TRUE(FailsAt(load("listener = 3\n"), "listener", "array of tables"));
    EXPECT_TRUE(FailsAt(load("listener = []\n"), "listener", "no listener"));
}

TEST_F(ConfigTest, EverySurfaceMustBeServedBySomeListener) {
    auto c = load("[[listener]]\nlisten = \":1\"\nserves = [\"admin\", \"tenant\"]\n");
    EXPECT_TRUE(FailsAt(c, "listener", "no listener serves the metadata routes"));
}

TEST_F(ConfigTest, HttpListenAndListenerTablesAreExclusive) {
    EXPECT_TRUE(FailsAt(load("[http]\nlisten = \":1\"\n[[listener]]\nlisten = \":2\"\n"), "http.listen",
                        "cannot be combined with [[listener]]"));
}

TEST_F(ConfigTest, TlsNeedsBothCertAndKey) {
    const std::string cert = write("cert.pem", "CERT");
    const std::string base = "[[listener]]\nlisten = \":1\"\n";
    EXPECT_TRUE(FailsAt(load(base + "tls_cert = \"" + cert + "\"\n"), "listener[0].tls_key", "go together"));
    EXPECT_TRUE(FailsAt(load(base + "tls_key = \"" + cert + "\"\n"), "listener[0].tls_cert", "go together"));
}

TEST_F(ConfigTest, TlsFilesMustExistAndTheErrorNamesKeyAndPath) {
    const std::string cert = write("cert.pem", "CERT");
    const std::string missing = dir_.file("missing-key.pem");
    auto c = load("[[listener]]\nlisten = \":1\"\ntls_cert = \"" + cert + "\"\ntls_key = \"" + missing + "\"\n");
    EXPECT_TRUE(FailsAt(c, "listener[0].tls_key", "cannot read '" + missing + "'"));
    auto dir_as_cert = load("[[listener]]\nlisten = \":1\"\ntls_cert = \"" + dir_.path().string() + "\"\ntls_key = \"" +
                            cert + "\"\n");
    EXPECT_TRUE(FailsAt(dir_as_cert, "listener[0].tls_cert", "not a regular file"));
}

TEST_F(ConfigTest, TlsListenerKeepsItsFiles) {
    const std::string cert = write("cert.pem", "CERT");
    const std::string key = write("key.pem", "KEY");
    auto c = load("[[listener]]\nname = \"secure\"\nlisten = \":8443\"\ntls_cert = \"" + cert + "\"\ntls_key = \"" +
                  key + "\"\n");
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(c->listeners[0].tls_cert, cert);
    EXPECT_EQ(c->listeners[0].tls_key, key);
}

// ---- dump ----

TEST_F(ConfigTest, DumpMasksSecretsAndNeverShowsTheAdminPassword) {
    auto c = load("ctrl_key = \"ctrl-secret\"\n[actions]\nACT_TMOUT = \"5\"\nACT_API_KEY = \"k1\"\n",
                  {{"KVMHUB_ADMIN_PASSWORD", "admin-pw-123"},
                   {"ACT_DB_PASSWORD", "p1"},
                   {"ACT_Secret_X", "s1"},
                   {"ACT_TOKEN", "t1"},
                   {"ACT_EMPTY_KEY", ""}});
    ASSERT_TRUE(c) << error_of(c);
    const nlohmann::json j = config_to_json(*c);
    EXPECT_EQ(j["CTRL_KEY"], "***");
    EXPECT_EQ(j["ACT_TMOUT"], "5");
    EXPECT_EQ(j["ACT_API_KEY"], "***");
    EXPECT_EQ(j["ACT_DB_PASSWORD"], "***");
    EXPECT_EQ(j["ACT_Secret_X"], "***");
    EXPECT_EQ(j["ACT_TOKEN"], "***");
    EXPECT_EQ(j["ACT_EMPTY_KEY"], "");
    const std::string text = j.dump();
    for (const std::string secret : {"ctrl-secret", "admin-pw-123", "k1", "p1", "s1", "t1"})
        EXPECT_EQ(text.find("\"" + secret + "\""), std::string::npos) << secret;
    EXPECT_EQ(text.find("admin-pw"), std::string::npos);
}

TEST_F(ConfigTest, DumpHasTheSimplekvmNamesAndEverySection) {
    auto c = load_env({{"DATA_DIR", "/d"}, {"META_SRV", "10.0.0.1:8080"}});
    ASSERT_TRUE(c) << error_of(c);
    const nlohmann::json j = config_to_json(*c);
    EXPECT_EQ(j["VERSION"], KVMHUB_VERSION);
    EXPECT_EQ(j["DATA_DIR"], "/d");
    EXPECT_EQ(j["META_SRV"], "10.0.0.1:8080");
    EXPECT_EQ(j["GOLD_SRV"], "10.0.0.1:8080");
    EXPECT_EQ(j["CTRL_SRV"], "10.0.0.1:8080");
    EXPECT_EQ(j["CTRL_KEY"], "");
    EXPECT_EQ(j["STORE"], "sqlite");
    EXPECT_EQ(j["ETCD_PREFIX"], "");
    EXPECT_EQ(j["ETCD_SRV"], "");
    EXPECT_EQ(j["ETCD_PORT"], "");
    ASSERT_EQ(j["listeners"].size(), 1u);
    EXPECT_EQ(j["listeners"][0]["listen"], "127.0.0.1:8080");
    EXPECT_EQ(j["listeners"][0]["serves"], nlohmann::json({"admin", "tenant", "metadata"}));
    EXPECT_EQ(j["listeners"][0]["tls"], false);
    EXPECT_EQ(j["http"]["body_limit"], 1048576);
    EXPECT_EQ(j["http"]["request_timeout"], 60);
    EXPECT_EQ(j["auth"]["token_ttl"], 3600);
    EXPECT_EQ(j["auth"]["session_lifetime"], 43200);
    EXPECT_EQ(j["tenant"]["key_grace"], 86400);
    EXPECT_EQ(j["tenant"]["max_link_lifetime"], 366 * 86400);
    EXPECT_EQ(j["store"]["sqlite_path"], "/d/kvmhub.db");
}

TEST_F(ConfigTest, DumpShowsEtcdServerFromTheFirstEndpoint) {
    auto c = load_env(
        {{"ETCD_PREFIX", "/skvm"}, {"KVMHUB_ETCD_ENDPOINTS", "http://user:pw@10.0.0.5:2391,http://10.0.0.6:2379"}});
    ASSERT_TRUE(c) << error_of(c);
    const nlohmann::json j = config_to_json(*c);
    EXPECT_EQ(j["STORE"], "etcd");
    EXPECT_EQ(j["ETCD_PREFIX"], "/skvm");
    EXPECT_EQ(j["ETCD_SRV"], "10.0.0.5");
    EXPECT_EQ(j["ETCD_PORT"], "2391");
    EXPECT_EQ(j["store"]["etcd_endpoints"][0], "http://***@10.0.0.5:2391");
    EXPECT_EQ(j.dump().find("user:pw"), std::string::npos);
}

TEST_F(ConfigTest, DumpBracketsIpv6ListenAddresses) {
    auto c = load_env({{"KVMHUB_LISTEN", "[::1]:8080"}});
    ASSERT_TRUE(c) << error_of(c);
    EXPECT_EQ(config_to_json(*c)["listeners"][0]["listen"], "[::1]:8080");
}

// ---- small helpers ----

TEST(SurfaceName, NamesMatchTheServesValues) {
    EXPECT_STREQ(surface_name(Surface::Admin), "admin");
    EXPECT_STREQ(surface_name(Surface::Tenant), "tenant");
    EXPECT_STREQ(surface_name(Surface::Metadata), "metadata");
}

TEST(CurrentEnvironment, ReadsTheProcessEnvironment) {
    const char* path = std::getenv("PATH");
    ASSERT_NE(path, nullptr);
    const Environment env = current_environment();
    ASSERT_TRUE(env.contains("PATH"));
    EXPECT_EQ(env.at("PATH"), path);
}

}  // namespace
}  // namespace kvmhub

namespace kvmhub {
namespace {

class ConsoleConfigTest : public ::testing::Test {
protected:
    Result<Config> load(const std::string& toml, const Environment& env = {}) const {
        std::ofstream(dir_.file("kvmhub.toml")) << toml;
        return load_config(dir_.file("kvmhub.toml"), env, {}, dir_.file("absent.toml"));
    }
    test::TempDir dir_;
};

TEST_F(ConsoleConfigTest, ConsoleSectionAndEnvironment) {
    auto c = load("[console]\nidle_timeout = 5\nmax_ticket_ttl = 600\nui_dir = \"/srv/ui\"\n",
                  {{"KVMHUB_CONSOLE_TAKEOVER", "false"}, {"KVMHUB_CONSOLE_PING_INTERVAL", "7"}});
    ASSERT_TRUE(c) << c.error().desc;
    EXPECT_EQ(c->console.idle_timeout, std::chrono::seconds(5));
    EXPECT_EQ(c->console.max_ticket_ttl, std::chrono::seconds(600));
    EXPECT_EQ(c->console.ping_interval, std::chrono::seconds(7));
    EXPECT_FALSE(c->console.takeover);
    EXPECT_EQ(c->console.ui_dir, "/srv/ui");
    auto defaults = load("");
    ASSERT_TRUE(defaults);
    EXPECT_TRUE(defaults->console.takeover);
    EXPECT_EQ(defaults->console.ui_dir, KVMHUB_SOURCE_DIR "/ui");
}

TEST_F(ConsoleConfigTest, BadConsoleValuesNameTheKey) {
    auto zero = load("[console]\nidle_timeout = 0\n");
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error().where, "console.idle_timeout");
    auto typo = load("[console]\nidle = 5\n");
    ASSERT_FALSE(typo);
    EXPECT_NE(typo.error().where.find("console.idle"), std::string::npos) << typo.error().where;
}

}  // namespace
}  // namespace kvmhub
