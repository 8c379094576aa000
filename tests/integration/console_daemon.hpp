// The console tests' daemon: the real kvmhubd with libvirt's in-process test:///default driver,
// one host "t1", and the console test domain template (support/console_fixtures.hpp).
#pragma once

#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "support/console_fixtures.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/vm_fixtures.hpp"
#include "support/ws_client.hpp"

namespace kvmhub::test {

using nlohmann::json;


// One daemon with its own console settings, one host "t1", and helpers.
class ConsoleDaemon {
public:
    using Env = std::map<std::string, std::string>;
    explicit ConsoleDaemon(Env env = {}) : daemon_(DaemonOptions{.env = env}) {
        token_ = daemon_.login();
        auto put = http_request("PUT", daemon_.url() + "/conf/template/domain/consoletest", kConsoleDomainTemplate,
                                bearer(token_));
        EXPECT_EQ(put.status, 200) << put.body;
        auto host = post("/conf/host/", host_body("t1", "test:///default", "consoletest").dump());
        EXPECT_EQ(host.status, 200) << host.body;
    }

    HttpResponse get(const std::string& path) { return http_get(daemon_.url() + path, bearer(token_)); }
    HttpResponse post(const std::string& path, const std::string& body) {
        return http_post(daemon_.url() + path, body, bearer(token_));
    }
    // A VM whose VNC port is `vnc_port` (none when 0); started unless told otherwise.
    std::string vm(int vnc_port, bool start = true, const std::string& serial_log = "/nonexistent/serial.log",
                   const std::string& host = "t1") {
        json body{{"vm_ram_mb", 64}, {"vm_serial_log", serial_log}};
        if (vnc_port) body["vm_vnc_port"] = vnc_port;
        auto r = post("/vm/create/" + host, body.dump());
        EXPECT_EQ(r.status, 200) << r.body;
        std::string uuid = r.json().value("uuid", "");
        if (start) {
            EXPECT_EQ(get("/vm/start/" + host + "/" + uuid).status, 200);
        }
        return uuid;
    }
    json display(const std::string& uuid, const std::string& query = "", const std::string& host = "t1") {
        auto r = get("/vm/display/" + host + "/" + uuid + query);
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json();
    }
    std::unique_ptr<WsClient> ws(const std::string& target, WsOptions options = {}, long* status = nullptr) {
        return WsClient::connect(daemon_.port(), target, options, status);
    }
    std::unique_ptr<WsClient> console(const std::string& uuid, const std::string& ticket, WsOptions options = {},
                                      const std::string& host = "t1") {
        return ws("/vm/websockify/" + host + "/" + uuid + "?ticket=" + ticket, std::move(options));
    }
    Daemon& daemon() { return daemon_; }
    const std::string& token() const { return token_; }

private:
    Daemon daemon_;
    std::string token_;
};

}  // namespace kvmhub::test
