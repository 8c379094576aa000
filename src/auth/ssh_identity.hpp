// The manager's own ssh key pair (ed25519), created once and kept in the store. Hosts that
// trust its public key let kvmhub reach graphics consoles bound to their loopback.
#pragma once

#include <string>

#include "common/result.hpp"
#include "store/store.hpp"

namespace kvmhub::auth {

inline constexpr std::string_view kSshPrivateKey = "/secrets/ssh/private";
inline constexpr std::string_view kSshPublicKey = "/secrets/ssh/public";

// Creates the pair on first use (race-safe across daemons); returns the OpenSSH public key line.
Result<std::string> ensure_ssh_identity(store::Store& store);

}  // namespace kvmhub::auth
