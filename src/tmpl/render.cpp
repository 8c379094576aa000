#include "tmpl/render.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kvmhub::tmpl {

Renderer::Renderer(const RenderOptions& options) : options_(options) {
    limits_.max_bytes = options.max_output_bytes;
    limits_.max_items = options.max_items;
    budget_.left = options.max_steps;
}

tl::expected<std::string, Fault> Renderer::run(const Body& body, const nlohmann::json& context) {
    if (!context.is_null() && !context.is_object())
        return tl::unexpected(Fault{{1, 1}, "the context must be a JSON object"});
    if (context.is_object()) {
        globals_.reserve(context.size());
        for (const auto& [key, value] : context.items()) {
            auto v = from_json(value);
            if (!v) return tl::unexpected(Fault{{1, 1}, fmt::format("variable '{}': {}", key, v.error())});
            globals_.emplace_back(key, std::move(*v));
        }
        // nlohmann keeps object members sorted already; sorting again keeps lookup correct for any object type.
        std::sort(globals_.begin(), globals_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    Scope top;
    std::string out;
    if (auto ok = exec(body, top, out); !ok) return tl::unexpected(std::move(ok.error()));
    return out;
}

Fault Renderer::steps_exhausted(Pos pos) const {
    return Fault{pos, fmt::format("rendering takes more than {} steps", options_.max_steps)};
}

Renderer::Status Renderer::check_size(const std::string& out, Pos pos) const {
    if (out.size() > options_.max_output_bytes) {
        return tl::unexpected(
            Fault{pos, fmt::format("output grows past the limit of {} bytes", options_.max_output_bytes)});
    }
    return {};
}

Renderer::Status Renderer::write(const Value& v, std::string& out, Pos pos) {
    if (options_.autoescape && !v.safe()) {
        if (v.is_string()) {
            append_escaped(v.str(), out);
        } else {
            auto text = to_string(v, options_.max_output_bytes);
            if (!text) return tl::unexpected(Fault{pos, text.error()});
            append_escaped(*text, out);
        }
    } else if (!append_str(v, out, options_.max_output_bytes)) {
        return tl::unexpected(
            Fault{pos, fmt::format("output grows past the limit of {} bytes", options_.max_output_bytes)});
    }
    return check_size(out, pos);
}

Renderer::Status Renderer::exec(const Body& body, Scope& scope, std::string& out) {
    DepthGuard guard(depth_);
    for (const Stmt& s : body) {
        if (guard.too_deep()) return tl::unexpected(Fault{s.pos, DepthGuard::reason()});
        if (!budget_.take(1)) return tl::unexpected(steps_exhausted(s.pos));
        if (auto ok = exec_stmt(s, scope, out); !ok) return ok;
    }
    return {};
}

Renderer::Status Renderer::exec_stmt(const Stmt& s, Scope& scope, std::string& out) {
    switch (s.kind) {
        case Stmt::Kind::Text:
            out += s.text;
            return check_size(out, s.pos);
        case Stmt::Kind::Output: {
            auto v = eval(*s.expr, scope);
            if (!v) return tl::unexpected(std::move(v.error()));
            return write(*v, out, s.expr->pos);
        }
        case Stmt::Kind::If:
            for (const Branch& branch : s.branches) {
                auto cond = eval(*branch.cond, scope);
                if (!cond) return tl::unexpected(std::move(cond.error()));
                if (cond->truthy()) return exec(branch.body, scope, out);
            }
            return exec(s.else_body, scope, out);
        case Stmt::Kind::For:
            return exec_for(s, scope, out);
        case Stmt::Kind::Set: {
            auto v = eval(*s.expr, scope);
            if (!v) return tl::unexpected(std::move(v.error()));
            scope.set(s.name, std::move(*v));
            return {};
        }
        case Stmt::Kind::Macro:
            scope.set(s.macro->name, Value::macro(s.macro.get(), &scope));
            return {};
    }
    return {};
}

Renderer::Status Renderer::exec_for(const Stmt& s, Scope& scope, std::string& out) {
    auto seq = eval(*s.expr, scope);
    if (!seq) return tl::unexpected(std::move(seq.error()));
    Value::List keys;  // dicts iterate over their keys, strings over their characters
    const Value::List* items = &keys;
    switch (seq->kind()) {
        case Value::Kind::List:
            items = &seq->items();
            break;
        case Value::Kind::Dict:
            for (const auto& entry : seq->entries()) keys.emplace_back(entry.first);
            break;
        case Value::Kind::String: {
            const std::string& text = seq->str();
            for (std::size_t pos = 0; pos < text.size(); pos += utf8_char_len(text, pos)) {
                keys.emplace_back(text.substr(pos, utf8_char_len(text, pos)));
            }
            break;
        }
        case Value::Kind::Undefined:
            break;
        default:
            return tl::unexpected(Fault{s.expr->pos, fmt::format("'{}' object is not iterable", seq->type_name())});
    }
    if (items->empty()) return exec(s.else_body, scope, out);
    const auto length = static_cast<std::int64_t>(items->size());
    for (std::int64_t i = 0; i < length; ++i) {
        if (!budget_.take(1)) return tl::unexpected(steps_exhausted(s.pos));
        Scope iteration{&scope, {}};
        iteration.set(s.name, (*items)[static_cast<std::size_t>(i)]);
        if (s.uses_loop) {
            iteration.set("loop", Value::dict({{"index", Value(i + 1)},
                                               {"index0", Value(i)},
                                               {"first", Value(i == 0)},
                                               {"last", Value(i == length - 1)},
                                               {"length", Value(length)},
                                               {"revindex", Value(length - i)},
                                               {"revindex0", Value(length - i - 1)}}));
        }
        if (auto ok = exec(s.body, iteration, out); !ok) return ok;
    }
    return {};
}

Value Renderer::lookup(std::string_view name, const Scope& scope) const {
    for (const Scope* s = &scope; s != nullptr; s = s->parent) {
        if (const Value* v = s->find(name)) return *v;
    }
    auto it = std::lower_bound(globals_.begin(), globals_.end(), name,
                               [](const auto& entry, std::string_view n) { return entry.first < n; });
    if (it != globals_.end() && it->first == name) return it->second;
    return Value::undefined(std::string(name));
}

std::uint64_t Renderer::next_random() {
    if (options_.random) return options_.random();
    if (!seeded_) {
        rng_.seed(options_.random_seed != 0 ? options_.random_seed : std::random_device{}());
        seeded_ = true;
    }
    return rng_();
}

}  // namespace kvmhub::tmpl
