// The tojson filter: byte-for-byte what Jinja produces, so templates moved from simplekvm render the same.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "tmpl/filters.hpp"

namespace kvmhub::tmpl {

namespace {

void append_u(std::uint32_t unit, std::string& out) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", unit);
    out += buf;
}

std::uint32_t decode(std::string_view s, std::size_t pos, std::size_t len) {
    const auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[pos + i])); };
    switch (len) {
        case 2:
            return (b(0) & 0x1f) << 6 | (b(1) & 0x3f);
        case 3:
            return (b(0) & 0x0f) << 12 | (b(1) & 0x3f) << 6 | (b(2) & 0x3f);
        case 4:
            return (b(0) & 0x07) << 18 | (b(1) & 0x3f) << 12 | (b(2) & 0x3f) << 6 | (b(3) & 0x3f);
        default:
            return b(0);
    }
}

// Python's ensure_ascii output: everything outside ASCII as \uXXXX (surrogate pairs above U+FFFF);
// bytes that are not UTF-8 become U+FFFD. Jinja then replaces < > & ' so the JSON is safe inside HTML.
void append_json_string(std::string_view s, std::string& out) {
    out += '"';
    for (std::size_t pos = 0; pos < s.size();) {
        const std::size_t len = utf8_char_len(s, pos);
        const char c = s[pos];
        const auto u = static_cast<unsigned char>(c);
        if (len == 1 && u >= 0x80) {
            append_u(0xfffd, out);
        } else if (len > 1) {
            std::uint32_t cp = decode(s, pos, len);
            if (cp < 0x80 || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff)) {
                cp = 0xfffd;  // overlong or surrogate encodings are not valid UTF-8
            }
            if (cp >= 0x10000) {
                cp -= 0x10000;
                append_u(0xd800 + (cp >> 10), out);
                append_u(0xdc00 + (cp & 0x3ff), out);
            } else {
                append_u(cp, out);
            }
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\b') {
            out += "\\b";
        } else if (c == '\f') {
            out += "\\f";
        } else if (u < 0x20 || c == '<' || c == '>' || c == '&' || c == '\'') {
            append_u(u, out);
        } else {
            out += c;
        }
        pos += len;
    }
    out += '"';
}

tl::expected<void, std::string> write(const Value& v, std::string& out, std::size_t limit) {
    using K = Value::Kind;
    switch (v.kind()) {
        case K::Undefined:
            return tl::unexpected(fmt::format("'{}' is undefined", v.undefined_name()));
        case K::Macro:
            return tl::unexpected(std::string("a macro cannot be converted to JSON"));
        case K::None:
            out += "null";
            break;
        case K::Bool:
            out += v.as_bool() ? "true" : "false";
            break;
        case K::Int:
            out += std::to_string(v.as_int());
            break;
        case K::Float: {
            const double d = v.as_float();
            if (std::isnan(d)) {
                out += "NaN";
            } else if (std::isinf(d)) {
                out += d > 0 ? "Infinity" : "-Infinity";
            } else {
                out += format_float(d);
            }
            break;
        }
        case K::String:
            if (out.size() + v.str().size() > limit) return tl::unexpected(too_large(limit));
            append_json_string(v.str(), out);
            break;
        case K::List: {
            out += '[';
            bool first = true;
            for (const auto& item : v.items()) {
                if (!first) out += ", ";
                first = false;
                if (auto ok = write(item, out, limit); !ok) return ok;
            }
            out += ']';
            break;
        }
        case K::Dict: {
            // Jinja dumps with sort_keys=True.
            std::vector<const std::pair<std::string, Value>*> sorted;
            sorted.reserve(v.entries().size());
            for (const auto& entry : v.entries()) sorted.push_back(&entry);
            std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
            out += '{';
            bool first = true;
            for (const auto* entry : sorted) {
                if (!first) out += ", ";
                first = false;
                if (out.size() + entry->first.size() > limit) return tl::unexpected(too_large(limit));
                append_json_string(entry->first, out);
                out += ": ";
                if (auto ok = write(entry->second, out, limit); !ok) return ok;
            }
            out += '}';
            break;
        }
    }
    if (out.size() > limit) return tl::unexpected(too_large(limit));
    return {};
}

}  // namespace

tl::expected<std::string, std::string> to_json(const Value& v, std::size_t limit) {
    std::string out;
    if (auto ok = write(v, out, limit); !ok) return tl::unexpected(std::move(ok.error()));
    return out;
}

}  // namespace kvmhub::tmpl
