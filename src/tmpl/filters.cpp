#include "tmpl/filters.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace kvmhub::tmpl {

namespace {

using Args = std::vector<Value>;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string undefined_reason(const Value& v) {
    return fmt::format("'{}' is undefined", v.undefined_name());
}

FilterResult checked(tl::expected<std::string, std::string> s, bool safe = false) {
    if (!s) return tl::unexpected(std::move(s.error()));
    return Value(std::move(*s), safe);
}

// Elements a filter walks over: list items, dict keys, or the characters of a string.
bool elements(const Value& v, Args& out) {
    switch (v.kind()) {
        case Value::Kind::List:
            out = v.items();
            return true;
        case Value::Kind::Dict:
            for (const auto& entry : v.entries()) out.emplace_back(entry.first);
            return true;
        case Value::Kind::String: {
            const std::string& s = v.str();
            for (std::size_t pos = 0; pos < s.size();) {
                const std::size_t len = utf8_char_len(s, pos);
                out.emplace_back(s.substr(pos, len));
                pos += len;
            }
            return true;
        }
        case Value::Kind::Undefined:
            return true;
        default:
            return false;
    }
}

FilterResult f_default(FilterEnv&, const Value& v, const Args& args) {
    const bool boolean = args.size() > 1 && args[1].truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return args.empty() ? Value(std::string()) : args[0];
    return v;
}

FilterResult f_escape(FilterEnv& env, const Value& v, const Args&) {
    if (v.safe()) return v;
    auto s = to_string(v, env.max_bytes);
    if (!s) return tl::unexpected(s.error());
    std::string out;
    append_escaped(*s, out);
    if (out.size() > env.max_bytes) return tl::unexpected(too_large(env.max_bytes));
    return Value(std::move(out), true);
}

FilterResult change_case(FilterEnv& env, const Value& v, bool upper) {
    auto s = to_string(v, env.max_bytes);
    if (!s) return tl::unexpected(s.error());
    for (char& c : *s) {
        if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return Value(std::move(*s), v.safe());
}

FilterResult f_lower(FilterEnv& env, const Value& v, const Args&) {
    return change_case(env, v, false);
}
FilterResult f_upper(FilterEnv& env, const Value& v, const Args&) {
    return change_case(env, v, true);
}

// Python's int(text), then int(float(text)), as Jinja's int filter tries them.
std::optional<std::int64_t> parse_int(std::string_view text, bool& out_of_range) {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    bool negative = false;
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    // Python accepts '_' only between two digits.
    const auto is_digit = [&](std::size_t i) { return i < text.size() && text[i] >= '0' && text[i] <= '9'; };
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '_' && (i == 0 || !is_digit(i - 1) || !is_digit(i + 1))) return std::nullopt;
    }
    std::string digits;
    bool integral = !text.empty();
    for (std::size_t i = 0; i < text.size() && integral; ++i) {
        if (is_digit(i)) {
            digits += text[i];
        } else if (text[i] != '_') {
            integral = false;
        }
    }
    if (integral) {
        if (negative) digits.insert(digits.begin(), '-');
        std::int64_t value = 0;
        auto res = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        out_of_range = res.ec == std::errc::result_out_of_range;
        if (res.ec == std::errc()) return value;
        return std::nullopt;
    }
    std::string plain(text);
    std::erase(plain, '_');
    double d = 0;
    auto res = std::from_chars(plain.data(), plain.data() + plain.size(), d);
    if (plain.empty() || plain.front() == '-' || plain.front() == '+') return std::nullopt;
    if (res.ec != std::errc() || res.ptr != plain.data() + plain.size()) return std::nullopt;
    if (!(std::fabs(d) < 9.2e18)) return std::nullopt;
    return static_cast<std::int64_t>(negative ? -d : d);
}

FilterResult f_int(FilterEnv&, const Value& v, const Args& args) {
    const Value fallback = args.empty() ? Value(0) : args[0];
    switch (v.kind()) {
        case Value::Kind::Undefined:
            return tl::unexpected(undefined_reason(v));
        case Value::Kind::Bool:
        case Value::Kind::Int:
            return Value(v.as_int());
        case Value::Kind::Float: {
            const double d = v.as_float();
            if (!(std::fabs(d) < 9.2e18)) return fallback;
            return Value(static_cast<std::int64_t>(d));
        }
        case Value::Kind::String: {
            bool out_of_range = false;
            auto parsed = parse_int(v.str(), out_of_range);
            if (out_of_range) return tl::unexpected(fmt::format("'{}' is out of the integer range", v.str()));
            return parsed ? Value(*parsed) : fallback;
        }
        default:
            return fallback;
    }
}

