#include "auth/secrets.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include "auth/base64.hpp"
#include "auth/password.hpp"
#include "common/log.hpp"

namespace kvmhub::auth {

namespace {

constexpr std::size_t kMaxSecretBytes = 1024;
// One conflict means another node created the key, so the next read succeeds; a few more
// rounds only matter if someone deletes the key concurrently.
constexpr int kAttempts = 3;

Result<std::string> decode(std::string_view key, const std::string& stored) {
    auto raw = base64url_decode(stored);
    if (!raw || raw->empty()) {
        return fail(Errc::Internal, "secrets",
                    fmt::format("stored secret at {} is not valid base64url; delete it to generate a new one", key));
    }
    return std::move(*raw);
}

}  // namespace

Result<std::string> load_or_create_secret(store::Store& store, std::string_view key, std::size_t bytes) {
    if (bytes == 0 || bytes > kMaxSecretBytes) {
        return fail(Errc::BadInput, "bytes", fmt::format("secret size must be 1..{} bytes", kMaxSecretBytes));
    }
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        auto kv = store.get(key);
        if (!kv) return tl::unexpected(kv.error());
        if (*kv) return decode(key, (*kv)->value);

        std::string secret = random_bytes(bytes);
        auto rev = store.compare_and_swap(key, 0, base64url_encode(secret));
        if (rev) {
            log::get("auth")->info("generated a new secret key={}", key);
            return secret;
        }
        sodium_memzero(secret.data(), secret.size());
        if (rev.error().code != Errc::Conflict) return tl::unexpected(rev.error());
    }
    return fail(Errc::Internal, "secrets", fmt::format("could not create or read the secret at {}", key));
}

}  // namespace kvmhub::auth
