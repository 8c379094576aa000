// One websocket console session: three coroutines on the connection's strand, joined at the
// end: client -> target, target -> client, and a watchdog for the idle and session limits.
// Whoever sees the end first calls finish(): it closes the target (which ends the relay from
// it) and records the close reason; the relay from the target then sends the websocket close,
// unless the client is already gone. Beast answers pings and sends its own keepalive pings.
#include "http/websocket_bridge.hpp"

#include <algorithm>
#include <deque>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "common/log.hpp"

namespace kvmhub::http::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kRelayChunk = 64 * 1024;
constexpr std::size_t kMaxClientMessage = 4 * 1024 * 1024;
constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kHandshakeTimeout = std::chrono::seconds(20);
// Application close codes (4000-4999): 4000 + the HTTP status that means the same.
constexpr std::uint16_t kCloseConflict = 4409;
constexpr std::uint16_t kCloseTimeout = 4408;
constexpr std::uint16_t kCloseBadGateway = 4502;

websocket::close_reason reason_of(std::uint16_t code, std::string_view text) {
    websocket::close_reason r(code);
    // A close frame carries at most 123 bytes of reason.
    r.reason.assign(text.data(), std::min<std::size_t>(text.size(), r.reason.max_size()));
    return r;
}

// `binary` when the client offers it (websockify's clients do); nothing otherwise.
std::string pick_protocol(std::string_view offered) {
    while (!offered.empty()) {
        auto comma = offered.find(',');
        std::string_view item = offered.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item == "binary") return "binary";
        if (comma == std::string_view::npos) break;
        offered.remove_prefix(comma + 1);
    }
    return {};
}

// Bytes from a BytePipe, handed over to the session's strand.
struct Inbox {
    explicit Inbox(const asio::any_io_executor& ex) : wake(ex, Clock::time_point::max()) {}
    asio::steady_timer wake;  // cancelled to wake the reader
    std::string data;
    bool closed = false;
    std::string reason;
};

template <class Stream>
struct Session {
    Session(Stream& stream, const WebsocketUpgrade& u, const asio::any_io_executor& ex)
        : ws(stream), up(u), target(ex), watchdog(ex) {}

    websocket::stream<Stream&> ws;
    const WebsocketUpgrade& up;
    beast::tcp_stream target;
    std::shared_ptr<Inbox> inbox;
    asio::steady_timer watchdog;
    Clock::time_point started;
    Clock::time_point last_activity;
    bool ending = false;
    bool client_gone = false;
    websocket::close_reason close{websocket::close_code::normal};
    std::string end_cause;
    std::uint64_t to_target = 0;
    std::uint64_t to_client = 0;

    void finish(const websocket::close_reason& reason, std::string cause) {
        if (ending) return;
        ending = true;
        close = reason;
        end_cause = std::move(cause);
        boost::system::error_code ignored;
        if (up.pipe) {
            up.pipe->close();
            inbox->closed = true;
            inbox->wake.cancel();
        } else {
            target.socket().shutdown(tcp::socket::shutdown_both, ignored);
            target.close();
        }
        watchdog.cancel();
    }
};

template <class Stream>
asio::awaitable<void> client_to_target(std::shared_ptr<Session<Stream>> s) {
    beast::flat_buffer buffer;
    for (;;) {
        auto [ec, n] = co_await s->ws.async_read(buffer, nothrow);
        if (ec) {
            if (!s->ending) {
                s->client_gone = true;
                s->finish(websocket::close_code::normal,
                          ec == websocket::error::closed ? "client closed" : "client lost: " + ec.message());
            }
            co_return;
        }
        s->last_activity = Clock::now();
        if (s->up.read_only || s->ending) {
            buffer.consume(buffer.size());
            continue;
        }
        s->to_target += buffer.size();
        if (s->up.pipe) {
            auto data = buffer.cdata();
            bool ok = s->up.pipe->write(std::string_view(static_cast<const char*>(data.data()), data.size()));
            buffer.consume(buffer.size());
            if (!ok)
                s->finish(reason_of(websocket::close_code::internal_error, "the console stopped taking input"),
                          "console write failed");
        } else {
            auto [wec, written] = co_await asio::async_write(s->target, buffer.data(), nothrow);
            buffer.consume(buffer.size());
            if (wec && !s->ending)
                s->finish(reason_of(websocket::close_code::internal_error, "connection to the console lost"),
                          "target write: " + wec.message());
        }
    }
}

