// The request/reply facade that handlers see: plain structs, no Beast or Asio types.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/config.hpp"
#include "common/result.hpp"

namespace kvmhub::http {

enum class Method { Get, Head, Post, Put, Delete, Patch, Options, Other };

const char* method_name(Method m);
Method parse_method(std::string_view name);

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Request {
    Method method = Method::Get;
    std::string target;  // as received: path and query
    std::string path;    // percent-decoded path
    Fields query;        // decoded query parameters, in order
    Fields headers;      // names lower-cased
    std::string body;
    std::string client_ip;
    std::string request_id;
    bool tls = false;
    Surface surface = Surface::Admin;  // of the listener the request arrived on

    // Filled by the router.
    Fields params;          // path parameters by name
    std::string route;      // the matched pattern, "unmatched" when none
    std::string principal;  // who is acting: the user name (admin) or the link id (tenant)

    const std::string* header(std::string_view lower_name) const;
    const std::string* query_param(std::string_view name) const;
    const std::string* param(std::string_view name) const;
    // The value of cookie `name` from the Cookie header, empty if absent.
    std::string cookie(std::string_view name) const;
};

struct WebsocketUpgrade;  // http/websocket.hpp

// An open file and the bytes of it a reply sends (http/file_reply.hpp); closes the file.
struct FileSlice {
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;

    FileSlice(int fd_, std::uint64_t offset_, std::uint64_t length_) : fd(fd_), offset(offset_), length(length_) {}
    ~FileSlice();
    FileSlice(const FileSlice&) = delete;
    FileSlice& operator=(const FileSlice&) = delete;
};

// Writes one piece of a streamed reply body; false once the client has gone away (the
// producer should then stop, undo what it half-made, and return).
using StreamWrite = std::function<bool(std::string_view chunk)>;

struct Reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    Fields headers;      // extra headers (Set-Cookie, Retry-After, ...)
    bool close = false;  // close the connection after this reply
    // Set: a websocket request becomes a console bridge (see http/websocket.hpp); the rest of
    // the reply is what a plain HTTP request gets.
    std::shared_ptr<const WebsocketUpgrade> upgrade;
    // Set by streamed(): after the status and headers, the server runs this on a worker thread
    // and sends every write() at once (chunked transfer), in order; `body` is not used.
    std::function<void(const StreamWrite& write)> stream;
    // Set: the body is this slice of a file, read and sent by the connection's I/O thread in
    // pieces of 64 KiB (bounded memory, no worker held however long the download); `body` is
    // not used, Content-Length is the slice's length.
    std::shared_ptr<const FileSlice> file;

    // `{"result":"OK", ...object}`: `object` must be a JSON object (or null for none).
    static Reply ok(const nlohmann::json& object);
    static Reply ok();
    // `object` is a serialized JSON object (e.g. joined from the store) that gets "result":"OK".
    static Reply ok_serialized(std::string_view object);
    static Reply text(std::string body, std::string content_type = "text/plain; charset=utf-8");
    // A reply whose body `produce` writes while it works (progress lines, server-sent events).
    static Reply streamed(std::function<void(const StreamWrite& write)> produce,
                          std::string content_type = "text/event-stream");
    // The api-compat error shape, with the HTTP status that belongs to `error.code`.
    static Reply error(const Error& error);
};

// The one mapping from an error class to an HTTP status.
int http_status(Errc code);
// simplekvm's numeric code for an error (996 libvirt, 998 bad parameter, 404 missing, ...).
int legacy_code(const Error& error);

}  // namespace kvmhub::http
