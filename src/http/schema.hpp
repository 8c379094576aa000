// What a route accepts: every path parameter, query parameter and body field it reads, with
// its type, length and charset. The router checks a request against its route's input before
// the handler runs and answers 400 naming the field, so handlers never see a wrong-typed,
// oversized or control-character value, and a route cannot be added without saying what it
// takes (Router::seal() refuses it). `kvmhubd routes` prints the inputs; the generated
// bad-input test (tests/integration/bad_input_test.cpp) sends hostile values to every field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace kvmhub::http {

struct Request;

enum class Where { Path, Query, Body };

enum class Type {
    Text,   // UTF-8, no NUL or control characters (newline, tab and CR too when multiline)
    Name,   // [A-Za-z0-9._-]{1,64}, never "." or "..": safe as a path segment and in XML
    Uuid,   // 8-4-4-4-12 hexadecimal digits
    Int,    // a whole number in [min, max]: a JSON number or a decimal string (simplekvm sent both)
    Bool,   // true or false: a JSON boolean or the string "true"/"false"
    Enum,   // one of `choices`; a choice "pc-q35-*" also takes pc-q35-<digits and dots>
    Token,  // [A-Za-z0-9._~+=:@,-]: ids, tickets, link parts, comma lists (no '/', no spaces)
    Lines,  // multiline text, or a JSON list of one-line texts (ssh keys, DNS servers)
    Value,  // a template variable: text (multiline), number, boolean, null, or a list of those
};

const char* type_name(Type t);
const char* where_name(Where w);

struct Field {
    std::string name = {};
    Where where = Where::Query;
    Type type = Type::Text;
    bool required = false;                  // absent or "" is refused (800); an optional "" means absent
    bool multiline = false;                 // Text: newline, CR and tab allowed
    std::size_t max_len = 0;                // bytes; 0 = the type's default
    std::int64_t min = 0;                   // Int
    std::int64_t max = 0;                   // Int
    std::vector<std::string> choices = {};  // Enum
    std::string example = {};               // a valid value (the generated test builds valid requests from it)

    Field& need() {
        required = true;
        return *this;
    }
    Field& eg(std::string value) {
        example = std::move(value);
        return *this;
    }
    std::size_t limit() const;
};

// Field constructors; `where` is set by Input's path()/query()/body().
Field text(std::string name, std::size_t max_len, bool multiline = false);
Field name(std::string name);
Field uuid(std::string name);
Field integer(std::string name, std::int64_t min, std::int64_t max);
Field boolean(std::string name);
Field one_of(std::string name, std::vector<std::string> choices);
Field token(std::string name, std::size_t max_len);
Field lines(std::string name, std::size_t max_len);
Field value(std::string name);

enum class BodyKind {
    None,  // the handler reads no body (one sent is ignored)
    Json,  // a JSON object (no deeper than http.json_depth_limit)
    Text,  // UTF-8 text (a template's source)
    Form,  // multipart/form-data (the handler reads the parts)
};

// What happens to query parameters or JSON body fields the input does not name.
enum class Extras {
    Refuse,        // 400 (simplekvm's 998 "unknown parameter")
    Ignore,        // the handler never reads them
    TemplateVars,  // body: each extra key is a template variable ([A-Za-z_][A-Za-z0-9_]{0,63}) of type Value
    Flags,         // body: each extra key is a name with "on", "off" or "" (a host's device flags)
};

const char* body_kind_name(BodyKind k);
const char* extras_name(Extras e);

struct Input {
    bool declared = false;
    BodyKind body_kind = BodyKind::None;
    bool body_optional = false;  // Json: an empty body means {}
    Extras query_extras = Extras::Refuse;
    Extras body_extras = Extras::Refuse;
    std::vector<std::string> ignored_query = {};  // named parameters the handler does not read (k, e, l)
    std::vector<Field> fields = {};

    // Fluent declaration: Input::none().path(name("host")).query(...).
    static Input none();
    Input& path(Field f);
    Input& query(Field f);
    Input& body(Field f);
    Input& json(Extras extras = Extras::Refuse, bool optional = false);
    Input& text_body();
    Input& form();
    Input& other_query(Extras extras);
    Input& ignore_query(std::vector<std::string> names);

    const Field* find(Where where, std::string_view name) const;
    nlohmann::json to_json() const;
};

// Checks `request` against `input`; the error names the field. `json_depth` caps JSON nesting.
Status check_input(const Input& input, const Request& request, int json_depth);

// One value against a field, as check_input() does (for the unit tests and services).
Status check_string(const Field& field, std::string_view value);
Status check_json(const Field& field, const nlohmann::json& value);

// Valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view text);

}  // namespace kvmhub::http
