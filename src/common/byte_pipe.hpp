// A byte stream to a console that is not a TCP socket (a libvirt serial console stream, a
// log file being followed). The websocket bridge in http/ relays it; the services that make
// one know nothing of websockets. Every method is thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace kvmhub {

class BytePipe {
public:
    // Bytes from the console, in order; `closed` once, with a reason ("" for a clean end),
    // after which no more data arrives. Both may run on any thread and must return quickly.
    struct Sink {
        std::function<void(std::string_view bytes)> data;
        std::function<void(std::string reason)> closed;
    };

    virtual ~BytePipe() = default;
    // Starts delivering to `sink`; called once.
    virtual void start(Sink sink) = 0;
    // Sends bytes to the console without blocking (queued when it is busy); false once closed.
    virtual bool write(std::string_view bytes) = 0;
    // Ends the stream; `closed` is not called for an end asked for here. Idempotent.
    virtual void close() = 0;
};

}  // namespace kvmhub
