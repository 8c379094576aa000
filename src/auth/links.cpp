#include "auth/links.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include <fmt/format.h>
#include <sodium.h>

#include "auth/base64.hpp"
#include "auth/password.hpp"
#include "catalog/validate.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"

namespace kvmhub::auth {
namespace {

using json = nlohmann::json;

constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kLinkIdBytes = 12;  // 16 base64url characters
constexpr std::size_t kMaxIdChars = 64;
constexpr std::size_t kMaxTokenChars = 1024;
constexpr std::size_t kSignatureChars = 43;  // base64url of 32 bytes, unpadded
constexpr int kAttempts = 3;                 // compare-and-swap rounds against concurrent writers
// Expired links are kept this long (listed as expired), then dropped when a new link is made.
constexpr std::int64_t kKeepExpired = 30 * 24 * 3600;

tl::unexpected<Error> forbidden(std::string desc) {
    return fail(Errc::Forbidden, "link", std::move(desc));
}

bool is_id_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool valid_id(std::string_view id) {
    return !id.empty() && id.size() <= kMaxIdChars && std::all_of(id.begin(), id.end(), is_id_char);
}

// A canonical decimal (no sign, no leading zero) that fits in int64; anything else is refused so
// that each expiry has exactly one spelling.
bool parse_expiry(std::string_view text, std::int64_t& out) {
    if (text.empty() || text.size() > 19 || (text.size() > 1 && text.front() == '0')) return false;
    if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

bool valid_vm(std::string_view host, std::string_view uuid) {
    return catalog::check_name("host", host).has_value() && is_uuid(uuid);
}

std::string link_key(std::string_view id) {
    return std::string(kLinksPrefix) + std::string(id);
}

}  // namespace

const std::vector<std::string>& all_link_rights() {
    static const std::vector<std::string> rights{"view", "start", "reset", "stop", "snapshot", "cdrom", "console"};
    return rights;
}

bool Link::allows(std::string_view right) const {
    return std::find(rights.begin(), rights.end(), right) != rights.end();
}

json Link::to_json() const {
    return {{"id", id},
            {"host", host},
            {"uuid", uuid},
            {"expiry", expiry},
            {"creator", creator},
            {"created", created},
            {"rights", rights},
            {"revoked", revoked},
            {"revoked_by", revoked_by},
            {"revoked_at", revoked_at}};
}

Result<Link> Link::from_json(const json& j) {
    Link link;
    try {
        link.id = j.at("id").get<std::string>();
        link.host = j.at("host").get<std::string>();
        link.uuid = j.at("uuid").get<std::string>();
        link.expiry = j.at("expiry").get<std::int64_t>();
        link.creator = j.value("creator", std::string());
        link.created = j.value("created", std::int64_t{0});
        link.rights = j.at("rights").get<std::vector<std::string>>();
        link.revoked = j.value("revoked", false);
        link.revoked_by = j.value("revoked_by", std::string());
        link.revoked_at = j.value("revoked_at", std::int64_t{0});
    } catch (const json::exception& e) {
        return fail(Errc::Internal, "link", fmt::format("stored link record is malformed: {}", e.what()));
    }
    return link;
}

std::string link_signature(std::string_view secret, std::string_view host, std::string_view uuid, std::int64_t expiry,
                           std::string_view id) {
    ensure_sodium();
    const std::string input = fmt::format("{}|{}|{}|{}", host, uuid, expiry, id);
    crypto_auth_hmacsha256_state state;
    std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
    crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    crypto_auth_hmacsha256_final(&state, mac.data());
    sodium_memzero(&state, sizeof state);
    return base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

Result<TenantToken> decode_token(std::string_view token) {
    auto bad = [](std::string desc) { return fail(Errc::BadInput, "token", std::move(desc)); };
    if (token.empty()) return bad("no token given");
    if (token.size() > kMaxTokenChars) return bad("token is too long");
    auto text = base64url_decode(token);
    if (!text) return bad("token is not base64url (unpadded, RFC 4648 section 5)");
    std::string_view rest(*text);
    const auto question = rest.find('?');
    if (question == std::string_view::npos) return bad("token has no '?k=...&e=...&l=...' part");
    const std::string_view vm = rest.substr(0, question);
    std::string_view query = rest.substr(question + 1);
    const auto slash = vm.find('/');
    if (slash == std::string_view::npos) return bad("token does not start with '<host>/<uuid>'");
    TenantToken out;
    out.host = std::string(vm.substr(0, slash));
    out.uuid = std::string(vm.substr(slash + 1));
    if (!valid_vm(out.host, out.uuid)) return bad("token does not start with a valid '<host>/<uuid>'");
    // Exactly k, e, l in this order (the order ctrl_url writes), so each token has one spelling.
    for (auto [name, slot] : {std::pair{"k", &out.k}, std::pair{"e", &out.e}, std::pair{"l", &out.l}}) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.empty() || eq == std::string_view::npos || pair.substr(0, eq) != name)
            return bad(fmt::format("token query must be k=...&e=...&l=...; '{}' is missing or out of place", name));
        *slot = std::string(pair.substr(eq + 1));
        if (slot->empty()) return bad(fmt::format("token parameter '{}' is empty", name));
        const bool last = name == std::string_view("l");
        if ((amp == std::string_view::npos) != last)
            return bad(last ? "token has more after l=..." : "token query must be k=...&e=...&l=...");
    }
    std::int64_t expiry = 0;
    if (out.k.size() != kSignatureChars || !std::all_of(out.k.begin(), out.k.end(), is_id_char))
        return bad("token signature 'k' is missing or not 43 base64url characters");
    if (!parse_expiry(out.e, expiry)) return bad("token expiry 'e' is missing or not Unix seconds");
    if (!valid_id(out.l)) return bad("token link id 'l' is missing or malformed");
    return out;
}

std::string encode_token(const TenantToken& t) {
    return base64url_encode(fmt::format("{}/{}?k={}&e={}&l={}", t.host, t.uuid, t.k, t.e, t.l));
}

LinkService::Key::~Key() {
    sodium_memzero(secret.data(), secret.size());
}

LinkService::LinkService(store::Store& store, const Clock& clock, std::chrono::seconds key_grace,
                         std::chrono::seconds max_lifetime)
    : store_(store), clock_(clock), key_grace_(key_grace), max_lifetime_(max_lifetime) {}

Result<LinkService::Ring> LinkService::load_ring() const {
    auto kv = store_.get(kLinkKeysKey);
    if (!kv) return tl::unexpected(kv.error());
    Ring ring;
    if (!*kv) return ring;
    ring.revision = (*kv)->mod_revision;
    const auto broken = [] {
        return fail(Errc::Internal, "links",
                    fmt::format("the link key ring at {} is malformed; deleting it invalidates every tenant link",
                                kLinkKeysKey));
    };
    const json doc = json::parse((*kv)->value, nullptr, false);
    if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) return broken();
    for (const auto& k : doc["keys"]) {
        if (!k.is_object() || !k.contains("key") || !k["key"].is_string()) return broken();
        auto secret = base64url_decode(k["key"].get<std::string>());
        if (!secret || secret->empty()) return broken();
        ring.keys.push_back(Key{k.value("id", std::string()), std::move(*secret), k.value("created", std::int64_t{0}),
                                k.value("retired", std::int64_t{0})});
    }
    return ring;
}

