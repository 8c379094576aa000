#include "http/schema.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "http/message.hpp"

namespace kvmhub::http {
namespace {

constexpr std::size_t kDefaultText = 4096;
constexpr std::size_t kValueText = 64 * 1024;  // a template variable (ssh keys, user-data snippets)
constexpr std::size_t kMaxList = 256;

// What a value looks like in an error message: short, and printable.
std::string shown(std::string_view value) {
    std::string out;
    for (unsigned char c : value.substr(0, 40)) {
        if (c < 0x20 || c == 0x7f || c >= 0x80)
            out += fmt::format("\\x{:02x}", c);
        else
            out += static_cast<char>(c);
    }
    if (value.size() > 40) out += "...";
    return out;
}

// "a, b or c"; a versioned choice "pc-q35-*" shows as pc-q35-<version>.
std::string choice_list(const std::vector<std::string>& choices) {
    std::string out;
    for (std::size_t i = 0; i < choices.size(); ++i) {
        if (i > 0) out += i + 1 == choices.size() ? " or " : ", ";
        std::string_view c = choices[i];
        out += c.ends_with('*') ? std::string(c.substr(0, c.size() - 1)) + "<version>" : std::string(c);
    }
    return out;
}

tl::unexpected<Error> bad(const Field& f, std::string desc) {
    return fail(Errc::BadInput, f.name, fmt::format("'{}' {}", f.name, desc));
}

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

bool token_char(char c) {
    return name_char(c) || c == '~' || c == '+' || c == '=' || c == ':' || c == '@' || c == ',';
}

bool hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_uuid_text(std::string_view v) {
    if (v.size() != 36) return false;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? v[i] != '-' : !hex(v[i])) return false;
    }
    return true;
}

bool matches_choice(std::string_view choice, std::string_view v) {
    if (choice.ends_with('*')) {
        choice.remove_suffix(1);
        if (!v.starts_with(choice) || v.size() == choice.size()) return false;
        v.remove_prefix(choice.size());
        return std::all_of(v.begin(), v.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    }
    return choice == v;
}

// Text rules: UTF-8, no NUL, no control characters except \n \r \t when multiline.
Status check_text(const Field& f, std::string_view v, bool multiline) {
    if (!valid_utf8(v)) return bad(f, "is not valid UTF-8");
    for (unsigned char c : v) {
        if (c == 0) return bad(f, "must not contain a NUL byte");
        if ((c < 0x20 && !(multiline && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f)
            return bad(f, fmt::format("must not contain control characters (found \\x{:02x}){}", c,
                                      multiline ? "" : "; it is one line"));
    }
    return {};
}

Result<std::int64_t> parse_int(std::string_view v) {
    std::int64_t out = 0;
    if (v.empty()) return fail(Errc::BadInput, "", "");
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size()) return fail(Errc::BadInput, "", "");
    return out;
}

Status check_int(const Field& f, std::int64_t v) {
    if (v < f.min || v > f.max) return bad(f, fmt::format("must be a whole number from {} to {}", f.min, f.max));
    return {};
}

Status check_scalar_value(const Field& f, const nlohmann::json& v) {
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (s.size() > f.limit()) return bad(f, fmt::format("is longer than {} bytes", f.limit()));
        return check_text(f, s, true);
    }
    if (v.is_number() || v.is_boolean() || v.is_null()) return {};
    return bad(f, fmt::format("must be a string, a number, a boolean or a list of those, got {}", v.type_name()));
}

// Template variable names: identifiers, as the template engine reads them.
bool variable_name(std::string_view k) {
    if (k.empty() || k.size() > 64) return false;
    if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_')) return false;
    return std::all_of(k.begin(), k.end(), [](char c) { return name_char(c) && c != '.' && c != '-'; });
}

Status check_body_json(const Input& input, std::string_view body, int json_depth) {
    nlohmann::json doc = nlohmann::json::object();
    if (!body.empty() || !input.body_optional) {
        if (body.empty()) return fail(Errc::BadInput, "body", "the request body is empty; send a JSON object");
        bool too_deep = false;
        auto depth_guard = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
            if (depth > json_depth) too_deep = true;
            return depth <= json_depth;
        };
        try {
            doc = nlohmann::json::parse(body, depth_guard);
        } catch (const nlohmann::json::parse_error& e) {
            const std::string_view what = e.what();
            return fail(Errc::BadInput, "body",
                        fmt::format("malformed JSON at byte {}: {}", e.byte, what.substr(what.find(' ') + 1)));
        }
        if (too_deep) return fail(Errc::BadInput, "body", fmt::format("JSON nested deeper than {} levels", json_depth));
        if (!doc.is_object())
            return fail(Errc::BadInput, "body", fmt::format("expected a JSON object, got {}", doc.type_name()));
    }
    for (const Field& f : input.fields) {
        if (f.where != Where::Body) continue;
        auto it = doc.find(f.name);
        if (it == doc.end() || it->is_null()) {
            if (f.required) return fail(Errc::BadInput, f.name, fmt::format("'{}' is required", f.name), 800);
            continue;
        }
        if (auto ok = check_json(f, *it); !ok) return ok;
    }
    // simplekvm's host form sends "n/a" for every unticked device box.
    Field extra = input.body_extras == Extras::Flags ? one_of("", {"on", "off", "n/a"}) : value("");
    for (const auto& [key, v] : doc.items()) {
        if (input.find(Where::Body, key)) continue;
        switch (input.body_extras) {
            case Extras::Ignore:
                continue;
            case Extras::Refuse:
                return fail(Errc::BadInput, shown(key), fmt::format("unknown field '{}' for this request", shown(key)));
            case Extras::TemplateVars:
                if (!variable_name(key))
                    return fail(
                        Errc::BadInput, shown(key),
                        fmt::format("'{}' is not a variable name: use [A-Za-z_][A-Za-z0-9_]*, at most 64", shown(key)));
                break;
            case Extras::Flags: {
                Field as_name = name(key);
                if (!check_string(as_name, key))
                    return fail(Errc::BadInput, shown(key),
                                fmt::format("unknown field '{}': a device flag is a template name", shown(key)));
                break;
            }
        }
        extra.name = key;
        if (auto ok = check_json(extra, v); !ok) {
            if (input.body_extras == Extras::Flags)
                return fail(Errc::BadInput, key,
                            fmt::format("unknown field '{}': not a field of this request, nor a device template "
                                        "flag (\"on\", \"off\", \"n/a\" or \"\")",
                                        key));
            return ok;
        }
    }
    return {};
}

}  // namespace

