// Several listeners, each serving its own surfaces, and a TLS listener.
#include <gtest/gtest.h>

#include <fstream>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::test {
namespace {

TEST(Listeners, EachListenerServesOnlyItsSurfaces) {
    TempDir dir;
    std::ofstream(dir.file("kvmhub.toml")) << R"(
[[listener]]
name = "admin"
listen = "127.0.0.1:0"
serves = ["admin", "tenant"]

[[listener]]
name = "meta"
listen = "127.0.0.1:0"
serves = ["metadata"]
)";
    Daemon d(DaemonOptions{.args = {"--config", dir.file("kvmhub.toml")},
                           .admin_password = "pw-listeners",
                           .wait_ready = false,
                           .default_listen = false});
    const int admin_port = d.listener_port("admin"), meta_port = d.listener_port("meta");
    ASSERT_TRUE(admin_port && meta_port) << d.output();
    std::string admin = "http://127.0.0.1:" + std::to_string(admin_port);
    std::string meta = "http://127.0.0.1:" + std::to_string(meta_port);
    auto login = http_post(admin + "/api/login", R"({"username":"admin","password":"pw-listeners"})");
    ASSERT_EQ(login.status, 200) << login.body;
    auto token = login.json()["token"].get<std::string>();
    EXPECT_EQ(http_get(admin + "/conf/", bearer(token)).status, 200);
    // No admin data is reachable from the metadata listener, not even with a valid token.
    EXPECT_EQ(http_get(meta + "/conf/", bearer(token)).status, 404);
    EXPECT_EQ(http_post(meta + "/api/login", R"({"username":"admin","password":"pw-listeners"})").status, 404);
    EXPECT_EQ(http_get(meta + "/healthz").status, 200);
    EXPECT_EQ(d.stop(), 0);
}

TEST(Listeners, TlsListenerServesHttps) {
    TempDir dir;
    std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
    std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        key + " -out " + cert + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
    std::ofstream(dir.file("kvmhub.toml")) << "[[listener]]\nname = \"secure\"\nlisten = \"127.0.0.1:0\"\n"
                                           << "tls_cert = \"" << cert << "\"\ntls_key = \"" << key << "\"\n";
    Daemon d(DaemonOptions{.args = {"--config", dir.file("kvmhub.toml")},
                           .admin_password = "pw-tls",
                           .wait_ready = false,
                           .default_listen = false});
    const int port = d.listener_port("secure");
    ASSERT_NE(port, 0) << d.output();
    std::string url = "https://127.0.0.1:" + std::to_string(port);
    HttpOptions trust;
    trust.ca_file = cert;
    auto health = http_get(url + "/healthz", trust);
    ASSERT_EQ(health.status, 200) << health.error << health.body;
    auto login = http_post(url + "/api/login", R"({"username":"admin","password":"pw-tls"})", trust);
    ASSERT_EQ(login.status, 200);
    EXPECT_NE(login.header("set-cookie").find("; Secure"), std::string::npos) << "cookie over TLS must be Secure";
    // Plain HTTP on the TLS port gets no answer it could mistake for success.
    EXPECT_NE(http_get("http://127.0.0.1:" + std::to_string(port) + "/healthz").status, 200);
    EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace kvmhub::test
