#include <fmt/format.h>

#include "tmpl/filters.hpp"
#include "tmpl/render.hpp"

namespace kvmhub::tmpl {

namespace {

tl::unexpected<Fault> fault(Pos pos, std::string reason) {
    return tl::unexpected(Fault{pos, std::move(reason)});
}

}  // namespace

Renderer::Eval Renderer::eval(const Expr& e, const Scope& scope) {
    DepthGuard guard(depth_);
    if (guard.too_deep()) return fault(e.pos, DepthGuard::reason());
    if (!budget_.take(1)) return tl::unexpected(steps_exhausted(e.pos));
    auto v = eval_node(e, scope);
    if (v && budget_.exhausted) return tl::unexpected(steps_exhausted(e.pos));
    return v;
}

std::string Renderer::describe_target(const Expr& e) {
    switch (e.kind) {
        case Expr::Kind::Name:
            return e.name;
        case Expr::Kind::Attr:
            return describe_target(*e.a) + "." + e.name;
        case Expr::Kind::Item:
            if (e.b->kind == Expr::Kind::Literal && (e.b->value.is_string() || e.b->value.kind() == Value::Kind::Int)) {
                std::string key;
                append_repr(e.b->value, key, 256);
                return describe_target(*e.a) + "[" + key + "]";
            }
            return describe_target(*e.a) + "[...]";
        default:
            return "value";
    }
}

Renderer::Eval Renderer::eval_node(const Expr& e, const Scope& scope) {
    using K = Expr::Kind;
    switch (e.kind) {
        case K::Literal:
            return e.value;
        case K::Name:
            return lookup(e.name, scope);
        case K::List:
            return eval_list(e, scope);
        case K::Attr:
        case K::Item: {
            auto obj = eval(*e.a, scope);
            if (!obj) return obj;
            Value v;
            if (e.kind == K::Attr) {
                v = obj->attr(e.name);
            } else {
                auto key = eval(*e.b, scope);
                if (!key) return key;
                v = obj->item(*key);
            }
            if (v.is_undefined()) return Value::undefined(describe_target(e));
            return v;
        }
        case K::Call:
            return eval_call(e, scope);
        case K::Filter:
            return eval_filter(e, scope);
        case K::Test: {
            auto v = eval(*e.a, scope);
            if (!v) return v;
            const auto result = run_test(e.test, *v);
            if (!result)
                return fault(e.pos, fmt::format("test '{}' needs an integer, got '{}'", e.name, v->type_name()));
            return Value(*result != e.negated);
        }
        case K::Not: {
            auto v = eval(*e.a, scope);
            if (!v) return v;
            return Value(!v->truthy());
        }
        case K::Neg:
        case K::Plus: {
            auto v = eval(*e.a, scope);
            if (!v) return v;
            auto r = negate(*v, e.kind == K::Neg);
            if (!r) return fault(e.pos, std::move(r.error()));
            return std::move(*r);
        }
        case K::Binary: {
            auto a = eval(*e.a, scope);
            if (!a) return a;
            auto b = eval(*e.b, scope);
            if (!b) return b;
            auto r = binary_op(e.op, *a, *b, limits_, budget_);
            if (!r) return fault(e.pos, std::move(r.error()));
            return std::move(*r);
        }
        case K::Concat:
            return eval_concat(e, scope);
        case K::And:
        case K::Or: {
            // Python's and/or return the deciding operand, not a bool.
            Eval v;
            for (const auto& operand : e.args) {
                v = eval(*operand, scope);
                if (!v || v->truthy() == (e.kind == K::Or)) return v;
            }
            return v;
        }
        case K::Compare:
            return eval_compare(e, scope);
        case K::Cond: {
            auto cond = eval(*e.b, scope);
            if (!cond) return cond;
            if (cond->truthy()) return eval(*e.a, scope);
            if (e.c) return eval(*e.c, scope);
            return Value::undefined("value");
        }
    }
    return Value();
}

Renderer::Eval Renderer::eval_list(const Expr& e, const Scope& scope) {
    if (e.args.size() > options_.max_items) {
        return fault(e.pos, fmt::format("list grows past the limit of {} items", options_.max_items));
    }
    Value::List items;
    items.reserve(e.args.size());
    for (const auto& arg : e.args) {
        auto v = eval(*arg, scope);
        if (!v) return v;
        items.push_back(std::move(*v));
    }
    if (list_depth(items) > kMaxValueDepth) {
        return fault(e.pos, fmt::format("lists are nested more than {} deep", kMaxValueDepth));
    }
    return Value::list(std::move(items));
}

Renderer::Eval Renderer::eval_call(const Expr& e, const Scope& scope) {
    const Value callee = lookup(e.name, scope);
    std::vector<Value> args;
    args.reserve(e.args.size());
    for (const auto& arg : e.args) {
        auto v = eval(*arg, scope);
        if (!v) return v;
        args.push_back(std::move(*v));
    }
    if (callee.kind() == Value::Kind::Macro) return call_macro(e, callee.macro(), args, scope);
    if (e.name == "range" && callee.is_undefined()) return call_range(e, args);
    if (callee.is_undefined()) return fault(e.pos, fmt::format("'{}' is undefined", e.name));
    return fault(e.pos, fmt::format("'{}' is not a macro (it is of type '{}')", e.name, callee.type_name()));
}

Renderer::Eval Renderer::call_macro(const Expr& e, const Value::Macro& m, std::vector<Value>& args, const Scope&) {
    const MacroDef& def = *m.def;
    if (call_depth_ >= options_.max_call_depth) {
        return fault(e.pos, fmt::format("macro calls are nested more than {} deep", options_.max_call_depth));
    }
    Scope frame{m.closure, {}};
    std::vector<bool> given(def.params.size(), false);
    std::size_t next_positional = 0;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& keyword = e.keywords[i];
        std::size_t index = next_positional;
        if (keyword.empty()) {
            if (next_positional >= def.params.size()) {
                return fault(e.pos, fmt::format("macro '{}' takes at most {} argument{}", def.name, def.params.size(),
                                                def.params.size() == 1 ? "" : "s"));
            }
            ++next_positional;
        } else {
            index = 0;
            while (index < def.params.size() && def.params[index].name != keyword) ++index;
            if (index == def.params.size()) {
                return fault(e.pos, fmt::format("macro '{}' has no argument '{}'", def.name, keyword));
            }
            if (given[index]) return fault(e.pos, fmt::format("macro '{}' got argument '{}' twice", def.name, keyword));
        }
        given[index] = true;
        frame.set(def.params[index].name, std::move(args[i]));
    }
    for (std::size_t i = 0; i < def.params.size(); ++i) {
        if (given[i]) continue;
        const Param& p = def.params[i];
        if (!p.default_value) {
            frame.set(p.name, Value::undefined(p.name));
            continue;
        }
        auto v = eval(*p.default_value, frame);
        if (!v) return v;
        frame.set(p.name, std::move(*v));
    }
    ++call_depth_;
    std::string text;
    auto ok = exec(def.body, frame, text);
    --call_depth_;
    if (!ok) return tl::unexpected(std::move(ok.error()));
    // Jinja returns Markup from macros when autoescaping, so their output is not escaped twice.
    return Value(std::move(text), options_.autoescape);
}

