// Device action scripts (simplekvm's `<kind>.<name>.action` beside a device template): the
// script runs under `bash -eu` with the request JSON on stdin and a fixed environment, in a
// process group of its own, time-limited; its output lines reach the caller as they come.
//
// What a script sees, and nothing else of kvmhubd (whose environment may hold secrets):
//   stdin        the request JSON (action_input())
//   environment  URL TYPE HOSTIP SSHPORT SSHUSER, every ACT_* setting (action_environment()),
//                and PATH=kActionPath
//   $0           a private copy of the script (mode 0700 in a 0700 directory, removed after)
//   cwd          that directory (scratch space: it is removed with everything left in it)
//   fds          0, 1 and 2 only; stdout and stderr are one pipe, so lines keep their order
// Values reach the script only through stdin and the environment, never through a command line,
// so no value can inject shell code.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/result.hpp"

namespace kvmhub::vm {

inline constexpr std::string_view kActionPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Receives each output line (without its '\n'; a last line without one is delivered too), in
// order, as soon as it is complete. Returning false means the client went away: the script's
// whole process group is killed and run_action() returns Errc::Conflict ("cancelled").
using LineSink = std::function<bool(std::string_view line)>;

struct ActionSpec {
    std::string name;                        // the device template, e.g. "disk.file": names the script in messages
    std::string script;                      // bash source
    std::string input;                       // stdin
    std::map<std::string, std::string> env;  // the whole environment but PATH
    std::chrono::milliseconds timeout{std::chrono::seconds(300)};
    std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};  // from SIGTERM to SIGKILL
    std::size_t max_line_bytes = 64 << 10;                          // a longer line is delivered in pieces of this size
    std::size_t tail_lines = 10;                                    // lines quoted in the error of a failed script
};

// Runs the script to its end. When it ends, whatever it left running in its process group is
// killed too (a background job holding the output pipe would otherwise keep the caller waiting).
// Errors:
//   HostError   the script exited non-zero or was killed by a signal: the status and its last lines
//   HostTimeout "action <name> timed out after N s" (the group got SIGTERM, SIGKILL after kill_grace)
//   Conflict    the sink returned false
//   Internal    the script could not be started
Status run_action(const ActionSpec& spec, const LineSink& sink);

// The environment simplekvm gives an action: the host's libvirt URL, the device type (disk, net or
// cdrom: the template name up to its first '.'), the host's ssh address, port and user, and every
// ACT_* setting. `host` is a catalog host record {"url","ipaddr","sshport","sshuser",...}.
std::map<std::string, std::string> action_environment(const nlohmann::json& host, std::string_view device_template,
                                                      const std::map<std::string, std::string>& act_settings);

// The stdin of an action: the attach request body with vm_uuid and vm_last_disk set and a
// non-empty `gold` replaced by the gold image's URL (empty: a blank disk).
std::string action_input(const nlohmann::json& request, std::string_view vm_uuid, std::string_view vm_last_disk,
                         std::string_view gold_url);

}  // namespace kvmhub::vm
