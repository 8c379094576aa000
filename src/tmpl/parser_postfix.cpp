// Postfix parts of an expression: `.attr`, `[key]`, calls, and `|filter` / `is test`.
#include <fmt/format.h>

#include "tmpl/filters.hpp"
#include "tmpl/parser.hpp"

namespace kvmhub::tmpl {

ExprPtr Parser::parse_postfix(ExprPtr e) {
    for (;;) {
        if (is_op(".")) {
            const Pos at = next().pos;
            const Token& t = peek();
            if (t.kind == Tok::Name) {
                auto attr = node(Expr::Kind::Attr, at);
                attr->name = t.text;
                attr->a = std::move(e);
                e = std::move(attr);
            } else if (t.kind == Tok::Int) {  // items.0 is items[0]
                auto item = node(Expr::Kind::Item, at);
                item->a = std::move(e);
                item->b = node(Expr::Kind::Literal, t.pos);
                item->b->value = Value(t.int_value);
                e = std::move(item);
            } else {
                unexpected(t, "an attribute name");
                return nullptr;
            }
            next();
        } else if (is_op("[")) {
            auto item = node(Expr::Kind::Item, next().pos);
            item->a = std::move(e);
            item->b = parse_expr();
            if (!item->b) return nullptr;
            if (is_op(":")) {
                fail(peek().pos, "slices are not supported");
                return nullptr;
            }
            if (!expect_op("]")) return nullptr;
            e = std::move(item);
        } else if (is_op("(")) {
            if (e->kind != Expr::Kind::Name) {
                const std::string what = e->kind == Expr::Kind::Attr ? "method '" + e->name + "'" : "this expression";
                fail(peek().pos, fmt::format("cannot call {}: only macros and range() can be called", what));
                return nullptr;
            }
            e->kind = Expr::Kind::Call;
            calls_.emplace_back(e->name, e->pos);
            if (!parse_args(*e, true)) return nullptr;
        } else {
            return e;
        }
        e = finish(std::move(e));
        if (!e) return nullptr;
    }
}

bool Parser::parse_args(Expr& call, bool allow_keywords) {
    NestingGuard guard(expr_nesting_);
    if (guard.too_deep())
        return fail(peek().pos, fmt::format("expression is nested more than {} deep", kMaxBlockNesting));
    next();  // (
    while (!skip_op(")")) {
        std::string keyword;
        if (peek().kind == Tok::Name && is_op("=", 1)) {
            if (!allow_keywords) return fail(peek().pos, "filters take positional arguments only");
            keyword = next().text;
            next();
            for (const auto& k : call.keywords) {
                if (k == keyword) return fail(peek().pos, fmt::format("argument '{}' given twice", keyword));
            }
        } else if (!call.keywords.empty() && !call.keywords.back().empty()) {
            return fail(peek().pos, "positional argument follows keyword argument");
        }
        auto arg = parse_expr();
        if (!arg) return false;
        call.args.push_back(std::move(arg));
        call.keywords.push_back(std::move(keyword));
        if (!is_op(")") && !expect_op(",")) return false;
    }
    return true;
}

ExprPtr Parser::parse_filters(ExprPtr e) {
    for (;;) {
        if (is_op("|")) {
            next();
            e = parse_filter(std::move(e));
        } else if (is_name("is")) {
            next();
            e = parse_test(std::move(e));
        } else {
            return e;
        }
        if (!e) return nullptr;
    }
}

ExprPtr Parser::parse_filter(ExprPtr operand) {
    const Token& t = peek();
    if (t.kind != Tok::Name) {
        unexpected(t, "a filter name");
        return nullptr;
    }
    auto e = node(Expr::Kind::Filter, t.pos);
    e->name = t.text;
    e->filter = find_filter(t.text);
    if (e->filter == nullptr) {
        fail(t.pos, fmt::format("unknown filter '{}'", t.text));
        return nullptr;
    }
    next();
    e->a = std::move(operand);
    if (is_op("(") && !parse_args(*e, false)) return nullptr;
    const auto n = static_cast<int>(e->args.size());
    const FilterDef& f = *e->filter;
    if (n < f.min_args || n > f.max_args) {
        const std::string range =
            f.min_args == f.max_args ? std::to_string(f.min_args) : fmt::format("{} to {}", f.min_args, f.max_args);
        fail(e->pos,
             fmt::format("filter '{}' takes {} argument{}, got {}", e->name, range, range == "1" ? "" : "s", n));
        return nullptr;
    }
    return finish(std::move(e));
}

ExprPtr Parser::parse_test(ExprPtr operand) {
    auto e = node(Expr::Kind::Test, peek().pos);
    if (is_name("not")) {
        e->negated = true;
        next();
    }
    const Token& t = peek();
    if (t.kind != Tok::Name) {
        unexpected(t, "a test name");
        return nullptr;
    }
    const auto test = find_test(t.text);
    if (!test) {
        fail(t.pos, fmt::format("unknown test '{}'", t.text));
        return nullptr;
    }
    e->test = *test;
    e->name = t.text;
    e->pos = t.pos;
    e->a = std::move(operand);
    next();
    return finish(std::move(e));
}

}  // namespace kvmhub::tmpl
