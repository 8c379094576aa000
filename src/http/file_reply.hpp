// Files as replies: the checks a path below a served folder must pass, the content type by
// extension, and a reply for one file that honours conditional and range requests (one range
// per request, RFC 9110 section 14), so qemu's curl driver and `curl -C -` resume a download. The
// body is sent by the server from the open file (Reply::file): nothing is read into memory here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "http/message.hpp"

namespace kvmhub::http {

// The relative path when every segment is a plain name (no "", ".", "..", hidden names,
// backslashes or NULs, no trailing slash, at most 1024 bytes); nullopt otherwise.
std::optional<std::string> safe_relative(std::string_view rest);

// The content type for a file name's extension; application/octet-stream when unknown.
const char* content_type_of(std::string_view path);

struct ByteRange {
    std::uint64_t first = 0;
    std::uint64_t last = 0;  // inclusive
};
struct WholeFile {};    // no Range, or one to ignore (several ranges, not bytes=, malformed)
struct Unsatisfiable {  // 416
};
using RangeAnswer = std::variant<WholeFile, ByteRange, Unsatisfiable>;

// What `Range: <header>` asks of a file of `size` bytes: bytes=a-b, bytes=a- and bytes=-n.
RangeAnswer parse_range(std::string_view header, std::uint64_t size);

struct FileReplyOptions {
    std::string cache_control = "no-cache";
};

// The regular file at `path` (already checked to be under its folder) as a reply: 200 with the
// whole file, 206 with the range asked for (If-Range with a stale validator gets the whole file),
// 304 for a matching If-None-Match, 416 with "bytes */size" for a range past the end. ETag from
// size and mtime, Last-Modified, Accept-Ranges. NotFound when it is not a regular file.
Reply file_reply(const std::string& path, const Request& request, const FileReplyOptions& options = {});

}  // namespace kvmhub::http
