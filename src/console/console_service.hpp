// Browser consoles: `display` reads a running VM's consoles from its live XML and mints a
// ticket for one; `open` takes the ticket back when the websocket arrives and says what to
// bridge it to (a TCP endpoint for VNC/SPICE, an ssh tunnel to them when they listen on a
// host's loopback, a libvirt stream for the serial console);
// `open_log` follows a VM's serial log file. One console session per VM at a time: a second
// one takes the first over (console.takeover = true, the default) or is refused.
// The service knows nothing of websockets: http/ relays what a SessionPlan describes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "common/byte_pipe.hpp"
#include "common/clock.hpp"
#include "common/config.hpp"
#include "common/result.hpp"
#include "console/host_keys.hpp"
#include "console/tickets.hpp"
#include "store/store.hpp"
#include "virt/hypervisor.hpp"

namespace kvmhub::console {

struct DisplayRequest {
    std::string host;
    std::string uuid;
    std::string disp;          // "" (the VM's graphics), vnc, spice, console
    std::string prefix;        // URL prefix kvmhub is reached under ("" or "/kvm")
    std::string timeout_mins;  // "" = 15
    // A tenant's console (/user/vm/display): the link's id the ticket is bound to, its query
    // ("k=..&e=..&l=..") that the websocket path carries for the tenant guard, and its expiry
    // (Unix seconds), which neither the ticket nor the session outlives. All empty for an admin.
    std::string link;
    std::string link_query;
    std::int64_t link_expiry = 0;
};

// What to bridge a websocket to, and for how long.
struct SessionPlan {
    std::string tcp_host;  // graphics: connect here
    std::uint16_t tcp_port = 0;
    std::shared_ptr<BytePipe> pipe;  // serial console, log
    bool read_only = false;
    std::chrono::seconds max_session{0};
    std::chrono::seconds idle_timeout{0};
    std::chrono::seconds ping_interval{30};
    // Registers the open session (with its `end`); false and `why` when it may not run.
    std::function<bool(std::function<void(std::string)> end, std::string& why)> attach;
    std::function<void()> detach;
    std::string log_fields;
};

class ConsoleService {
public:
    ConsoleService(catalog::Catalog& catalog, virt::Hypervisor& hypervisor, store::Store& store, const Config& config,
                   const Clock& clock);

    // {"display":"<page>?...&path=...","token","disp","expire"}. The path is
    // <prefix>/vm/websockify/<host>/<uuid>?ticket=, or for a tenant link
    // <prefix>/user/vm/websockify/<host>/<uuid>?ticket=&k=&e=&l=. Conflict when the VM is not
    // running or lacks the console asked for; BadInput for a bad disp/timeout_mins. Graphics
    // reached through ssh are tried first: HostError/HostUnavailable when the tunnel fails
    // (refused key, changed host key, sshd down). Blocking: call it on a worker thread.
    Result<nlohmann::json> display(const DisplayRequest& request);
    // Consumes the ticket (bound to host/uuid, to `disp` when given, and to the tenant `link`
    // it was minted for, "" for an admin's) and plans the session (opening the ssh tunnel when
    // the ticket's target is reached through one).
    Result<SessionPlan> open(const std::string& host, const std::string& uuid, const std::string& ticket,
                             const std::string& disp, const std::string& link = {});
    // The VM's serial log file, followed read-only (hosts on this machine only).
    Result<SessionPlan> open_log(const std::string& host, const std::string& uuid);

    TicketBook& tickets() { return tickets_; }
    // The ssh host keys pinned for the hosts whose consoles are reached through ssh.
    HostKeyPins& host_keys() { return pins_; }

private:
    struct Active {
        std::uint64_t id = 0;
        std::function<void(std::string)> end;
    };
    Result<virt::HostRef> host_ref(const std::string& host, nlohmann::json* record = nullptr);
    // The ssh channel to `target` ("address:port" as seen from the host) on host `host`.
    Result<std::shared_ptr<BytePipe>> tunnel(const std::string& host, const nlohmann::json& record,
                                             const std::string& target);
    // Fills plan.attach/detach for the per-VM session registry.
    void guard_session(SessionPlan& plan, const std::string& key);

    catalog::Catalog& catalog_;
    virt::Hypervisor& hypervisor_;
    const ConsoleConfig& config_;
    store::Store& store_;
    const Clock& clock_;
    TicketBook tickets_;
    HostKeyPins pins_;
    std::mutex mutex_;
    std::map<std::string, Active> active_;  // by host/uuid (logs by "log:" host/uuid)
    std::uint64_t next_id_ = 1;
};

}  // namespace kvmhub::console
