// Console proxy benchmark: bytes/s and round-trip latency to one TCP echo server (standing in
// for a VM's VNC port), measured in one run three ways: raw loopback TCP, through kvmhubd's
// websocket proxy (/vm/websockify/ with a ticket), and through Debian's websockify.
// Each way: a stream from the target (what a VNC server sends: framebuffer updates), an echo
// with a window of 1 (send a 64 KiB chunk, read it back), and 16-byte round trips for latency.
// Numbers for the README; nothing here passes or fails.
// Usage: console_proxy_bench [MiB per run, default 64]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/daemon.hpp"
#include "support/echo_server.hpp"
#include "support/http_client.hpp"
#include "support/vm_fixtures.hpp"
#include "support/ws_client.hpp"

using namespace kvmhub::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr int kRoundTrips = 2000;

struct Result {
    double download_mib_per_s = 0;
    double mib_per_s = 0;
    double p50_us = 0;
    double p99_us = 0;
};

// A target that sends `total` bytes (64 KiB writes) to each connection after its first byte,
// then echoes like EchoServer: one port serves both measurements.
class SourceServer {
public:
    explicit SourceServer(std::size_t total) : total_(total) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::listen(fd_, 16);
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] {
            for (;;) {
                int c = ::accept(fd_, nullptr, nullptr);
                if (c < 0) return;
                std::thread([this, c] { serve(c); }).detach();
            }
        });
    }
    ~SourceServer() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    int port() const { return port_; }

