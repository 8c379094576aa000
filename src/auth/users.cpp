#include "auth/users.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "auth/password.hpp"
#include "common/log.hpp"

namespace kvmhub::auth {

namespace {

using json = nlohmann::json;

constexpr std::string_view kAdminName = "admin";
constexpr std::size_t kMaxNameLength = 64;
// Two admins changing one password at once is rare; a few rounds settle it.
constexpr int kCasAttempts = 5;

std::string user_key(std::string_view name) {
    return std::string(kUsersPrefix) + std::string(name);
}

// A hash of a random password with the same cost as real ones: verifying against it for an
// unknown user takes as long as a wrong password for a known one.
const std::string& dummy_hash() {
    static const std::string hash = hash_password(random_password()).value_or(std::string());
    return hash;
}

bool valid_name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

}  // namespace

tl::unexpected<Error> wrong_credentials() {
    return fail(Errc::Unauthorized, "credentials", "wrong user name or password");
}

Status validate_username(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength) {
        return fail(Errc::BadInput, "username", "user name must match [A-Za-z0-9._-]{1,64}");
    }
    for (char c : name) {
        if (!valid_name_char(c)) return fail(Errc::BadInput, "username", "user name must match [A-Za-z0-9._-]{1,64}");
    }
    return {};
}

UserService::UserService(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {
    (void)dummy_hash();  // now, so the first unknown-user login is not slower than later ones
}

std::string UserService::record(const std::string& name, const std::string& hash, std::int64_t created) const {
    const json j = {{"name", name},      {"hash", hash},   {"created", created}, {"updated", clock_.now_seconds()},
                    {"disabled", false}, {"last_login", 0}};
    return j.dump();
}

Status UserService::add(const std::string& name, std::string_view password) {
    if (auto ok = validate_username(name); !ok) return ok;
    auto hash = hash_password(password);
    if (!hash) return tl::unexpected(hash.error());
    auto rev = store_.compare_and_swap(user_key(name), 0, record(name, *hash, clock_.now_seconds()));
    if (!rev) {
        if (rev.error().code == Errc::Conflict) {
            return fail(Errc::Conflict, "username", fmt::format("user {} already exists", name));
        }
        return tl::unexpected(rev.error());
    }
    log::get("auth")->info("user added user={}", name);
    return {};
}

namespace {

struct Loaded {
    json record;
    store::KeyValue kv;
};

// The user's record, or NotFound / Internal (a record that is not a JSON object).
Result<Loaded> load(store::Store& store, const std::string& name) {
    auto kv = store.get(user_key(name));
    if (!kv) return tl::unexpected(kv.error());
    if (!*kv) return fail(Errc::NotFound, "username", fmt::format("no user {}", name));
    json j = json::parse((*kv)->value, nullptr, false);
    if (!j.is_object()) {
        log::get("auth")->error("stored user record is corrupt user={}", name);
        return fail(Errc::Internal, "users", fmt::format("stored record of user {} is corrupt", name));
    }
    return Loaded{std::move(j), std::move(**kv)};
}

bool is_disabled(const json& record) {
    auto it = record.find("disabled");
    return it != record.end() && it->is_boolean() && it->get<bool>();
}

std::int64_t int_or_zero(const json& record, const char* field) {
    auto it = record.find(field);
    return it != record.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

tl::unexpected<Error> busy(const std::string& name) {
    return fail(Errc::Conflict, "username", fmt::format("user {} is being changed concurrently; try again", name));
}

}  // namespace

json UserInfo::to_json() const {
    return {
        {"name", name}, {"created", created}, {"updated", updated}, {"disabled", disabled}, {"last_login", last_login}};
}

Status UserService::set_password(const std::string& name, std::string_view password, std::string_view keep_session) {
    if (auto ok = validate_username(name); !ok) return ok;
    auto hash = hash_password(password);  // once, outside the retry loop: it is the slow part
    if (!hash) return tl::unexpected(hash.error());
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        auto user = load(store_, name);
        if (!user) return tl::unexpected(user.error());
        json next = user->record;
        next["hash"] = *hash;
        next["updated"] = clock_.now_seconds();
        if (!next.contains("created") || !next["created"].is_number_integer()) next["created"] = clock_.now_seconds();
        // The user's key is compared, and every login writes it (last_login): a session created
        // after the listing below makes this commit fail and go round again.
        store::Txn txn{{store::Compare{user->kv.key, user->kv.mod_revision}},
                       {store::Op::put(user->kv.key, dump(next))}};
        if (keep_session.empty()) {
            txn.ops.push_back(store::Op::erase_prefix(session_user_prefix(name)));
        } else {
            auto sessions = store_.list(session_user_prefix(name));
            if (!sessions) return tl::unexpected(sessions.error());
            const std::string keep = session_key(name, keep_session);
            for (const auto& kv : *sessions)
                if (kv.key != keep) txn.ops.push_back(store::Op::erase(kv.key));
        }
        auto rev = store_.commit(txn);
        if (rev) {
            log::get("auth")->info("password changed user={} sessions={}", name,
                                   keep_session.empty() ? "all ended" : "others ended");
            return {};
        }
        if (rev.error().code != Errc::Conflict) return tl::unexpected(rev.error());
    }
    return busy(name);
}

Status UserService::end_user(const std::string& name, bool erase) {
    if (auto ok = validate_username(name); !ok) return ok;
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        auto user = load(store_, name);
        if (!user) return tl::unexpected(user.error());
        store::Txn txn{{store::Compare{user->kv.key, user->kv.mod_revision}}, {}};
        if (!is_disabled(user->record)) {
            // The others that keep the fleet reachable must still be there, enabled, when this
            // commits: two admins removing the last two users at once cannot both succeed.
            auto all = store_.list(kUsersPrefix);
            if (!all) return tl::unexpected(all.error());
            for (const auto& kv : *all) {
                if (kv.key == user->kv.key) continue;
                const json other = json::parse(kv.value, nullptr, false);
                if (other.is_object() && !is_disabled(other))
                    txn.compares.push_back(store::Compare{kv.key, kv.mod_revision});
            }
            if (txn.compares.size() == 1)
                return fail(Errc::Conflict, "username",
                            fmt::format("{} is the last enabled user; add or enable another user first", name));
        }
        if (erase) {
            txn.ops.push_back(store::Op::erase(user->kv.key));
        } else {
            json next = user->record;
            next["disabled"] = true;
            next["updated"] = clock_.now_seconds();
            txn.ops.push_back(store::Op::put(user->kv.key, dump(next)));
        }
        txn.ops.push_back(store::Op::erase_prefix(session_user_prefix(name)));
        auto rev = store_.commit(txn);
        if (rev) {
            log::get("auth")->info("user {} user={}; its sessions ended", erase ? "deleted" : "disabled", name);
            return {};
        }
        if (rev.error().code != Errc::Conflict) return tl::unexpected(rev.error());
    }
    return busy(name);
}

