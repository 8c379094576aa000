#include "cloudinit/password.hpp"

#include <crypt.h>

#include <array>
#include <memory>

#include <sodium.h>

namespace kvmhub::cloudinit {

bool is_password_hash(std::string_view text) {
    for (std::string_view prefix : {"$6$", "$5$", "$y$"})
        if (text.starts_with(prefix) && text.size() > prefix.size() + 8) return true;
    return false;
}

Result<std::string> hash_password(std::string_view clear) {
    if (is_password_hash(clear)) return std::string(clear);
    if (clear.find('\0') != std::string_view::npos)
        return fail(Errc::BadInput, "vm_password", "a password cannot contain a NUL character");
    std::array<char, 16> random{};
    randombytes_buf(random.data(), random.size());
    std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> salt{};
    if (crypt_gensalt_rn("$6$", 0, random.data(), static_cast<int>(random.size()), salt.data(),
                         static_cast<int>(salt.size())) == nullptr)
        return fail(Errc::Internal, "vm_password", "cannot make a salt for the password hash");
    auto data = std::make_unique<crypt_data>();  // ~32 KB: not on the stack
    const std::string text(clear);
    const char* hashed = crypt_r(text.c_str(), salt.data(), data.get());
    std::string out = hashed != nullptr ? hashed : "*";
    sodium_memzero(data.get(), sizeof(crypt_data));  // it held the clear text
    if (out.front() == '*') return fail(Errc::Internal, "vm_password", "cannot hash the password");
    return out;
}

}  // namespace kvmhub::cloudinit
