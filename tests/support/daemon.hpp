// Starts the real kvmhubd on a free loopback port with its own data dir, and stops it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"

namespace kvmhub::test {

struct DaemonOptions {
    std::vector<std::string> args;           // extra command-line arguments
    std::map<std::string, std::string> env;  // extra environment (PATH and HOME are passed through)
    std::string admin_password = "test-admin-password";
    bool wait_ready = true;      // wait for the "listening" line and read the port
    bool default_listen = true;  // add --listen 127.0.0.1:0 (off for tests with a listener config)
    std::string data_dir;        // empty: a fresh one of its own (else one an earlier daemon used)
};

class Daemon {
public:
    explicit Daemon(DaemonOptions options = {});
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // http://127.0.0.1:<port> of the first listener.
    const std::string& url() const { return url_; }
    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string& data_dir() const { return data_dir_; }
    const std::string& admin_password() const { return admin_password_; }

    // Everything the daemon wrote to stdout and stderr so far.
    std::string output() const;
    // Waits until the output contains `text`; false on timeout or exit.
    bool wait_for_output(const std::string& text, std::chrono::seconds timeout = std::chrono::seconds(30)) const;

    // Sends `signo` and waits for the exit; returns the exit code, or 128+signal when killed.
    int stop(int signo = 15, std::chrono::seconds timeout = std::chrono::seconds(60));
    // Waits for the process to exit by itself (exit code as above), -1 on timeout.
    int wait_exit(std::chrono::seconds timeout);

    // The port of the listener named `name` (from its "listening on ... (listener <name>)"
    // line, waited for); 0 when it did not come up.
    int listener_port(const std::string& name) const;

    // A token for the admin user (logs in through the API on url(), or on `base_url`).
    std::string login(const std::string& base_url = {}) const;

private:
    void read_output(int fd);

    TempDir dir_;
    std::string data_dir_;
    std::string admin_password_;
    pid_t pid_ = -1;
    int exit_code_ = -1;
    int port_ = 0;
    std::string url_;
    std::thread reader_;
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::string output_;
    bool eof_ = false;
};

// Runs kvmhubd with `args` to completion (a subcommand), feeding `input` on stdin.
struct CommandResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
};
// Runs argv[0] (from PATH) to completion; output is stdout and stderr together. The
// environment is PATH, HOME, TMPDIR and LANG plus `env`.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = {},
                          const std::map<std::string, std::string>& env = {},
                          std::chrono::seconds timeout = std::chrono::seconds(120));
CommandResult run_kvmhubd(const std::vector<std::string>& args, const std::string& input = {},
                          const std::map<std::string, std::string>& env = {});

}  // namespace kvmhub::test
