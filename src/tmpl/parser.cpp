#include "tmpl/parser.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace kvmhub::tmpl {

namespace {

template <typename List>
bool contains(const List& list, std::string_view s) {
    return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

constexpr std::string_view kEndTags[] = {"elif", "else", "endif", "endfor", "endmacro"};
// Jinja tags that real templates could contain but this engine leaves out on purpose.
constexpr std::string_view kUnsupportedTags[] = {
    "include", "import",  "from", "extends", "block", "endblock", "call",     "endcall", "filter",    "endfilter",
    "with",    "endwith", "raw",  "endraw",  "do",    "break",    "continue", "endset",  "autoescape"};
constexpr std::string_view kReservedNames[] = {"true", "false", "none", "True", "False", "None", "and",
                                               "or",   "not",   "in",   "is",   "if",    "else"};

}  // namespace

tl::expected<Parsed, Fault> parse_template(std::string_view source) {
    auto lexed = lex(source);
    if (!lexed) return tl::unexpected(lexed.error());
    Parsed out;
    out.description = std::move(lexed->description);
    Parser parser(std::move(lexed->tokens));
    if (!parser.parse(out.body)) return tl::unexpected(parser.fault());
    return out;
}

bool Parser::parse(Body& out) {
    return parse_body(out, {}) && check_calls();
}

bool Parser::fail(Pos pos, std::string reason) {
    if (!failed_) fault_ = Fault{pos, std::move(reason)};
    failed_ = true;
    return false;
}

bool Parser::unexpected(const Token& t, std::string_view wanted) {
    if (wanted.empty()) return fail(t.pos, "unexpected " + describe(t));
    return fail(t.pos, fmt::format("expected {}, got {}", wanted, describe(t)));
}

const Token& Parser::peek(std::size_t ahead) const {
    return tokens_[std::min(i_ + ahead, tokens_.size() - 1)];
}

bool Parser::is_op(std::string_view op, std::size_t ahead) const {
    const Token& t = peek(ahead);
    return t.kind == Tok::Op && t.text == op;
}

bool Parser::is_name(std::string_view name, std::size_t ahead) const {
    const Token& t = peek(ahead);
    return t.kind == Tok::Name && t.text == name;
}

bool Parser::skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
}

bool Parser::expect_op(std::string_view op) {
    if (skip_op(op)) return true;
    return unexpected(peek(), fmt::format("'{}'", op));
}

bool Parser::expect_block_end() {
    if (peek().kind == Tok::BlockEnd) {
        next();
        return true;
    }
    return unexpected(peek(), "'%}'");
}

bool Parser::parse_body(Body& out, std::initializer_list<std::string_view> ends) {
    for (;;) {
        const Token& t = peek();
        switch (t.kind) {
            case Tok::Data: {
                Stmt s;
                s.kind = Stmt::Kind::Text;
                s.pos = t.pos;
                s.text = t.text;
                out.push_back(std::move(s));
                next();
                break;
            }
            case Tok::VarBegin: {
                Stmt s;
                s.kind = Stmt::Kind::Output;
                s.pos = t.pos;
                next();
                s.expr = parse_expr();
                if (!s.expr) return false;
                if (peek().kind != Tok::VarEnd) return unexpected(peek(), "'}}'");
                next();
                out.push_back(std::move(s));
                break;
            }
            case Tok::BlockBegin: {
                bool ended = false;
                if (!parse_tag(out, ends, ended)) return false;
                if (ended) return true;
                break;
            }
            case Tok::Eof: {
                if (ends.size() == 0) return true;
                const OpenBlock& open = open_.back();
                return fail(t.pos, fmt::format("'{}' at {}:{} has no matching {}", open.tag, open.pos.line,
                                               open.pos.column, *(ends.end() - 1)));
            }
            default:
                return unexpected(t);
        }
    }
}

bool Parser::parse_tag(Body& out, std::initializer_list<std::string_view> ends, bool& ended) {
    const Pos pos = next().pos;  // {%
    const Token& name = peek();
    if (name.kind != Tok::Name) return unexpected(name, "a tag name");
    if (contains(ends, name.text)) {
        ended = true;  // the caller reads the closing tag
        return true;
    }
    next();
    if (name.text == "if") return parse_if(out, pos);
    if (name.text == "for") return parse_for(out, pos);
    if (name.text == "set") return parse_set(out, pos);
    if (name.text == "macro") return parse_macro(out, pos);
    if (contains(kEndTags, name.text)) {
        if (open_.empty()) return fail(name.pos, fmt::format("unexpected '{}': no block is open", name.text));
        return fail(name.pos,
                    fmt::format("unexpected '{}': expected '{}' to close the '{}' at {}:{}", name.text,
                                *(ends.end() - 1), open_.back().tag, open_.back().pos.line, open_.back().pos.column));
    }
    if (contains(kUnsupportedTags, name.text))
        return fail(name.pos, fmt::format("tag '{}' is not supported", name.text));
    return fail(name.pos, fmt::format("unknown tag '{}'", name.text));
}

