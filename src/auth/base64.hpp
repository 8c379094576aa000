// Unpadded base64url (RFC 4648 §5), the encoding of JWT parts and of secrets in the store; and
// plain base64 for browsers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kvmhub::auth {

std::string base64url_encode(std::string_view bytes);
// Padded base64 of the original alphabet (RFC 4648 §4), what a browser's atob() reads.
std::string base64_encode(std::string_view bytes);
// Its inverse (padding required, as base64_encode writes it); nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

// Strict: rejects padding, whitespace, characters outside the alphabet and non-zero trailing
// bits, so each value has exactly one accepted encoding (no token malleability).
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace kvmhub::auth
