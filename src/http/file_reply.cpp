#include "http/file_reply.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

namespace kvmhub::http {
namespace {

std::optional<std::uint64_t> number(std::string_view text) {
    std::uint64_t n = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
    return n;
}

std::string http_date(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::array<char, 64> text{};
    const std::size_t n = std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(text.data(), n);
}

Reply not_found(const Request& request) {
    return Reply::error(Error{Errc::NotFound, "path", "no such file: " + request.path});
}

}  // namespace

FileSlice::~FileSlice() {
    if (fd >= 0) ::close(fd);
}

std::optional<std::string> safe_relative(std::string_view rest) {
    if (rest.empty() || rest.size() > 1024) return std::nullopt;
    std::string_view left = rest;
    while (!left.empty()) {
        auto slash = left.find('/');
        std::string_view segment = left.substr(0, slash);
        if (segment.empty() || segment.front() == '.' || segment.find('\\') != std::string_view::npos ||
            segment.find('\0') != std::string_view::npos)
            return std::nullopt;
        if (slash == std::string_view::npos) break;
        left.remove_prefix(slash + 1);
        if (left.empty()) return std::nullopt;  // a trailing slash names a folder
    }
    return std::string(rest);
}

const char* content_type_of(std::string_view path) {
    static constexpr std::array<std::pair<std::string_view, const char*>, 19> kTypes{{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".jpg", "image/jpeg"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".ttf", "font/ttf"},
        {".txt", "text/plain; charset=utf-8"},
        {".ogg", "audio/ogg"},
        {".mp3", "audio/mpeg"},
        {".iso", "application/x-iso9660-image"},
        {".qcow2", "application/octet-stream"},
        {".img", "application/octet-stream"},
    }};
    for (const auto& [ext, type] : kTypes)
        if (path.ends_with(ext)) return type;
    return "application/octet-stream";
}

RangeAnswer parse_range(std::string_view header, std::uint64_t size) {
    constexpr std::string_view kUnit = "bytes=";
    if (!header.starts_with(kUnit) || header.find(',') != std::string_view::npos) return WholeFile{};
    const std::string_view spec = header.substr(kUnit.size());
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return WholeFile{};
    const std::string_view first_text = spec.substr(0, dash);
    const std::string_view last_text = spec.substr(dash + 1);
    if (first_text.empty()) {  // bytes=-n: the last n bytes
        const auto suffix = number(last_text);
        if (!suffix) return WholeFile{};
        if (*suffix == 0 || size == 0) return Unsatisfiable{};
        const std::uint64_t n = std::min(*suffix, size);
        return ByteRange{size - n, size - 1};
    }
    const auto first = number(first_text);
    if (!first) return WholeFile{};
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (!last_text.empty()) {
        const auto asked = number(last_text);
        if (!asked || *asked < *first) return WholeFile{};
        last = std::min(*asked, last);
    }
    if (*first >= size) return Unsatisfiable{};
    return ByteRange{*first, last};
}

Reply file_reply(const std::string& path, const Request& request, const FileReplyOptions& options) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return not_found(request);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return not_found(request);
    }
    auto open_file = std::make_shared<FileSlice>(fd, 0, static_cast<std::uint64_t>(st.st_size));
    const std::string etag = fmt::format("\"{:x}-{:x}\"", static_cast<std::uint64_t>(st.st_size),
                                         static_cast<std::uint64_t>(st.st_mtim.tv_sec));
    const std::string modified = http_date(st.st_mtim.tv_sec);
    Reply reply;
    reply.content_type = content_type_of(path);
    reply.headers = {{"ETag", etag},
                     {"Last-Modified", modified},
                     {"Accept-Ranges", "bytes"},
                     {"Cache-Control", options.cache_control},
                     {"X-Content-Type-Options", "nosniff"}};
    if (const std::string* match = request.header("if-none-match"); match && *match == etag) {
        reply.status = 304;
        return reply;
    }
    RangeAnswer range = WholeFile{};
    if (const std::string* asked = request.header("range")) {
        const std::string* if_range = request.header("if-range");
        if (!if_range || *if_range == etag || *if_range == modified) range = parse_range(*asked, open_file->length);
    }
    if (std::holds_alternative<Unsatisfiable>(range)) {
        Reply refused = Reply::error(
            Error{Errc::BadInput, "range",
                  fmt::format("the file has {} bytes; the range asked for is past its end", open_file->length)});
        refused.status = 416;
        refused.headers.emplace_back("Content-Range", fmt::format("bytes */{}", open_file->length));
        return refused;
    }
    if (const auto* bytes = std::get_if<ByteRange>(&range)) {
        reply.status = 206;
        reply.headers.emplace_back("Content-Range",
                                   fmt::format("bytes {}-{}/{}", bytes->first, bytes->last, open_file->length));
        open_file->offset = bytes->first;
        open_file->length = bytes->last - bytes->first + 1;
    }
    reply.file = std::move(open_file);
    return reply;
}

}  // namespace kvmhub::http