const char* type_name(Type t) {
    switch (t) {
        case Type::Text:
            return "text";
        case Type::Name:
            return "name";
        case Type::Uuid:
            return "uuid";
        case Type::Int:
            return "int";
        case Type::Bool:
            return "bool";
        case Type::Enum:
            return "enum";
        case Type::Token:
            return "token";
        case Type::Lines:
            return "lines";
        case Type::Value:
            return "value";
    }
    return "?";
}

const char* where_name(Where w) {
    switch (w) {
        case Where::Path:
            return "path";
        case Where::Query:
            return "query";
        case Where::Body:
            return "body";
    }
    return "?";
}

const char* body_kind_name(BodyKind k) {
    switch (k) {
        case BodyKind::None:
            return "none";
        case BodyKind::Json:
            return "json";
        case BodyKind::Text:
            return "text";
        case BodyKind::Form:
            return "form";
    }
    return "?";
}

const char* extras_name(Extras e) {
    switch (e) {
        case Extras::Refuse:
            return "refuse";
        case Extras::Ignore:
            return "ignore";
        case Extras::TemplateVars:
            return "template-vars";
        case Extras::Flags:
            return "flags";
    }
    return "?";
}

std::size_t Field::limit() const {
    if (max_len) return max_len;
    switch (type) {
        case Type::Name:
            return 64;
        case Type::Uuid:
            return 36;
        case Type::Int:
        case Type::Bool:
            return 24;
        case Type::Value:
            return kValueText;
        default:
            return kDefaultText;
    }
}

Field text(std::string n, std::size_t max_len, bool multiline) {
    Field f{.name = std::move(n), .type = Type::Text, .multiline = multiline, .max_len = max_len};
    f.example = "some text";
    return f;
}
Field name(std::string n) {
    Field f{.name = std::move(n), .type = Type::Name};
    f.example = "n1";
    return f;
}
Field uuid(std::string n) {
    Field f{.name = std::move(n), .type = Type::Uuid};
    f.example = "00000000-0000-4000-8000-000000000001";
    return f;
}
Field integer(std::string n, std::int64_t min, std::int64_t max) {
    Field f{.name = std::move(n), .type = Type::Int, .min = min, .max = max};
    f.example = std::to_string(min);
    return f;
}
Field boolean(std::string n) {
    Field f{.name = std::move(n), .type = Type::Bool};
    f.example = "false";
    return f;
}
Field one_of(std::string n, std::vector<std::string> choices) {
    Field f{.name = std::move(n), .type = Type::Enum, .choices = std::move(choices)};
    if (!f.choices.empty()) f.example = f.choices.front();
    return f;
}
Field token(std::string n, std::size_t max_len) {
    Field f{.name = std::move(n), .type = Type::Token, .max_len = max_len};
    f.example = "t1";
    return f;
}
Field lines(std::string n, std::size_t max_len) {
    Field f{.name = std::move(n), .type = Type::Lines, .multiline = true, .max_len = max_len};
    f.example = "line one";
    return f;
}
Field value(std::string n) {
    Field f{.name = std::move(n), .type = Type::Value, .multiline = true};
    f.example = "v1";
    return f;
}

