// Values that template expressions produce: Python-like scalars, immutable shared lists and dicts, macros.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <tl/expected.hpp>

namespace kvmhub::tmpl {

struct MacroDef;
struct Scope;

// Values deeper than this are refused so that printing, comparing and destroying them cannot exhaust the stack.
inline constexpr int kMaxValueDepth = 64;

class Value {
public:
    enum class Kind : std::uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Macro };
    using List = std::vector<Value>;
    using Dict = std::vector<std::pair<std::string, Value>>;  // insertion order; JSON objects arrive sorted
    struct Macro {
        const MacroDef* def;
        const Scope* closure;  // the scope the macro was defined in; see Scope for why a raw pointer is safe
    };

    Value() = default;  // undefined
    static Value undefined(std::string name) {
        Value v;
        v.data_ = std::move(name);
        return v;
    }
    static Value none() { return Value(Kind::None); }
    // Implicit on purpose: filters and operators return plain C++ values.
    Value(bool b) : kind_(Kind::Bool), data_(b) {}
    Value(std::int64_t i) : kind_(Kind::Int), data_(i) {}
    Value(int i) : Value(std::int64_t{i}) {}
    Value(double d) : kind_(Kind::Float), data_(d) {}
    Value(std::string s, bool safe = false) : kind_(Kind::String), safe_(safe), data_(std::move(s)) {}
    Value(const char* s) : Value(std::string(s)) {}  // not bool
    // Callers check kMaxValueDepth first (see list_depth()).
    static Value list(List items);
    static Value dict(Dict items);
    static Value macro(const MacroDef* def, const Scope* closure);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::Undefined; }
    bool is_none() const { return kind_ == Kind::None; }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
    bool safe() const { return safe_; }
    int depth() const { return depth_; }

    bool as_bool() const { return std::get<bool>(data_); }
    std::int64_t as_int() const { return kind_ == Kind::Bool ? std::get<bool>(data_) : std::get<std::int64_t>(data_); }
    double as_float() const;  // any number
    const std::string& str() const { return std::get<std::string>(data_); }
    std::string take_str() { return std::move(std::get<std::string>(data_)); }
    const List& items() const { return *std::get<std::shared_ptr<const List>>(data_); }
    const Dict& entries() const { return *std::get<std::shared_ptr<const Dict>>(data_); }
    const Macro& macro() const { return std::get<Macro>(data_); }
    // The variable name an undefined value came from, for error messages.
    const std::string& undefined_name() const { return std::get<std::string>(data_); }

    bool truthy() const;
    // Python's type name, for error messages ("str", "int", "NoneType", ...).
    const char* type_name() const;

    // `.name` and `[key]`; anything missing (or on undefined/none) is undefined.
    Value attr(std::string_view name) const;
    Value item(const Value& key) const;
    const Value* find(std::string_view key) const;  // dict member or nullptr

private:
    explicit Value(Kind k) : kind_(k) {}

    Kind kind_ = Kind::Undefined;
    bool safe_ = false;  // a string that must not be escaped again (markupsafe's Markup)
    std::uint8_t depth_ = 0;
    std::variant<std::string, bool, std::int64_t, double, std::shared_ptr<const List>, std::shared_ptr<const Dict>,
                 Macro>
        data_;
};

// Depth a list or dict holding `items` would have.
int list_depth(const Value::List& items);

// Python's str(): appends to `out`; false when `out` would pass `limit` bytes (output then incomplete).
bool append_str(const Value& v, std::string& out, std::size_t limit);
// str() as a new string, or the reason it is too long.
tl::expected<std::string, std::string> to_string(const Value& v, std::size_t limit);
std::string too_large(std::size_t limit);
// Python's repr() (used for list and dict elements).
bool append_repr(const Value& v, std::string& out, std::size_t limit);
// Python's repr() of a float: 2.5, 2.0, 1e+20, inf.
std::string format_float(double d);

// markupsafe's escape: & < > " ' become &amp; &lt; &gt; &#34; &#39;.
void append_escaped(std::string_view text, std::string& out);

// Work allowed to an operation whose cost depends on the data (comparing nested lists).
struct Budget {
    std::uint64_t left = 0;
    bool exhausted = false;
    bool take(std::uint64_t n) {
        if (n > left) {
            left = 0;
            exhausted = true;
            return false;
        }
        left -= n;
        return true;
    }
};

// Python ==, with bool as an int. Each element visited takes one from `budget`; when it runs out the
// result is false and budget.exhausted is set.
bool equals(const Value& a, const Value& b, Budget& budget);

// JSON context → values; fails past kMaxValueDepth.
tl::expected<Value, std::string> from_json(const nlohmann::json& j);

// UTF-8 helpers that never read past the end and take a malformed byte as one character.
std::size_t utf8_char_len(std::string_view s, std::size_t pos);
std::size_t utf8_length(std::string_view s);

}  // namespace kvmhub::tmpl
