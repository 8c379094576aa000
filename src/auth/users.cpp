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

tl::unexpected<Error> wrong_credentials() {
    return fail(Errc::Unauthorized, "credentials", "wrong user name or password");
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
    const json j = {{"name", name}, {"hash", hash}, {"created", created}, {"updated", clock_.now_seconds()}};
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

Status UserService::set_password(const std::string& name, std::string_view password) {
    if (auto ok = validate_username(name); !ok) return ok;
    auto hash = hash_password(password);  // once, outside the retry loop: it is the slow part
    if (!hash) return tl::unexpected(hash.error());
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        auto kv = store_.get(user_key(name));
        if (!kv) return tl::unexpected(kv.error());
        if (!*kv) return fail(Errc::NotFound, "username", fmt::format("no user {}", name));
        const json old = json::parse((*kv)->value, nullptr, false);
        std::int64_t created = clock_.now_seconds();
        if (old.is_object() && old.contains("created") && old["created"].is_number_integer()) {
            created = old["created"].get<std::int64_t>();
        }
        auto rev = store_.compare_and_swap(user_key(name), (*kv)->mod_revision, record(name, *hash, created));
        if (rev) {
            log::get("auth")->info("password changed user={}", name);
            return {};
        }
        if (rev.error().code != Errc::Conflict) return tl::unexpected(rev.error());
    }
    return fail(Errc::Conflict, "username", fmt::format("user {} is being changed concurrently; try again", name));
}

Result<std::string> UserService::authenticate(std::string_view name, std::string_view password) {
    std::string hash;
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
        }
    }
    if (hash.empty()) {
        verify_password(dummy_hash(), password);  // spend the time, ignore the answer
        return wrong_credentials();
    }
    if (!verify_password(hash, password)) return wrong_credentials();
    return std::string(name);
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
