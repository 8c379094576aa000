// Consoles on a host's loopback, reached through an ssh `direct-tcpip` channel (libssh, in
// process: no ssh binary, no socat). open_ssh_tunnel() connects, checks the host key against
// the pins (trust on first use), logs in with the manager's key and opens the channel, all
// blocking and bounded by a timeout: call it from a worker thread, never an I/O thread. The
// pipe it returns relays on a thread of its own (libssh never runs on an Asio thread); the
// thread ends, and frees the session, socket and wake-up fd, when either end closes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/byte_pipe.hpp"
#include "common/result.hpp"
#include "console/host_keys.hpp"

namespace kvmhub::console {

struct SshTarget {
    std::string host;     // the catalog host: its pin, and the name in every message
    std::string address;  // where its sshd listens (the host's ipaddr)
    std::uint16_t port = 22;
    std::string user;
    std::string to_host;  // the console as seen from the host, e.g. 127.0.0.1:5900
    std::uint16_t to_port = 0;
};

// The channel, ready to relay from start(). HostUnavailable when the host's sshd cannot be
// reached; HostError when it presents another host key than the pinned one, refuses the key
// (`private_key` is the manager's OpenSSH private key, base64) or refuses the channel.
Result<std::shared_ptr<BytePipe>> open_ssh_tunnel(const SshTarget& target, const std::string& private_key,
                                                  HostKeyPins& pins, std::chrono::seconds timeout);

// Relay threads running now, in this process (a session that ended leaves none behind).
std::size_t running_ssh_tunnels();

}  // namespace kvmhub::console
