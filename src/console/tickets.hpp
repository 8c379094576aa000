// Console tickets: what `display` hands out and the websocket proxy takes back. A ticket is
// 32 random bytes (base64url), bound to one host, one VM, one display kind and one target
// (graphics port or serial device), valid until it expires and good for one session: taking
// it consumes it. A ticket minted for a tenant link (/user/vm/display) carries the link's id and
// is taken only on the tenant websocket route with that same link, which the tenant guard has
// just verified: a revoked or expired link cannot use a ticket it got earlier, and an admin's
// ticket does not open the tenant route (nor a tenant's the admin one). Kept in this process only (a SQLite deployment
// has one kvmhubd); the book is keyed by a hash of the ticket, so a lookup's timing says nothing about stored tickets.
// With etcd and several kvmhubd, tickets would have to live in the store under a lease
// (/console/tickets/<hash>, TTL = expiry) and be consumed with a compare-and-swap delete, so
// that the daemon that gets the websocket may differ from the one that minted the ticket.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/result.hpp"

namespace kvmhub::console {

enum class DisplayKind { Vnc, Spice, Console };

const char* kind_name(DisplayKind kind);

struct Ticket {
    std::string host;
    std::string uuid;
    DisplayKind kind = DisplayKind::Vnc;
    std::string target;  // "127.0.0.1:5900" for graphics, "serial" for the console
    std::chrono::system_clock::time_point expires;
    std::chrono::seconds session_limit{0};  // the longest a session started with it may last
    std::string link;                       // the tenant link it was minted for; "" = an admin's
    bool tunnel = false;                    // the target is reached through an ssh channel to the host
};

class TicketBook {
public:
    explicit TicketBook(const Clock& clock) : clock_(clock) {}

    // Stores `ticket` and returns its secret.
    std::string mint(Ticket ticket);
    // The ticket for `secret` when it is unexpired, unused, bound to host/uuid (and `kind`
    // when the caller names one) and minted for `link` ("" = on the admin route); it is consumed
    // (removed) by this call. Refusals: Forbidden (unknown, used, other VM, kind or link), Gone
    // (expired). The messages say which, for the console page to show.
    Result<Ticket> take(const std::string& secret, const std::string& host, const std::string& uuid,
                        std::optional<DisplayKind> kind = std::nullopt, const std::string& link = {});
    // Drops expired tickets; mint() calls it now and then.
    void sweep();
    std::size_t size();

private:
    const Clock& clock_;
    std::mutex mutex_;
    std::map<std::string, Ticket> tickets_;  // by hash of the secret
    std::uint64_t mints_ = 0;
};

}  // namespace kvmhub::console