bool Parser::parse_block_body(Body& out, std::string_view tag, Pos pos, std::initializer_list<std::string_view> ends) {
    if (open_.size() >= static_cast<std::size_t>(kMaxBlockNesting)) {
        return fail(pos, fmt::format("blocks are nested more than {} deep", kMaxBlockNesting));
    }
    open_.push_back({tag, pos});
    const bool ok = parse_body(out, ends);
    open_.pop_back();
    return ok;
}

bool Parser::parse_if(Body& out, Pos pos) {
    Stmt s;
    s.kind = Stmt::Kind::If;
    s.pos = pos;
    Branch first;
    first.cond = parse_expr();
    if (!first.cond || !expect_block_end() || !parse_block_body(first.body, "if", pos, {"elif", "else", "endif"}))
        return false;
    s.branches.push_back(std::move(first));
    for (;;) {
        const std::string tag = next().text;
        if (tag == "elif") {
            Branch b;
            b.cond = parse_expr();
            if (!b.cond || !expect_block_end() || !parse_block_body(b.body, "if", pos, {"elif", "else", "endif"}))
                return false;
            s.branches.push_back(std::move(b));
            continue;
        }
        if (tag == "else") {
            if (!expect_block_end() || !parse_block_body(s.else_body, "if", pos, {"endif"})) return false;
            next();  // endif
        }
        if (!expect_block_end()) return false;
        break;
    }
    out.push_back(std::move(s));
    return true;
}

bool Parser::assign_target(std::string& name) {
    const Token& t = peek();
    if (t.kind != Tok::Name) return unexpected(t, "a variable name");
    if (contains(kReservedNames, t.text)) return fail(t.pos, fmt::format("cannot assign to '{}'", t.text));
    name = t.text;
    bound_.insert(name);
    next();
    return true;
}

bool Parser::parse_for(Body& out, Pos pos) {
    Stmt s;
    s.kind = Stmt::Kind::For;
    s.pos = pos;
    if (!assign_target(s.name)) return false;
    if (is_op(",")) return fail(peek().pos, "unpacking several loop variables is not supported");
    if (!is_name("in")) return unexpected(peek(), "'in'");
    next();
    // No `a if b else c` here: Jinja reads `for x in y if z` as a loop filter, which is not supported.
    s.expr = parse_expr(false);
    if (!s.expr) return false;
    if (is_name("if") || is_name("recursive")) {
        return fail(peek().pos, fmt::format("'{}' in a for loop is not supported", peek().text));
    }
    const int loop_refs = loop_refs_;
    if (!expect_block_end() || !parse_block_body(s.body, "for", pos, {"else", "endfor"})) return false;
    s.uses_loop = loop_refs_ != loop_refs;
    if (next().text == "else") {
        if (!expect_block_end() || !parse_block_body(s.else_body, "for", pos, {"endfor"})) return false;
        next();  // endfor
    }
    if (!expect_block_end()) return false;
    out.push_back(std::move(s));
    return true;
}

bool Parser::parse_set(Body& out, Pos pos) {
    Stmt s;
    s.kind = Stmt::Kind::Set;
    s.pos = pos;
    if (!assign_target(s.name)) return false;
    if (is_op(".") || is_op("[")) return fail(peek().pos, "only plain variables can be assigned");
    if (is_op(",")) return fail(peek().pos, "unpacking several variables is not supported");
    if (peek().kind == Tok::BlockEnd) return fail(peek().pos, "block assignments ({% set x %}...) are not supported");
    if (!expect_op("=")) return false;
    s.expr = parse_expr();
    if (!s.expr || !expect_block_end()) return false;
    out.push_back(std::move(s));
    return true;
}

bool Parser::parse_macro(Body& out, Pos pos) {
    Stmt s;
    s.kind = Stmt::Kind::Macro;
    s.pos = pos;
    s.macro = std::make_unique<MacroDef>();
    MacroDef& def = *s.macro;
    def.pos = pos;
    if (!assign_target(def.name) || !expect_op("(")) return false;
    bool seen_default = false;
    while (!skip_op(")")) {
        Param p;
        const Pos at = peek().pos;
        if (!assign_target(p.name)) return false;
        for (const auto& other : def.params) {
            if (other.name == p.name) return fail(at, fmt::format("duplicate argument '{}'", p.name));
        }
        if (skip_op("=")) {
            p.default_value = parse_expr();
            if (!p.default_value) return false;
            seen_default = true;
        } else if (seen_default) {
            return fail(at, fmt::format("argument '{}' without a default follows one with a default", p.name));
        }
        def.params.push_back(std::move(p));
        if (!is_op(")") && !expect_op(",")) return false;
    }
    if (!expect_block_end() || !parse_block_body(def.body, "macro", pos, {"endmacro"})) return false;
    next();  // endmacro
    if (!expect_block_end()) return false;
    out.push_back(std::move(s));
    return true;
}

bool Parser::check_calls() {
    for (const auto& [name, pos] : calls_) {
        if (name != "range" && !bound_.contains(name))
            return fail(pos, fmt::format("unknown macro or function '{}'", name));
    }
    return true;
}

}  // namespace kvmhub::tmpl
