// Password hashing (argon2id via libsodium) and the random material auth needs.
// Hashes are self-describing PHC strings ("$argon2id$v=19$m=...,t=...,p=...$salt$hash"), so
// the cost parameters can be raised later without breaking stored users.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace kvmhub::auth {

// Longest password accepted: argon2 takes any length, but hashing megabytes per request is a DoS.
inline constexpr std::size_t kMaxPasswordBytes = 1024;

// Initialises libsodium once per process; every auth function that needs it calls it first.
void ensure_sodium();

// BadInput (where="password") if empty or longer than kMaxPasswordBytes.
Status validate_password(std::string_view password);

// An argon2id hash with libsodium's interactive limits. BadInput as validate_password;
// Internal if the hash cannot be computed (out of memory).
Result<std::string> hash_password(std::string_view password);

// True only if `password` matches `hash`; false for any malformed hash or out-of-range password.
bool verify_password(std::string_view hash, std::string_view password);

// 20 characters from an alphabet without look-alikes (no 0/O, 1/l/I): ~117 bits of entropy.
std::string random_password();

// `n` random raw bytes from libsodium's CSPRNG.
std::string random_bytes(std::size_t n);

// `n` random bytes as unpadded base64url (fits in URLs, JSON and store values unescaped).
std::string random_bytes_b64(std::size_t n);

}  // namespace kvmhub::auth
