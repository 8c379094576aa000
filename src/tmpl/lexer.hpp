// Splits template source into text and tags, and tag contents into expression tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "tmpl/ast.hpp"

namespace kvmhub::tmpl {

enum class Tok : std::uint8_t {
    Data,        // text between tags (whitespace control already applied)
    VarBegin,    // {{
    VarEnd,      // }}
    BlockBegin,  // {%
    BlockEnd,    // %}
    Name,
    String,  // text holds the decoded value
    Int,
    Float,
    Op,  // text holds the operator: == != <= >= // ** + - * / % ~ < > = . , : | ( ) [ ] { }
    Eof,
};

struct Token {
    Tok kind = Tok::Eof;
    Pos pos;
    std::string text;
    std::int64_t int_value = 0;
    double float_value = 0;
};

struct Lexed {
    std::vector<Token> tokens;  // ends with Eof
    std::string description;    // a comment at offset 0, trimmed
};

// Applies Jinja's newline normalisation and drops one trailing newline first (keep_trailing_newline=False).
tl::expected<Lexed, Fault> lex(std::string_view source);

// Human spelling of a token for "unexpected ..." messages.
std::string describe(const Token& token);

}  // namespace kvmhub::tmpl
