// Admin users: name + argon2id hash, one JSON record per user at /users/<name>:
// {"name": "...", "hash": "$argon2id$...", "created": <unix s>, "updated": <unix s>,
//  "disabled": false, "last_login": <unix s, 0 = never>} (records from before "disabled" and
// "last_login" read as enabled and never logged in).
// Passwords and hashes never leave this service (not logged, not returned).
// Every change that ends sessions (auth/sessions.hpp) ends them in the same transaction as the
// change itself: a password change, disable and delete leave no session of the old state behind.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "auth/sessions.hpp"
#include "common/clock.hpp"
#include "common/result.hpp"
#include "store/store.hpp"

namespace kvmhub::auth {

inline constexpr std::string_view kUsersPrefix = "/users/";

// BadInput (where="username") unless `name` matches [A-Za-z0-9._-]{1,64}.
Status validate_username(std::string_view name);

// Unauthorized "wrong user name or password": the one answer to every failed login (local or
// directory), so that no login tells accounts apart.
tl::unexpected<Error> wrong_credentials();

// What the admin routes show of a user (never the hash).
struct UserInfo {
    std::string name;
    std::int64_t created = 0;
    std::int64_t updated = 0;
    bool disabled = false;
    std::int64_t last_login = 0;  // 0 = never

    nlohmann::json to_json() const;
};

class UserService {
public:
    UserService(store::Store& store, const Clock& clock);

    // Conflict if the user exists; BadInput for an invalid name or password.
    Status add(const std::string& name, std::string_view password);
    // NotFound if the user does not exist; BadInput for an invalid name or password. Ends every
    // session of the user but `keep_session` (empty: all of them) in the same transaction.
    Status set_password(const std::string& name, std::string_view password, std::string_view keep_session = {});
    // Deletes the user and ends all of its sessions. NotFound when there is no such user;
    // Conflict (where="username") when it is the last enabled user.
    Status remove(const std::string& name);
    // Disabling ends all of the user's sessions and refuses its logins; Conflict as remove() for
    // the last enabled user. Enabling lets it log in again. NotFound when there is no such user.
    Status set_disabled(const std::string& name, bool disabled);
    // The user name, or Unauthorized "wrong user name or password" for an unknown user, a
    // wrong password, a disabled user and an invalid name alike, in comparable time (no user
    // enumeration).
    Result<std::string> authenticate(std::string_view name, std::string_view password);
    // authenticate(), then a new session for the user, committed together with its last_login
    // (and only if the user was not changed meanwhile). Prunes ended session records first.
    Result<Session> sign_in(std::string_view name, std::string_view password, SessionService& sessions,
                            const std::string& ip);
    // Whether a local user of that name exists (enabled or not); false for an invalid name.
    Result<bool> exists(std::string_view name);
    Result<bool> any_user();
    // Sorted user names.
    Result<std::vector<std::string>> list();
    // Sorted by name.
    Result<std::vector<UserInfo>> describe();

    // First start: if there is no user, creates "admin" with `initial_password` (a random one
    // when empty) and returns the password set, for main to print once. Returns "" when users
    // already exist or another daemon created "admin" at the same time.
    Result<std::string> ensure_admin(const std::string& initial_password);

private:
    std::string record(const std::string& name, const std::string& hash, std::int64_t created) const;
    // The user's record when `password` is its password and it is enabled; nullopt otherwise,
    // after the same work either way.
    Result<std::optional<store::KeyValue>> verify(std::string_view name, std::string_view password);
    // remove() and disable: `change` is the op on the user's key; refuses the last enabled user.
    Status end_user(const std::string& name, bool erase);

    store::Store& store_;
    const Clock& clock_;
};

}  // namespace kvmhub::auth
