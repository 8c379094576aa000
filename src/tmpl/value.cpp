#include "tmpl/value.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/xml_escape.hpp"
#include "tmpl/ast.hpp"

namespace kvmhub::tmpl {

Value Value::list(List items) {
    Value v(Kind::List);
    v.depth_ = static_cast<std::uint8_t>(list_depth(items));
    v.data_ = std::make_shared<const List>(std::move(items));
    return v;
}

Value Value::dict(Dict items) {
    Value v(Kind::Dict);
    int depth = 0;
    for (const auto& [key, value] : items) depth = std::max(depth, value.depth());
    v.depth_ = static_cast<std::uint8_t>(std::min(depth + 1, 255));
    v.data_ = std::make_shared<const Dict>(std::move(items));
    return v;
}

Value Value::macro(const MacroDef* def, const Scope* closure) {
    Value v(Kind::Macro);
    v.data_ = Macro{def, closure};
    return v;
}

int list_depth(const Value::List& items) {
    int depth = 0;
    for (const auto& item : items) depth = std::max(depth, item.depth());
    return std::min(depth + 1, 255);
}

double Value::as_float() const {
    if (kind_ == Kind::Float) return std::get<double>(data_);
    return static_cast<double>(as_int());
}

bool Value::truthy() const {
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None:
            return false;
        case Kind::Bool:
            return as_bool();
        case Kind::Int:
            return as_int() != 0;
        case Kind::Float:
            return as_float() != 0.0;
        case Kind::String:
            return !str().empty();
        case Kind::List:
            return !items().empty();
        case Kind::Dict:
            return !entries().empty();
        case Kind::Macro:
            return true;
    }
    return false;
}

const char* Value::type_name() const {
    switch (kind_) {
        case Kind::Undefined:
            return "undefined";
        case Kind::None:
            return "NoneType";
        case Kind::Bool:
            return "bool";
        case Kind::Int:
            return "int";
        case Kind::Float:
            return "float";
        case Kind::String:
            return "str";
        case Kind::List:
            return "list";
        case Kind::Dict:
            return "dict";
        case Kind::Macro:
            return "macro";
    }
    return "?";
}

const Value* Value::find(std::string_view key) const {
    if (kind_ != Kind::Dict) return nullptr;
    for (const auto& [k, v] : entries()) {
        if (k == key) return &v;
    }
    return nullptr;
}

Value Value::attr(std::string_view name) const {
    if (const Value* v = find(name)) return *v;
    return {};
}

Value Value::item(const Value& key) const {
    if (kind_ == Kind::Dict) return key.is_string() ? attr(key.str()) : Value{};
    const bool int_key = key.kind() == Kind::Int || key.kind() == Kind::Bool;
    if (!int_key) return {};
    std::int64_t index = key.as_int();
    if (kind_ == Kind::List) {
        const auto size = static_cast<std::int64_t>(items().size());
        if (index < 0) index += size;
        if (index < 0 || index >= size) return {};
        return items()[static_cast<std::size_t>(index)];
    }
    if (kind_ == Kind::String) {
        const std::string& s = str();
        if (index < 0) index += static_cast<std::int64_t>(utf8_length(s));
        if (index < 0) return {};
        std::size_t pos = 0;
        for (; pos < s.size() && index > 0; --index) pos += utf8_char_len(s, pos);
        if (pos >= s.size()) return {};
        return Value(s.substr(pos, utf8_char_len(s, pos)));
    }
    return {};
}

std::string format_float(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    // Shortest round-trip digits in scientific form, then laid out the way Python's repr() does:
    // positional for exponents -4..15, scientific otherwise.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
    const auto e_pos = sci.find('e');
    int exponent = 0;
    std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exponent);
    if (exponent < -4 || exponent >= 16) return std::string(sci);
    std::string_view mantissa = sci.substr(0, e_pos);
    std::string out;
    if (mantissa.front() == '-') {
        out += '-';
        mantissa.remove_prefix(1);
    }
    std::string digits;
    for (char c : mantissa) {
        if (c != '.') digits += c;
    }
    if (exponent < 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-exponent - 1), '0');
        out += digits;
        return out;
    }
    const auto int_digits = static_cast<std::size_t>(exponent) + 1;
    if (digits.size() <= int_digits) {
        out += digits;
        out.append(int_digits - digits.size(), '0');
        out += ".0";
    } else {
        out += digits.substr(0, int_digits);
        out += '.';
        out += digits.substr(int_digits);
    }
    return out;
}

void append_escaped(std::string_view text, std::string& out) {
    append_xml_escaped(text, out);
}

namespace {

void append_string_repr(const std::string& s, std::string& out) {
    const char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
    out += quote;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == quote || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (u < 0x20 || u == 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", u);
            out += hex;
        } else {
            out += c;
        }
    }
    out += quote;
}

