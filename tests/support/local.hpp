// Small helpers for tests that run servers on this machine.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace kvmhub::test {

// A loopback port that was free a moment ago (for a server whose address must be known before
// it starts, e.g. a daemon that is its own META_SRV, or sshd).
int free_port();
// Polls `done` every 100 ms until it holds or `timeout` passes; returns its last answer.
bool eventually(const std::function<bool()>& done, std::chrono::seconds timeout);
// Starts the server `argv` (argv[0] an absolute path) in the foreground, its stderr appended to
// `log_path`; the pid, or -1 when it could not be started. stop_server() ends it (SIGTERM, then
// waits) and sets the pid to -1: servers a test starts are stopped by pid, never by name.
pid_t start_server(const std::vector<std::string>& argv, const std::string& log_path);
void stop_server(pid_t& pid);
// How many entries a directory has (e.g. /proc/<pid>/fd, /proc/<pid>/task); 0 when unreadable.
std::size_t dir_entries(const std::string& dir);
// The whole file ("" when it cannot be read).
std::string read_file(const std::string& path);
// %XX sequences decoded, everything else as it is (what decodeURIComponent, noVNC and
// console.js do with a page's `path` parameter).
std::string percent_decode(const std::string& text);
// What a browser does, written out: atob() (standard base64; "<not base64>" when it is not),
// encodeURIComponent(), and noVNC's reading of a page's `path` parameter (the text up to the
// next '&' or '#', percent-decoded).
std::string atob(const std::string& text);
std::string encode_uri_component(const std::string& text);
std::string novnc_path(const std::string& url);

}  // namespace kvmhub::test
