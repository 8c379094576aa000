#include "console/console_service.hpp"

#include <charconv>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "auth/ssh_identity.hpp"
#include "common/ids.hpp"
#include "console/graphics_route.hpp"
#include "console/log_follower.hpp"
#include "console/ssh_login.hpp"
#include "console/ssh_tunnel.hpp"

namespace kvmhub::console {
namespace {

constexpr int kDefaultMinutes = 15;
constexpr const char* kSpiceDir = "/usr/share/spice-html5";  // Debian's spice-html5

std::string percent_encode(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

// How long connecting, the ssh handshake and the login may take together, each step.
constexpr auto kSshTimeout = std::chrono::seconds(10);

std::string utc_text(std::chrono::system_clock::time_point t) {
    std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::optional<DisplayKind> parse_kind(std::string_view disp) {
    if (disp == "vnc") return DisplayKind::Vnc;
    if (disp == "spice") return DisplayKind::Spice;
    if (disp == "console") return DisplayKind::Console;
    return std::nullopt;
}

}  // namespace

ConsoleService::ConsoleService(catalog::Catalog& catalog, virt::Hypervisor& hypervisor, store::Store& store,
                               const Config& config, const Clock& clock)
    : catalog_(catalog),
      hypervisor_(hypervisor),
      config_(config.console),
      store_(store),
      clock_(clock),
      tickets_(clock),
      pins_(store, clock) {}

Result<std::shared_ptr<BytePipe>> ConsoleService::tunnel(const std::string& host, const nlohmann::json& record,
                                                         const std::string& target) {
    auto login = ssh_login_of(host, record);
    if (!login) return tl::unexpected(login.error());
    // The pair is made at startup; ensure_ssh_identity only reads it here.
    if (auto made = auth::ensure_ssh_identity(store_); !made) return tl::unexpected(made.error());
    auto key = store_.get(auth::kSshPrivateKey);
    if (!key) return tl::unexpected(key.error());
    if (!*key) return fail(Errc::Internal, "ssh_key", "the manager's ssh private key is missing from the store");
    const auto colon = target.rfind(':');
    SshTarget to{host,        login->address,          login->port,
                 login->user, target.substr(0, colon), static_cast<std::uint16_t>(std::stoi(target.substr(colon + 1)))};
    return open_ssh_tunnel(to, (*key)->value, pins_, kSshTimeout);
}

Result<virt::HostRef> ConsoleService::host_ref(const std::string& host, nlohmann::json* record) {
    auto found = catalog_.host(host);
    if (!found) return tl::unexpected(found.error());
    if (record) *record = *found;
    return virt::HostRef{host, found->value("url", "")};
}

Result<nlohmann::json> ConsoleService::display(const DisplayRequest& request) {
    std::optional<DisplayKind> wanted;
    if (!request.disp.empty()) {
        wanted = parse_kind(request.disp);
        if (!wanted)
            return fail(Errc::BadInput, "disp",
                        fmt::format("unknown display '{}'; use vnc, spice, console, or leave it empty for the VM's "
                                    "graphics",
                                    request.disp),
                        998);
    }
    int minutes = kDefaultMinutes;
    if (!request.timeout_mins.empty()) {
        const auto& t = request.timeout_mins;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), minutes);
        if (ec != std::errc() || end != t.data() + t.size() || minutes < 1)
            return fail(Errc::BadInput, "timeout_mins",
                        "timeout_mins must be a whole number of minutes, at least 1 (got '" + t + "')", 998);
    }
    if (!request.prefix.empty() &&
        (request.prefix.front() != '/' || request.prefix.find_first_of("?#&\"' <>\\") != std::string::npos))
        return fail(Errc::BadInput, "prefix", "prefix must be a URL path starting with '/', e.g. /kvm", 998);
    if (!is_uuid(request.uuid)) return fail(Errc::BadInput, "uuid", "'" + request.uuid + "' is not a UUID");

    nlohmann::json record;
    auto ref = host_ref(request.host, &record);
    if (!ref) return tl::unexpected(ref.error());
    auto info = hypervisor_.console_info(*ref, request.uuid);
    if (!info) return tl::unexpected(info.error());
    if (!info->running)
        return fail(Errc::Conflict, "state",
                    "VM " + request.uuid + " is not running; start it before opening a console");

