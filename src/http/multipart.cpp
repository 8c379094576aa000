#include "http/multipart.hpp"

#include <optional>
#include <string>
#include <utility>

namespace kvmhub::http {

namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxBoundaryBytes = 70;  // RFC 2046

tl::unexpected<Error> bad_body(std::string desc) {
    return fail(Errc::BadInput, "body", std::move(desc));
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// A header value such as `form-data; name="file"; filename="a \"b\".tgz"`: the lower-cased
// type and its parameters (names lower-cased, quoted values unescaped).
struct HeaderValue {
    std::string type;
    std::vector<std::pair<std::string, std::string>> params;

    const std::string* param(std::string_view name) const {
        for (const auto& [key, value] : params) {
            if (key == name) return &value;
        }
        return nullptr;
    }
};

std::optional<HeaderValue> parse_header_value(std::string_view text) {
    HeaderValue out;
    std::size_t pos = text.find(';');
    out.type = lower(trim(text.substr(0, pos)));
    while (pos != std::string_view::npos && pos < text.size()) {
        ++pos;  // past ';'
        const std::size_t eq = text.find_first_of("=;", pos);
        if (eq == std::string_view::npos || text[eq] == ';') {
            // A bare token carries nothing RFC 7578 uses; skip it rather than refuse the upload.
            pos = eq;
            continue;
        }
        std::string name = lower(trim(text.substr(pos, eq - pos)));
        pos = eq + 1;
        while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
        std::string value;
        if (pos < text.size() && text[pos] == '"') {
            // Only \" and \\ are escapes: browsers send Windows paths with bare backslashes.
            for (++pos;; ++pos) {
                if (pos >= text.size()) return std::nullopt;
                const char c = text[pos];
                if (c == '"') break;
                if (c == '\\' && pos + 1 < text.size() && (text[pos + 1] == '"' || text[pos + 1] == '\\')) ++pos;
                value += text[pos];
            }
            pos = text.find(';', pos + 1);
        } else {
            const std::size_t end = text.find(';', pos);
            value = trim(text.substr(pos, end == std::string_view::npos ? end : end - pos));
            pos = end;
        }
        out.params.emplace_back(std::move(name), std::move(value));
    }
    return out;
}

// A delimiter is CRLF "--" boundary followed by "--" (the last) or optional padding and CRLF.
// The boundary text alone elsewhere in the data is not one.
bool ends_delimiter(std::string_view body, std::size_t after) {
    if (body.substr(after).starts_with("--")) return true;
    while (after < body.size() && (body[after] == ' ' || body[after] == '\t')) ++after;
    return body.substr(after).starts_with(kCrlf);
}

// Where the CRLF of the next delimiter starts, at or after `from`, or npos.
std::size_t find_delimiter(std::string_view body, std::string_view marker, std::size_t from) {
    for (;;) {
        const std::size_t at = body.find(marker, from);
        if (at == std::string_view::npos || ends_delimiter(body, at + marker.size())) return at;
        from = at + 1;
    }
}

Status parse_headers(std::string_view block, std::size_t index, FormPart& part) {
    const std::string where = "part " + std::to_string(index);
    std::vector<std::pair<std::string, std::string>> headers;
    while (!block.empty()) {
        const std::size_t eol = block.find(kCrlf);
        const std::string_view line = block.substr(0, eol);
        block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + kCrlf.size());
        if ((line.starts_with(' ') || line.starts_with('\t')) && !headers.empty()) {
            headers.back().second += ' ';  // an obsolete folded continuation line
            headers.back().second += trim(line);
            continue;
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return bad_body(where + ": malformed header line");
        headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    }
    bool disposition = false;
    for (const auto& [name, value] : headers) {
        if (name == "content-type") {
            part.content_type = value;
        } else if (name == "content-disposition") {
            if (disposition) return bad_body(where + ": more than one Content-Disposition header");
            disposition = true;
            const auto parsed = parse_header_value(value);
            if (!parsed) return bad_body(where + ": unterminated quoted string in Content-Disposition");
            if (parsed->type != "form-data") return bad_body(where + ": Content-Disposition is not form-data");
            const std::string* field = parsed->param("name");
            if (field == nullptr) return bad_body(where + ": Content-Disposition has no name");
            part.name = *field;
            if (const std::string* file = parsed->param("filename")) part.filename = *file;
        }
    }
    if (!disposition) return bad_body(where + ": no Content-Disposition header");
    return {};
}

Result<FormPart> parse_part(std::string_view raw, std::size_t index) {
    const std::string where = "part " + std::to_string(index);
    FormPart part;
    std::size_t header_end = 0;  // where the blank line starts
    std::size_t data_start = 0;
    if (raw.starts_with(kCrlf)) {
        data_start = kCrlf.size();
    } else {
        // Look no further than the cap: the data may be large and hold blank lines of its own.
        header_end = raw.substr(0, kMaxPartHeaderBytes + 4).find("\r\n\r\n");
        data_start = header_end + 4;
        if (header_end == std::string_view::npos && raw.ends_with(kCrlf)) {
            // RFC 2046 allows headers and no body: the delimiter's CRLF makes the blank line.
            header_end = raw.size() - kCrlf.size();
            data_start = raw.size();
        }
        if (header_end == std::string_view::npos && raw.size() <= kMaxPartHeaderBytes) {
            return bad_body(where + ": header block not ended by a blank line");
        }
        if (header_end == std::string_view::npos || header_end > kMaxPartHeaderBytes) {
            return fail(Errc::TooLarge, "body", where + ": header block larger than 8 KiB");
        }
    }
    if (auto ok = parse_headers(raw.substr(0, header_end), index, part); !ok) return tl::unexpected(ok.error());
    part.data = raw.substr(data_start);
    return part;
}

Result<std::string> boundary_of(std::string_view content_type_header) {
    const auto parsed = parse_header_value(content_type_header);
    const std::string* boundary = parsed ? parsed->param("boundary") : nullptr;
    if (!parsed || parsed->type != "multipart/form-data" || boundary == nullptr || boundary->empty() ||
        boundary->size() > kMaxBoundaryBytes || boundary->find_first_of("\r\n") != std::string::npos) {
        return fail(Errc::BadInput, "Content-Type", "Content-Type must be multipart/form-data with a boundary");
    }
    return *boundary;
}

}  // namespace

Result<std::vector<FormPart>> parse_multipart(std::string_view content_type_header, std::string_view body) {
    auto boundary = boundary_of(content_type_header);
    if (!boundary) return tl::unexpected(boundary.error());
    const std::string marker = "\r\n--" + *boundary;
    const std::string_view dash_boundary = std::string_view(marker).substr(kCrlf.size());

    // The first delimiter may open the body; anything before it is a preamble.
    std::size_t pos = 0;
    if (body.starts_with(dash_boundary) && ends_delimiter(body, dash_boundary.size())) {
        pos = dash_boundary.size();
    } else {
        const std::size_t at = find_delimiter(body, marker, 0);
        if (at == std::string_view::npos) return bad_body("multipart body has no boundary line");
        pos = at + marker.size();
    }

    std::vector<FormPart> parts;
    for (;;) {
        if (body.substr(pos).starts_with("--")) return parts;  // the close delimiter; the epilogue is ignored
        pos = body.find(kCrlf, pos) + kCrlf.size();            // ends_delimiter() saw padding then CRLF
        const std::size_t next = find_delimiter(body, marker, pos);
        if (next == std::string_view::npos) return bad_body("multipart body has no closing boundary");
        if (parts.size() == kMaxFormParts) {
            return fail(Errc::TooLarge, "body", "more than " + std::to_string(kMaxFormParts) + " parts");
        }
        auto part = parse_part(body.substr(pos, next - pos), parts.size() + 1);
        if (!part) return tl::unexpected(part.error());
        parts.push_back(std::move(*part));
        pos = next + marker.size();
    }
}

const FormPart* find_part(const std::vector<FormPart>& parts, std::string_view name) {
    for (const FormPart& part : parts) {
        if (part.name == name) return &part;
    }
    return nullptr;
}

}  // namespace kvmhub::http
