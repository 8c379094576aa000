#include "http/server.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <sodium.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "http/lanes.hpp"
#include "http/websocket_bridge.hpp"

namespace kvmhub::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeaderLimit = 16 * 1024;

// A client's X-Request-Id is reused when it is short and plain, so logs can be joined.
bool acceptable_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
    return true;
}

// A refusal that ends the connection: after it, the rest of the bytes cannot be trusted to
// frame another request.
Reply framing_refusal(int status, const char* where, std::string desc) {
    Reply reply = Reply::error(Error{status == 431 ? Errc::TooLarge : Errc::BadInput, where, std::move(desc), status});
    reply.status = status;
    reply.close = true;
    return reply;
}

// RFC 9112's rules for a request's framing that Beast leaves to its user: without them a body
// in a transfer coding we do not decode would be read as the next request (smuggling behind a
// proxy). Host: exactly one on HTTP/1.1 (3.2). Transfer-Encoding: chunked once, and last (6.1,
// 6.3); any other coding is not implemented (501); none at all on HTTP/1.0.
std::optional<Reply> framing_error(const bhttp::request_parser<bhttp::empty_body>& parser) {
    const auto& h = parser.get();
    const auto hosts = h.count(bhttp::field::host);
    if (h.version() >= 11 && hosts != 1)
        return framing_refusal(
            400, "host",
            hosts == 0 ? "an HTTP/1.1 request needs a Host header" : "a request may have only one Host header");
    std::vector<std::string> codings;
    for (auto it = h.find(bhttp::field::transfer_encoding);
         it != h.end() && it->name() == bhttp::field::transfer_encoding; ++it) {
        std::string_view value = it->value();
        while (!value.empty()) {
            auto comma = value.find(',');
            std::string_view token = value.substr(0, comma);
            value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
            while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
            while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
            if (token.empty()) continue;
            std::string coding(token);
            for (auto& c : coding) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            codings.push_back(std::move(coding));
        }
    }
    if (codings.empty()) return std::nullopt;
    if (h.version() < 11)
        return framing_refusal(400, "transfer-encoding", "an HTTP/1.0 request cannot have a Transfer-Encoding");
    if (codings.back() != "chunked")
        return framing_refusal(400, "transfer-encoding",
                               "the last transfer coding must be chunked, or the body's length is unknown");
    if (std::count(codings.begin(), codings.end(), "chunked") > 1)
        return framing_refusal(400, "transfer-encoding", "the chunked coding may be applied only once");
    if (codings.size() > 1)
        return framing_refusal(
            501, "transfer-encoding",
            "transfer coding '" + codings.front() + "' is not supported; send the body chunked only");
    return std::nullopt;
}

std::shared_ptr<asio::ssl::context> make_tls_context(const ListenerConfig& l) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                     asio::ssl::context::single_dh_use);
    // TLS 1.2 gets forward-secret AEAD suites only; TLS 1.3 keeps OpenSSL's defaults.
    SSL_CTX_set_cipher_list(ctx->native_handle(), "ECDHE+AESGCM:ECDHE+CHACHA20");
    ctx->use_certificate_chain_file(l.tls_cert);
    ctx->use_private_key_file(l.tls_key, asio::ssl::context::pem);
    return ctx;
}

// The request counter and latency histogram of one route, method and status. The registry's
// lookup renders label strings and takes two map lookups; a request only needs the pointers.
struct RequestSeries {
    Counter* requests = nullptr;
    Histogram* duration = nullptr;
};

struct SeriesKey {
    std::string route;
    Method method;
    int status;
};

struct SeriesView {
    std::string_view route;
    Method method;
    int status;
};

struct SeriesLess {
    using is_transparent = void;
    template <class K>
    static std::tuple<int, Method, std::string_view> key(const K& k) {
        return {k.status, k.method, k.route};
    }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
        return key(a) < key(b);
    }
};

}  // namespace

struct Server::Impl {
    struct Listener {
        ListenerConfig config;
        tcp::acceptor acceptor;
        std::shared_ptr<asio::ssl::context> tls;
    };

    // What stop() needs to know about a connection: whether it waits for a new request
    // (then it is cancelled) or works on one (then it finishes and closes).
    struct Connection {
        bool idle = true;
        std::function<void()> cancel;  // runs on the connection's strand only
        asio::any_io_executor executor;
    };