private:
    void serve(int c) {
        int one = 1;
        ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char first;
        if (::recv(c, &first, 1, 0) == 1) {
            std::string block(kChunk, 'v');
            for (std::size_t sent = 0; sent < total_;) {
                auto n = ::send(c, block.data(), std::min(block.size(), total_ - sent), MSG_NOSIGNAL);
                if (n <= 0) break;
                sent += static_cast<std::size_t>(n);
            }
            std::string buf(kChunk, '\0');
            for (;;) {
                auto n = ::recv(c, buf.data(), buf.size(), 0);
                if (n <= 0) break;
                if (::send(c, buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
            }
        }
        ::close(c);
    }
    std::size_t total_;
    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
};

// One way to talk to the echo server: send bytes, receive exactly n bytes.
struct Channel {
    std::function<bool(const std::string&)> send;
    std::function<bool(std::size_t, std::string&)> receive;
};

Result measure(Channel& ch, std::size_t total) {
    Result r;
    std::string back;
    {
        const auto started = Clock::now();
        if (!ch.send("G") || !ch.receive(total, back)) {
            std::fprintf(stderr, "bench: download failed\n");
            return r;
        }
        r.download_mib_per_s = static_cast<double>(total) / (1024.0 * 1024.0) /
                               std::chrono::duration<double>(Clock::now() - started).count();
    }
    std::string chunk(kChunk, '\0');
    for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 31);
    const auto started = Clock::now();
    for (std::size_t sent = 0; sent < total; sent += kChunk) {
        if (!ch.send(chunk) || !ch.receive(kChunk, back)) {
            std::fprintf(stderr, "bench: channel failed\n");
            return r;
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    r.mib_per_s = static_cast<double>(total) / (1024.0 * 1024.0) / seconds;
    std::vector<double> us;
    const std::string small(16, 'p');
    for (int i = 0; i < kRoundTrips; ++i) {
        const auto t0 = Clock::now();
        if (!ch.send(small) || !ch.receive(small.size(), back)) break;
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    if (!us.empty()) {
        r.p50_us = us[us.size() / 2];
        r.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
    }
    return r;
}

Channel tcp_channel(int& fd, int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return Channel{[fd](const std::string& bytes) {
                       std::size_t off = 0;
                       while (off < bytes.size()) {
                           auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
                           if (n <= 0) return false;
                           off += static_cast<std::size_t>(n);
                       }
                       return true;
                   },
                   [fd](std::size_t n, std::string& out) {
                       out.resize(n);
                       std::size_t got = 0;
                       while (got < n) {
                           auto r = ::recv(fd, out.data() + got, n - got, 0);
                           if (r <= 0) return false;
                           got += static_cast<std::size_t>(r);
                       }
                       return true;
                   }};
}

Channel ws_channel(WsClient& ws) {
    auto pending = std::make_shared<std::string>();
    return Channel{[&ws](const std::string& bytes) { return ws.send(bytes); },
                   [&ws, pending](std::size_t n, std::string& out) {
                       while (pending->size() < n) {
                           auto next = ws.read(std::chrono::seconds(30));
                           if (!next) return false;
                           *pending += *next;
                       }
                       out = pending->substr(0, n);
                       pending->erase(0, n);
                       return true;
                   }};
}

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

void print(const char* name, const Result& r, const Result& raw) {
    auto pct = [](double a, double b) { return b > 0 ? 100.0 * a / b : 0.0; };
    std::printf("%-24s stream %8.1f MiB/s (%5.1f%% of raw)  echo %7.1f MiB/s (%5.1f%%)  p50 %7.1f us  p99 %8.1f us\n",
                name, r.download_mib_per_s, pct(r.download_mib_per_s, raw.download_mib_per_s), r.mib_per_s,
                pct(r.mib_per_s, raw.mib_per_s), r.p50_us, r.p99_us);
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t total = (argc > 1 ? std::stoul(argv[1]) : 64) * 1024 * 1024;
    SourceServer echo(total);
    std::printf(
        "console proxy: %zu MiB streamed from the target, %zu KiB chunks echoed (window 1), %d round "
        "trips of 16 bytes; "
        "%u cores shared by everything\n",
        total >> 20, kChunk >> 10, kRoundTrips, std::thread::hardware_concurrency());

    int fd = -1;
    Channel raw_ch = tcp_channel(fd, echo.port());
    Result raw = measure(raw_ch, total);
    ::close(fd);

    Daemon daemon(DaemonOptions{.env = {{"KVMHUB_ACCESS_LOG", "false"}, {"KVMHUB_DEMO", "false"}}});
    const std::string token = daemon.login();
    const std::string tpl =
        "<domain type='test'><name>bench-{{ vm_uuid }}</name><uuid>{{ vm_uuid }}</uuid><memory unit='MiB'>64</memory>"
        "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><graphics type='vnc' port='" +
        std::to_string(echo.port()) + "' autoport='no' listen='127.0.0.1'/></devices></domain>";
    http_request("PUT", daemon.url() + "/conf/template/domain/bench", tpl, bearer(token));
    http_post(daemon.url() + "/conf/host/", host_body("b1", "test:///default", "bench").dump(), bearer(token));
    const std::string uuid = http_post(daemon.url() + "/vm/create/b1", "{}", bearer(token)).json().value("uuid", "");
    http_get(daemon.url() + "/vm/start/b1/" + uuid, bearer(token));
    const std::string ticket =
        http_get(daemon.url() + "/vm/display/b1/" + uuid, bearer(token)).json().value("token", "");
    auto kvmhub_ws = WsClient::connect(daemon.port(), "/vm/websockify/b1/" + uuid + "?ticket=" + ticket,
                                       WsOptions{.protocols = {"binary"}});
    Result through_kvmhub;
    if (kvmhub_ws) {
        Channel ch = ws_channel(*kvmhub_ws);
        through_kvmhub = measure(ch, total);
        kvmhub_ws->close();
    } else {
        std::fprintf(stderr, "bench: cannot open the kvmhub console websocket\n");
    }

    const int wport = free_port();
    pid_t pid = ::fork();
    if (pid == 0) {
        ::execlp("websockify", "websockify", (std::string("127.0.0.1:") + std::to_string(wport)).c_str(),
                 (std::string("127.0.0.1:") + std::to_string(echo.port())).c_str(), static_cast<char*>(nullptr));
        std::_Exit(127);
    }
    std::unique_ptr<WsClient> w;
    for (int i = 0; i < 100 && !w; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        w = WsClient::connect(wport, "/", WsOptions{.protocols = {"binary"}});
    }
    Result through_websockify;
    if (w) {
        Channel ch = ws_channel(*w);
        through_websockify = measure(ch, total);
        w->close();
    } else {
        std::fprintf(stderr, "bench: websockify did not start (Debian package websockify)\n");
    }
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);

    print("raw loopback TCP", raw, raw);
    print("kvmhubd websocket proxy", through_kvmhub, raw);
    print("websockify (Debian)", through_websockify, raw);
    if (through_websockify.mib_per_s > 0 && through_websockify.download_mib_per_s > 0)
        std::printf("kvmhubd / websockify: stream %.2fx, echo %.2fx\n",
                    through_kvmhub.download_mib_per_s / through_websockify.download_mib_per_s,
                    through_kvmhub.mib_per_s / through_websockify.mib_per_s);
    return 0;
}
