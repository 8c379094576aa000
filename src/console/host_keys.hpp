// The ssh host keys kvmhub trusts, one per catalog host, pinned in the store the first time
// kvmhub reaches the host (trust on first use):
//   /ssh/hostkeys/<host>   {"type","key" (base64),"fingerprint" ("SHA256:..."),"address","pinned"}
// A host that later presents another key is refused until an admin forgets the pin
// (DELETE /api/hosts/<host>/ssh_hostkey), e.g. after reinstalling the host.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "common/clock.hpp"
#include "common/result.hpp"
#include "store/store.hpp"

namespace kvmhub::console {

struct HostKey {
    std::string type;         // "ssh-ed25519", "ecdsa-sha2-nistp256", ...
    std::string key;          // the public key blob, base64
    std::string fingerprint;  // "SHA256:..." as OpenSSH prints it
};

class HostKeyPins {
public:
    HostKeyPins(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

    // Ok when `key` is the one pinned for `host`, or when none is and this one is pinned now
    // (`address` is recorded for the admin). HostError naming both fingerprints and the way
    // out when the host presents another key.
    Status verify_or_pin(const std::string& host, const std::string& address, const HostKey& key);
    // The pin of `host` (null when none).
    Result<nlohmann::json> pinned(const std::string& host);
    // Forgets the pin; NotFound when there is none.
    Status forget(const std::string& host);

private:
    store::Store& store_;
    const Clock& clock_;
};

}  // namespace kvmhub::console
