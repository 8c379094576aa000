#include "console/host_keys.hpp"

#include <fmt/format.h>

namespace kvmhub::console {
namespace {

std::string pin_key(const std::string& host) {
    return std::string(catalog::kHostKeysPrefix) + host;
}

std::string forget_hint(const std::string& host) {
    return fmt::format("DELETE /api/hosts/{}/ssh_hostkey", host);
}

}  // namespace

Status HostKeyPins::verify_or_pin(const std::string& host, const std::string& address, const HostKey& key) {
    auto existing = store_.get(pin_key(host));
    if (!existing) return tl::unexpected(existing.error());
    if (!*existing) {
        nlohmann::json pin = {{"type", key.type},
                              {"key", key.key},
                              {"fingerprint", key.fingerprint},
                              {"address", address},
                              {"pinned", clock_.now_seconds()}};
        // Only if no other session pinned one meanwhile; if it did, check against that one.
        store::Txn txn{{store::Compare{pin_key(host), 0}}, {store::Op::put(pin_key(host), pin.dump())}};
        auto committed = store_.commit(txn);
        if (committed) return {};
        if (committed.error().code != Errc::Conflict) return tl::unexpected(committed.error());
        existing = store_.get(pin_key(host));
        if (!existing) return tl::unexpected(existing.error());
        if (!*existing)
            return fail(Errc::Conflict, "ssh", "the ssh host key pin of host " + host + " changed meanwhile");
    }
    auto pin = nlohmann::json::parse((*existing)->value, nullptr, false);
    if (!pin.is_object())
        return fail(Errc::Internal, "store",
                    fmt::format("the ssh host key pin of host {} is not JSON; forget it: {}", host, forget_hint(host)));
    if (pin.value("type", "") == key.type && pin.value("key", "") == key.key) return {};
    // The first ~100 characters are what a console page sees (a websocket close reason is short).
    return fail(Errc::HostError, "ssh",
                fmt::format("ssh host key of host {} changed; if expected, forget the pin: {} (pinned {} {}, {} now "
                            "presents {} {}; possibly an attack)",
                            host, forget_hint(host), pin.value("type", ""), pin.value("fingerprint", ""), address,
                            key.type, key.fingerprint));
}

Result<nlohmann::json> HostKeyPins::pinned(const std::string& host) {
    auto existing = store_.get(pin_key(host));
    if (!existing) return tl::unexpected(existing.error());
    if (!*existing) return nlohmann::json(nullptr);
    auto pin = nlohmann::json::parse((*existing)->value, nullptr, false);
    if (!pin.is_object()) return fail(Errc::Internal, "store", "the ssh host key pin of host " + host + " is not JSON");
    pin["host"] = host;
    return pin;
}

Status HostKeyPins::forget(const std::string& host) {
    auto erased = store_.erase(pin_key(host));
    if (!erased) return tl::unexpected(erased.error());
    if (!*erased) return fail(Errc::NotFound, "host", "no ssh host key is pinned for host " + host);
    return {};
}

}  // namespace kvmhub::console
