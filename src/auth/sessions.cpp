#include "auth/sessions.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "auth/password.hpp"
#include "common/log.hpp"

namespace kvmhub::auth {
namespace {

using json = nlohmann::json;

constexpr std::size_t kSidBytes = 16;  // 128 bits, 22 base64url characters
constexpr int kCasAttempts = 5;

tl::unexpected<Error> ended() {
    return fail(Errc::Unauthorized, "session",
                "the session has ended (logged out, revoked, or the user was removed, disabled or given a new "
                "password); log in again");
}

bool get_int(const json& j, const char* name, std::int64_t& out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_integer()) return false;
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
        return false;
    out = it->get<std::int64_t>();
    return true;
}

std::optional<Session> parse(std::string_view value) {
    const json j = json::parse(value, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    Session s;
    auto id = j.find("id");
    auto user = j.find("user");
    if (id == j.end() || !id->is_string() || user == j.end() || !user->is_string()) return std::nullopt;
    s.id = id->get<std::string>();
    s.user = user->get<std::string>();
    if (!get_int(j, "created", s.created) || !get_int(j, "ends", s.ends)) return std::nullopt;
    get_int(j, "refreshed", s.refreshed);
    get_int(j, "refreshes", s.refreshes);
    if (auto ip = j.find("ip"); ip != j.end() && ip->is_string()) s.ip = ip->get<std::string>();
    if (auto source = j.find("source"); source != j.end() && source->is_string()) s.source = source->get<std::string>();
    return s;
}

// A record that cannot be read counts as no session: refusing is the safe side.
std::optional<Session> parse_logged(const store::KeyValue& kv) {
    auto s = parse(kv.value);
    if (!s) log::get("auth")->error("stored session record is corrupt key={}", kv.key);
    return s;
}

}  // namespace

json Session::to_json() const {
    return {{"id", id},     {"user", user},           {"created", created},
            {"ends", ends}, {"refreshed", refreshed}, {"refreshes", refreshes},
            {"ip", ip},     {"source", source}};
}

Status validate_session_id(std::string_view sid) {
    const bool ok = !sid.empty() && sid.size() <= kMaxSidLength && std::all_of(sid.begin(), sid.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    if (!ok) return fail(Errc::BadInput, "sid", "a session id matches [A-Za-z0-9_-]{1,64}");
    return {};
}

std::string session_user_prefix(std::string_view user) {
    return fmt::format("{}{}/", kSessionsPrefix, user);
}

std::string session_key(std::string_view user, std::string_view sid) {
    return fmt::format("{}{}/{}", kSessionsPrefix, user, sid);
}

SessionService::SessionService(store::Store& store, const Clock& clock, std::chrono::seconds lifetime)
    : store_(store), clock_(clock), lifetime_(lifetime) {}

Session SessionService::make(const std::string& user, const std::string& ip, std::string_view source) const {
    Session s;
    s.id = random_bytes_b64(kSidBytes);
    s.user = user;
    s.created = clock_.now_seconds();
    s.ends = s.created + lifetime_.count();
    s.ip = ip;
    s.source = source;
    return s;
}

store::Op SessionService::put_op(const Session& session) const {
    return store::Op::put(session_key(session.user, session.id), session.to_json().dump());
}

Result<Session> SessionService::start(const std::string& user, const std::string& ip, std::string_view source) {
    Session s = make(user, ip, source);
    auto op = put_op(s);
    // Create-only: a 128-bit random id does not collide, but never overwrite a session anyway.
    auto rev = store_.commit(store::Txn{{store::Compare{op.key, 0}}, {op}});
    if (!rev) return tl::unexpected(rev.error());
    return s;
}

Result<Session> SessionService::check(std::string_view user, std::string_view sid) const {
    if (user.empty() || user.find('/') != std::string_view::npos || !validate_session_id(sid)) return ended();
    auto kv = store_.get(session_key(user, sid));
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return ended();
    auto s = parse_logged(**kv);
    if (!s || s->user != user || s->id != sid) return ended();
    if (clock_.now_seconds() >= s->ends)
        return fail(Errc::Unauthorized, "session",
                    fmt::format("the session reached its lifetime of {} s; log in again", s->ends - s->created));
    return *s;
}

Result<Session> SessionService::refresh(std::string_view user, std::string_view sid) {
    if (user.empty() || user.find('/') != std::string_view::npos || !validate_session_id(sid)) return ended();
    const std::string key = session_key(user, sid);
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        auto kv = store_.get(key);
        if (!kv) return tl::unexpected(kv.error());
        if (!*kv) return ended();
        auto s = parse_logged(**kv);
        if (!s || s->user != user || s->id != sid) return ended();
        const std::int64_t now = clock_.now_seconds();
        if (now >= s->ends)
            return fail(Errc::Unauthorized, "session",
                        fmt::format("the session reached its lifetime of {} s and cannot be refreshed; log in again",
                                    s->ends - s->created));
        s->refreshed = now;
        ++s->refreshes;
        auto rev = store_.compare_and_swap(key, (*kv)->mod_revision, s->to_json().dump());
        if (rev) return *s;
        // Conflict: refreshed at the same time, or ended in between (then the next get says so).
        if (rev.error().code != Errc::Conflict) return tl::unexpected(rev.error());
    }
    return fail(Errc::Conflict, "session", "the session is being refreshed concurrently; try again");
}

Result<bool> SessionService::end(std::string_view user, std::string_view sid) {
    if (user.empty() || user.find('/') != std::string_view::npos || !validate_session_id(sid)) return false;
    return store_.erase(session_key(user, sid));
}

Result<std::optional<Session>> SessionService::find(std::string_view sid) const {
    if (!validate_session_id(sid)) return std::optional<Session>();
    auto all = list();
    if (!all) return tl::unexpected(all.error());
    for (auto& s : *all)
        if (s.id == sid) return std::optional<Session>(std::move(s));
    return std::optional<Session>();
}

Result<std::vector<Session>> SessionService::list(std::string_view user) const {
    auto kvs = store_.list(user.empty() ? std::string(kSessionsPrefix) : session_user_prefix(user));
    if (!kvs) return tl::unexpected(kvs.error());
    const std::int64_t now = clock_.now_seconds();
    std::vector<Session> out;
    for (const auto& kv : *kvs) {
        auto s = parse_logged(kv);
        if (s && now < s->ends && kv.key == session_key(s->user, s->id)) out.push_back(std::move(*s));
    }
    std::sort(out.begin(), out.end(), [](const Session& a, const Session& b) {
        return a.created != b.created ? a.created < b.created : a.id < b.id;
    });
    return out;
}

Result<std::int64_t> SessionService::prune_expired() {
    auto kvs = store_.list(kSessionsPrefix);
    if (!kvs) return tl::unexpected(kvs.error());
    const std::int64_t now = clock_.now_seconds();
    store::Txn txn;
    for (const auto& kv : *kvs) {
        auto s = parse(kv.value);
        // Only records past their end; a corrupt record is left for an admin to look at.
        if (s && now >= s->ends) {
            txn.compares.push_back(store::Compare{kv.key, kv.mod_revision});
            txn.ops.push_back(store::Op::erase(kv.key));
        }
    }
    if (txn.ops.empty()) return 0;
    auto rev = store_.commit(txn);
    if (!rev) {
        // Someone ended or refreshed one meanwhile: the next login prunes again.
        if (rev.error().code == Errc::Conflict) return 0;
        return tl::unexpected(rev.error());
    }
    return static_cast<std::int64_t>(txn.ops.size());
}

}  // namespace kvmhub::auth