template <class Stream>
asio::awaitable<void> target_to_client(std::shared_ptr<Session<Stream>> s) {
    std::string buffer(s->up.pipe ? 0 : kRelayChunk, '\0');  // reused for every TCP read
    std::string piped;
    std::string end_text = "the console closed";
    bool failed = false;
    for (;;) {
        std::string_view data;
        if (s->up.pipe) {
            Inbox& in = *s->inbox;
            while (in.data.empty() && !in.closed) {
                co_await in.wake.async_wait(nothrow);
                in.wake.expires_at(Clock::time_point::max());
            }
            if (in.data.empty()) {
                if (!in.reason.empty()) {
                    end_text = in.reason;
                    failed = true;
                }
                break;
            }
            piped.clear();
            piped.swap(in.data);
            data = piped;
        } else {
            auto [ec, n] = co_await s->target.async_read_some(asio::buffer(buffer), nothrow);
            if (ec) {
                if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
                    end_text = "connection to the console lost: " + ec.message();
                    failed = true;
                }
                break;
            }
            data = std::string_view(buffer.data(), n);
        }
        s->last_activity = Clock::now();
        s->to_client += data.size();
        auto [wec, written] = co_await s->ws.async_write(asio::buffer(data.data(), data.size()), nothrow);
        if (wec) {
            if (!s->ending) {
                s->client_gone = true;
                s->finish(websocket::close_code::normal, "client lost: " + wec.message());
            }
            co_return;
        }
    }
    if (!s->ending)
        s->finish(reason_of(failed ? websocket::close_code::internal_error : websocket::close_code::normal, end_text),
                  end_text);
    if (!s->client_gone) co_await s->ws.async_close(s->close, nothrow);
}

template <class Stream>
asio::awaitable<void> watchdog(std::shared_ptr<Session<Stream>> s) {
    const auto idle = s->up.idle_timeout;
    const auto limit = s->up.max_session;
    for (;;) {
        if (s->ending) co_return;
        auto deadline = Clock::time_point::max();
        if (idle.count() > 0) deadline = std::min(deadline, s->last_activity + idle);
        if (limit.count() > 0) deadline = std::min(deadline, s->started + limit);
        s->watchdog.expires_at(deadline);
        co_await s->watchdog.async_wait(nothrow);
        if (s->ending) co_return;
        const auto now = Clock::now();
        if (limit.count() > 0 && now >= s->started + limit) {
            auto text = fmt::format("the console session reached its time limit of {} s", limit.count());
            s->finish(reason_of(kCloseTimeout, text), text);
        } else if (idle.count() > 0 && now >= s->last_activity + idle) {
            auto text = fmt::format("the console session was idle for {} s", idle.count());
            s->finish(reason_of(kCloseTimeout, text), text);
        }
    }
}

// Opens the websocket only to close it with `reason` (the client learns why).
template <class Stream>
asio::awaitable<void> refuse(Session<Stream>& s, websocket::close_reason reason) {
    co_await s.ws.async_close(reason, nothrow);
}

