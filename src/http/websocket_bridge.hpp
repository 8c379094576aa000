// Internal to http/: runs a websocket console session on a connection the server accepted
// (see websocket.hpp for what it does). Compiled once, for the plain and the TLS stream.
#pragma once

#include <functional>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "http/websocket.hpp"

namespace kvmhub::http::detail {

using UpgradeRequest = boost::beast::http::request<boost::beast::http::empty_body>;

struct BridgeHooks {
    // Hands the server the function that ends this session when it shuts down; the server
    // calls it at once when it is already stopping.
    std::function<void(std::function<void()> end)> on_shutdown;
    std::string request_id;
};

boost::asio::awaitable<void> run_websocket(boost::beast::tcp_stream& stream, const UpgradeRequest& request,
                                           const WebsocketUpgrade& upgrade, BridgeHooks hooks);
boost::asio::awaitable<void> run_websocket(boost::beast::ssl_stream<boost::beast::tcp_stream>& stream,
                                           const UpgradeRequest& request, const WebsocketUpgrade& upgrade,
                                           BridgeHooks hooks);

}  // namespace kvmhub::http::detail
