// Recursive-descent parser from tokens to the AST, with Jinja's operator precedence.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "tmpl/ast.hpp"
#include "tmpl/lexer.hpp"

namespace kvmhub::tmpl {

struct Parsed {
    Body body;
    std::string description;
};

tl::expected<Parsed, Fault> parse_template(std::string_view source);

// Counts recursion through parentheses, list brackets, call arguments, `not` and unary minus, so that
// "((((..." fails cleanly instead of exhausting the stack.
class NestingGuard {
public:
    explicit NestingGuard(int& depth) : depth_(depth) { ++depth_; }
    ~NestingGuard() { --depth_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;
    bool too_deep() const { return depth_ > kMaxBlockNesting; }

private:
    int& depth_;
};

// Internal to parser*.cpp. Functions return null/false after recording the first fault.
class Parser {
public:
    explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

    bool parse(Body& out);
    const Fault& fault() const { return fault_; }

private:
    struct OpenBlock {
        std::string_view tag;  // "if", "for", "macro"
        Pos pos;
    };

    // Statements (parser.cpp).
    bool parse_body(Body& out, std::initializer_list<std::string_view> ends);
    bool parse_tag(Body& out, std::initializer_list<std::string_view> ends, bool& ended);
    bool parse_if(Body& out, Pos pos);
    bool parse_for(Body& out, Pos pos);
    bool parse_set(Body& out, Pos pos);
    bool parse_macro(Body& out, Pos pos);
    bool parse_block_body(Body& out, std::string_view tag, Pos pos, std::initializer_list<std::string_view> ends);
    bool expect_block_end();
    bool check_calls();
    bool assign_target(std::string& name);

    // Expressions (parser_expr.cpp), lowest precedence first.
    ExprPtr parse_expr(bool allow_cond = true);
    ExprPtr parse_or();
    ExprPtr parse_and();
    ExprPtr parse_not();
    ExprPtr parse_compare();
    ExprPtr parse_math1();
    ExprPtr parse_concat();
    ExprPtr parse_math2();
    ExprPtr parse_pow();
    ExprPtr parse_unary(bool with_filters);
    ExprPtr parse_primary();
    ExprPtr parse_postfix(ExprPtr node);
    ExprPtr parse_filters(ExprPtr node);
    ExprPtr parse_filter(ExprPtr node);
    ExprPtr parse_test(ExprPtr node);
    bool parse_args(Expr& call, bool allow_keywords);
    ExprPtr node(Expr::Kind kind, Pos pos);
    ExprPtr finish(ExprPtr e);  // sets depth, refuses trees deeper than kMaxExprDepth

    const Token& peek(std::size_t ahead = 0) const;
    const Token& next() { return tokens_[i_ < tokens_.size() - 1 ? i_++ : i_]; }
    bool is_op(std::string_view op, std::size_t ahead = 0) const;
    bool is_name(std::string_view name, std::size_t ahead = 0) const;
    bool skip_op(std::string_view op);
    bool expect_op(std::string_view op);
    bool fail(Pos pos, std::string reason);
    bool unexpected(const Token& t, std::string_view wanted = {});

    std::vector<Token> tokens_;
    std::size_t i_ = 0;
    Fault fault_;
    bool failed_ = false;
    std::vector<OpenBlock> open_;
    int expr_nesting_ = 0;
    int loop_refs_ = 0;                         // reads of `loop`, so for-loops that never use it skip building it
    std::set<std::string, std::less<>> bound_;  // every name a set/for/macro/argument binds
    std::vector<std::pair<std::string, Pos>> calls_;  // name(...) calls, checked against bound_ at the end
};

}  // namespace kvmhub::tmpl
