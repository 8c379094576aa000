// The HTTP server as a client sees it: the real kvmhubd on a loopback port.
#include <gtest/gtest.h>

#include <fstream>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/raw_socket.hpp"

namespace kvmhub::test {
namespace {

class HttpServer : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        daemon_ = new Daemon(DaemonOptions{.env = {{"KVMHUB_CTRL_KEY", "ctrl-secret-42"}}});
    }
    static void TearDownTestSuite() {
        delete daemon_;
        daemon_ = nullptr;
    }
    static Daemon* daemon_;
    const std::string& url() const { return daemon_->url(); }
};
Daemon* HttpServer::daemon_ = nullptr;

TEST_F(HttpServer, HealthzReportsTheStore) {
    auto r = http_get(url() + "/healthz");
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.header("content-type"), "application/json");
    auto j = r.json();
    EXPECT_EQ(j["status"], "ok");
    EXPECT_EQ(j["store"], "ok");
    EXPECT_EQ(j["backend"], "sqlite");
}

TEST_F(HttpServer, UnknownRouteIs404Json) {
    auto r = http_get(url() + "/no/such/thing");
    ASSERT_EQ(r.status, 404);
    auto j = r.json();
    EXPECT_EQ(j["result"], "ERR");
    EXPECT_EQ(j["code"], 404);
    EXPECT_EQ(j["name"], "path");
    EXPECT_NE(j["desc"].get<std::string>().find("/no/such/thing"), std::string::npos);
}

TEST_F(HttpServer, WrongMethodIs405WithAllow) {
    auto r = http_request("DELETE", url() + "/healthz");
    ASSERT_EQ(r.status, 405);
    EXPECT_EQ(r.header("allow"), "GET");
    EXPECT_EQ(r.json()["result"], "ERR");
}

TEST_F(HttpServer, HeadIsServedByTheGetRouteWithoutBody) {
    auto r = http_request("HEAD", url() + "/healthz");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body.empty());
    EXPECT_NE(r.header("content-length"), "0");
}

TEST_F(HttpServer, TrailingSlashIsOptional) {
    auto token = daemon_->login();
    EXPECT_EQ(http_get(url() + "/conf/", bearer(token)).status, 200);
    EXPECT_EQ(http_get(url() + "/conf", bearer(token)).status, 200);
}

TEST_F(HttpServer, BodyOverOneMebibyteIs413) {
    auto token = daemon_->login();
    std::string body(1024 * 1024 + 1, 'x');
    auto r = http_post(url() + "/api/refresh", body, bearer(token));
    ASSERT_EQ(r.status, 413) << r.body << r.error;
    auto j = r.json();
    EXPECT_EQ(j["result"], "ERR");
    EXPECT_EQ(j["name"], "body");
    EXPECT_NE(j["desc"].get<std::string>().find("1048576"), std::string::npos);
}

TEST_F(HttpServer, ChunkedBodyOverTheLimitIs413) {
    auto token = daemon_->login();
    RawSocket s(daemon_->port());
    std::string chunk(64 * 1024, 'y');
    s.send("POST /api/refresh HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
           "\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 17; ++i) s.send("10000\r\n" + chunk + "\r\n");
    auto reply = s.read_until("\r\n\r\n");
    EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply;
}

TEST_F(HttpServer, LoginBodyHasItsOwnSmallLimit) {
    std::string body = R"({"username":"admin","password":")" + std::string(8000, 'p') + "\"}";
    EXPECT_EQ(http_post(url() + "/api/login", body).status, 413);
}

TEST_F(HttpServer, MalformedJsonIs400WithPosition) {
    auto r = http_post(url() + "/api/login", R"({"username": "admin", "password": )");
    ASSERT_EQ(r.status, 400);
    auto j = r.json();
    EXPECT_EQ(j["result"], "ERR");
    EXPECT_EQ(j["code"], 998);
    EXPECT_EQ(j["name"], "body");
    EXPECT_NE(j["desc"].get<std::string>().find("malformed JSON at byte"), std::string::npos) << j.dump();
}

TEST_F(HttpServer, DeeplyNestedJsonIsRefused) {
    std::string deep =
        R"({"username":"admin","password":"x","extra":)" + std::string(200, '[') + std::string(200, ']') + "}";
    auto r = http_post(url() + "/api/login", deep);
    ASSERT_EQ(r.status, 400);
    EXPECT_NE(r.json()["desc"].get<std::string>().find("nested deeper"), std::string::npos) << r.body;
}

TEST_F(HttpServer, JsonThatIsNotAnObjectIs400) {
    auto r = http_post(url() + "/api/login", "[1,2]");
    ASSERT_EQ(r.status, 400);
    EXPECT_NE(r.json()["desc"].get<std::string>().find("expected a JSON object"), std::string::npos);
}