    Ticket ticket{request.host, request.uuid, DisplayKind::Console, "serial", {}, {}, request.link};
    std::string password;
    if (wanted == DisplayKind::Console) {
        if (!info->serial)
            return fail(Errc::Conflict, "disp", "VM " + request.uuid + " has no serial console (<serial type='pty'>)");
    } else {
        const virt::GraphicsInfo* graphics = nullptr;
        for (const auto& g : info->graphics)
            if (!wanted || g.type == kind_name(*wanted)) {
                graphics = &g;
                break;
            }
        if (graphics == nullptr)
            return fail(
                Errc::Conflict, "disp",
                fmt::format("VM {} has no {} display", request.uuid, wanted ? kind_name(*wanted) : "VNC or SPICE"));
        ticket.kind = graphics->type == "spice" ? DisplayKind::Spice : DisplayKind::Vnc;
        if (ticket.kind == DisplayKind::Spice && !std::filesystem::exists(kSpiceDir))
            return fail(Errc::Conflict, "disp",
                        "SPICE consoles need the spice-html5 pages (Debian package spice-html5), which are not "
                        "installed; use disp=vnc or disp=console");
        if (graphics->port <= 0)
            return fail(Errc::Conflict, "disp", "the graphics of VM " + request.uuid + " have no port yet");
        auto route = graphics_route(request.host, record, *graphics, request.uuid);
        if (!route) return tl::unexpected(route.error());
        ticket.tunnel = route->tunnel;
        const std::string address = route->address;
        if (ticket.tunnel) {
            // Tried now, so that a host that refuses kvmhub's key (or changed its host key) is
            // reported here and not only by a console page that closes at once.
            auto tried = tunnel(request.host, record, fmt::format("{}:{}", address, graphics->port));
            if (!tried) return tl::unexpected(tried.error());
            (*tried)->close();
        }
        ticket.target = fmt::format("{}:{}", address, graphics->port);
        password = graphics->passwd;
    }

    auto ttl = std::min<std::chrono::seconds>(std::chrono::minutes(minutes), config_.max_ticket_ttl);
    if (!request.link.empty()) {
        // A tenant's console ends with its link at the latest.
        const std::chrono::seconds left(request.link_expiry - clock_.now_seconds());
        if (left.count() <= 0) return fail(Errc::Gone, "link", "this tenant link has expired");
        ttl = std::min(ttl, left);
    }
    ticket.expires = clock_.now() + ttl;
    ticket.session_limit = ttl;
    const DisplayKind kind = ticket.kind;
    const auto expires = ticket.expires;
    std::string secret = tickets_.mint(std::move(ticket));