Input Input::none() {
    Input in;
    in.declared = true;
    return in;
}
Input& Input::path(Field f) {
    f.where = Where::Path;
    f.required = true;
    fields.push_back(std::move(f));
    return *this;
}
Input& Input::query(Field f) {
    f.where = Where::Query;
    fields.push_back(std::move(f));
    return *this;
}
Input& Input::body(Field f) {
    f.where = Where::Body;
    fields.push_back(std::move(f));
    return *this;
}
Input& Input::json(Extras extras, bool optional) {
    body_kind = BodyKind::Json;
    body_extras = extras;
    body_optional = optional;
    return *this;
}
Input& Input::text_body() {
    body_kind = BodyKind::Text;
    return *this;
}
Input& Input::form() {
    body_kind = BodyKind::Form;
    return *this;
}
Input& Input::other_query(Extras extras) {
    query_extras = extras;
    return *this;
}
Input& Input::ignore_query(std::vector<std::string> names) {
    for (auto& n : names) ignored_query.push_back(std::move(n));
    return *this;
}

const Field* Input::find(Where where, std::string_view n) const {
    for (const Field& f : fields)
        if (f.where == where && f.name == n) return &f;
    return nullptr;
}

nlohmann::json Input::to_json() const {
    nlohmann::json out = {{"body", body_kind_name(body_kind)},
                          {"body_optional", body_optional},
                          {"query_extras", extras_name(query_extras)},
                          {"body_extras", extras_name(body_extras)},
                          {"ignored_query", ignored_query},
                          {"fields", nlohmann::json::array()}};
    for (const Field& f : fields) {
        nlohmann::json j = {{"name", f.name},         {"where", where_name(f.where)}, {"type", type_name(f.type)},
                            {"required", f.required}, {"multiline", f.multiline},     {"max_len", f.limit()},
                            {"example", f.example}};
        if (f.type == Type::Int) {
            j["min"] = f.min;
            j["max"] = f.max;
        }
        if (f.type == Type::Enum) j["choices"] = f.choices;
        out["fields"].push_back(std::move(j));
    }
    return out;
}

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

Status check_string(const Field& f, std::string_view v) {
    // "" is absent: refused for a required field (simplekvm's 800), else the default applies.
    if (v.empty()) {
        if (f.required) return fail(Errc::BadInput, f.name, fmt::format("'{}' must not be empty", f.name), 800);
        return {};
    }
    // A name's own message says how long it may be.
    if (v.size() > f.limit() && f.type != Type::Name) return bad(f, fmt::format("is longer than {} bytes", f.limit()));
    switch (f.type) {
        case Type::Text:
            return check_text(f, v, f.multiline);
        case Type::Lines:
        case Type::Value:
            return check_text(f, v, true);
        case Type::Name:
            if (v == "." || v == ".." || v.size() > f.limit() || !std::all_of(v.begin(), v.end(), name_char))
                return fail(Errc::BadInput, f.name,
                            fmt::format("'{}' is not a valid {}: use 1 to 64 letters, digits, '.', '_' or '-'",
                                        shown(v), f.name));
            return {};
        case Type::Uuid:
            if (!is_uuid_text(v)) return bad(f, fmt::format("is '{}': not a UUID", shown(v)));
            return {};
        case Type::Token:
            if (v.empty() || !std::all_of(v.begin(), v.end(), token_char))
                return bad(f, fmt::format("is '{}': use only A-Z a-z 0-9 and . _ ~ + = : @ , -", shown(v)));
            return {};
        case Type::Int: {
            auto n = parse_int(v);
            if (!n) return bad(f, fmt::format("is '{}': give a whole number from {} to {}", shown(v), f.min, f.max));
            return check_int(f, *n);
        }
        case Type::Bool:
            if (v != "true" && v != "false") return bad(f, fmt::format("is '{}': give true or false", shown(v)));
            return {};
        case Type::Enum:
            for (const auto& c : f.choices)
                if (matches_choice(c, v)) return {};
            return bad(f, fmt::format("is '{}': use {}", shown(v), choice_list(f.choices)));
    }
    return {};
}

