#include "auth/base64.hpp"

#include <sodium.h>

#include "auth/password.hpp"

namespace kvmhub::auth {

namespace {

constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

std::string encode(std::string_view bytes, int variant) {
    ensure_sodium();
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                      variant);
    out.resize(out.size() - 1);  // libsodium counts and writes a terminating NUL
    return out;
}

std::optional<std::string> decode(std::string_view text, int variant) {
    ensure_sodium();
    std::string out(text.size() / 4 * 3 + 3, '\0');
    std::size_t len = 0;
    const char* end = nullptr;
    const int rc = sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(),
                                     nullptr, &len, &end, variant);
    if (rc != 0 || end != text.data() + text.size()) return std::nullopt;
    out.resize(len);
    return out;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
    return encode(bytes, kVariant);
}

std::string base64_encode(std::string_view bytes) {
    return encode(bytes, sodium_base64_VARIANT_ORIGINAL);
}

std::optional<std::string> base64url_decode(std::string_view text) {
    return decode(text, kVariant);
}

std::optional<std::string> base64_decode(std::string_view text) {
    return decode(text, sodium_base64_VARIANT_ORIGINAL);
}

}  // namespace kvmhub::auth
