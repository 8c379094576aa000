// Walks the AST against a context. One Renderer per render() call: all mutable state lives here.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <tl/expected.hpp>

#include "tmpl/ast.hpp"
#include "tmpl/ops.hpp"
#include "tmpl/template.hpp"

namespace kvmhub::tmpl {

// Variables visible at one point: a for-loop iteration, a macro call, or the template's top level.
// Macros keep a raw pointer to the scope they were defined in. That is safe because a value can only be
// stored in the scope that is running or a deeper one (set writes to the current scope, a macro call returns
// text), and every deeper scope ends before the one it came from.
struct Scope {
    const Scope* parent = nullptr;
    std::vector<std::pair<std::string_view, Value>> vars;

    const Value* find(std::string_view name) const {
        for (const auto& [n, v] : vars) {
            if (n == name) return &v;
        }
        return nullptr;
    }
    void set(std::string_view name, Value v) {
        for (auto& [n, old] : vars) {
            if (n == name) {
                old = std::move(v);
                return;
            }
        }
        vars.emplace_back(name, std::move(v));
    }
};

// exec() and eval() recurse; this caps the recursion of one render, macro calls included, well below what
// a thread's stack holds even with sanitizers.
inline constexpr int kMaxRenderDepth = 512;

class DepthGuard {
public:
    explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
    ~DepthGuard() { --depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    bool too_deep() const { return depth_ > kMaxRenderDepth; }
    static std::string reason() { return "templates and macros are nested too deeply to render"; }

private:
    int& depth_;
};

class Renderer {
public:
    explicit Renderer(const RenderOptions& options);

    tl::expected<std::string, Fault> run(const Body& body, const nlohmann::json& context);

private:
    using Eval = tl::expected<Value, Fault>;
    using Status = tl::expected<void, Fault>;

    // Statements (render.cpp).
    Status exec(const Body& body, Scope& scope, std::string& out);
    Status exec_stmt(const Stmt& s, Scope& scope, std::string& out);
    Status exec_for(const Stmt& s, Scope& scope, std::string& out);
    Status write(const Value& v, std::string& out, Pos pos);
    Status check_size(const std::string& out, Pos pos) const;

    // Expressions (render_expr.cpp).
    Eval eval(const Expr& e, const Scope& scope);
    Eval eval_node(const Expr& e, const Scope& scope);
    Eval eval_list(const Expr& e, const Scope& scope);
    Eval eval_call(const Expr& e, const Scope& scope);
    Eval call_macro(const Expr& e, const Value::Macro& m, std::vector<Value>& args, const Scope& scope);
    Eval call_range(const Expr& e, const std::vector<Value>& args);
    Eval eval_filter(const Expr& e, const Scope& scope);
    Eval eval_concat(const Expr& e, const Scope& scope);
    Eval eval_compare(const Expr& e, const Scope& scope);
    Value lookup(std::string_view name, const Scope& scope) const;
    std::uint64_t next_random();

    Fault steps_exhausted(Pos pos) const;
    static std::string describe_target(const Expr& e);

    const RenderOptions& options_;
    OpLimits limits_;
    Budget budget_;
    int depth_ = 0;                                            // exec/eval recursion, all macro calls included
    int call_depth_ = 0;                                       // nested macro calls
    std::vector<std::pair<std::string_view, Value>> globals_;  // the context, sorted by name
    std::mt19937_64 rng_;
    bool seeded_ = false;
};

}  // namespace kvmhub::tmpl