Status check_json(const Field& f, const nlohmann::json& v) {
    switch (f.type) {
        case Type::Int:
            if (v.is_number_integer()) {
                if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(f.max))
                    return bad(f, fmt::format("must be a whole number from {} to {}", f.min, f.max));
                return check_int(f, v.get<std::int64_t>());
            }
            if (v.is_number_float()) {
                const double d = v.get<double>();
                if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(f.min) ||
                    d > static_cast<double>(f.max))
                    return bad(f, fmt::format("must be a whole number from {} to {}", f.min, f.max));
                return {};
            }
            if (v.is_string()) return check_string(f, v.get_ref<const std::string&>());
            return bad(f, fmt::format("must be a whole number from {} to {}, got {}", f.min, f.max, v.type_name()));
        case Type::Bool:
            if (v.is_boolean()) return {};
            if (v.is_string()) return check_string(f, v.get_ref<const std::string&>());
            return bad(f, fmt::format("must be true or false, got {}", v.type_name()));
        case Type::Lines:
            if (v.is_array()) {
                if (v.size() > kMaxList) return bad(f, fmt::format("has more than {} items", kMaxList));
                std::size_t total = 0;
                for (const auto& item : v) {
                    if (!item.is_string())
                        return bad(f, fmt::format("must be a list of strings, got {} in it", item.type_name()));
                    const auto& s = item.get_ref<const std::string&>();
                    total += s.size();
                    if (total > f.limit()) return bad(f, fmt::format("is longer than {} bytes", f.limit()));
                    if (auto ok = check_text(f, s, false); !ok) return ok;
                }
                return {};
            }
            if (v.is_string()) return check_string(f, v.get_ref<const std::string&>());
            return bad(f, fmt::format("must be text or a list of strings, got {}", v.type_name()));
        case Type::Value:
            if (v.is_array()) {
                if (v.size() > kMaxList) return bad(f, fmt::format("has more than {} items", kMaxList));
                for (const auto& item : v)
                    if (auto ok = check_scalar_value(f, item); !ok) return ok;
                return {};
            }
            return check_scalar_value(f, v);
        default:
            // A whole number is taken as its decimal text: simplekvm's clients send names and
            // ports either way.
            if (v.is_number_integer()) return check_string(f, v.dump());
            if (!v.is_string()) return bad(f, fmt::format("must be a string, got {}", v.type_name()));
            return check_string(f, v.get_ref<const std::string&>());
    }
}

Status check_input(const Input& input, const Request& req, int json_depth) {
    for (const Field& f : input.fields) {
        if (f.where != Where::Path) continue;
        const std::string* v = req.param(f.name);
        if (auto ok = check_string(f, v ? *v : std::string()); !ok) return ok;
    }
    for (std::size_t i = 0; i < req.query.size(); ++i) {
        const auto& [key, v] = req.query[i];
        if (std::find(input.ignored_query.begin(), input.ignored_query.end(), key) != input.ignored_query.end())
            continue;
        const Field* f = input.find(Where::Query, key);
        if (f == nullptr) {
            if (input.query_extras == Extras::Ignore) continue;
            return fail(Errc::BadInput, shown(key), fmt::format("unknown parameter '{}' for this command", shown(key)),
                        998);
        }
        for (std::size_t j = 0; j < i; ++j)
            if (req.query[j].first == key)
                return fail(Errc::BadInput, f->name, fmt::format("'{}' is given more than once", f->name));
        if (auto ok = check_string(*f, v); !ok) return ok;
    }
    for (const Field& f : input.fields)
        if (f.where == Where::Query && f.required && !req.query_param(f.name))
            return fail(Errc::BadInput, f.name, fmt::format("query parameter '{}' is required", f.name), 800);
    switch (input.body_kind) {
        case BodyKind::None:
            return {};
        case BodyKind::Json:
            return check_body_json(input, req.body, json_depth);
        case BodyKind::Text: {
            Field body = text("body", req.body.size() + 1, true);
            return check_text(body, req.body, true);
        }
        case BodyKind::Form: {
            const std::string* type = req.header("content-type");
            if (!type || !std::string_view(*type).starts_with("multipart/form-data"))
                return fail(Errc::BadInput, "body", "send the body as multipart/form-data");
            return {};
        }
    }
    return {};
}

}  // namespace kvmhub::http