template <class Stream>
asio::awaitable<void> bridge(Stream& stream, const UpgradeRequest& request, const WebsocketUpgrade& up,
                             BridgeHooks hooks) {
    auto log = log::get("http");
    auto ex = co_await asio::this_coro::executor;
    // The websocket keeps its own time (timeout option below); the HTTP deadline must not cut it.
    beast::get_lowest_layer(stream).expires_never();
    auto s = std::make_shared<Session<Stream>>(stream, up, ex);

    std::string unreachable;
    if (!up.pipe && up.refuse_code == 0) {
        tcp::resolver resolver(ex);
        auto [rec, endpoints] = co_await resolver.async_resolve(up.tcp_host, std::to_string(up.tcp_port), nothrow);
        if (!rec) {
            s->target.expires_after(kConnectTimeout);
            auto [cec, endpoint] = co_await s->target.async_connect(endpoints, nothrow);
            rec = cec;
            s->target.expires_never();
        }
        if (rec) {
            unreachable = fmt::format("cannot reach the console at {}:{}: {}", up.tcp_host, up.tcp_port, rec.message());
        } else {
            boost::system::error_code ignored;
            s->target.socket().set_option(tcp::no_delay(true), ignored);
        }
    }

    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = kHandshakeTimeout;
    // Beast pings after half of this without a frame from the client, and drops it after all of it.
    timeouts.idle_timeout = 2 * up.ping_interval;
    timeouts.keep_alive_pings = true;
    s->ws.set_option(timeouts);
    const std::string protocol = pick_protocol(request[beast::http::field::sec_websocket_protocol]);
    s->ws.set_option(websocket::stream_base::decorator([protocol](websocket::response_type& res) {
        res.set(beast::http::field::server, "kvmhub");
        if (!protocol.empty()) res.set(beast::http::field::sec_websocket_protocol, protocol);
    }));
    s->ws.binary(true);
    s->ws.auto_fragment(false);
    s->ws.read_message_max(kMaxClientMessage);

    auto [aec] = co_await s->ws.async_accept(request, nothrow);
    if (aec) {
        log->info("websocket handshake failed req={} {} error={}", hooks.request_id, up.log_fields, aec.message());
        if (up.pipe) up.pipe->close();
        co_return;
    }
    if (up.refuse_code != 0) {
        log->info("websocket refused req={} {} code={} reason={}", hooks.request_id, up.log_fields, up.refuse_code,
                  up.refuse_reason);
        co_await refuse(*s, reason_of(static_cast<std::uint16_t>(up.refuse_code), up.refuse_reason));
        co_return;
    }
    if (!unreachable.empty()) {
        log->warn("console unreachable req={} {} error={}", hooks.request_id, up.log_fields, unreachable);
        co_await refuse(*s, reason_of(kCloseBadGateway, unreachable));
        co_return;
    }
    std::weak_ptr<Session<Stream>> weak = s;
    if (up.on_open) {
        std::string why;
        auto end = [weak, ex](std::string reason) {
            asio::post(ex, [weak, reason = std::move(reason)] {
                if (auto live = weak.lock()) live->finish(reason_of(kCloseConflict, reason), reason);
            });
        };
        if (!up.on_open(end, why)) {
            log->info("websocket refused req={} {} reason={}", hooks.request_id, up.log_fields, why);
            if (up.pipe) up.pipe->close();
            co_await refuse(*s, reason_of(kCloseConflict, why));
            co_return;
        }
    }
    if (hooks.on_shutdown) {
        hooks.on_shutdown([weak, ex] {
            asio::post(ex, [weak] {
                if (auto live = weak.lock())
                    live->finish(reason_of(websocket::close_code::going_away, "kvmhub is shutting down"), "shutdown");
            });
        });
    }
    if (up.pipe) {
        auto inbox = s->inbox = std::make_shared<Inbox>(ex);
        up.pipe->start(BytePipe::Sink{
            .data =
                [inbox, ex](std::string_view bytes) {
                    asio::post(ex, [inbox, bytes = std::string(bytes)] {
                        inbox->data += bytes;
                        inbox->wake.cancel();
                    });
                },
            .closed =
                [inbox, ex](std::string reason) {
                    asio::post(ex, [inbox, reason = std::move(reason)] {
                        inbox->closed = true;
                        inbox->reason = reason;
                        inbox->wake.cancel();
                    });
                },
        });
    }
    log->info("console session started req={} {} protocol={}", hooks.request_id, up.log_fields,
              protocol.empty() ? "-" : protocol);
    s->started = s->last_activity = Clock::now();
    using namespace asio::experimental::awaitable_operators;
    co_await (client_to_target(s) && target_to_client(s) && watchdog(s));
    if (up.on_close) up.on_close();
    const double seconds = std::chrono::duration<double>(Clock::now() - s->started).count();
    log->info("console session ended req={} {} cause=\"{}\" to_console={} from_console={} s={:.1f}", hooks.request_id,
              up.log_fields, s->end_cause, s->to_target, s->to_client, seconds);
}

}  // namespace

asio::awaitable<void> run_websocket(beast::tcp_stream& stream, const UpgradeRequest& request,
                                    const WebsocketUpgrade& upgrade, BridgeHooks hooks) {
    return bridge(stream, request, upgrade, std::move(hooks));
}

asio::awaitable<void> run_websocket(beast::ssl_stream<beast::tcp_stream>& stream, const UpgradeRequest& request,
                                    const WebsocketUpgrade& upgrade, BridgeHooks hooks) {
    return bridge(stream, request, upgrade, std::move(hooks));
}

}  // namespace kvmhub::http::detail