    std::string prefix = request.prefix;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    // noVNC and spice-html5 put "/" + path after the page's origin.
    const std::string socket = (prefix.empty() ? "" : prefix.substr(1) + "/") +
                               (request.link.empty() ? "vm/websockify/" : "user/vm/websockify/") + request.host + "/" +
                               request.uuid;
    std::string query = "ticket=" + secret;
    if (!request.link_query.empty()) query += "&" + request.link_query;
    std::string page;
    switch (kind) {
        case DisplayKind::Vnc:
            page = prefix + "/novnc/vnc_lite.html?";
            break;
        case DisplayKind::Spice:
            page = prefix + "/spice/spice_auto.html?";
            break;
        case DisplayKind::Console:
            page = prefix + "/kvmhub/console.html?";
            break;
    }
    if (!password.empty()) page += "password=" + percent_encode(password) + "&";
    page += "path=" + percent_encode(socket);
    // `page` opens the console as it is. `display` + "/" + the percent-encoded "?" + query (and
    // whatever else a client appends) is the same page with the socket's path ending in "/":
    // simplekvm's UI builds its console URL that way, and the websockify routes take both.
    return nlohmann::json{{"page", page + percent_encode("?" + query)},
                          {"display", page},
                          {"query", query},
                          {"ticket", secret},
                          {"disp", kind_name(kind)},
                          {"expire", utc_text(expires)}};
}

void ConsoleService::guard_session(SessionPlan& plan, const std::string& key) {
    std::uint64_t id;
    {
        std::lock_guard lock(mutex_);
        id = next_id_++;
    }
    const bool takeover = config_.takeover;
    plan.attach = [this, key, id, takeover](std::function<void(std::string)> end, std::string& why) {
        std::function<void(std::string)> previous;
        {
            std::lock_guard lock(mutex_);
            auto it = active_.find(key);
            if (it != active_.end()) {
                if (!takeover) {
                    why = "another console session is open on this VM";
                    return false;
                }
                previous = std::move(it->second.end);
                it->second = Active{id, std::move(end)};
            } else {
                active_.emplace(key, Active{id, std::move(end)});
            }
        }
        if (previous) previous("taken over by another console session");
        return true;
    };
    plan.detach = [this, key, id] {
        std::lock_guard lock(mutex_);
        auto it = active_.find(key);
        if (it != active_.end() && it->second.id == id) active_.erase(it);
    };
}

Result<SessionPlan> ConsoleService::open(const std::string& host, const std::string& uuid, const std::string& ticket,
                                         const std::string& disp, const std::string& link) {
    std::optional<DisplayKind> kind;
    if (!disp.empty()) {
        kind = parse_kind(disp);
        if (!kind) return fail(Errc::BadInput, "disp", "unknown display '" + disp + "'; use vnc, spice or console");
    }
    if (ticket.empty())
        return fail(
            Errc::Unauthorized, "ticket",
            "a console ticket is required (ticket=...); get one from /vm/display/ (a tenant: /user/vm/display/)");
    const std::string key = host + "/" + uuid;
    if (!config_.takeover) {
        std::lock_guard lock(mutex_);
        if (active_.count(key))
            return fail(Errc::Conflict, "console",
                        "another console session is open on VM " + uuid + " (console.takeover is off)");
    }
    auto taken = tickets_.take(ticket, host, uuid, kind, link);
    if (!taken) return tl::unexpected(taken.error());

    SessionPlan plan;
    plan.max_session = taken->session_limit;
    plan.idle_timeout = config_.idle_timeout;
    plan.ping_interval = config_.ping_interval;
    plan.log_fields = fmt::format("host={} vm={} disp={}", host, uuid, kind_name(taken->kind));
    if (taken->kind == DisplayKind::Console) {
        auto ref = host_ref(host);
        if (!ref) return tl::unexpected(ref.error());
        auto pipe = hypervisor_.open_console(*ref, uuid);
        if (!pipe) return tl::unexpected(pipe.error());
        plan.pipe = std::move(*pipe);
    } else if (taken->tunnel) {
        nlohmann::json record;
        if (auto ref = host_ref(host, &record); !ref) return tl::unexpected(ref.error());
        auto pipe = tunnel(host, record, taken->target);
        if (!pipe) return tl::unexpected(pipe.error());
        plan.pipe = std::move(*pipe);
        plan.log_fields += " via=ssh";
    } else {
        auto colon = taken->target.rfind(':');
        plan.tcp_host = taken->target.substr(0, colon);
        plan.tcp_port = static_cast<std::uint16_t>(std::stoi(taken->target.substr(colon + 1)));
    }
    guard_session(plan, key);
    return plan;
}

Result<SessionPlan> ConsoleService::open_log(const std::string& host, const std::string& uuid) {
    if (!is_uuid(uuid)) return fail(Errc::BadInput, "uuid", "'" + uuid + "' is not a UUID");
    auto ref = host_ref(host);
    if (!ref) return tl::unexpected(ref.error());
    if (!uri_is_local(ref->url))
        return fail(Errc::Conflict, "host",
                    "the serial log of a VM is read from its file, which only works for hosts on this machine; "
                    "host " +
                        host + " is remote (" + ref->url + ")");
    auto info = hypervisor_.console_info(*ref, uuid);
    if (!info) return tl::unexpected(info.error());
    if (info->serial_log.empty())
        return fail(Errc::Conflict, "log",
                    "VM " + uuid + " does not log its serial console to a file (<serial><log file=.../>)");
    auto pipe = follow_file(info->serial_log);
    if (!pipe) return tl::unexpected(pipe.error());
    SessionPlan plan;
    plan.pipe = std::move(*pipe);
    plan.read_only = true;
    plan.ping_interval = config_.ping_interval;
    plan.log_fields = fmt::format("host={} vm={} disp=console_log", host, uuid);
    return plan;
}

}  // namespace kvmhub::console
