// Guest passwords are kept as SHA-512 crypt hashes ("$6$..."), which cloud-init's `passwd`
// takes as they are: the clear text is never stored, rendered or logged.
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace kvmhub::cloudinit {

// True for a crypt(3) hash cloud-init accepts ($6$ SHA-512, $5$ SHA-256, $y$ yescrypt).
bool is_password_hash(std::string_view text);

// A SHA-512 crypt hash of `clear` with a random salt; a hash is returned unchanged.
Result<std::string> hash_password(std::string_view clear);

}  // namespace kvmhub::cloudinit
