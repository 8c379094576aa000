// Expressions, with Jinja's precedence from loosest to tightest:
// `x if c else y`, or, and, not, comparisons and in, + -, ~, * / // %, **, unary - +, then primaries with
// `.attr`, `[key]`, calls, and `|filter` / `is test` (which bind tighter than every binary operator).
#include <algorithm>

#include <fmt/format.h>

#include "tmpl/parser.hpp"

namespace kvmhub::tmpl {

ExprPtr Parser::node(Expr::Kind kind, Pos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
}

ExprPtr Parser::finish(ExprPtr e) {
    int depth = 0;
    for (const Expr* child : {e->a.get(), e->b.get(), e->c.get()}) {
        if (child != nullptr) depth = std::max(depth, child->depth);
    }
    for (const auto& child : e->args) depth = std::max(depth, child->depth);
    e->depth = depth + 1;
    if (e->depth > kMaxExprDepth) {
        fail(e->pos, fmt::format("expression is nested more than {} deep", kMaxExprDepth));
        return nullptr;
    }
    return e;
}

ExprPtr Parser::parse_expr(bool allow_cond) {
    NestingGuard guard(expr_nesting_);
    if (guard.too_deep()) {
        fail(peek().pos, fmt::format("expression is nested more than {} deep", kMaxBlockNesting));
        return nullptr;
    }
    ExprPtr e = parse_or();
    while (e && allow_cond && is_name("if")) {
        auto cond = node(Expr::Kind::Cond, next().pos);
        cond->a = std::move(e);
        cond->b = parse_or();
        if (!cond->b) return nullptr;
        if (is_name("else")) {
            next();
            cond->c = parse_expr();
            if (!cond->c) return nullptr;
        }
        e = finish(std::move(cond));
    }
    return e;
}

ExprPtr Parser::parse_or() {
    ExprPtr first = parse_and();
    if (!first || !is_name("or")) return first;
    auto e = node(Expr::Kind::Or, first->pos);
    e->args.push_back(std::move(first));
    while (is_name("or")) {
        next();
        auto operand = parse_and();
        if (!operand) return nullptr;
        e->args.push_back(std::move(operand));
    }
    return finish(std::move(e));
}

ExprPtr Parser::parse_and() {
    ExprPtr first = parse_not();
    if (!first || !is_name("and")) return first;
    auto e = node(Expr::Kind::And, first->pos);
    e->args.push_back(std::move(first));
    while (is_name("and")) {
        next();
        auto operand = parse_not();
        if (!operand) return nullptr;
        e->args.push_back(std::move(operand));
    }
    return finish(std::move(e));
}

ExprPtr Parser::parse_not() {
    if (!is_name("not")) return parse_compare();
    NestingGuard guard(expr_nesting_);
    if (guard.too_deep()) {
        fail(peek().pos, fmt::format("expression is nested more than {} deep", kMaxBlockNesting));
        return nullptr;
    }
    auto e = node(Expr::Kind::Not, next().pos);
    e->a = parse_not();
    if (!e->a) return nullptr;
    return finish(std::move(e));
}

ExprPtr Parser::parse_compare() {
    ExprPtr first = parse_math1();
    if (!first) return nullptr;
    ExprPtr e;
    for (;;) {
        CmpOp op = CmpOp::Eq;
        const Token& t = peek();
        const Pos at = t.pos;
        if (t.kind == Tok::Op && t.text == "==") {
            op = CmpOp::Eq;
        } else if (t.kind == Tok::Op && t.text == "!=") {
            op = CmpOp::Ne;
        } else if (t.kind == Tok::Op && t.text == "<") {
            op = CmpOp::Lt;
        } else if (t.kind == Tok::Op && t.text == ">") {
            op = CmpOp::Gt;
        } else if (t.kind == Tok::Op && t.text == "<=") {
            op = CmpOp::Le;
        } else if (t.kind == Tok::Op && t.text == ">=") {
            op = CmpOp::Ge;
        } else if (is_name("in")) {
            op = CmpOp::In;
        } else if (is_name("not") && is_name("in", 1)) {
            op = CmpOp::NotIn;
            next();
        } else {
            break;
        }
        next();
        auto operand = parse_math1();
        if (!operand) return nullptr;
        if (!e) {
            e = node(Expr::Kind::Compare, first->pos);
            e->a = std::move(first);
        }
        e->cmp.push_back(op);
        e->cmp_pos.push_back(at);
        e->args.push_back(std::move(operand));
    }
    return e ? finish(std::move(e)) : std::move(first);
}

ExprPtr Parser::parse_math1() {
    ExprPtr left = parse_concat();
    while (left && (is_op("+") || is_op("-"))) {
        auto e = node(Expr::Kind::Binary, peek().pos);
        e->op = next().text == "+" ? BinOp::Add : BinOp::Sub;
        e->a = std::move(left);
        e->b = parse_concat();
        if (!e->b) return nullptr;
        left = finish(std::move(e));
    }
    return left;
}

ExprPtr Parser::parse_concat() {
    ExprPtr first = parse_math2();
    if (!first || !is_op("~")) return first;
    auto e = node(Expr::Kind::Concat, peek().pos);
    e->args.push_back(std::move(first));
    while (skip_op("~")) {
        auto part = parse_math2();
        if (!part) return nullptr;
        e->args.push_back(std::move(part));
    }
    return finish(std::move(e));
}

ExprPtr Parser::parse_math2() {
    ExprPtr left = parse_pow();
    while (left && (is_op("*") || is_op("/") || is_op("//") || is_op("%"))) {
        auto e = node(Expr::Kind::Binary, peek().pos);
        const std::string& op = next().text;
        e->op = op == "*" ? BinOp::Mul : (op == "/" ? BinOp::Div : (op == "//" ? BinOp::FloorDiv : BinOp::Mod));
        e->a = std::move(left);
        e->b = parse_pow();
        if (!e->b) return nullptr;
        left = finish(std::move(e));
    }
    return left;
}

// Left-associative and looser than unary minus, as in Jinja (not Python): -2 ** 2 is 4, 2 ** 3 ** 2 is 64.
ExprPtr Parser::parse_pow() {
    ExprPtr left = parse_unary(true);
    while (left && is_op("**")) {
        auto e = node(Expr::Kind::Binary, next().pos);
        e->op = BinOp::Pow;
        e->a = std::move(left);
        e->b = parse_unary(true);
        if (!e->b) return nullptr;
        left = finish(std::move(e));
    }
    return left;
}

ExprPtr Parser::parse_unary(bool with_filters) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
        NestingGuard guard(expr_nesting_);
        if (guard.too_deep()) {
            fail(peek().pos, fmt::format("expression is nested more than {} deep", kMaxBlockNesting));
            return nullptr;
        }
        e = node(is_op("-") ? Expr::Kind::Neg : Expr::Kind::Plus, peek().pos);
        next();
        e->a = parse_unary(false);
        if (!e->a) return nullptr;
        e = finish(std::move(e));
    } else {
        e = parse_primary();
    }
    if (e) e = parse_postfix(std::move(e));
    if (e && with_filters) e = parse_filters(std::move(e));
    return e;
}

