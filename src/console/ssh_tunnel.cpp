// The relay thread runs libssh's own poll loop (ssh_event) over the session's socket and an
// eventfd that write()/close()/start() signal; the session is non-blocking while relaying, so
// a full ssh window never stalls the other direction: unsent bytes wait for the next wake-up.
#include "console/ssh_tunnel.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <libssh/libssh.h>

#include "common/cfree.hpp"
#include "common/log.hpp"

namespace kvmhub::console {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
// Input from the browser that the host does not take is held up to this much, then refused.
constexpr std::size_t kMaxPending = 8 * 1024 * 1024;

std::atomic<std::size_t> g_running{0};

void end_session(ssh_session s) {
    if (ssh_is_connected(s)) ssh_disconnect(s);
    ssh_free(s);
}
void end_channel(ssh_channel c) {
    if (ssh_channel_is_open(c)) ssh_channel_close(c);
    ssh_channel_free(c);
}
void free_ssh_chars(char* s) {
    ssh_string_free_char(s);
}
void free_hash(unsigned char* h) {
    ssh_clean_pubkey_hash(&h);
}

using Session = CPtr<ssh_session_struct, end_session>;
using Channel = CPtr<ssh_channel_struct, end_channel>;
using Key = CPtr<ssh_key_struct, ssh_key_free>;
using Chars = CPtr<char, free_ssh_chars>;

// The channel before the session: it must go first.
struct Connection {
    Session session;
    Channel channel;
};

std::string where(const SshTarget& t) {
    return fmt::format("{}@{}:{}", t.user, t.address, t.port);
}

Result<HostKey> server_key(ssh_session s) {
    ssh_key raw = nullptr;
    if (ssh_get_server_publickey(s, &raw) != SSH_OK) return fail(Errc::HostError, "ssh", ssh_get_error(s));
    Key key(raw);
    unsigned char* hash_raw = nullptr;
    std::size_t hash_len = 0;
    if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash_raw, &hash_len) != 0)
        return fail(Errc::Internal, "ssh", "cannot hash the host key");
    CPtr<unsigned char, free_hash> hash(hash_raw);
    Chars fingerprint(ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash.get(), hash_len));
    char* blob_raw = nullptr;
    if (ssh_pki_export_pubkey_base64(key.get(), &blob_raw) != SSH_OK)
        return fail(Errc::Internal, "ssh", "cannot export the host key");
    Chars blob(blob_raw);
    const char* type = ssh_key_type_to_char(ssh_key_type(key.get()));
    return HostKey{type ? type : "unknown", blob.get(), fingerprint ? fingerprint.get() : "?"};
}