Renderer::Eval Renderer::call_range(const Expr& e, const std::vector<Value>& args) {
    if (args.empty() || args.size() > 3) return fault(e.pos, "range() takes 1 to 3 arguments");
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto kind = args[i].kind();
        if (!e.keywords[i].empty()) return fault(e.pos, "range() takes no keyword arguments");
        if (kind != Value::Kind::Int && kind != Value::Kind::Bool) {
            return fault(e.pos, fmt::format("range() takes integers, got '{}'", args[i].type_name()));
        }
    }
    const std::int64_t start = args.size() > 1 ? args[0].as_int() : 0;
    const std::int64_t stop = args.size() > 1 ? args[1].as_int() : args[0].as_int();
    const std::int64_t step = args.size() > 2 ? args[2].as_int() : 1;
    if (step == 0) return fault(e.pos, "range() step must not be zero");
    // Unsigned arithmetic: the distance between two int64 values always fits, and wrapping is defined.
    const auto ustart = static_cast<std::uint64_t>(start);
    const auto ustep = static_cast<std::uint64_t>(step);
    std::uint64_t count = 0;
    if (step > 0 && stop > start) count = (static_cast<std::uint64_t>(stop) - ustart - 1) / ustep + 1;
    if (step < 0 && stop < start) count = (ustart - static_cast<std::uint64_t>(stop) - 1) / (0 - ustep) + 1;
    if (count > options_.max_items)
        return fault(e.pos, fmt::format("range() of more than {} items", options_.max_items));
    if (!budget_.take(count)) return tl::unexpected(steps_exhausted(e.pos));
    Value::List items;
    items.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) items.emplace_back(static_cast<std::int64_t>(ustart + i * ustep));
    return Value::list(std::move(items));
}

Renderer::Eval Renderer::eval_filter(const Expr& e, const Scope& scope) {
    auto input = eval(*e.a, scope);
    if (!input) return input;
    std::vector<Value> args;
    args.reserve(e.args.size());
    for (const auto& arg : e.args) {
        auto v = eval(*arg, scope);
        if (!v) return v;
        args.push_back(std::move(*v));
    }
    FilterEnv env;
    env.autoescape = options_.autoescape;
    env.max_bytes = options_.max_output_bytes;
    env.budget = &budget_;
    env.random = [](void* self) { return static_cast<Renderer*>(self)->next_random(); };
    env.random_state = this;
    auto r = e.filter->fn(env, *input, args);
    if (!r) return fault(e.pos, std::move(r.error()));
    return std::move(*r);
}

Renderer::Eval Renderer::eval_concat(const Expr& e, const Scope& scope) {
    std::vector<Value> parts;
    parts.reserve(e.args.size());
    bool any_safe = false;
    for (const auto& arg : e.args) {
        auto v = eval(*arg, scope);
        if (!v) return v;
        any_safe = any_safe || v->safe();
        parts.push_back(std::move(*v));
    }
    // As Jinja's markup_join: with autoescape, concatenating safe text escapes the rest and stays safe.
    const bool escape = options_.autoescape && any_safe;
    std::string out;
    for (const Value& part : parts) {
        if (escape && !part.safe()) {
            auto text = to_string(part, options_.max_output_bytes);
            if (!text) return fault(e.pos, text.error());
            append_escaped(*text, out);
        } else if (!append_str(part, out, options_.max_output_bytes)) {
            return fault(e.pos, too_large(options_.max_output_bytes));
        }
        if (out.size() > options_.max_output_bytes) return fault(e.pos, too_large(options_.max_output_bytes));
    }
    return Value(std::move(out), escape);
}

Renderer::Eval Renderer::eval_compare(const Expr& e, const Scope& scope) {
    auto left = eval(*e.a, scope);
    if (!left) return left;
    for (std::size_t i = 0; i < e.args.size(); ++i) {
        auto right = eval(*e.args[i], scope);
        if (!right) return right;
        auto r = compare_op(e.cmp[i], *left, *right, budget_);
        if (!r) return fault(e.cmp_pos[i], std::move(r.error()));
        if (!*r) return Value(false);
        left = std::move(right);
    }
    return Value(true);
}

}  // namespace kvmhub::tmpl
