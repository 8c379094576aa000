#include "tmpl/ops.hpp"

#include <cmath>

#include <fmt/format.h>

namespace kvmhub::tmpl {

namespace {

const char* symbol(BinOp op) {
    switch (op) {
        case BinOp::Add:
            return "+";
        case BinOp::Sub:
            return "-";
        case BinOp::Mul:
            return "*";
        case BinOp::Div:
            return "/";
        case BinOp::FloorDiv:
            return "//";
        case BinOp::Mod:
            return "%";
        case BinOp::Pow:
            return "**";
    }
    return "?";
}

const char* symbol(CmpOp op) {
    switch (op) {
        case CmpOp::Eq:
            return "==";
        case CmpOp::Ne:
            return "!=";
        case CmpOp::Lt:
            return "<";
        case CmpOp::Gt:
            return ">";
        case CmpOp::Le:
            return "<=";
        case CmpOp::Ge:
            return ">=";
        case CmpOp::In:
            return "in";
        case CmpOp::NotIn:
            return "not in";
    }
    return "?";
}

tl::unexpected<std::string> undefined(const Value& v) {
    return tl::unexpected(fmt::format("'{}' is undefined", v.undefined_name()));
}

bool is_int(const Value& v) {
    return v.kind() == Value::Kind::Int || v.kind() == Value::Kind::Bool;
}

OpResult float_op(BinOp op, double a, double b);

OpResult int_op(BinOp op, std::int64_t a, std::int64_t b) {
    std::int64_t r = 0;
    bool overflow = false;
    switch (op) {
        case BinOp::Add:
            overflow = __builtin_add_overflow(a, b, &r);
            break;
        case BinOp::Sub:
            overflow = __builtin_sub_overflow(a, b, &r);
            break;
        case BinOp::Mul:
            overflow = __builtin_mul_overflow(a, b, &r);
            break;
        case BinOp::Div:
            if (b == 0) return tl::unexpected(std::string("division by zero"));
            return Value(static_cast<double>(a) / static_cast<double>(b));
        case BinOp::FloorDiv:
            if (b == 0) return tl::unexpected(std::string("integer division by zero"));
            if (b == -1) {
                overflow = __builtin_sub_overflow(std::int64_t{0}, a, &r);
                break;
            }
            r = a / b;
            if (a % b != 0 && ((a < 0) != (b < 0))) --r;  // Python floors, C++ truncates
            break;
        case BinOp::Pow:
            if (b < 0) return float_op(op, static_cast<double>(a), static_cast<double>(b));
            r = 1;
            for (std::int64_t base = a, exp = b; exp > 0 && !overflow; exp >>= 1) {
                if ((exp & 1) != 0) overflow = __builtin_mul_overflow(r, base, &r);
                if (exp > 1 && !overflow) overflow = __builtin_mul_overflow(base, base, &base);
            }
            break;
        case BinOp::Mod:
            if (b == 0) return tl::unexpected(std::string("integer modulo by zero"));
            if (b == -1) return Value(0);  // INT64_MIN % -1 overflows in C++
            r = a % b;
            if (r != 0 && ((r < 0) != (b < 0))) r += b;  // Python: the result takes the divisor's sign
            break;
    }
    if (overflow) return tl::unexpected(fmt::format("integer overflow in {} {} {}", a, symbol(op), b));
    return Value(r);
}

OpResult float_op(BinOp op, double a, double b) {
    switch (op) {
        case BinOp::Add:
            return Value(a + b);
        case BinOp::Sub:
            return Value(a - b);
        case BinOp::Mul:
            return Value(a * b);
        case BinOp::Div:
            if (b == 0) return tl::unexpected(std::string("division by zero"));
            return Value(a / b);
        case BinOp::FloorDiv:
            if (b == 0) return tl::unexpected(std::string("float division by zero"));
            return Value(std::floor(a / b));
        case BinOp::Pow: {
            if (a == 0 && b < 0) return tl::unexpected(std::string("0 cannot be raised to a negative power"));
            if (a < 0 && b != std::floor(b))
                return tl::unexpected(std::string("negative number raised to a fractional power"));
            const double r = std::pow(a, b);
            if (std::isinf(r) && std::isfinite(a) && std::isfinite(b))
                return tl::unexpected(std::string("float overflow in **"));
            return Value(r);
        }
        case BinOp::Mod: {
            if (b == 0) return tl::unexpected(std::string("float modulo by zero"));
            double r = std::fmod(a, b);
            if (r != 0 && ((r < 0) != (b < 0))) r += b;
            return Value(r);
        }
    }
    return Value(0.0);
}

std::string escaped_unless_safe(const Value& v) {
    if (v.safe()) return v.str();
    std::string out;
    append_escaped(v.str(), out);
    return out;
}

OpResult add_strings(const Value& a, const Value& b, const OpLimits& limits) {
    // markupsafe: adding plain text to safe text escapes the plain text and stays safe.
    const bool safe = a.safe() || b.safe();
    std::string out = safe ? escaped_unless_safe(a) : a.str();
    out += safe ? escaped_unless_safe(b) : b.str();
    if (out.size() > limits.max_bytes) return tl::unexpected(too_large(limits.max_bytes));
    return Value(std::move(out), safe);
}

OpResult repeat(const Value& seq, std::int64_t n, const OpLimits& limits, Budget& budget) {
    if (n < 0) n = 0;
    const auto count = static_cast<std::uint64_t>(n);
    const bool empty = seq.is_string() ? seq.str().empty() : seq.items().empty();
    if (count == 0 || empty) return seq.is_string() ? Value(std::string(), seq.safe()) : Value::list({});
    if (seq.is_string()) {
        const std::size_t len = seq.str().size();
        if (count > limits.max_bytes / len) return tl::unexpected(too_large(limits.max_bytes));
        if (!budget.take(len * count / 64)) return Value();  // the renderer reports the exhausted budget
        std::string out;
        out.reserve(len * count);
        for (std::uint64_t i = 0; i < count; ++i) out += seq.str();
        return Value(std::move(out), seq.safe());
    }
    const std::size_t len = seq.items().size();
    if (count > limits.max_items / len) {
        return tl::unexpected(fmt::format("list grows past the limit of {} items", limits.max_items));
    }
    if (!budget.take(len * count)) return Value();
    Value::List out;
    out.reserve(len * count);
    for (std::uint64_t i = 0; i < count; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
    return Value::list(std::move(out));
}

tl::unexpected<std::string> unsupported(BinOp op, const Value& a, const Value& b) {
    return tl::unexpected(
        fmt::format("unsupported operand types for {}: '{}' and '{}'", symbol(op), a.type_name(), b.type_name()));
}

// Python's ordering: numbers by value, strings by code point (= UTF-8 byte order), lists element-wise.
tl::expected<int, std::string> order(const Value& a, const Value& b, CmpOp op, Budget& budget) {
    if (a.is_undefined()) return undefined(a);
    if (b.is_undefined()) return undefined(b);
    if (a.is_number() && b.is_number()) {
        if (is_int(a) && is_int(b)) return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
        const double x = a.as_float();
        const double y = b.as_float();
        if (std::isnan(x) || std::isnan(y)) return 2;  // unordered: every ordering test is false
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.is_string() && b.is_string()) {
        const int c = a.str().compare(b.str());
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a.kind() == Value::Kind::List && b.kind() == Value::Kind::List) {
        const auto& x = a.items();
        const auto& y = b.items();
        for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!equals(x[i], y[i], budget)) {
                if (budget.exhausted) return 0;
                return order(x[i], y[i], op, budget);
            }
        }
        return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    return tl::unexpected(
        fmt::format("'{}' is not supported between '{}' and '{}'", symbol(op), a.type_name(), b.type_name()));
}

tl::expected<bool, std::string> contains(const Value& item, const Value& container, Budget& budget) {
    switch (container.kind()) {
        case Value::Kind::Undefined:
            return false;  // Jinja's Undefined iterates as empty
        case Value::Kind::String:
            if (!item.is_string()) {
                return tl::unexpected(
                    fmt::format("'in <string>' requires a string on the left, not '{}'", item.type_name()));
            }
            // std::string::find can take haystack × needle steps.
            if (!budget.take(container.str().size() / 64 + container.str().size() * item.str().size() / 4096)) {
                return false;
            }
            return container.str().find(item.str()) != std::string::npos;
        case Value::Kind::List:
            for (const auto& element : container.items()) {
                if (equals(item, element, budget)) return true;
            }
            return false;
        case Value::Kind::Dict:
            if (!budget.take(container.entries().size())) return false;
            return item.is_string() && container.find(item.str()) != nullptr;
        default:
            return tl::unexpected(fmt::format("argument of type '{}' is not iterable", container.type_name()));
    }
}

}  // namespace

OpResult binary_op(BinOp op, const Value& a, const Value& b, const OpLimits& limits, Budget& budget) {
    if (a.is_undefined()) return undefined(a);
    if (b.is_undefined()) return undefined(b);
    if (a.is_number() && b.is_number()) {
        if (is_int(a) && is_int(b)) return int_op(op, a.as_int(), b.as_int());
        return float_op(op, a.as_float(), b.as_float());
    }
    using K = Value::Kind;
    if (op == BinOp::Add && a.is_string() && b.is_string()) return add_strings(a, b, limits);
    if (op == BinOp::Add && a.kind() == K::List && b.kind() == K::List) {
        if (a.items().size() + b.items().size() > limits.max_items) {
            return tl::unexpected(fmt::format("list grows past the limit of {} items", limits.max_items));
        }
        if (!budget.take(a.items().size() + b.items().size())) return Value();
        Value::List out = a.items();
        out.insert(out.end(), b.items().begin(), b.items().end());
        return Value::list(std::move(out));
    }
    if (op == BinOp::Mul) {
        const bool seq_a = a.is_string() || a.kind() == K::List;
        const bool seq_b = b.is_string() || b.kind() == K::List;
        if (seq_a && is_int(b)) return repeat(a, b.as_int(), limits, budget);
        if (seq_b && is_int(a)) return repeat(b, a.as_int(), limits, budget);
    }
    if (op == BinOp::Mod && a.is_string())
        return tl::unexpected(std::string("string formatting with % is not supported"));
    return unsupported(op, a, b);
}

tl::expected<bool, std::string> compare_op(CmpOp op, const Value& a, const Value& b, Budget& budget) {
    switch (op) {
        case CmpOp::Eq:
            return equals(a, b, budget);
        case CmpOp::Ne:
            return !equals(a, b, budget);
        case CmpOp::In:
            return contains(a, b, budget);
        case CmpOp::NotIn: {
            auto r = contains(a, b, budget);
            if (!r) return r;
            return !*r;
        }
        default:
            break;
    }
    auto c = order(a, b, op, budget);
    if (!c) return tl::unexpected(std::move(c.error()));
    if (*c == 2) return false;
    switch (op) {
        case CmpOp::Lt:
            return *c < 0;
        case CmpOp::Gt:
            return *c > 0;
        case CmpOp::Le:
            return *c <= 0;
        case CmpOp::Ge:
            return *c >= 0;
        default:
            return false;
    }
}

OpResult negate(const Value& v, bool minus) {
    switch (v.kind()) {
        case Value::Kind::Undefined:
            return undefined(v);
        case Value::Kind::Bool:
        case Value::Kind::Int: {
            if (!minus) return Value(v.as_int());
            std::int64_t r = 0;
            if (__builtin_sub_overflow(std::int64_t{0}, v.as_int(), &r)) {
                return tl::unexpected(fmt::format("integer overflow in -({})", v.as_int()));
            }
            return Value(r);
        }
        case Value::Kind::Float:
            return Value(minus ? -v.as_float() : v.as_float());
        default:
            return tl::unexpected(fmt::format("bad operand type for unary {}: '{}'", minus ? "-" : "+", v.type_name()));
    }
}

}  // namespace kvmhub::tmpl