Result<Connection> connect(const SshTarget& t, const std::string& private_key, HostKeyPins& pins,
                           std::chrono::seconds timeout) {
    Connection c{Session(ssh_new()), nullptr};
    ssh_session s = c.session.get();
    if (s == nullptr) return fail(Errc::Internal, "ssh", "cannot create an ssh session");
    int port = t.port;
    long seconds = static_cast<long>(timeout.count());
    bool process_config = false;  // ~/.ssh/config must not change where the console goes
    if (ssh_options_set(s, SSH_OPTIONS_HOST, t.address.c_str()) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_USER, t.user.c_str()) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &seconds) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &process_config) != SSH_OK ||
        // The pins are the only known hosts (OpenSSH's files would only reorder algorithms).
        ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") != SSH_OK)
        return fail(Errc::BadInput, "ssh", fmt::format("bad ssh settings for host {}: {}", t.host, ssh_get_error(s)));
    if (ssh_connect(s) != SSH_OK)
        return fail(Errc::HostUnavailable, "ssh",
                    fmt::format("cannot reach the ssh server of host {} at {}:{}: {}", t.host, t.address, t.port,
                                ssh_get_error(s)));
    auto key = server_key(s);
    if (!key) return tl::unexpected(key.error());
    if (auto ok = pins.verify_or_pin(t.host, fmt::format("{}:{}", t.address, t.port), *key); !ok)
        return tl::unexpected(ok.error());

    ssh_key priv_raw = nullptr;
    if (ssh_pki_import_privkey_base64(private_key.c_str(), nullptr, nullptr, nullptr, &priv_raw) != SSH_OK)
        return fail(Errc::Internal, "ssh_key", "the manager's ssh private key in the store cannot be read");
    Key priv(priv_raw);
    switch (ssh_userauth_publickey(s, nullptr, priv.get())) {
        case SSH_AUTH_SUCCESS:
            break;
        case SSH_AUTH_ERROR:
            return fail(Errc::HostUnavailable, "ssh",
                        fmt::format("ssh login to host {} ({}) failed: {}", t.host, where(t), ssh_get_error(s)));
        default:  // denied, or partial (the host wants a second factor)
            // The first ~100 characters are what a console page sees (a websocket close reason is short).
            return fail(Errc::HostError, "ssh",
                        fmt::format("ssh host {} ({}) refused kvmhub's key; add GET /conf/ssh_pubkey/ to that "
                                    "user's ~/.ssh/authorized_keys",
                                    t.host, where(t)));
    }
    c.channel.reset(ssh_channel_new(s));
    if (!c.channel) return fail(Errc::Internal, "ssh", "cannot create an ssh channel");
    if (ssh_channel_open_forward(c.channel.get(), t.to_host.c_str(), t.to_port, "127.0.0.1", 0) != SSH_OK)
        return fail(Errc::HostError, "ssh",
                    fmt::format("host {} did not open an ssh channel to the console at {}:{} ({}); its sshd needs "
                                "AllowTcpForwarding yes or local, and the VM must be running",
                                t.host, t.to_host, t.to_port, ssh_get_error(s)));
    return c;
}

// What the pipe and its relay thread share.
struct Shared {
    Shared(Connection c, std::string l) : conn(std::move(c)), label(std::move(l)), wake(eventfd(0, EFD_CLOEXEC)) {}
    ~Shared() {
        if (wake >= 0) ::close(wake);
    }
    void signal() {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake, &one, sizeof one);
    }

    Connection conn;  // the relay thread's alone once it runs
    const std::string label;
    const int wake;
    std::mutex mutex;
    std::string out;  // from the browser, not yet handed to libssh
    BytePipe::Sink sink;
    bool started = false;
    bool closing = false;  // close() was called
    bool ended = false;    // the relay thread is done
    std::string end_reason;
};

int drain_wake(socket_t fd, int, void*) {
    std::uint64_t n;
    [[maybe_unused]] auto r = ::read(fd, &n, sizeof n);
    return 0;
}

// The relay loop; returns why it ended ("" for a clean end), `asked` when close() ended it.
std::string relay(Shared& sh, ssh_event event, bool& asked) {
    ssh_channel ch = sh.conn.channel.get();
    ssh_session s = sh.conn.session.get();
    std::string pending;
    std::string buffer(kReadChunk, '\0');
    for (;;) {
        bool started;
        {
            std::lock_guard lock(sh.mutex);
            if (sh.closing) {
                asked = true;
                return {};
            }
            pending += sh.out;
            sh.out.clear();
            started = sh.started;
        }
        while (!pending.empty()) {
            int n = ssh_channel_write(ch, pending.data(), static_cast<std::uint32_t>(pending.size()));
            if (n == SSH_ERROR) return fmt::format("the ssh tunnel to {} failed: {}", sh.label, ssh_get_error(s));
            if (n <= 0) break;  // the host's window is full: the rest waits for the next wake-up
            pending.erase(0, static_cast<std::size_t>(n));
        }
        if (started) {
            for (;;) {
                int n = ssh_channel_read_nonblocking(ch, buffer.data(), static_cast<std::uint32_t>(buffer.size()), 0);
                if (n > 0) {
                    sh.sink.data(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
                    continue;
                }
                if (n == SSH_ERROR) return fmt::format("the ssh tunnel to {} failed: {}", sh.label, ssh_get_error(s));
                break;  // nothing buffered now, or SSH_EOF (checked below)
            }
            if (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch)) return {};
        }
        {
            // libssh polls the whole event (the eventfd too) inside its reads and writes, so a
            // wake-up may have been used up already: look at the state before sleeping.
            std::lock_guard lock(sh.mutex);
            if (sh.closing || !sh.out.empty() || sh.started != started) continue;
        }
        if (!pending.empty() && ssh_channel_window_size(ch) > 0) continue;
        if (!started && (ssh_channel_is_closed(ch) || !ssh_is_connected(s))) {
            // Ended before the browser was ready: what is buffered waits for start().
            pollfd wake{sh.wake, POLLIN, 0};
            ::poll(&wake, 1, -1);
            drain_wake(sh.wake, 0, nullptr);
            continue;
        }
        if (ssh_event_dopoll(event, -1) == SSH_ERROR)
            return fmt::format("the ssh connection to {} was lost: {}", sh.label, ssh_get_error(s));
    }
}