std::string LinkService::encode_ring(const std::vector<Key>& keys) {
    json doc = {{"keys", json::array()}};
    for (const Key& k : keys)
        doc["keys"].push_back(
            {{"id", k.id}, {"key", base64url_encode(k.secret)}, {"created", k.created}, {"retired", k.retired}});
    return doc.dump();
}

Result<LinkService::Key> LinkService::current_key() {
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        auto ring = load_ring();
        if (!ring) return tl::unexpected(ring.error());
        for (const Key& k : ring->keys)
            if (k.retired == 0) return k;
        if (ring->revision != 0)
            return fail(Errc::Internal, "links", "the link key ring has no current key; rotate the keys");
        Key first{random_bytes_b64(6), random_bytes(kKeyBytes), clock_.now_seconds(), 0};
        auto put = store_.compare_and_swap(kLinkKeysKey, 0, encode_ring({first}));
        if (put) {
            log::get("links")->info("generated the first tenant link key id={}", first.id);
            return first;
        }
        if (put.error().code != Errc::Conflict) return tl::unexpected(put.error());
        // Another daemon created it first: read theirs.
    }
    return fail(Errc::Internal, "links", "could not create or read the link key ring");
}

Result<KeyRotation> LinkService::rotate() {
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        auto ring = load_ring();
        if (!ring) return tl::unexpected(ring.error());
        const std::int64_t now = clock_.now_seconds();
        KeyRotation report;
        std::vector<Key> kept;
        for (Key& k : ring->keys) {
            if (k.retired == 0) {
                k.retired = now;
                report.previous_id = k.id;
                report.previous_until = now + key_grace_.count();
            }
            // Keys past their grace verify nothing any more: drop them.
            if (k.retired + key_grace_.count() > now) kept.push_back(std::move(k));
        }
        Key fresh{random_bytes_b64(6), random_bytes(kKeyBytes), now, 0};
        report.key_id = fresh.id;
        kept.push_back(std::move(fresh));
        auto put = store_.compare_and_swap(kLinkKeysKey, ring->revision, encode_ring(kept));
        if (put) {
            log::get("links")->info("rotated the tenant link key new={} previous={} previous_until={}", report.key_id,
                                    report.previous_id.empty() ? "-" : report.previous_id, report.previous_until);
            return report;
        }
        if (put.error().code != Errc::Conflict) return tl::unexpected(put.error());
    }
    return fail(Errc::Conflict, "links", "the link keys changed during the rotation; try again");
}