FilterResult f_string(FilterEnv& env, const Value& v, const Args&) {
    return checked(to_string(v, env.max_bytes), v.safe());
}

FilterResult f_trim(FilterEnv& env, const Value& v, const Args& args) {
    auto s = to_string(v, env.max_bytes);
    if (!s) return tl::unexpected(s.error());
    std::string chars = " \t\n\r\v\f";
    if (!args.empty() && !args[0].is_none()) {
        auto c = to_string(args[0], env.max_bytes);
        if (!c) return tl::unexpected(c.error());
        chars = *c;
    }
    const auto first = s->find_first_not_of(chars);
    if (first == std::string::npos) return Value(std::string(), v.safe());
    const auto last = s->find_last_not_of(chars);
    return Value(s->substr(first, last - first + 1), v.safe());
}

FilterResult f_replace(FilterEnv& env, const Value& v, const Args& args) {
    auto s = to_string(v, env.max_bytes);
    auto from = to_string(args[0], env.max_bytes);
    auto to = to_string(args[1], env.max_bytes);
    if (!s || !from || !to) return tl::unexpected(!s ? s.error() : (!from ? from.error() : to.error()));
    // Replacing inside safe text keeps it safe, so the replacement itself must be escaped (markupsafe does this).
    const bool keep_safe = env.autoescape && v.safe();
    auto escaped = [](const std::string& text) {
        std::string e;
        append_escaped(text, e);
        return e;
    };
    if (keep_safe && !args[0].safe()) *from = escaped(*from);
    if (keep_safe && !args[1].safe()) *to = escaped(*to);
    std::int64_t count = -1;
    if (args.size() > 2 && args[2].kind() == Value::Kind::Int) count = args[2].as_int();
    std::string out;
    std::size_t pos = 0;
    if (env.budget != nullptr && !env.budget->take(s->size() / 64 + s->size() * from->size() / 4096)) return Value();
    for (; count != 0; --count) {
        if (from->empty()) {  // Python inserts the replacement before every character and at the end
            out += *to;
            if (pos >= s->size()) {
                pos = s->size() + 1;
                break;
            }
            const std::size_t len = utf8_char_len(*s, pos);
            out.append(*s, pos, len);
            pos += len;
        } else {
            const auto hit = s->find(*from, pos);
            if (hit == std::string::npos) break;
            out.append(*s, pos, hit - pos);
            out += *to;
            pos = hit + from->size();
        }
        if (out.size() > env.max_bytes) return tl::unexpected(too_large(env.max_bytes));
    }
    if (pos < s->size()) out.append(*s, pos);
    if (out.size() > env.max_bytes) return tl::unexpected(too_large(env.max_bytes));
    return Value(std::move(out), keep_safe);
}

FilterResult f_join(FilterEnv& env, const Value& v, const Args& args) {
    Args items;
    if (!elements(v, items)) return tl::unexpected(fmt::format("cannot join a {}", v.type_name()));
    if (env.budget != nullptr && !env.budget->take(items.size())) return Value();
    const Value sep = args.empty() ? Value(std::string()) : args[0];
    // With autoescape, joining safe text with unsafe text escapes the unsafe parts and stays safe (as Jinja).
    const bool escape =
        env.autoescape && std::any_of(items.begin(), items.end(), [](const Value& i) { return i.safe(); });
    auto piece = [&](const Value& item, std::string& out) {
        if (escape && !item.safe()) {
            auto s = to_string(item, env.max_bytes);
            if (!s) return false;
            append_escaped(*s, out);
            return out.size() <= env.max_bytes;
        }
        return append_str(item, out, env.max_bytes);
    };
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if ((i > 0 && !piece(sep, out)) || !piece(items[i], out)) return tl::unexpected(too_large(env.max_bytes));
    }
    return Value(std::move(out), escape);
}

FilterResult f_length(FilterEnv&, const Value& v, const Args&) {
    switch (v.kind()) {
        case Value::Kind::Undefined:
            return Value(0);
        case Value::Kind::String:
            return Value(static_cast<std::int64_t>(utf8_length(v.str())));
        case Value::Kind::List:
            return Value(static_cast<std::int64_t>(v.items().size()));
        case Value::Kind::Dict:
            return Value(static_cast<std::int64_t>(v.entries().size()));
        default:
            return tl::unexpected(fmt::format("object of type '{}' has no length", v.type_name()));
    }
}