ExprPtr Parser::parse_primary() {
    const Token& t = peek();
    switch (t.kind) {
        case Tok::Name: {
            auto e = node(Expr::Kind::Literal, t.pos);
            if (t.text == "true" || t.text == "True") {
                e->value = Value(true);
            } else if (t.text == "false" || t.text == "False") {
                e->value = Value(false);
            } else if (t.text == "none" || t.text == "None") {
                e->value = Value::none();
            } else {
                if (t.text == "loop") ++loop_refs_;
                e->kind = Expr::Kind::Name;
                e->name = t.text;
            }
            next();
            return e;
        }
        case Tok::String: {
            auto e = node(Expr::Kind::Literal, t.pos);
            std::string text;
            while (peek().kind == Tok::String) text += next().text;  // 'a' 'b' is 'ab', as in Python
            e->value = Value(std::move(text));
            return e;
        }
        case Tok::Int:
        case Tok::Float: {
            auto e = node(Expr::Kind::Literal, t.pos);
            e->value = t.kind == Tok::Int ? Value(t.int_value) : Value(t.float_value);
            next();
            return e;
        }
        case Tok::Op:
            if (t.text == "(") {
                next();
                ExprPtr e = parse_expr();
                if (!e) return nullptr;
                if (is_op(",")) {
                    fail(peek().pos, "tuples are not supported; use a list [a, b]");
                    return nullptr;
                }
                if (!expect_op(")")) return nullptr;
                return e;
            }
            if (t.text == "[") {
                auto e = node(Expr::Kind::List, next().pos);
                while (!skip_op("]")) {
                    auto item = parse_expr();
                    if (!item) return nullptr;
                    e->args.push_back(std::move(item));
                    if (!is_op("]") && !expect_op(",")) return nullptr;
                }
                return finish(std::move(e));
            }
            if (t.text == "{") {
                fail(t.pos, "dict literals are not supported");
                return nullptr;
            }
            break;
        default:
            break;
    }
    unexpected(t, "an expression");
    return nullptr;
}

}  // namespace kvmhub::tmpl