bool append_value(const Value& v, std::string& out, std::size_t limit, bool repr) {
    switch (v.kind()) {
        case Value::Kind::Undefined:
            break;
        case Value::Kind::None:
            out += "None";
            break;
        case Value::Kind::Bool:
            out += v.as_bool() ? "True" : "False";
            break;
        case Value::Kind::Int:
            out += std::to_string(v.as_int());
            break;
        case Value::Kind::Float:
            out += format_float(v.as_float());
            break;
        case Value::Kind::String:
            if (out.size() + v.str().size() > limit) return false;
            if (repr) {
                append_string_repr(v.str(), out);
            } else {
                out += v.str();
            }
            break;
        case Value::Kind::List: {
            out += '[';
            bool first = true;
            for (const auto& item : v.items()) {
                if (!first) out += ", ";
                first = false;
                if (!append_value(item, out, limit, true)) return false;
            }
            out += ']';
            break;
        }
        case Value::Kind::Dict: {
            out += '{';
            bool first = true;
            for (const auto& [key, item] : v.entries()) {
                if (!first) out += ", ";
                first = false;
                if (out.size() + key.size() > limit) return false;
                append_string_repr(key, out);
                out += ": ";
                if (!append_value(item, out, limit, true)) return false;
            }
            out += '}';
            break;
        }
        case Value::Kind::Macro:
            out += "<Macro '";
            out += v.macro().def->name;
            out += "'>";
            break;
    }
    return out.size() <= limit;
}

}  // namespace

bool append_str(const Value& v, std::string& out, std::size_t limit) {
    return append_value(v, out, limit, false);
}

bool append_repr(const Value& v, std::string& out, std::size_t limit) {
    return append_value(v, out, limit, true);
}

std::string too_large(std::size_t limit) {
    return fmt::format("text grows past the limit of {} bytes", limit);
}

tl::expected<std::string, std::string> to_string(const Value& v, std::size_t limit) {
    if (v.is_string()) {
        if (v.str().size() > limit) return tl::unexpected(too_large(limit));
        return v.str();
    }
    std::string out;
    if (!append_str(v, out, limit)) return tl::unexpected(too_large(limit));
    return out;
}

bool equals(const Value& a, const Value& b, Budget& budget) {
    if (!budget.take(1)) return false;
    using K = Value::Kind;
    if (a.is_number() && b.is_number()) {
        if (a.kind() != K::Float && b.kind() != K::Float) return a.as_int() == b.as_int();
        return a.as_float() == b.as_float();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case K::Undefined:
        case K::None:
            return true;
        case K::String:
            return a.str() == b.str();
        case K::List: {
            if (&a.items() == &b.items()) return true;
            if (a.items().size() != b.items().size()) return false;
            for (std::size_t i = 0; i < a.items().size(); ++i) {
                if (!equals(a.items()[i], b.items()[i], budget)) return false;
            }
            return true;
        }
        case K::Dict: {
            if (&a.entries() == &b.entries()) return true;
            if (a.entries().size() != b.entries().size()) return false;
            for (const auto& [key, value] : a.entries()) {
                if (!budget.take(b.entries().size())) return false;
                const Value* other = b.find(key);
                if (other == nullptr || !equals(value, *other, budget)) return false;
            }
            return true;
        }
        case K::Macro:
            return a.macro().def == b.macro().def && a.macro().closure == b.macro().closure;
        default:
            return false;
    }
}

namespace {

tl::expected<Value, std::string> convert(const nlohmann::json& j, int depth) {
    using T = nlohmann::json::value_t;
    if (depth > kMaxValueDepth) return tl::unexpected<std::string>("context is nested too deeply");
    switch (j.type()) {
        case T::null:
        case T::discarded:
            return Value::none();
        case T::boolean:
            return Value(j.get<bool>());
        case T::number_integer:
            return Value(j.get<std::int64_t>());
        case T::number_unsigned: {
            const auto u = j.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
            return Value(static_cast<std::int64_t>(u));
        }
        case T::number_float:
            return Value(j.get<double>());
        case T::string:
            return Value(j.get_ref<const std::string&>());
        case T::array: {
            Value::List items;
            items.reserve(j.size());
            for (const auto& element : j) {
                auto v = convert(element, depth + 1);
                if (!v) return v;
                items.push_back(std::move(*v));
            }
            return Value::list(std::move(items));
        }
        case T::object: {
            Value::Dict entries;
            entries.reserve(j.size());
            for (const auto& [key, element] : j.items()) {
                auto v = convert(element, depth + 1);
                if (!v) return v;
                entries.emplace_back(key, std::move(*v));
            }
            return Value::dict(std::move(entries));
        }
        case T::binary:
            return tl::unexpected<std::string>("context holds binary data");
    }
    return Value::none();
}

}  // namespace

tl::expected<Value, std::string> from_json(const nlohmann::json& j) {
    return convert(j, 0);
}

std::size_t utf8_char_len(std::string_view s, std::size_t pos) {
    const auto lead = static_cast<unsigned char>(s[pos]);
    std::size_t len = 1;
    if (lead >= 0xf0 && lead <= 0xf4) {
        len = 4;
    } else if (lead >= 0xe0) {
        len = lead <= 0xef ? 3 : 1;
    } else if (lead >= 0xc2) {
        len = 2;
    }
    if (pos + len > s.size()) return 1;
    for (std::size_t i = 1; i < len; ++i) {
        if ((static_cast<unsigned char>(s[pos + i]) & 0xc0) != 0x80) return 1;
    }
    return len;
}

std::size_t utf8_length(std::string_view s) {
    std::size_t n = 0;
    for (std::size_t pos = 0; pos < s.size(); pos += utf8_char_len(s, pos)) ++n;
    return n;
}

}  // namespace kvmhub::tmpl
