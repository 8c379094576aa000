// The HTTP server: one or more listeners (plain or TLS), one coroutine per connection,
// handlers run on a worker pool so blocking services never stall the network threads.
// SIGTERM/SIGINT (or stop()) closes the listeners and idle connections; requests in flight
// finish (within http.shutdown_grace) before run() returns.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/metrics.hpp"
#include "common/result.hpp"
#include "http/router.hpp"

namespace kvmhub::http {

struct BoundListener {
    std::string name;
    std::string address;
    std::uint16_t port = 0;
    bool tls = false;
};

class Server {
public:
    Server(const Config& config, const Router& router, Metrics& metrics);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds every configured listener. The error names the listener, its address and the cause.
    Status listen();
    std::vector<BoundListener> bound() const;

    // Serves until a signal or stop(), then drains. Returns true when every request finished
    // in time, false when the grace period ran out and connections were cut.
    bool run();
    // Thread-safe; starts the graceful shutdown.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kvmhub::http
