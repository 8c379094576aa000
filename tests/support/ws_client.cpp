#include "support/ws_client.hpp"

#include <deque>
#include <functional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace kvmhub::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct WsClient::Impl {
    asio::io_context ioc;
    websocket::stream<beast::tcp_stream> ws{ioc};
    beast::flat_buffer buffer;
    std::deque<std::string> inbox;
    bool done = false;
    beast::error_code end;
    int pings = 0;
    int pongs = 0;
    std::string protocol;

    // Runs the io_context until `ready()` or the timeout; true when ready.
    bool run_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (!ready()) {
            const auto now = Clock::now();
            if (now >= deadline) return false;
            if (ioc.stopped()) ioc.restart();
            if (ioc.run_one_for(deadline - now) == 0 && ioc.stopped() && !ready()) return ready();
        }
        return true;
    }

    void start_reading() {
        ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
            if (ec) {
                done = true;
                end = ec;
                return;
            }
            inbox.push_back(beast::buffers_to_string(buffer.data()));
            buffer.consume(buffer.size());
            start_reading();
        });
    }
};

WsClient::WsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WsClient::~WsClient() {
    beast::error_code ignored;
    beast::get_lowest_layer(impl_->ws).socket().close(ignored);
}

std::unique_ptr<WsClient> WsClient::connect(int port, const std::string& target, const WsOptions& options,
                                            long* http_status, std::string* error) {
    auto impl = std::make_unique<Impl>();
    auto& ws = impl->ws;
    beast::error_code ec;
    beast::get_lowest_layer(ws).expires_after(options.timeout);
    beast::get_lowest_layer(ws).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
    if (ec) {
        if (error) *error = "connect: " + ec.message();
        return nullptr;
    }
    // A client masks its frames piece by piece (write_buffer_bytes each): without NODELAY,
    // Nagle holds the pieces back for the server's delayed ACK (40 ms a chunk).
    beast::get_lowest_layer(ws).socket().set_option(tcp::no_delay(true), ec);
    ws.write_buffer_bytes(64 * 1024);
    std::string offers;
    for (const auto& p : options.protocols) offers += (offers.empty() ? "" : ", ") + p;
    ws.set_option(websocket::stream_base::decorator([offers, headers = options.headers](websocket::request_type& req) {
        if (!offers.empty()) req.set(beast::http::field::sec_websocket_protocol, offers);
        for (const auto& h : headers) {
            auto colon = h.find(':');
            req.set(h.substr(0, colon), h.substr(colon + 2));
        }
    }));
    websocket::response_type res;
    bool finished = false;
    ws.async_handshake(res, "127.0.0.1:" + std::to_string(port), target, [&](beast::error_code e) {
        ec = e;
        finished = true;
    });
    impl->run_until([&] { return finished; }, options.timeout);
    if (!finished || ec) {
        if (http_status) *http_status = res.result_int();
        if (error) *error = finished ? ec.message() + ": " + res.body() : "handshake timed out";
        return nullptr;
    }
    if (http_status) *http_status = res.result_int();
    beast::get_lowest_layer(ws).expires_never();
    impl->protocol = std::string(res[beast::http::field::sec_websocket_protocol]);
    ws.binary(true);
    ws.control_callback([raw = impl.get()](websocket::frame_type kind, beast::string_view) {
        if (kind == websocket::frame_type::ping) ++raw->pings;
        if (kind == websocket::frame_type::pong) ++raw->pongs;
    });
    impl->start_reading();
    return std::unique_ptr<WsClient>(new WsClient(std::move(impl)));
}

std::string WsClient::protocol() const {
    return impl_->protocol;
}

bool WsClient::send(const std::string& bytes) {
    if (impl_->done) return false;
    bool finished = false;
    beast::error_code ec;
    impl_->ws.async_write(asio::buffer(bytes), [&](beast::error_code e, std::size_t) {
        ec = e;
        finished = true;
    });
    impl_->run_until([&] { return finished; }, std::chrono::seconds(30));
    return finished && !ec;
}

std::optional<std::string> WsClient::read(std::chrono::milliseconds timeout) {
    impl_->run_until([&] { return !impl_->inbox.empty() || impl_->done; }, timeout);
    if (impl_->inbox.empty()) return std::nullopt;
    std::string out = std::move(impl_->inbox.front());
    impl_->inbox.pop_front();
    return out;
}

std::string WsClient::read_until(const std::string& marker, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string all;
    while (all.find(marker) == std::string::npos) {
        const auto now = Clock::now();
        if (now >= deadline) break;
        auto next = read(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
        if (!next) break;
        all += *next;
    }
    return all;
}

bool WsClient::wait_closed(std::chrono::milliseconds timeout) {
    return impl_->run_until([&] { return impl_->done; }, timeout);
}

bool WsClient::close() {
    if (impl_->done) return true;
    bool finished = false;
    impl_->ws.async_close(websocket::close_code::normal, [&](beast::error_code) { finished = true; });
    impl_->run_until([&] { return finished && impl_->done; }, std::chrono::seconds(30));
    return finished;
}

bool WsClient::ping() {
    bool finished = false;
    beast::error_code ec;
    impl_->ws.async_ping({}, [&](beast::error_code e) {
        ec = e;
        finished = true;
    });
    impl_->run_until([&] { return finished; }, std::chrono::seconds(30));
    return finished && !ec;
}

bool WsClient::closed() const {
    return impl_->done;
}
int WsClient::close_code() const {
    return impl_->ws.reason().code;
}
std::string WsClient::close_reason() const {
    return std::string(impl_->ws.reason().reason.data(), impl_->ws.reason().reason.size());
}
int WsClient::pings_received() const {
    return impl_->pings;
}
int WsClient::pongs_received() const {
    return impl_->pongs;
}

}  // namespace kvmhub::test
