#include "virt/console_stream.hpp"

#include <array>
#include <mutex>

#include <libvirt/virterror.h>

#include "common/log.hpp"
#include "virt/error.hpp"
#include "virt/handles.hpp"
#include "virt/ops.hpp"

namespace kvmhub::virt {
namespace {

constexpr std::size_t kChunk = 64 * 1024;
// Bytes waiting for a slow console before the session is given up: a serial line at 115200
// baud drains ~11 KiB/s, so this is minutes of typing, never a paste the user expects to keep.
constexpr std::size_t kMaxPending = 1024 * 1024;

class ConsoleStream final : public BytePipe, public std::enable_shared_from_this<ConsoleStream> {
public:
    ConsoleStream(std::shared_ptr<Connection> conn, virStreamPtr stream, std::string where)
        : conn_(std::move(conn)), stream_(stream), where_(std::move(where)) {}

    ~ConsoleStream() override {
        stop_stream();
        virStreamFree(stream_);
    }

    void start(Sink sink) override {
        std::lock_guard lock(mutex_);
        sink_ = std::move(sink);
        // The holder is what libvirt keeps; it never keeps this object alive by itself.
        auto* holder = new std::weak_ptr<ConsoleStream>(weak_from_this());
        int events = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
        if (virStreamEventAddCallback(stream_, events, &ConsoleStream::on_event, holder, &ConsoleStream::free_holder) <
            0) {
            delete holder;
            closed_ = true;
            auto err = last_error(where_);
            auto closed = sink_.closed;
            // Outside the lock would be nicer, but nothing else can run yet: start() is first.
            closed("cannot watch the console stream: " + err.desc);
            return;
        }
        watching_ = true;
    }

    bool write(std::string_view bytes) override {
        std::string failure;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return false;
            if (pending_.empty()) {
                while (!bytes.empty()) {
                    int n = virStreamSend(stream_, bytes.data(), bytes.size());
                    if (n == -2) break;
                    if (n < 0) {
                        failure = "the console stream failed: " + last_error(where_).desc;
                        break;
                    }
                    bytes.remove_prefix(static_cast<std::size_t>(n));
                }
            }
            if (failure.empty() && !bytes.empty()) {
                if (pending_.size() + bytes.size() > kMaxPending) {
                    failure = "the console does not take input any more";
                } else {
                    pending_.append(bytes);
                    watch(true);
                }
            }
            if (!failure.empty()) stop_stream();
        }
        if (!failure.empty()) {
            sink_.closed(failure);
            return false;
        }
        return true;
    }

    void close() override {
        std::lock_guard lock(mutex_);
        stop_stream();
    }

private:
    static void on_event(virStreamPtr, int events, void* opaque) noexcept {
        auto self = static_cast<std::weak_ptr<ConsoleStream>*>(opaque)->lock();
        if (!self) return;
        try {
            self->handle(events);
        } catch (...) {
            // Nothing may unwind into libvirt; the session ends when the client gives up.
        }
    }
    static void free_holder(void* opaque) noexcept { delete static_cast<std::weak_ptr<ConsoleStream>*>(opaque); }

    void handle(int events) {
        std::string data;
        std::string reason;
        bool ended = false;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            if (events & VIR_STREAM_EVENT_READABLE) {
                std::array<char, kChunk> buf;
                for (;;) {
                    int n = virStreamRecv(stream_, buf.data(), buf.size());
                    if (n > 0) {
                        data.append(buf.data(), static_cast<std::size_t>(n));
                        if (data.size() >= kChunk) break;  // deliver; the loop calls again
                        continue;
                    }
                    if (n == -2) break;
                    ended = true;
                    if (n < 0) reason = "the console stream failed: " + last_error(where_).desc;
                    break;
                }
            }
            if (!ended && (events & VIR_STREAM_EVENT_WRITABLE) && !pending_.empty()) {
                int n = virStreamSend(stream_, pending_.data(), pending_.size());
                if (n > 0) pending_.erase(0, static_cast<std::size_t>(n));
                if (n < 0 && n != -2) {
                    ended = true;
                    reason = "the console stream failed: " + last_error(where_).desc;
                }
            }
            if (!ended && (events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP))) {
                ended = true;
                if (events & VIR_STREAM_EVENT_ERROR) reason = "the console stream reported an error";
            }
            if (ended) {
                stop_stream();
            } else {
                watch(!pending_.empty());
            }
        }
        if (!data.empty()) sink_.data(data);
        if (ended) sink_.closed(reason);
    }

    // Caller holds mutex_.
    void watch(bool writable) {
        if (!watching_ || writable == want_writable_) return;
        int events = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
        if (writable) events |= VIR_STREAM_EVENT_WRITABLE;
        if (virStreamEventUpdateCallback(stream_, events) == 0) want_writable_ = writable;
    }

    // Caller holds mutex_ (or is the destructor).
    void stop_stream() {
        if (closed_) return;
        closed_ = true;
        if (watching_) virStreamEventRemoveCallback(stream_);
        watching_ = false;
        // Abort, not finish: a console has no end of data to agree on, and finish may block.
        virStreamAbort(stream_);
        virResetLastError();
    }

    std::shared_ptr<Connection> conn_;  // keeps the connection (and so the stream) usable
    virStreamPtr stream_;
    std::string where_;
    std::mutex mutex_;
    Sink sink_;
    std::string pending_;  // input the console could not take yet
    bool closed_ = false;
    bool watching_ = false;
    bool want_writable_ = false;
};

}  // namespace

Result<std::shared_ptr<BytePipe>> open_console_stream(std::shared_ptr<Connection> conn, const HostRef& host,
                                                      const std::string& uuid) {
    auto dom = ops::find_domain(conn->get(), host, uuid);
    if (!dom) return tl::unexpected(dom.error());
    if (auto running = ops::require_running(dom->get(), uuid, "console"); !running)
        return tl::unexpected(running.error());
    virStreamPtr stream = virStreamNew(conn->get(), VIR_STREAM_NONBLOCK);
    if (stream == nullptr) return tl::unexpected(last_error("console"));
    // FORCE: a console left open elsewhere (virsh console, a dead session) is taken over.
    // SAFE: refuse drivers that cannot stop two clients from interleaving on the line.
    int rc = virDomainOpenConsole(dom->get(), nullptr, stream, VIR_DOMAIN_CONSOLE_FORCE | VIR_DOMAIN_CONSOLE_SAFE);
    if (rc < 0 && is_unsupported(last_error_number()))
        rc = virDomainOpenConsole(dom->get(), nullptr, stream, VIR_DOMAIN_CONSOLE_FORCE);
    if (rc < 0) {
        Error err = last_error("console");
        virStreamFree(stream);
        err.desc = "cannot open the serial console of VM " + uuid + ": " + err.desc;
        return tl::unexpected(std::move(err));
    }
    log::get("virt")->info("serial console opened host={} vm={}", host.name, uuid);
    return std::shared_ptr<BytePipe>(std::make_shared<ConsoleStream>(std::move(conn), stream, "console " + uuid));
}

}  // namespace kvmhub::virt
