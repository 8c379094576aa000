// The websocket seam: a handler that wants the connection turned into a websocket bridged to
// a console returns a Reply with `upgrade` set. http/ owns everything from there: the
// handshake (echoing the `binary` subprotocol when offered), binary frames, ping/pong
// keepalive, the idle and session time limits, the TCP relay (Asio coroutines, no thread per
// session) or the relay to a BytePipe a service opened, and the close handshake both ways.
// No Beast type appears here: services fill this struct with plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/byte_pipe.hpp"
#include "http/message.hpp"

namespace kvmhub::http {

struct WebsocketUpgrade {
    // The target: a TCP endpoint (host name or address, port) or an open pipe.
    std::string tcp_host;
    std::uint16_t tcp_port = 0;
    std::shared_ptr<BytePipe> pipe;

    bool read_only = false;                // the client's data frames are dropped (log viewers)
    std::chrono::seconds idle_timeout{0};  // no byte either way for this long ends it; 0 = never
    std::chrono::seconds max_session{0};   // 0 = no limit
    std::chrono::seconds ping_interval{30};

    // Refuse after the handshake: the websocket opens and closes at once with this code
    // (4000 + HTTP status, e.g. 4403, 4410) and reason. Browsers cannot read the status of a
    // failed handshake, so this is how a console page learns why (expired, already used).
    int refuse_code = 0;
    std::string refuse_reason;

    // Runs once the websocket is open (on a network thread; must not block) with a function
    // that ends the session from any thread, e.g. when another console takes over. Returning
    // false closes the session at once (code 4409) with the reason written to `why`.
    std::function<bool(std::function<void(std::string reason)> end, std::string& why)> on_open;
    // Runs once when the session is over (not after a refusal or a failed on_open).
    std::function<void()> on_close;

    std::string log_fields;  // "host=... vm=... disp=..." for the log lines
};

// True when the request asks for a websocket (GET with Upgrade: websocket).
bool is_websocket_request(const Request& request);

// The refusal of a websocket request: the error as JSON for a plain request, and an upgrade that
// opens the websocket and closes it at once with 4000 + the HTTP status and the error's desc.
Reply refuse_websocket(const Error& error);

}  // namespace kvmhub::http
