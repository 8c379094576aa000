// A plain blocking TCP client for tests that must control bytes on the wire
// (partial requests, pipelining, Expect: 100-continue).
#pragma once

#include <chrono>
#include <string>

namespace kvmhub::test {

class RawSocket {
public:
    explicit RawSocket(int port);  // connects to 127.0.0.1:port
    ~RawSocket();
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;

    void send(const std::string& bytes);
    // Reads until `marker` has arrived (returns all read so far), or the peer closes, or timeout.
    std::string read_until(const std::string& marker, std::chrono::seconds timeout = std::chrono::seconds(30));
    // Reads until the peer closes the connection; true when it did within the timeout.
    bool read_until_closed(std::string& out, std::chrono::seconds timeout = std::chrono::seconds(30));

private:
    enum class Read { Data, Closed, Timeout };
    Read read_some(std::string& out, std::chrono::steady_clock::time_point deadline);
    int fd_ = -1;
};

}  // namespace kvmhub::test
