#include "tmpl/lexer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace kvmhub::tmpl {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
    return is_name_start(c) || is_digit(c);
}

std::string normalize(std::string_view source) {
    std::string out;
    out.reserve(source.size());
    for (std::size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            out += source[i];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

void append_utf8(std::uint32_t cp, std::string& out) {
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

std::string show_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return fmt::format("'{}'", c);
    return fmt::format("'\\x{:02x}'", u);
}

class Lexer {
public:
    explicit Lexer(std::string source) : src_(std::move(source)) {}

    tl::expected<Lexed, Fault> run() {
        while (at_ < src_.size()) {
            std::size_t open = find_tag(at_);
            if (open == std::string::npos) {
                emit_data(src_.size(), false);
                break;
            }
            const char kind = src_[open + 1];
            const bool strip_before = open + 2 < src_.size() && src_[open + 2] == '-';
            emit_data(open, strip_before);
            if (kind == '#') {
                if (auto f = comment(open); !f) return tl::unexpected(f.error());
            } else if (auto f = tag(kind == '{'); !f) {
                return tl::unexpected(f.error());
            }
        }
        push(Tok::Eof, pos_);
        return std::move(out_);
    }

private:
    using Status = tl::expected<void, Fault>;

    std::size_t find_tag(std::size_t from) const {
        for (std::size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
            if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
        }
        return std::string::npos;
    }

    // Moves to `to`, keeping line and column (columns count UTF-8 characters, not bytes).
    void advance_to(std::size_t to) {
        for (; at_ < to; ++at_) {
            const auto u = static_cast<unsigned char>(src_[at_]);
            if (u == '\n') {
                ++pos_.line;
                pos_.column = 1;
            } else if ((u & 0xc0) != 0x80) {
                ++pos_.column;
            }
        }
    }

    void push(Tok kind, Pos pos, std::string text = {}) {
        Token t;
        t.kind = kind;
        t.pos = pos;
        t.text = std::move(text);
        out_.tokens.push_back(std::move(t));
    }

    void emit_data(std::size_t end, bool strip_trailing) {
        std::string_view text(src_.data() + at_, end - at_);
        if (strip_trailing) {
            while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
        }
        if (!text.empty()) push(Tok::Data, pos_, std::string(text));
        advance_to(end);
    }

    void skip_space_after_tag() {
        std::size_t end = at_;
        while (end < src_.size() && is_space(src_[end])) ++end;
        advance_to(end);
    }

    Fault unclosed(const char* opener, Pos start) {
        advance_to(src_.size());
        return Fault{pos_, fmt::format("unclosed '{}' started at line {}", opener, start.line)};
    }

    Status comment(std::size_t open) {
        const Pos start = pos_;
        const std::size_t close = src_.find("#}", open + 2);
        if (close == std::string::npos) return tl::unexpected(unclosed("{#", start));
        std::size_t body_begin = open + 2;
        if (body_begin < close && src_[body_begin] == '-') ++body_begin;
        const bool strip_after = close > body_begin && src_[close - 1] == '-';
        const std::size_t body_end = strip_after ? close - 1 : close;
        if (open == 0)
            out_.description = std::string(trim(std::string_view(src_).substr(body_begin, body_end - body_begin)));
        advance_to(close + 2);
        if (strip_after) skip_space_after_tag();
        return {};
    }

    Status tag(bool is_var) {
        const Pos start = pos_;
        const char* opener = is_var ? "{{" : "{%";
        push(is_var ? Tok::VarBegin : Tok::BlockBegin, start);
        std::size_t body = at_ + 2;
        // `{%+` only disables lstrip_blocks, which is off anyway; `{{+` is a unary plus, so it stays.
        if (body < src_.size() && (src_[body] == '-' || (!is_var && src_[body] == '+'))) ++body;
        advance_to(body);
        const std::string_view close = is_var ? "}}" : "%}";
        for (;;) {
            std::size_t i = at_;
            while (i < src_.size() && is_space(src_[i])) ++i;
            advance_to(i);
            if (at_ >= src_.size()) return tl::unexpected(unclosed(opener, start));
            const std::string_view rest = std::string_view(src_).substr(at_);
            const bool strip = rest.size() >= 3 && rest[0] == '-' && rest.substr(1, 2) == close;
            const bool plus = !is_var && rest.size() >= 3 && rest[0] == '+' && rest.substr(1, 2) == close;
            if (strip || plus || rest.substr(0, 2) == close) {
                push(is_var ? Tok::VarEnd : Tok::BlockEnd, pos_);
                advance_to(at_ + (strip || plus ? 3 : 2));
                if (strip) skip_space_after_tag();
                return {};
            }
            if (auto f = token(); !f) return f;
        }
    }

    Status token() {
        const char c = src_[at_];
        if (is_name_start(c)) {
            std::size_t end = at_;
            while (end < src_.size() && is_name_char(src_[end])) ++end;
            push(Tok::Name, pos_, src_.substr(at_, end - at_));
            advance_to(end);
            return {};
        }
        if (is_digit(c)) return number();
        if (c == '\'' || c == '"') return string();
        static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">=", "//", "**"};
        for (auto op : kTwo) {
            if (std::string_view(src_).substr(at_, 2) == op) {
                push(Tok::Op, pos_, std::string(op));
                advance_to(at_ + 2);
                return {};
            }
        }
        if (std::string_view("+-*/%~<>=.,:|()[]{}").find(c) != std::string_view::npos) {
            push(Tok::Op, pos_, std::string(1, c));
            advance_to(at_ + 1);
            return {};
        }
        return tl::unexpected(Fault{pos_, "unexpected character " + show_char(c)});
    }

    // Digits may be grouped with '_' as in Python; after a '.', only an integer (`items.0.name`).
    std::size_t digits(std::size_t i) const {
        while (i < src_.size() &&
               (is_digit(src_[i]) || (src_[i] == '_' && i + 1 < src_.size() && is_digit(src_[i + 1]))))
            ++i;
        return i;
    }

    Status number() {
        const Pos start = pos_;
        std::size_t end = digits(at_);
        bool is_float = false;
        const bool after_dot = at_ > 0 && src_[at_ - 1] == '.';
        if (!after_dot && end + 1 < src_.size() && src_[end] == '.' && is_digit(src_[end + 1])) {
            is_float = true;
            end = digits(end + 1);
        }
        if (!after_dot && end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
            std::size_t e = end + 1;
            if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
            if (e < src_.size() && is_digit(src_[e])) {
                is_float = true;
                end = digits(e);
            }
        }
        std::string text;
        for (std::size_t i = at_; i < end; ++i) {
            if (src_[i] != '_') text += src_[i];
        }
        advance_to(end);
        Token t;
        t.pos = start;
        if (is_float) {
            t.kind = Tok::Float;
            auto res = std::from_chars(text.data(), text.data() + text.size(), t.float_value);
            if (res.ec == std::errc::result_out_of_range) {
                const auto e = text.find_first_of("eE");
                const bool tiny = e != std::string::npos && e + 1 < text.size() && text[e + 1] == '-';
                t.float_value = tiny ? 0.0 : HUGE_VAL;
            }
        } else {
            t.kind = Tok::Int;
            auto res = std::from_chars(text.data(), text.data() + text.size(), t.int_value);
            if (res.ec != std::errc()) return tl::unexpected(Fault{start, "integer literal is too large"});
        }
        t.text = std::move(text);
        out_.tokens.push_back(std::move(t));
        return {};
    }

    // Reads `count` hex digits at `i`; false if they are not all there.
    bool hex(std::size_t i, int count, std::uint32_t& value) const {
        value = 0;
        for (int k = 0; k < count; ++k, ++i) {
            if (i >= src_.size()) return false;
            const char h = src_[i];
            int d = -1;
            if (is_digit(h)) d = h - '0';
            if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
            if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
            if (d < 0) return false;
            value = value * 16 + static_cast<std::uint32_t>(d);
        }
        return true;
    }

    Status string() {
        const Pos start = pos_;
        const char quote = src_[at_];
        std::string value;
        std::size_t i = at_ + 1;
        for (;;) {
            if (i >= src_.size()) {
                advance_to(src_.size());
                return tl::unexpected(Fault{start, "unterminated string"});
            }
            const char c = src_[i];
            if (c == quote) break;
            if (c != '\\' || i + 1 >= src_.size()) {
                value += c;
                ++i;
                continue;
            }
            const char e = src_[i + 1];
            std::uint32_t cp = 0;
            i += 2;
            switch (e) {
                case 'n':
                    value += '\n';
                    break;
                case 't':
                    value += '\t';
                    break;
                case 'r':
                    value += '\r';
                    break;
                case '0':
                    value += '\0';
                    break;
                case '\n':
                    break;  // a backslash at the end of a line continues the string
                case '\\':
                case '\'':
                case '"':
                    value += e;
                    break;
                case 'x':
                case 'u':
                case 'U': {
                    const int n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
                    if (!hex(i, n, cp)) {
                        advance_to(i - 2);
                        return tl::unexpected(Fault{pos_, fmt::format("invalid \\{} escape", e)});
                    }
                    i += static_cast<std::size_t>(n);
                    if (e == 'x') {
                        value += static_cast<char>(cp);
                    } else {
                        append_utf8(cp, value);
                    }
                    break;
                }
                default:
                    value += '\\';
                    value += e;
            }
        }
        advance_to(i + 1);
        push(Tok::String, start, std::move(value));
        return {};
    }

    std::string src_;
    std::size_t at_ = 0;
    Pos pos_;
    Lexed out_;
};

}  // namespace

tl::expected<Lexed, Fault> lex(std::string_view source) {
    return Lexer(normalize(source)).run();
}

std::string describe(const Token& token) {
    switch (token.kind) {
        case Tok::Data:
            return "text";
        case Tok::VarBegin:
            return "'{{'";
        case Tok::VarEnd:
            return "'}}'";
        case Tok::BlockBegin:
            return "'{%'";
        case Tok::BlockEnd:
            return "'%}'";
        case Tok::Name:
            return "'" + token.text + "'";
        case Tok::String:
            return "string";
        case Tok::Int:
        case Tok::Float:
            return "number " + token.text;
        case Tok::Op:
            return "'" + token.text + "'";
        case Tok::Eof:
            return "end of template";
    }
    return "?";
}

}  // namespace kvmhub::tmpl
