// Request framing (RFC 9112) over raw sockets against the real kvmhubd: every request whose
// body length cannot be trusted is refused and its connection closed, and no second request is
// ever parsed out of a body (request smuggling behind a proxy). Each test sends, as the body,
// a complete second request, and checks that exactly one response came back.
#include <fstream>

#include <gtest/gtest.h>

#include "support/daemon.hpp"
#include "support/raw_socket.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;

// A complete request hidden in a body: if the server ever answers it, the body was parsed as a request.
const std::string kSmuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

// Responses on the wire: each has one "Server: kvmhub" header line (a JSON body has no CRLF).
int responses(const std::string& wire) {
    int n = 0;
    for (auto at = wire.find("\r\nServer: kvmhub\r\n"); at != std::string::npos;
         at = wire.find("\r\nServer: kvmhub\r\n", at + 1))
        ++n;
    return n;
}

class HttpFraming : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir;
        std::ofstream(dir_->file("kvmhub.toml")) << "[http]\nidle_timeout = 2\n";
        daemon_ = new Daemon({.args = {"--config", dir_->file("kvmhub.toml")}});
    }
    static void TearDownTestSuite() {
        delete daemon_;
        daemon_ = nullptr;
        delete dir_;
        dir_ = nullptr;
    }

    // Sends `wire` on a fresh connection and reads until the server closes it.
    static std::string exchange(const std::string& wire) {
        RawSocket s(daemon_->port());
        s.send(wire);
        std::string out;
        EXPECT_TRUE(s.read_until_closed(out, 10s)) << "the server kept the connection open after: " << out;
        return out;
    }
    static void expect_refused(const std::string& out, const std::string& status, const std::string& field) {
        EXPECT_EQ(out.rfind("HTTP/1.1 " + status, 0), 0u) << out;
        EXPECT_EQ(responses(out), 1) << "a second request was parsed out of the body:\n" << out;
        EXPECT_NE(out.find("\"name\":\"" + field + "\""), std::string::npos) << out;
    }

    static TempDir* dir_;
    static Daemon* daemon_;
};
TempDir* HttpFraming::dir_ = nullptr;
Daemon* HttpFraming::daemon_ = nullptr;

TEST_F(HttpFraming, AnUnknownTransferCodingWithoutLengthIs400AndTheBodyIsNeverARequest) {
    auto out = exchange("POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" + kSmuggled);
    expect_refused(out, "400", "transfer-encoding");
}

TEST_F(HttpFraming, ChunkedTwiceIs400) {
    const std::string inner = "5\r\nhello\r\n0\r\n\r\n";
    auto out = exchange("POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n" + inner +
                        kSmuggled);
    // Beast refuses this one itself ("bad Transfer-Encoding"); either way: 400, one reply, closed.
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
    EXPECT_EQ(responses(out), 1) << out;
    // Also when the codings come in two header lines.
    out = exchange(
        "POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" +
        inner + kSmuggled);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
    EXPECT_EQ(responses(out), 1) << out;
}

TEST_F(HttpFraming, AnUnknownCodingBeforeChunkedIs501) {
    auto out = exchange("POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" +
                        kSmuggled);
    expect_refused(out, "501", "transfer-encoding");
}

TEST_F(HttpFraming, AnUnknownCodingWithAContentLengthIsNotReadByLength) {
    auto out = exchange("POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: " +
                        std::to_string(kSmuggled.size()) + "\r\n\r\n" + kSmuggled + kSmuggled);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
    EXPECT_EQ(responses(out), 1) << out;
}

TEST_F(HttpFraming, ChunkedWithAContentLengthIs400AndClose) {
    auto out = exchange(
        "POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
        "0\r\n\r\n" +
        kSmuggled);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
    EXPECT_EQ(responses(out), 1) << out;
}

TEST_F(HttpFraming, DifferingContentLengthsAre400AndClose) {
    auto out =
        exchange("POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}" + kSmuggled);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
    EXPECT_EQ(responses(out), 1) << out;
}

TEST_F(HttpFraming, TransferEncodingOnHttp10Is400) {
    auto out = exchange("POST /api/login HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + kSmuggled);
    EXPECT_EQ(responses(out), 1) << out;
    EXPECT_NE(out.find(" 400 "), std::string::npos) << out;
}

TEST_F(HttpFraming, Http11WithoutHostIs400AndHttp10WithoutHostIsServed) {
    auto out = exchange("GET /healthz HTTP/1.1\r\n\r\n");
    expect_refused(out, "400", "host");
    out = exchange("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    expect_refused(out, "400", "host");
    out = exchange("GET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_NE(out.find(" 200 "), std::string::npos) << out;
}

TEST_F(HttpFraming, AHeaderBlockOver16KiBIs431) {
    auto out = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(17 * 1024, 'a') + "\r\n\r\n");
    expect_refused(out, "431", "header");
}

TEST_F(HttpFraming, ABodyOverTheLimitIs413AndClose) {
    auto out = exchange("POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
    EXPECT_EQ(responses(out), 1) << out;
}

TEST_F(HttpFraming, AHeaderThatNeverEndsIsClosedAtTheIdleTimeout) {
    RawSocket s(daemon_->port());
    s.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    std::string out;
    // idle_timeout is 2 s here; the bound only says it did not wait forever.
    EXPECT_TRUE(s.read_until_closed(out, 20s)) << out;
    EXPECT_EQ(responses(out), 0) << out;
}

TEST_F(HttpFraming, AWellFramedChunkedRequestStillWorksAndKeepsTheConnection) {
    RawSocket s(daemon_->port());
    s.send(
        "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\n{}\r\n0\r\n\r\n" +
        kSmuggled);
    auto out = s.read_until("\"status\":\"ok\"", 10s);
    EXPECT_EQ(responses(out), 2) << "the pipelined second request is a request of its own here:\n" << out;
}

}  // namespace
}  // namespace kvmhub::test
