// Identifiers: random UUIDs (version 4) and their validation.
#pragma once

#include <string>
#include <string_view>

namespace kvmhub {

// A random RFC 4122 version-4 UUID, lower-case, with dashes.
std::string new_uuid();
// True for the 36-character canonical form (either case).
bool is_uuid(std::string_view text);

}  // namespace kvmhub
