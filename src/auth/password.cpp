#include "auth/password.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>
#include <sodium.h>

#include "auth/base64.hpp"

namespace kvmhub::auth {

namespace {

constexpr std::string_view kPasswordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
constexpr std::size_t kRandomPasswordLength = 20;

}  // namespace

void ensure_sodium() {
    static std::once_flag once;
    std::call_once(once, [] {
        // Without a working CSPRNG no secret or salt is safe: a broken environment, not an error to handle.
        if (sodium_init() < 0) {
            std::fputs("kvmhub: libsodium failed to initialise\n", stderr);
            std::abort();
        }
    });
}

Status validate_password(std::string_view password) {
    if (password.empty()) return fail(Errc::BadInput, "password", "password must not be empty");
    if (password.size() > kMaxPasswordBytes) {
        return fail(Errc::BadInput, "password", fmt::format("password must be at most {} bytes", kMaxPasswordBytes));
    }
    return {};
}

Result<std::string> hash_password(std::string_view password) {
    if (auto ok = validate_password(password); !ok) return tl::unexpected(ok.error());
    ensure_sodium();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return fail(Errc::Internal, "password", "could not hash the password (out of memory?)");
    }
    return std::string(out);
}

bool verify_password(std::string_view hash, std::string_view password) {
    if (!validate_password(password)) return false;
    if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
    ensure_sodium();
    const std::string terminated(hash);  // libsodium reads the hash as a C string
    return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

std::string random_password() {
    ensure_sodium();
    std::string out;
    out.reserve(kRandomPasswordLength);
    for (std::size_t i = 0; i < kRandomPasswordLength; ++i) {
        // randombytes_uniform avoids the modulo bias of `random % size`.
        out += kPasswordAlphabet[randombytes_uniform(static_cast<std::uint32_t>(kPasswordAlphabet.size()))];
    }
    return out;
}

std::string random_bytes(std::size_t n) {
    ensure_sodium();
    std::string out(n, '\0');
    randombytes_buf(out.data(), out.size());
    return out;
}

std::string random_bytes_b64(std::size_t n) {
    std::string raw = random_bytes(n);
    std::string out = base64url_encode(raw);
    sodium_memzero(raw.data(), raw.size());
    return out;
}

}  // namespace kvmhub::auth