Result<IssuedLink> LinkService::create(const std::string& host, const std::string& uuid, std::int64_t expiry,
                                       const std::string& creator, std::vector<std::string> rights) {
    if (auto ok = catalog::check_name("host", host); !ok) return tl::unexpected(ok.error());
    if (!is_uuid(uuid)) return fail(Errc::BadInput, "uuid", "not a UUID: " + uuid.substr(0, 64));
    if (creator.empty()) return fail(Errc::BadInput, "creator", "a link needs the admin who made it");
    const std::int64_t now = clock_.now_seconds();
    if (expiry <= now)
        return fail(Errc::BadInput, "epoch",
                    fmt::format("expiry {} is not in the future (now is {}); give Unix seconds, e.g. "
                                "$(date -d '+1 day' +%s)",
                                expiry, now));
    if (expiry - now > max_lifetime_.count())
        return fail(Errc::BadInput, "epoch",
                    fmt::format("expiry {} is more than {} days away; the limit is tenant.max_link_lifetime = {} s",
                                expiry, max_lifetime_.count() / 86400, max_lifetime_.count()));
    if (rights.empty()) rights = all_link_rights();
    std::sort(rights.begin(), rights.end());
    rights.erase(std::unique(rights.begin(), rights.end()), rights.end());
    for (const std::string& r : rights) {
        const auto& all = all_link_rights();
        if (std::find(all.begin(), all.end(), r) == all.end())
            return fail(Errc::BadInput, "rights",
                        fmt::format("unknown right '{}'; rights are view, start, reset, stop, snapshot, cdrom, console",
                                    r.substr(0, 32)));
    }
    auto key = current_key();
    if (!key) return tl::unexpected(key.error());

    Link link{random_bytes_b64(kLinkIdBytes), host, uuid, expiry, creator, now, std::move(rights), false, {}, 0};
    std::string signature = link_signature(key->secret, host, uuid, expiry, link.id);
    prune_expired(now);
    auto put = store_.compare_and_swap(link_key(link.id), 0, link.to_json().dump());
    if (!put) return tl::unexpected(put.error());
    std::string token = encode_token(TenantToken{host, uuid, signature, std::to_string(expiry), link.id});
    return IssuedLink{std::move(link), std::move(signature), std::move(token)};
}