Status UserService::remove(const std::string& name) {
    return end_user(name, true);
}

Status UserService::set_disabled(const std::string& name, bool disabled) {
    if (disabled) return end_user(name, false);
    if (auto ok = validate_username(name); !ok) return ok;
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        auto user = load(store_, name);
        if (!user) return tl::unexpected(user.error());
        json next = user->record;
        next["disabled"] = false;
        next["updated"] = clock_.now_seconds();
        auto rev = store_.compare_and_swap(user->kv.key, user->kv.mod_revision, dump(next));
        if (rev) {
            log::get("auth")->info("user enabled user={}", name);
            return {};
        }
        if (rev.error().code != Errc::Conflict) return tl::unexpected(rev.error());
    }
    return busy(name);
}

Result<std::optional<store::KeyValue>> UserService::verify(std::string_view name, std::string_view password) {
    std::string hash;
    std::optional<store::KeyValue> found;
    bool disabled = false;
    if (validate_username(name)) {
        auto kv = store_.get(user_key(name));
        if (!kv) return tl::unexpected(kv.error());
        if (*kv) {
            const json j = json::parse((*kv)->value, nullptr, false);
            if (!j.is_object() || !j.contains("hash") || !j["hash"].is_string()) {
                log::get("auth")->error("stored user record is corrupt user={}", name);
                return fail(Errc::Internal, "users", fmt::format("stored record of user {} is corrupt", name));
            }
            hash = j["hash"].get<std::string>();
            disabled = is_disabled(j);
            found = std::move(**kv);
        }
    }
    if (hash.empty()) {
        verify_password(dummy_hash(), password);  // spend the time, ignore the answer
        return std::optional<store::KeyValue>();
    }
    // A disabled user's password is checked too, so the answer takes as long as for anyone else.
    if (!verify_password(hash, password) || disabled) return std::optional<store::KeyValue>();
    return found;
}