    const Config& config;
    const Router& router;
    Metrics& metrics;
    // One io_context per network thread, like nginx's workers: a connection lives on one of them
    // from accept to close, so its handlers never wait for another thread's locks and need no
    // strand. The first also runs the acceptors, the signal set and the shutdown timer.
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    asio::io_context& ioc;
    // Keep the other contexts running while they have no connection; released when the server ends.
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
    std::atomic<std::size_t> next_context{0};
    asio::thread_pool workers;
    // Handlers of a host's routes, one lane per host (see Route::on_io_thread and lanes.hpp).
    Lanes lanes;
    std::vector<std::unique_ptr<Listener>> listeners;
    asio::signal_set signals{ioc, SIGINT, SIGTERM};
    asio::steady_timer grace_timer{ioc};
    std::shared_ptr<spdlog::logger> logger = log::get("http");

    std::mutex series_mutex;
    std::map<SeriesKey, RequestSeries, SeriesLess> series;

    std::mutex mutex;  // guards connections and stopping
    std::map<std::uint64_t, Connection> connections;
    bool stopping = false;
    std::atomic<bool> cut_short{false};
    std::atomic<std::uint64_t> next_id{1};
    std::string id_prefix;

    Impl(const Config& c, const Router& r, Metrics& m)
        : config(c),
          router(r),
          metrics(m),
          contexts(make_contexts(c.http.io_threads > 0 ? c.http.io_threads
                                                       : static_cast<int>(std::thread::hardware_concurrency()))),
          ioc(*contexts.front()),
          workers(static_cast<std::size_t>(c.http.worker_threads > 0
                                               ? c.http.worker_threads
                                               : std::max(4u, 2 * std::thread::hardware_concurrency()))),
          lanes({.running = static_cast<std::size_t>(c.http.host_requests),
                 .waiting = static_cast<std::size_t>(c.http.host_queue),
                 .max_wait = std::chrono::duration_cast<std::chrono::milliseconds>(c.libvirt.call_timeout)}) {
        id_prefix = fmt::format("{:08x}", randombytes_random());
    }

    static std::vector<std::unique_ptr<asio::io_context>> make_contexts(int n) {
        std::vector<std::unique_ptr<asio::io_context>> out;
        // Each is run by one thread (the hint: asio need not wake another thread for its work).
        for (int i = 0; i < std::max(1, n); ++i) out.push_back(std::make_unique<asio::io_context>(1));
        return out;
    }

    // ---- lifecycle ------------------------------------------------------------------------

    Status listen() {
        for (const auto& lc : config.listeners) {
            auto where = fmt::format("listener {} ({}:{})", lc.name, lc.address, lc.port);
            boost::system::error_code ec;
            auto address = asio::ip::make_address(lc.address == "localhost" ? "127.0.0.1" : lc.address, ec);
            if (ec) return fail(Errc::BadInput, where, "not an IP address: " + ec.message());
            auto l = std::make_unique<Listener>(Listener{lc, tcp::acceptor(ioc), nullptr});
            tcp::endpoint endpoint(address, lc.port);
            l->acceptor.open(endpoint.protocol(), ec);
            if (!ec) l->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
            if (!ec) l->acceptor.bind(endpoint, ec);
            if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
            if (ec) return fail(Errc::Internal, where, "cannot listen: " + ec.message());
            if (!lc.tls_cert.empty()) {
                try {
                    l->tls = make_tls_context(lc);
                } catch (const boost::system::system_error& e) {
                    return fail(
                        Errc::BadInput, where,
                        fmt::format("cannot load TLS certificate {} / key {}: {}", lc.tls_cert, lc.tls_key, e.what()));
                }
            }
            listeners.push_back(std::move(l));
        }
        return {};
    }

    bool run() {
        for (auto& l : listeners) asio::co_spawn(ioc, accept_loop(*l), asio::detached);
        signals.async_wait([this](boost::system::error_code ec, int signo) {
            if (ec) return;
            logger->info("signal received, shutting down signal={} grace_s={}", signo,
                         config.http.shutdown_grace.count());
            begin_stop();
        });
        std::vector<std::thread> threads;
        for (std::size_t i = 1; i < contexts.size(); ++i) {
            keep_running.push_back(asio::make_work_guard(*contexts[i]));
            threads.emplace_back([this, i] { contexts[i]->run(); });
        }
        ioc.run();
        // The first context ran out of work: every connection has ended, or the grace period cut them.
        for (auto& guard : keep_running) guard.reset();
        if (cut_short)
            for (auto& c : contexts) c->stop();
        for (auto& t : threads) t.join();
        workers.join();
        lanes.drain();
        return !cut_short.load();
    }