FilterResult f_random(FilterEnv& env, const Value& v, const Args&) {
    if (v.is_undefined()) return v;
    Args items;
    if (v.kind() == Value::Kind::Dict || !elements(v, items)) {
        return tl::unexpected(fmt::format("cannot pick a random item from a {}", v.type_name()));
    }
    if (items.empty()) return tl::unexpected(std::string("cannot pick a random item from an empty sequence"));
    const std::uint64_t r = env.random(env.random_state);
    return items[static_cast<std::size_t>(r % items.size())];
}

FilterResult f_tojson(FilterEnv& env, const Value& v, const Args&) {
    auto s = to_json(v, env.max_bytes);
    if (!s) return tl::unexpected(s.error());
    if (env.budget != nullptr && !env.budget->take(s->size() / 64)) return Value();
    return Value(std::move(*s));
}

FilterResult f_b64encode(FilterEnv& env, const Value& v, const Args&) {
    auto s = to_string(v, env.max_bytes);
    if (!s) return tl::unexpected(s.error());
    if (s->size() / 3 * 4 + 4 > env.max_bytes) return tl::unexpected(too_large(env.max_bytes));
    return Value(base64_encode(*s));
}

constexpr FilterDef kFilters[] = {
    {"b64encode", 0, 0, f_b64encode},
    {"count", 0, 0, f_length},
    {"d", 0, 2, f_default},
    {"default", 0, 2, f_default},
    {"e", 0, 0, f_escape},
    {"escape", 0, 0, f_escape},
    {"int", 0, 1, f_int},
    {"join", 0, 1, f_join},
    {"length", 0, 0, f_length},
    {"lower", 0, 0, f_lower},
    {"random", 0, 0, f_random},
    {"replace", 2, 3, f_replace},
    {"string", 0, 0, f_string},
    {"tojson", 0, 0, f_tojson},
    {"trim", 0, 1, f_trim},
    {"upper", 0, 0, f_upper},
};

}  // namespace

const FilterDef* find_filter(std::string_view name) {
    for (const auto& f : kFilters) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

std::optional<TestKind> find_test(std::string_view name) {
    static constexpr std::pair<std::string_view, TestKind> kTests[] = {
        {"defined", TestKind::Defined}, {"undefined", TestKind::Undefined}, {"none", TestKind::None},
        {"true", TestKind::True},       {"false", TestKind::False},         {"boolean", TestKind::Boolean},
        {"string", TestKind::String},   {"number", TestKind::Number},       {"integer", TestKind::Integer},
        {"float", TestKind::Float},     {"mapping", TestKind::Mapping},     {"sequence", TestKind::Sequence},
        {"odd", TestKind::Odd},         {"even", TestKind::Even},
    };
    for (const auto& [n, kind] : kTests) {
        if (n == name) return kind;
    }
    return std::nullopt;
}

std::optional<bool> run_test(TestKind test, const Value& v) {
    using K = Value::Kind;
    switch (test) {
        case TestKind::Defined:
            return !v.is_undefined();
        case TestKind::Undefined:
            return v.is_undefined();
        case TestKind::None:
            return v.is_none();
        case TestKind::True:
            return v.kind() == K::Bool && v.as_bool();
        case TestKind::False:
            return v.kind() == K::Bool && !v.as_bool();
        case TestKind::Boolean:
            return v.kind() == K::Bool;
        case TestKind::String:
            return v.is_string();
        case TestKind::Number:
            return v.is_number();
        case TestKind::Integer:
            return v.kind() == K::Int;
        case TestKind::Float:
            return v.kind() == K::Float;
        case TestKind::Mapping:
            return v.kind() == K::Dict;
        case TestKind::Sequence:
            return v.is_string() || v.kind() == K::List || v.kind() == K::Dict;
        case TestKind::Odd:
        case TestKind::Even:
            if (v.kind() != K::Int && v.kind() != K::Bool) return std::nullopt;
            return (v.as_int() % 2 != 0) == (test == TestKind::Odd);
    }
    return std::nullopt;
}

std::string base64_encode(std::string_view bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
        for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(n >> shift) & 0x3f];
    }
    if (const std::size_t rest = bytes.size() - i; rest > 0) {
        std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        out += kAlphabet[(n >> 18) & 0x3f];
        out += kAlphabet[(n >> 12) & 0x3f];
        out += rest == 2 ? kAlphabet[(n >> 6) & 0x3f] : '=';
        out += '=';
    }
    return out;
}

}  // namespace kvmhub::tmpl