Result<std::string> UserService::authenticate(std::string_view name, std::string_view password) {
    auto user = verify(name, password);
    if (!user) return tl::unexpected(user.error());
    if (!*user) return wrong_credentials();
    return std::string(name);
}

Result<Session> UserService::sign_in(std::string_view name, std::string_view password, SessionService& sessions,
                                     const std::string& ip) {
    if (auto pruned = sessions.prune_expired(); !pruned)
        log::get("auth")->warn("cannot prune ended sessions error={}", pruned.error().desc);
    auto verified = verify(name, password);
    if (!verified) return tl::unexpected(verified.error());
    if (!*verified) return wrong_credentials();
    store::KeyValue kv = std::move(**verified);
    const std::string user(name);
    std::string verified_hash;
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        json record = json::parse(kv.value, nullptr, false);
        if (!record.is_object() || !record.contains("hash") || !record["hash"].is_string() || is_disabled(record))
            return wrong_credentials();
        // Changed since the password was checked: only a login in between (same hash) may go on.
        if (verified_hash.empty()) verified_hash = record["hash"].get<std::string>();
        if (record["hash"].get<std::string>() != verified_hash) return wrong_credentials();
        record["last_login"] = clock_.now_seconds();
        Session session = sessions.make(user, ip);
        auto put = sessions.put_op(session);
        store::Txn txn{{store::Compare{kv.key, kv.mod_revision}, store::Compare{put.key, 0}},
                       {store::Op::put(kv.key, dump(record)), put}};
        auto rev = store_.commit(txn);
        if (rev) return session;
        if (rev.error().code != Errc::Conflict) return tl::unexpected(rev.error());
        auto again = store_.get(kv.key);
        if (!again) return tl::unexpected(again.error());
        if (!*again) return wrong_credentials();  // deleted meanwhile
        kv = std::move(**again);
    }
    return busy(user);
}

Result<bool> UserService::exists(std::string_view name) {
    if (!validate_username(name)) return false;
    auto kv = store_.get(user_key(name));
    if (!kv) return tl::unexpected(kv.error());
    return kv->has_value();
}

Result<bool> UserService::any_user() {
    auto users = store_.list(kUsersPrefix);
    if (!users) return tl::unexpected(users.error());
    return !users->empty();
}

Result<std::vector<std::string>> UserService::list() {
    auto users = store_.list(kUsersPrefix);
    if (!users) return tl::unexpected(users.error());
    std::vector<std::string> names;
    names.reserve(users->size());
    for (const auto& kv : *users) names.push_back(kv.key.substr(kUsersPrefix.size()));
    return names;
}

Result<std::vector<UserInfo>> UserService::describe() {
    auto users = store_.list(kUsersPrefix);
    if (!users) return tl::unexpected(users.error());
    std::vector<UserInfo> out;
    out.reserve(users->size());
    for (const auto& kv : *users) {
        const json j = json::parse(kv.value, nullptr, false);
        UserInfo info;
        info.name = kv.key.substr(kUsersPrefix.size());
        if (j.is_object()) {
            info.created = int_or_zero(j, "created");
            info.updated = int_or_zero(j, "updated");
            info.disabled = is_disabled(j);
            info.last_login = int_or_zero(j, "last_login");
        }
        out.push_back(std::move(info));
    }
    return out;
}

Result<std::string> UserService::ensure_admin(const std::string& initial_password) {
    auto any = any_user();
    if (!any) return tl::unexpected(any.error());
    if (*any) return std::string();

    std::string password = initial_password.empty() ? random_password() : initial_password;
    auto hash = hash_password(password);
    if (!hash) return tl::unexpected(hash.error());
    const std::string name(kAdminName);
    // Create-only: of two daemons starting on an empty store exactly one sets the password.
    auto rev = store_.compare_and_swap(user_key(name), 0, record(name, *hash, clock_.now_seconds()));
    if (!rev) {
        if (rev.error().code == Errc::Conflict) return std::string();
        return tl::unexpected(rev.error());
    }
    log::get("auth")->warn("no user existed; created the initial admin user={}", name);
    return password;
}

}  // namespace kvmhub::auth