void run(std::shared_ptr<Shared> sh) {
    // Signals are the daemon's business; one landing here would only cut the poll short.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    ssh_session s = sh->conn.session.get();
    std::string reason;
    bool asked = false;
    ssh_event event = ssh_event_new();
    if (event == nullptr || ssh_event_add_session(event, s) != SSH_OK ||
        ssh_event_add_fd(event, sh->wake, POLLIN, drain_wake, nullptr) != SSH_OK) {
        reason = "cannot poll the ssh tunnel to " + sh->label;
    } else {
        ssh_set_blocking(s, 0);
        reason = relay(*sh, event, asked);
    }
    if (event != nullptr) {
        ssh_event_remove_fd(event, sh->wake);
        ssh_event_remove_session(event, s);
        ssh_event_free(event);
    }
    // The goodbyes (channel close, disconnect) are sent blocking, bounded by the session timeout.
    ssh_set_blocking(s, 1);
    sh->conn.channel.reset();
    sh->conn.session.reset();
    BytePipe::Sink sink;
    {
        std::lock_guard lock(sh->mutex);
        sh->ended = true;
        sh->end_reason = reason;
        asked = asked || sh->closing;
        if (sh->started && !asked) sink = sh->sink;
    }
    if (!reason.empty()) log::get("console")->info("ssh tunnel {} ended: {}", sh->label, reason);
    if (sink.closed) sink.closed(reason);
    --g_running;
}

class SshTunnelPipe final : public BytePipe {
public:
    explicit SshTunnelPipe(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {
        ++g_running;
        std::thread(run, shared_).detach();  // it owns what it uses and ends once closed
    }
    ~SshTunnelPipe() override { close(); }

    void start(Sink sink) override {
        Sink ended_sink;
        std::string reason;
        {
            std::lock_guard lock(shared_->mutex);
            shared_->sink = std::move(sink);
            shared_->started = true;
            // The host went away before the browser was ready: tell it now.
            if (shared_->ended && !shared_->closing) {
                ended_sink = shared_->sink;
                reason = shared_->end_reason;
            }
        }
        if (ended_sink.closed) ended_sink.closed(reason);
        shared_->signal();
    }
    bool write(std::string_view bytes) override {
        {
            std::lock_guard lock(shared_->mutex);
            if (shared_->closing || shared_->ended || shared_->out.size() + bytes.size() > kMaxPending) return false;
            shared_->out.append(bytes);
        }
        shared_->signal();
        return true;
    }
    void close() override {
        {
            std::lock_guard lock(shared_->mutex);
            if (shared_->closing) return;
            shared_->closing = true;
        }
        shared_->signal();
    }

private:
    std::shared_ptr<Shared> shared_;
};

}  // namespace

Result<std::shared_ptr<BytePipe>> open_ssh_tunnel(const SshTarget& target, const std::string& private_key,
                                                  HostKeyPins& pins, std::chrono::seconds timeout) {
    auto conn = connect(target, private_key, pins, timeout);
    if (!conn) return tl::unexpected(conn.error());
    auto shared = std::make_shared<Shared>(
        std::move(*conn),
        fmt::format("host {} ({}) -> {}:{}", target.host, where(target), target.to_host, target.to_port));
    if (shared->wake < 0) return fail(Errc::Internal, "ssh", "cannot create an eventfd for the ssh tunnel");
    return std::make_shared<SshTunnelPipe>(std::move(shared));
}

std::size_t running_ssh_tunnels() {
    return g_running.load();
}

}  // namespace kvmhub::console
