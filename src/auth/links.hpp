// Tenant self-service links (product.md K3): an admin hands a tenant a signed, expiring,
// revocable link to one VM. A link is a record in the store plus a signature the tenant carries:
//
//   sig   = base64url(HMAC-SHA256(key, host "|" uuid "|" expiry "|" link id))
//   token = base64url("<host>/<uuid>?k=<sig>&e=<expiry>&l=<link id>")
//
// The token keeps simplekvm's shape ("<host>/<uuid>?k=&e=") and adds `l`, the link id: the
// verifier needs the record (revocation, rights, audit actor) and looking it up by id is one
// store read. The id is signed too, so it cannot be swapped for another link's. The tenant page
// appends the token's whole query to every /user/vm/* call, so `l` travels with `k` and `e`.
//
// The signing keys live in the store at /secrets/links (generated at first use, shared by every
// daemon on the store, never logged nor shown in /conf/). rotate() adds a new key; the previous
// ones keep verifying for `key_grace` after they were retired, then links signed with them stop
// working. Host names cannot contain '|' and uuids, expiries and ids are checked before signing
// or verifying, so the signed text is unambiguous.
//   /secrets/links     {"keys":[{"id","key"(base64url),"created","retired"(0 = current)}]}
//   /links/<id>        the link record (Link::to_json), never a signature
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "store/store.hpp"

namespace kvmhub::auth {

inline constexpr std::string_view kLinkKeysKey = "/secrets/links";
inline constexpr std::string_view kLinksPrefix = "/links/";

// What a link may be used for. `view` = the VM's state; the rest name the tenant commands.
const std::vector<std::string>& all_link_rights();

struct Link {
    std::string id;
    std::string host;
    std::string uuid;
    std::int64_t expiry = 0;   // Unix seconds; the link works while now < expiry
    std::string creator;       // the admin who called ctrl_url
    std::int64_t created = 0;  // Unix seconds
    std::vector<std::string> rights;
    bool revoked = false;
    std::string revoked_by;
    std::int64_t revoked_at = 0;

    bool allows(std::string_view right) const;
    // The stored/listed form; never contains a signature or key.
    nlohmann::json to_json() const;
    static Result<Link> from_json(const nlohmann::json& j);
};

struct IssuedLink {
    Link link;
    std::string signature;  // base64url, 43 characters
    std::string token;      // base64url("<host>/<uuid>?k=<sig>&e=<expiry>&l=<id>")
};

// What a tenant token carries, decoded.
struct TenantToken {
    std::string host;
    std::string uuid;
    std::string k;  // signature
    std::string e;  // expiry, decimal Unix seconds
    std::string l;  // link id
};

// Decodes a token from ctrl_url. BadInput for anything that is not exactly
// base64url("<host>/<uuid>?k=..&e=..&l=..") (in this order, nothing else) with a valid host name
// and uuid, so encode_token() gives back the same text. Checks the shape only, never the
// signature (that is verify()).
Result<TenantToken> decode_token(std::string_view token);
std::string encode_token(const TenantToken& token);

struct KeyRotation {
    std::string key_id;               // the new current key
    std::string previous_id;          // the key it replaced, empty on the very first key
    std::int64_t previous_until = 0;  // Unix seconds until which links signed with it still work
};

class LinkService {
public:
    LinkService(store::Store& store, const Clock& clock, std::chrono::seconds key_grace,
                std::chrono::seconds max_lifetime);

    // A new link for the VM. BadInput for an expiry in the past or beyond max_lifetime, a bad host
    // name or uuid, an empty creator, or an unknown right (empty rights = all of them).
    Result<IssuedLink> create(const std::string& host, const std::string& uuid, std::int64_t expiry,
                              const std::string& creator, std::vector<std::string> rights = {});
    // The VM's links, oldest first.
    Result<std::vector<Link>> list(const std::string& host, const std::string& uuid);
    // Marks the link revoked (revoking twice keeps the first revocation). NotFound for an unknown id.
    Result<Link> revoke(const std::string& id, const std::string& by);
    // A new current key; the previous one keeps verifying for key_grace.
    Result<KeyRotation> rotate();

    // The link proven by k/e/l for the VM host/uuid (taken from the request path).
    // Forbidden: missing or malformed parts, a signature that does not match (tampered host, uuid,
    // expiry, id or signature; a link of another VM; a key retired longer than key_grace ago),
    // an unknown or revoked link. Gone: a valid link past its expiry.
    // Signatures are compared in constant time (sodium_memcmp), against every accepted key.
    Result<Link> verify(std::string_view host, std::string_view uuid, std::string_view k, std::string_view e,
                        std::string_view l) const;

private:
    struct Key {
        std::string id;
        std::string secret;  // raw bytes, wiped when the Key goes away
        std::int64_t created = 0;
        std::int64_t retired = 0;  // 0 = current
        ~Key();
    };
    struct Ring {
        std::vector<Key> keys;
        std::int64_t revision = 0;  // mod_revision of /secrets/links, 0 = absent
    };
    Result<Ring> load_ring() const;
    // The current key, creating the first one if there is none.
    Result<Key> current_key();
    static std::string encode_ring(const std::vector<Key>& keys);
    // Drops links expired for more than 30 days (they were kept to be listed as expired).
    void prune_expired(std::int64_t now);

    store::Store& store_;
    const Clock& clock_;
    std::chrono::seconds key_grace_;
    std::chrono::seconds max_lifetime_;
};

// base64url(HMAC-SHA256(secret, host|uuid|expiry|id)); exposed for the verifier's unit tests.
std::string link_signature(std::string_view secret, std::string_view host, std::string_view uuid, std::int64_t expiry,
                           std::string_view id);

}  // namespace kvmhub::auth
