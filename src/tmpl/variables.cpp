#include "tmpl/variables.hpp"

#include <set>
#include <string_view>

namespace kvmhub::tmpl {

namespace {

class VariableFinder {
public:
    std::vector<std::string> run(const Body& body) {
        scope(body, {});
        return {found_.begin(), found_.end()};
    }

private:
    using Names = std::set<std::string_view>;
    using Deferred = std::vector<const MacroDef*>;

    bool bound(std::string_view name) const {
        for (const auto& names : chain_) {
            if (names.contains(name)) return true;
        }
        return false;
    }

    void scope(const Body& body, Names initial) {
        chain_.push_back(std::move(initial));
        Deferred macros;
        statements(body, macros);
        for (const MacroDef* m : macros) macro(*m);
        chain_.pop_back();
    }

    void macro(const MacroDef& def) {
        chain_.emplace_back();
        for (const Param& p : def.params) {
            if (p.default_value) expr(*p.default_value);
            chain_.back().insert(p.name);
        }
        Deferred macros;
        statements(def.body, macros);
        for (const MacroDef* m : macros) macro(*m);
        chain_.pop_back();
    }

    void statements(const Body& body, Deferred& macros) {
        for (const Stmt& s : body) {
            switch (s.kind) {
                case Stmt::Kind::Text:
                    break;
                case Stmt::Kind::Output:
                    expr(*s.expr);
                    break;
                case Stmt::Kind::If:
                    for (const Branch& b : s.branches) {
                        expr(*b.cond);
                        statements(b.body, macros);
                    }
                    statements(s.else_body, macros);
                    break;
                case Stmt::Kind::For:
                    expr(*s.expr);
                    scope(s.body, {s.name, "loop"});
                    statements(s.else_body, macros);
                    break;
                case Stmt::Kind::Set:
                    expr(*s.expr);
                    chain_.back().insert(s.name);
                    break;
                case Stmt::Kind::Macro:
                    chain_.back().insert(s.macro->name);
                    macros.push_back(s.macro.get());
                    break;
            }
        }
    }

    void expr(const Expr& e) {
        // A call names a macro or range(), not an input.
        if (e.kind == Expr::Kind::Name && !bound(e.name)) found_.insert(e.name);
        for (const Expr* child : {e.a.get(), e.b.get(), e.c.get()}) {
            if (child != nullptr) expr(*child);
        }
        for (const auto& arg : e.args) expr(*arg);
    }

    std::vector<Names> chain_;
    std::set<std::string> found_;
};

}  // namespace

std::vector<std::string> find_variables(const Body& body) {
    return VariableFinder().run(body);
}

}  // namespace kvmhub::tmpl
