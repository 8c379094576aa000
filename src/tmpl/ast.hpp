// The parsed form of a template: statements holding expressions. Immutable once parsed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tmpl/value.hpp"

namespace kvmhub::tmpl {

struct Pos {
    int line = 1;
    int column = 1;
};

// An error inside the engine before the template name is attached.
struct Fault {
    Pos pos;
    std::string reason;
};

// Parser limits: nesting in the source must not turn into unbounded recursion later.
inline constexpr int kMaxBlockNesting = 64;  // if/for/macro inside each other
inline constexpr int kMaxExprDepth = 128;    // operators, filters and parentheses inside each other

struct FilterDef;

enum class BinOp : std::uint8_t { Add, Sub, Mul, Div, FloorDiv, Mod, Pow };
enum class CmpOp : std::uint8_t { Eq, Ne, Lt, Gt, Le, Ge, In, NotIn };
enum class TestKind : std::uint8_t {
    Defined,
    Undefined,
    None,
    True,
    False,
    Boolean,
    String,
    Number,
    Integer,
    Float,
    Mapping,
    Sequence,
    Odd,
    Even
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// One node type with a kind keeps the evaluator a single switch; the comments say which fields each kind uses.
struct Expr {
    enum class Kind : std::uint8_t {
        Literal,  // value
        Name,     // name
        List,     // args
        Attr,     // a.name
        Item,     // a[b]
        Call,     // name(args) with keywords[i] naming args[i] ("" = positional)
        Filter,   // a|filter(args); name = filter name
        Test,     // a is [not] test; negated; name = test name
        Not,      // not a
        Neg,      // -a
        Plus,     // +a
        Binary,   // a op b
        Concat,   // args[0] ~ args[1] ~ ...
        And,      // args[0] and args[1] and ...
        Or,       // args[0] or args[1] or ...
        Compare,  // a cmp[0] args[0] cmp[1] args[1] ...; cmp_pos[i] is where cmp[i] is written
        Cond,     // a if b else c (c may be null)
    };

    Kind kind = Kind::Literal;
    Pos pos;
    int depth = 1;  // 1 + the deepest child, capped by kMaxExprDepth at parse time
    Value value;
    std::string name;
    ExprPtr a, b, c;
    std::vector<ExprPtr> args;
    std::vector<std::string> keywords;
    BinOp op = BinOp::Add;
    std::vector<CmpOp> cmp;
    std::vector<Pos> cmp_pos;
    const FilterDef* filter = nullptr;
    TestKind test = TestKind::Defined;
    bool negated = false;
};

struct Stmt;
using Body = std::vector<Stmt>;

struct Param {
    std::string name;
    ExprPtr default_value;  // may be null
};

struct MacroDef {
    std::string name;
    Pos pos;
    std::vector<Param> params;
    Body body;
};

struct Branch {
    ExprPtr cond;
    Body body;
};

struct Stmt {
    enum class Kind : std::uint8_t {
        Text,    // text
        Output,  // {{ expr }}
        If,      // branches (if, elif...), else_body
        For,     // for name in expr: body, else_body; uses_loop says whether `loop` must be built
        Set,     // set name = expr
        Macro,   // macro
    };

    Kind kind = Kind::Text;
    Pos pos;
    std::string text;
    std::string name;
    ExprPtr expr;
    std::vector<Branch> branches;
    Body body;
    Body else_body;
    std::unique_ptr<MacroDef> macro;  // heap-held so values can point at it while the AST lives
    bool uses_loop = true;
};

}  // namespace kvmhub::tmpl