    void stop() {
        asio::post(ioc, [this] { begin_stop(); });
    }

    // Runs on the io_context.
    void begin_stop() {
        std::vector<std::pair<std::uint64_t, asio::any_io_executor>> idle;
        {
            std::lock_guard lock(mutex);
            if (stopping) return;
            stopping = true;
            for (auto& [id, c] : connections)
                if (c.idle) idle.emplace_back(id, c.executor);
        }
        boost::system::error_code ignored;
        signals.cancel(ignored);
        for (auto& l : listeners) l->acceptor.close(ignored);
        for (auto& [id, executor] : idle) {
            asio::post(executor, [this, id = id] {
                std::function<void()> cancel;
                {
                    std::lock_guard lock(mutex);
                    auto it = connections.find(id);
                    if (it != connections.end() && it->second.idle) cancel = it->second.cancel;
                }
                if (cancel) cancel();
            });
        }
        grace_timer.expires_after(config.http.shutdown_grace);
        grace_timer.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            logger->warn("shutdown grace period over, cutting remaining connections");
            cut_short = true;
            ioc.stop();
        });
        finish_if_drained();
    }

    void finish_if_drained() {
        std::lock_guard lock(mutex);
        if (stopping && connections.empty()) asio::post(ioc, [this] { grace_timer.cancel(); });
    }

    // ---- connections ------------------------------------------------------------------------

    asio::awaitable<void> accept_loop(Listener& l) {
        for (;;) {
            auto& home = *contexts[next_context.fetch_add(1, std::memory_order_relaxed) % contexts.size()];
            auto [ec, socket] = co_await l.acceptor.async_accept(home, nothrow);
            if (ec) {
                if (ec == asio::error::operation_aborted || !l.acceptor.is_open()) co_return;
                logger->warn("accept failed listener={} error={}", l.config.name, ec.message());
                continue;
            }
            auto executor = socket.get_executor();
            asio::co_spawn(executor, connection(std::move(socket), l), asio::detached);
        }
    }

    // Registers the connection; false when the server is already stopping.
    bool enter(std::uint64_t id, asio::any_io_executor executor, std::function<void()> cancel) {
        std::lock_guard lock(mutex);
        if (stopping) return false;
        connections.emplace(id, Connection{true, std::move(cancel), std::move(executor)});
        return true;
    }

    void leave(std::uint64_t id) {
        {
            std::lock_guard lock(mutex);
            connections.erase(id);
        }
        finish_if_drained();
    }

    // Marks the connection idle (waiting for a request) or busy; false = stop reading.
    bool set_idle(std::uint64_t id, bool idle) {
        std::lock_guard lock(mutex);
        auto it = connections.find(id);
        if (it == connections.end()) return false;
        it->second.idle = idle;
        return !(idle && stopping);
    }

    asio::awaitable<void> connection(tcp::socket socket, Listener& l) {
        const std::uint64_t id = next_id++;
        boost::system::error_code ec;
        auto remote = socket.remote_endpoint(ec);
        const std::string client_ip = ec ? std::string("unknown") : remote.address().to_string();
        socket.set_option(tcp::no_delay(true), ec);
        if (l.tls) {
            beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *l.tls);
            if (!enter(id, stream.get_executor(), [&stream] { beast::get_lowest_layer(stream).cancel(); })) co_return;
            beast::get_lowest_layer(stream).expires_after(config.http.request_timeout);
            auto [hs_ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, nothrow);
            if (!hs_ec) {
                co_await serve(stream, l, id, client_ip, true);
                beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
                co_await stream.async_shutdown(nothrow);
            } else {
                logger->debug("TLS handshake failed ip={} error={}", client_ip, hs_ec.message());
            }
        } else {
            beast::tcp_stream stream(std::move(socket));
            if (!enter(id, stream.get_executor(), [&stream] { stream.cancel(); })) co_return;
            co_await serve(stream, l, id, client_ip, false);
            stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        }
        leave(id);
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& stream, Listener& l, std::uint64_t conn_id, const std::string& client_ip,
                                bool tls) {
        beast::flat_buffer buffer;
        for (;;) {
            if (!set_idle(conn_id, true)) co_return;
            bhttp::request_parser<bhttp::empty_body> head;
            head.header_limit(kHeaderLimit);
            // The route decides the body limit once the header is in (see handle()).
            head.body_limit(std::numeric_limits<std::uint64_t>::max());
            beast::get_lowest_layer(stream).expires_after(config.http.idle_timeout);
            auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, head, nothrow);
            if (ec == bhttp::error::header_limit) {
                Reply big = framing_refusal(
                    431, "header",
                    fmt::format("the request's header block is over the limit of {} bytes", kHeaderLimit));
                co_await write_reply(stream, big, 11, false, "-");
                co_return;
            }
            if (!ec) {
                if (auto refused = framing_error(head)) {
                    co_await write_reply(stream, *refused, head.get().version(), false, "-");
                    co_return;
                }
            }
            if (ec) {
                if (ec != bhttp::error::end_of_stream && ec != asio::error::operation_aborted &&
                    ec != beast::error::timeout && ec != asio::error::eof && ec != asio::error::connection_reset) {
                    // A request we cannot parse: say so once, then close.
                    Reply bad =
                        Reply::error(Error{Errc::BadInput, "request", "malformed HTTP request: " + ec.message()});
                    bad.close = true;
                    co_await write_reply(stream, bad, 11, false, "-");
                }
                co_return;
            }
            set_idle(conn_id, false);
            const auto started = std::chrono::steady_clock::now();
            // Read before handle(): it moves the parser to read the body.
            const unsigned version = head.get().version();
            const bool client_keep_alive = head.get().keep_alive();
            const bool bodyless = !head.get().has_content_length() && !head.get().chunked();
            Request req;
            Reply reply;
            co_await handle(stream, buffer, head, l, req, reply, client_ip, tls);
            if (reply.upgrade && bodyless && is_websocket_request(req)) {
                co_await websocket(stream, head.get(), req, reply, conn_id, started);
                co_return;
            }
            if (reply.upgrade && reply.status == 101) {
                reply = Reply::error(Error{Errc::BadInput, "upgrade", "a websocket request has no body"});
                reply.close = true;
            }
            // A streamed body to an HTTP/1.0 client ends with the connection.
            const bool keep_alive =
                client_keep_alive && !reply.close && !is_stopping() && !(reply.stream && version < 11);
            // Counted before the write, so a client that got its reply also sees it in /metrics.
            record(req, reply, started);
            co_await write_reply(stream, reply, version, keep_alive, req.request_id, req.method == Method::Head,
                                 req.param("host"));
            if (!keep_alive) co_return;
        }
    }

    // The connection becomes a websocket console session (http/websocket_bridge.cpp) and ends
    // with it. A server shutdown ends the session like a stop of an idle connection does.
    template <class Stream>
    asio::awaitable<void> websocket(Stream& stream, const detail::UpgradeRequest& head, const Request& req,
                                    const Reply& reply, std::uint64_t conn_id,
                                    std::chrono::steady_clock::time_point started) {
        // The access log shows a refusal's status (403, 410, ...) though the handshake completes.
        Reply switching = reply;
        if (reply.upgrade->refuse_code == 0) switching.status = 101;
        record(req, switching, started);
        detail::BridgeHooks hooks;
        hooks.request_id = req.request_id;
        hooks.on_shutdown = [this, conn_id](std::function<void()> end) {
            bool stopping_now = false;
            {
                std::lock_guard lock(mutex);
                auto it = connections.find(conn_id);
                if (it != connections.end()) {
                    it->second.idle = true;
                    it->second.cancel = end;
                }
                stopping_now = stopping;
            }
            if (stopping_now) end();
        };
        co_await detail::run_websocket(stream, head, *reply.upgrade, std::move(hooks));
    }

    bool is_stopping() {
        std::lock_guard lock(mutex);
        return stopping;
    }

    // Routes, authorizes, reads the body and runs the handler; every refusal is a Reply.
    template <class Stream>
    asio::awaitable<void> handle(Stream& stream, beast::flat_buffer& buffer,
                                 bhttp::request_parser<bhttp::empty_body>& head, Listener& l, Request& req,
                                 Reply& reply, const std::string& client_ip, bool tls) {
        const auto& h = head.get();
        req.method = parse_method(h.method_string());
        req.target = std::string(h.target());
        req.client_ip = client_ip;
        req.tls = tls;
        req.route = "unmatched";
        for (const auto& field : h) {
            std::string name(field.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            req.headers.emplace_back(std::move(name), std::string(field.value()));
        }
        const std::string* rid = req.header("x-request-id");
        req.request_id = rid && acceptable_request_id(*rid) ? *rid : fmt::format("{}-{:x}", id_prefix, next_id++);

        auto url = boost::urls::parse_origin_form(req.target);
        if (!url) {
            reply = Reply::error(Error{Errc::BadInput, "target", "malformed request target: " + url.error().message()});
            reply.close = true;
            co_return;
        }
        req.path = url->path();
        for (auto param : url->params()) req.query.emplace_back(param.key, param.value);

        std::string allowed;
        auto match = router.match(req.method, req.path, l.config.surfaces, &allowed);
        if (!match) {
            reply = Reply::error(match.error());
            if (!allowed.empty()) {
                reply.status = 405;
                reply.headers.emplace_back("Allow", allowed);
            }
            reply.close = h.has_content_length() || h.chunked();  // the body was not read
            co_return;
        }
        const Route& route = *match->route;
        req.route = route.pattern;
        req.params = std::move(match->params);
        req.surface = route.surface;

        // Refuse before reading a body: an anonymous caller cannot make us buffer megabytes.
        if (auto allowed_in = router.authorize(route, req); !allowed_in) {
            reply = route.websocket ? refuse_websocket(allowed_in.error()) : Reply::error(allowed_in.error());
            reply.close = h.has_content_length() || h.chunked();
            co_return;
        }
        const std::size_t limit = route.body_limit ? route.body_limit : config.http.body_limit;
        if (head.content_length() && *head.content_length() > limit) {
            reply = Reply::error(Error{
                Errc::TooLarge, "body",
                fmt::format("request body of {} bytes is over the limit of {} bytes", *head.content_length(), limit)});
            reply.close = true;
            co_return;
        }
        if (h.has_content_length() || h.chunked()) {
            if (beast::iequals(h[bhttp::field::expect], "100-continue")) {
                bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, h.version()};
                auto [ec, n] = co_await bhttp::async_write(stream, cont, nothrow);
                if (ec) {
                    reply.close = true;
                    co_return;
                }
            }
            bhttp::request_parser<bhttp::string_body> full(std::move(head));
            full.body_limit(limit);
            beast::get_lowest_layer(stream).expires_after(config.http.request_timeout);
            auto [ec, n] = co_await bhttp::async_read(stream, buffer, full, nothrow);
            if (ec == bhttp::error::body_limit) {
                reply = Reply::error(
                    Error{Errc::TooLarge, "body", fmt::format("request body is over the limit of {} bytes", limit)});
                reply.close = true;
                co_return;
            }
            if (ec) {
                reply = Reply::error(Error{Errc::BadInput, "body", "cannot read the request body: " + ec.message()});
                reply.close = true;
                co_return;
            }
            req.body = std::move(full.get().body());
        }
        if (route.on_io_thread) {
            reply = invoke(route, req);
        } else if (const std::string* host = req.param("host")) {
            if (auto refused = co_await in_lane(*host, [&] { reply = invoke(route, req); }))
                reply = Reply::error(*refused);
        } else {
            reply = co_await asio::co_spawn(
                workers, [&]() -> asio::awaitable<Reply> { co_return invoke(route, req); }, asio::use_awaitable);
        }
    }

    // Runs `job` in the lane of `host` and resumes here once it ran (nullopt) or was refused.
    asio::awaitable<std::optional<Error>> in_lane(const std::string& host, std::function<void()> job) {
        auto executor = co_await asio::this_coro::executor;
        co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::optional<Error>)>(
            [this, &host, executor](auto handler, std::function<void()> work) {
                // Shared: the lane takes the job and the refusal as copyable functions, and
                // calls exactly one of them; the guard keeps the connection's loop running.
                auto resume = [h = std::make_shared<decltype(handler)>(std::move(handler)),
                               guard = std::make_shared<asio::executor_work_guard<asio::any_io_executor>>(executor)](
                                  std::optional<Error> outcome) {
                    asio::post(guard->get_executor(),
                               [h, guard, outcome = std::move(outcome)]() mutable { std::move (*h)(outcome); });
                };
                lanes.run(
                    host,
                    [work = std::move(work), resume] {
                        work();
                        resume(std::nullopt);
                    },
                    [resume](Error refusal) { resume(std::move(refusal)); });
            },
            asio::use_awaitable, std::move(job));
    }

    Reply invoke(const Route& route, Request& req) {
        try {
            return route.handler(req);
        } catch (const std::exception& e) {
            logger->error("handler threw req={} route={} error={}", req.request_id, route.pattern, e.what());
            return Reply::error(
                Error{Errc::Internal, "server", "internal error; see the server log, request " + req.request_id});
        }
    }

    template <class Stream>
    // Takes the reply's body (moved into the response, not copied).
    // `host`: a streamed body is produced in that host's lane.
    asio::awaitable<void> write_reply(Stream& stream, Reply& reply, unsigned version, bool keep_alive,
                                      const std::string& request_id, bool head_only = false,
                                      const std::string* host = nullptr) {
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), version};
        res.set(bhttp::field::server, "kvmhub");
        res.set(bhttp::field::content_type, reply.content_type);
        res.set("X-Request-Id", request_id);
        for (const auto& [name, value] : reply.headers) res.insert(name, value);
        res.keep_alive(keep_alive);
        if (reply.stream && !head_only) {
            co_await write_streamed(stream, reply, res, host);
            co_return;
        }
        if (reply.file) {
            co_await write_file(stream, *reply.file, res, head_only);
            co_return;
        }
        if (head_only) {
            res.content_length(reply.body.size());
        } else {
            res.body() = std::move(reply.body);
            res.prepare_payload();
        }
        beast::get_lowest_layer(stream).expires_after(config.http.request_timeout);
        bhttp::response_serializer<bhttp::string_body> sr{res};
        if (head_only) sr.split(true);
        if (head_only) {
            co_await bhttp::async_write_header(stream, sr, nothrow);
        } else {
            co_await bhttp::async_write(stream, sr, nothrow);
        }
    }

    // Sends the header of `res` with the slice's length, then the slice, one 64 KiB pread at a
    // time on this I/O thread (file pages are a local read, mostly from the page cache); the
    // timeout is per piece, so a long download by a live client is never cut.
    template <class Stream>
    asio::awaitable<void> write_file(Stream& stream, const FileSlice& file, bhttp::response<bhttp::string_body>& res,
                                     bool head_only) {
        res.content_length(file.length);
        beast::get_lowest_layer(stream).expires_after(config.http.request_timeout);
        bhttp::response_serializer<bhttp::string_body> sr{res};
        auto [ec, n] = co_await bhttp::async_write_header(stream, sr, nothrow);
        if (ec || head_only) co_return;
        constexpr std::size_t kPiece = 64 * 1024;
        std::vector<char> piece(kPiece);
        std::uint64_t sent = 0;
        while (sent < file.length) {
            const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, file.length - sent));
            const ssize_t got = ::pread(file.fd, piece.data(), want, static_cast<off_t>(file.offset + sent));
            if (got <= 0) {
                // The file shrank or failed under us: the length promised cannot be kept, so the
                // connection ends and the client sees a short body, never wrong bytes.
                logger->error("file reply cut short after {} of {} bytes: {}", sent, file.length,
                              got < 0 ? std::strerror(errno) : "end of file");
                beast::get_lowest_layer(stream).close();
                co_return;
            }
            beast::get_lowest_layer(stream).expires_after(config.http.request_timeout);
            auto [wec, wn] =
                co_await asio::async_write(stream, asio::buffer(piece.data(), static_cast<std::size_t>(got)), nothrow);
            if (wec) co_return;
            sent += static_cast<std::uint64_t>(got);
        }
    }

    // Sends the header of `res` with chunked transfer, then runs the reply's producer on a
    // worker thread (in the lane of `host` when set); each write() waits until its chunk is on
    // the wire (so a slow client slows the producer instead of filling memory) and fails once
    // the client is gone.
    template <class Stream>
    asio::awaitable<void> write_streamed(Stream& stream, const Reply& reply, bhttp::response<bhttp::string_body>& res,
                                         const std::string* host) {
        // HTTP/1.0 has no chunked transfer: the body then ends when the connection closes.
        const bool chunked = res.version() >= 11;
        if (chunked)
            res.chunked(true);
        else
            res.keep_alive(false);
        beast::get_lowest_layer(stream).expires_after(config.http.request_timeout);
        bhttp::response_serializer<bhttp::string_body> sr{res};
        auto [ec, n] = co_await bhttp::async_write_header(stream, sr, nothrow);
        bool open = !ec;
        const StreamWrite write = [&](std::string_view chunk) {
            if (!open) return false;
            if (chunk.empty()) return true;  // an empty chunk would end the body
            auto sent = asio::co_spawn(
                stream.get_executor(),
                [&]() -> asio::awaitable<bool> {
                    beast::get_lowest_layer(stream).expires_after(config.http.request_timeout);
                    auto [wec, wn] =
                        chunked ? co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(chunk)), nothrow)
                                : co_await asio::async_write(stream, asio::buffer(chunk), nothrow);
                    co_return !wec;
                },
                asio::use_future);
            open = sent.get();
            return open;
        };
        const auto produce = [&] {
            try {
                reply.stream(write);
            } catch (const std::exception& e) {
                logger->error("streamed reply threw error={}", e.what());
                write(nlohmann::json{{"result", "ERR"},
                                     {"code", 500},
                                     {"name", "server"},
                                     {"desc", "internal error; see the server log"}}
                          .dump() +
                      "\n");
            }
        };
        if (host) {
            // Refused before it started: the one line says why (on this thread; write() would
            // wait for this very thread).
            if (auto refused = co_await in_lane(*host, produce); refused && open) {
                const std::string line = Reply::error(*refused).body + "\n";
                beast::get_lowest_layer(stream).expires_after(config.http.request_timeout);
                auto [wec, wn] =
                    chunked ? co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(line)), nothrow)
                            : co_await asio::async_write(stream, asio::buffer(line), nothrow);
                open = !wec;
            }
        } else {
            co_await asio::co_spawn(
                workers,
                [&]() -> asio::awaitable<void> {
                    produce();
                    co_return;
                },
                asio::use_awaitable);
        }
        if (open && chunked) {
            beast::get_lowest_layer(stream).expires_after(config.http.request_timeout);
            co_await asio::async_write(stream, bhttp::make_chunk_last(), nothrow);
        }
    }

    RequestSeries& series_of(const std::string& route, Method method, int status) {
        std::lock_guard lock(series_mutex);
        auto it = series.find(SeriesView{route, method, status});
        if (it == series.end()) {
            RequestSeries made{
                &metrics.counter(
                    "kvmhub_http_requests_total", "HTTP requests by route, method and status",
                    {{"route", route}, {"method", method_name(method)}, {"status", std::to_string(status)}}),
                &metrics.histogram("kvmhub_http_request_duration_seconds", "HTTP request latency by route",
                                   {{"route", route}})};
            it = series.emplace(SeriesKey{route, method, status}, made).first;
        }
        return it->second;
    }

    void record(const Request& req, const Reply& reply, std::chrono::steady_clock::time_point started) {
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        RequestSeries& s = series_of(req.route, req.method, reply.status);
        s.requests->inc();
        s.duration->observe(seconds);
        if (config.http.access_log)
            logger->info("request req={} ip={} user={} method={} path={} route={} status={} ms={:.2f}", req.request_id,
                         req.client_ip, req.principal.empty() ? "-" : req.principal, method_name(req.method), req.path,
                         req.route, reply.status, seconds * 1000);
    }
};

Server::Server(const Config& config, const Router& router, Metrics& metrics)
    : impl_(std::make_unique<Impl>(config, router, metrics)) {}

Server::~Server() = default;

Status Server::listen() {
    return impl_->listen();
}

std::vector<BoundListener> Server::bound() const {
    std::vector<BoundListener> out;
    for (const auto& l : impl_->listeners) {
        boost::system::error_code ec;
        auto ep = l->acceptor.local_endpoint(ec);
        out.push_back(BoundListener{l->config.name, ep.address().to_string(), ep.port(), l->tls != nullptr});
    }
    return out;
}

bool Server::run() {
    return impl_->run();
}

void Server::stop() {
    impl_->stop();
}

}  // namespace kvmhub::http