TEST_F(HttpServer, BlankFieldUsesCode800AndNamesTheField) {
    auto r = http_post(url() + "/api/login", R"({"username":"admin","password":""})");
    ASSERT_EQ(r.status, 400);
    EXPECT_EQ(r.json()["code"], 800);
    EXPECT_EQ(r.json()["name"], "password");
}

TEST_F(HttpServer, RequestIdIsEchoedOrGenerated) {
    auto given = http_get(url() + "/healthz", HttpOptions{{"X-Request-Id: trace-abc.123"}});
    EXPECT_EQ(given.header("x-request-id"), "trace-abc.123");
    auto hostile = http_get(url() + "/healthz", HttpOptions{{"X-Request-Id: evil id; rm -rf"}});
    EXPECT_FALSE(hostile.header("x-request-id").empty());
    EXPECT_EQ(hostile.header("x-request-id").find(' '), std::string::npos);
    auto a = http_get(url() + "/healthz").header("x-request-id");
    auto b = http_get(url() + "/healthz").header("x-request-id");
    EXPECT_NE(a, b);
}

TEST_F(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
    RawSocket s(daemon_->port());
    // Pipelined: the second request asks the server to close once it has answered.
    s.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::string both;
    ASSERT_TRUE(s.read_until_closed(both));
    size_t first = both.find("HTTP/1.1 200");
    ASSERT_NE(first, std::string::npos) << both;
    EXPECT_NE(both.find("HTTP/1.1 200", first + 1), std::string::npos) << both;
}

TEST_F(HttpServer, GarbageRequestGets400AndClose) {
    RawSocket s(daemon_->port());
    s.send("THIS IS NOT HTTP\r\n\r\n");
    std::string out;
    EXPECT_TRUE(s.read_until_closed(out));
    EXPECT_NE(out.find("400"), std::string::npos) << out;
}

TEST_F(HttpServer, MetricsCountRequestsByRouteAndStatus) {
    ASSERT_EQ(http_get(url() + "/healthz").status, 200);
    auto r = http_get(url() + "/metrics");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.header("content-type").find("text/plain"), std::string::npos);
    EXPECT_NE(r.body.find(R"(kvmhub_http_requests_total{route="/healthz",method="GET",status="200"})"),
              std::string::npos)
        << r.body;
    EXPECT_NE(r.body.find("kvmhub_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"}"),
              std::string::npos);
    EXPECT_NE(r.body.find("kvmhub_store_ops_total{backend=\"sqlite\""), std::string::npos);
}

// /metrics lists the fleet: loopback by default (MetricsCountRequestsByRouteAndStatus reads it
// from 127.0.0.1), else the networks of metrics.allow, or the scrape token.
TEST(Metrics, OnlyAllowedNetworksOrTheScrapeTokenReadMetrics) {
    Daemon d({.env = {{"KVMHUB_METRICS_ALLOW", "192.0.2.0/24"}, {"KVMHUB_METRICS_TOKEN", "scrape-secret-77"}}});
    auto refused = http_get(d.url() + "/metrics");
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(refused.json().value("name", ""), "metrics");
    EXPECT_EQ(refused.body.find("kvmhub_"), std::string::npos);
    EXPECT_EQ(http_get(d.url() + "/metrics", bearer("scrape-secret-78")).status, 403);
    EXPECT_EQ(http_get(d.url() + "/metrics", bearer(d.login())).status, 403) << "an admin token is not the scrape token";
    auto scraped = http_get(d.url() + "/metrics", bearer("scrape-secret-77"));
    EXPECT_EQ(scraped.status, 200);
    EXPECT_NE(scraped.body.find("kvmhub_http_requests_total"), std::string::npos);
    auto conf = http_get(d.url() + "/conf/", bearer(d.login())).json()["conf"];
    EXPECT_EQ(conf["metrics.allow"], "192.0.2.0/24");
    EXPECT_EQ(conf.dump().find("scrape-secret-77"), std::string::npos) << "the token is masked";

}

TEST_F(HttpServer, ConfDumpShowsSettingsAndMasksSecrets) {
    auto r = http_get(url() + "/conf/", bearer(daemon_->login()));
    ASSERT_EQ(r.status, 200) << r.body;
    auto conf = r.json()["conf"];
    EXPECT_EQ(conf["DATA_DIR"], daemon_->data_dir());
    EXPECT_EQ(conf["STORE"], "sqlite");
    EXPECT_TRUE(conf.contains("META_SRV"));
    EXPECT_TRUE(conf.contains("VERSION"));
    EXPECT_EQ(r.body.find("ctrl-secret-42"), std::string::npos) << "CTRL_KEY leaked: " << r.body;
    EXPECT_EQ(r.body.find(daemon_->admin_password()), std::string::npos) << "admin password leaked";
}

}  // namespace
}  // namespace kvmhub::test