void LinkService::prune_expired(std::int64_t now) {
    auto all = store_.list(kLinksPrefix);
    if (!all) return;
    store::Txn txn;
    for (const auto& kv : *all) {
        const json doc = json::parse(kv.value, nullptr, false);
        if (doc.is_object() && doc.value("expiry", now) + kKeepExpired < now)
            txn.ops.push_back(store::Op::erase(kv.key));
    }
    if (txn.ops.empty()) return;
    if (auto done = store_.commit(txn); !done)
        log::get("links")->warn("cannot drop expired tenant links error={}", done.error().desc);
}

Result<std::vector<Link>> LinkService::list(const std::string& host, const std::string& uuid) {
    auto all = store_.list(kLinksPrefix);
    if (!all) return tl::unexpected(all.error());
    std::vector<Link> out;
    for (const auto& kv : *all) {
        auto link = Link::from_json(json::parse(kv.value, nullptr, false));
        if (!link) {
            log::get("links")->warn("skipping a malformed link record key={}", kv.key);
            continue;
        }
        if (link->host == host && link->uuid == uuid) out.push_back(std::move(*link));
    }
    std::stable_sort(out.begin(), out.end(), [](const Link& a, const Link& b) { return a.created < b.created; });
    return out;
}

Result<Link> LinkService::revoke(const std::string& id, const std::string& by) {
    if (!valid_id(id)) return fail(Errc::NotFound, "id", "no such link: " + id.substr(0, 64));
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        auto kv = store_.get(link_key(id));
        if (!kv) return tl::unexpected(kv.error());
        if (!*kv) return fail(Errc::NotFound, "id", "no such link: " + id);
        auto link = Link::from_json(json::parse((*kv)->value, nullptr, false));
        if (!link) return tl::unexpected(link.error());
        if (link->revoked) return link;
        link->revoked = true;
        link->revoked_by = by;
        link->revoked_at = clock_.now_seconds();
        auto put = store_.compare_and_swap(link_key(id), (*kv)->mod_revision, link->to_json().dump());
        if (put) return link;
        if (put.error().code != Errc::Conflict) return tl::unexpected(put.error());
    }
    return fail(Errc::Conflict, "id", "the link changed during the revocation; try again");
}

Result<Link> LinkService::verify(std::string_view host, std::string_view uuid, std::string_view k, std::string_view e,
                                 std::string_view l) const {
    if (k.empty() || e.empty() || l.empty())
        return forbidden("this route needs a tenant link: append the query of the ctrl_url token (?k=...&e=...&l=...)");
    std::int64_t expiry = 0;
    if (!valid_vm(host, uuid) || !parse_expiry(e, expiry) || !valid_id(l) || k.size() != kSignatureChars)
        return forbidden("the tenant link is malformed");
    auto given = base64url_decode(k);
    if (!given || given->size() != crypto_auth_hmacsha256_BYTES) return forbidden("the tenant link is malformed");

    auto ring = load_ring();
    if (!ring) return tl::unexpected(ring.error());
    const std::int64_t now = clock_.now_seconds();
    bool match = false;
    // Every accepted key is tried, so the time taken does not tell which key (if any) matched.
    for (const Key& key : ring->keys) {
        if (key.retired != 0 && key.retired + key_grace_.count() <= now) continue;
        auto expected = base64url_decode(link_signature(key.secret, host, uuid, expiry, l));
        if (expected && expected->size() == given->size() &&
            sodium_memcmp(expected->data(), given->data(), given->size()) == 0)
            match = true;
    }
    if (!match)
        return forbidden(
            "the tenant link is not valid for this VM (altered, for another VM, or signed with a retired key); "
            "ask the administrator for a new link");
    if (now >= expiry)
        return fail(Errc::Gone, "link", "the tenant link has expired; ask the administrator for a new one");

    auto kv = store_.get(link_key(l));
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return forbidden("the tenant link no longer exists; ask the administrator for a new one");
    auto link = Link::from_json(json::parse((*kv)->value, nullptr, false));
    if (!link) return tl::unexpected(link.error());
    // The signature already binds these; the record must agree, or it is not this link's record.
    if (link->host != host || link->uuid != uuid || link->expiry != expiry)
        return forbidden("the tenant link does not match its record");
    if (link->revoked) return forbidden("the tenant link was revoked; ask the administrator for a new one");
    return link;
}

}  // namespace kvmhub::auth
