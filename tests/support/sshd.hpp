// A real OpenSSH server for the console tunnel tests: /usr/sbin/sshd -D on 127.0.0.1 with a
// config, host key, authorized_keys, pid file and log (LogLevel DEBUG1, which names every
// direct-tcpip channel) in a temp dir of its own; stopped by its pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "support/temp_dir.hpp"

namespace kvmhub::test {

struct SshdOptions {
    std::string authorized_keys;  // the lines of its AuthorizedKeysFile
    int port = 0;                 // 0: a free one
    std::string host_key;         // a private host key file to reuse; "": a new ed25519 key
};

class Sshd {
public:
    explicit Sshd(SshdOptions options);
    ~Sshd();
    Sshd(const Sshd&) = delete;
    Sshd& operator=(const Sshd&) = delete;

    // False (with the reason in error()) when sshd did not come up.
    bool running() const { return pid_ > 0; }
    const std::string& error() const { return error_; }
    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    std::string host_key() const { return dir_.file("host_key"); }
    // Its log so far.
    std::string log() const;
    // Waits until the log contains `text`.
    bool wait_for_log(const std::string& text, std::chrono::seconds timeout = std::chrono::seconds(10)) const;
    // Waits until the log shows sshd opening a direct-tcpip channel to 127.0.0.1:<port> (not
    // a refused one): proof that bytes to that port went through this sshd.
    bool wait_for_channel_to(int port, std::chrono::seconds timeout = std::chrono::seconds(10)) const;
    void stop();

private:
    TempDir dir_;
    int port_ = 0;
    pid_t pid_ = -1;
    std::string error_;
};

// The user the tests run as (sshd logs in as this user).
std::string current_user();

}  // namespace kvmhub::test
