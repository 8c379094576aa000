#include "console/tickets.hpp"

#include <array>

#include <sodium.h>

namespace kvmhub::console {
namespace {

constexpr std::size_t kSecretBytes = 32;

std::string key_of(const std::string& secret) {
    std::array<unsigned char, crypto_generichash_BYTES> hash{};
    crypto_generichash(hash.data(), hash.size(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                       nullptr, 0);
    return std::string(reinterpret_cast<const char*>(hash.data()), hash.size());
}

std::string new_secret() {
    std::array<unsigned char, kSecretBytes> raw{};
    randombytes_buf(raw.data(), raw.size());
    std::string out(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(out.find('\0'));
    return out;
}

}  // namespace

const char* kind_name(DisplayKind kind) {
    switch (kind) {
        case DisplayKind::Vnc:
            return "vnc";
        case DisplayKind::Spice:
            return "spice";
        case DisplayKind::Console:
            return "console";
    }
    return "?";
}

std::string TicketBook::mint(Ticket ticket) {
    std::string secret = new_secret();
    std::lock_guard lock(mutex_);
    if (++mints_ % 64 == 0) {
        const auto now = clock_.now();
        std::erase_if(tickets_, [&](const auto& entry) { return entry.second.expires <= now; });
    }
    tickets_.emplace(key_of(secret), std::move(ticket));
    return secret;
}

Result<Ticket> TicketBook::take(const std::string& secret, const std::string& host, const std::string& uuid,
                                std::optional<DisplayKind> kind, const std::string& link) {
    const auto key = key_of(secret);
    std::lock_guard lock(mutex_);
    auto it = tickets_.find(key);
    if (it == tickets_.end())
        return fail(Errc::Forbidden, "ticket",
                    "unknown or already used console ticket; ask for a new one with /vm/display/");
    Ticket ticket = it->second;
    if (ticket.expires <= clock_.now()) {
        tickets_.erase(it);
        return fail(Errc::Gone, "ticket", "the console ticket has expired; ask for a new one with /vm/display/");
    }
    // A ticket shown on the wrong VM or console stays valid for its own: whoever holds it may
    // have mistyped, and refusing it does not reveal anything the holder does not know.
    if (ticket.host != host || ticket.uuid != uuid)
        return fail(Errc::Forbidden, "ticket", "this console ticket is for another VM");
    if (kind && ticket.kind != *kind)
        return fail(Errc::Forbidden, "ticket",
                    std::string("this console ticket is for a ") + kind_name(ticket.kind) + " console, not " +
                        kind_name(*kind));
    if (ticket.link != link)
        return fail(Errc::Forbidden, "ticket",
                    ticket.link.empty()
                        ? "this console ticket was made by an admin (/vm/display/); open it on /vm/websockify/"
                    : link.empty() ? "this console ticket belongs to a tenant link; open it on /user/vm/websockify/ "
                                     "with that link"
                                   : "this console ticket was made for another tenant link");
    tickets_.erase(it);
    return ticket;
}

void TicketBook::sweep() {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    std::erase_if(tickets_, [&](const auto& entry) { return entry.second.expires <= now; });
}

std::size_t TicketBook::size() {
    std::lock_guard lock(mutex_);
    return tickets_.size();
}

}  // namespace kvmhub::console
