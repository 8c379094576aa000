// A websocket client for tests (Boost.Beast; the one test translation unit that compiles it).
// Every call waits at most its timeout; frames that arrive are queued in order.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kvmhub::test {

struct WsOptions {
    std::vector<std::string> protocols;  // Sec-WebSocket-Protocol offers
    std::vector<std::string> headers;    // "Name: value"
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

class WsClient {
public:
    // Connects to ws://127.0.0.1:<port><target>. nullptr when the handshake fails; then
    // `http_status` (when given) holds the server's HTTP status and `error` the reason.
    static std::unique_ptr<WsClient> connect(int port, const std::string& target, const WsOptions& options = {},
                                             long* http_status = nullptr, std::string* error = nullptr);
    ~WsClient();
    WsClient(const WsClient&) = delete;
    WsClient& operator=(const WsClient&) = delete;

    std::string protocol() const;  // what the server chose ("" when none)
    bool send(const std::string& bytes);
    // The next data message; nullopt when the connection ended or nothing came in time.
    std::optional<std::string> read(std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // Reads messages until their concatenation contains `marker`; returns all of it.
    std::string read_until(const std::string& marker, std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // Waits for the end of the connection; true when it ended in time.
    bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // Sends a close frame and waits for the close handshake.
    bool close();
    bool ping();

    bool closed() const;
    int close_code() const;  // the server's close code (0 when none was received)
    std::string close_reason() const;
    int pings_received() const;
    int pongs_received() const;

private:
    struct Impl;
    explicit WsClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace kvmhub::test
