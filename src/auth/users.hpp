// Admin users: name + argon2id hash, one JSON record per user at /users/<name>:
// {"name": "...", "hash": "$argon2id$...", "created": <unix s>, "updated": <unix s>}.
// Passwords and hashes never leave this service (not logged, not returned).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "store/store.hpp"

namespace kvmhub::auth {

inline constexpr std::string_view kUsersPrefix = "/users/";

// BadInput (where="username") unless `name` matches [A-Za-z0-9._-]{1,64}.
Status validate_username(std::string_view name);

class UserService {
public:
    UserService(store::Store& store, const Clock& clock);

    // Conflict if the user exists; BadInput for an invalid name or password.
    Status add(const std::string& name, std::string_view password);
    // NotFound if the user does not exist; BadInput for an invalid name or password.
    Status set_password(const std::string& name, std::string_view password);
    // The user name, or Unauthorized "wrong user name or password" for an unknown user, a
    // wrong password and an invalid name alike, in comparable time (no user enumeration).
    Result<std::string> authenticate(std::string_view name, std::string_view password);
    Result<bool> any_user();
    // Sorted user names.
    Result<std::vector<std::string>> list();

    // First start: if there is no user, creates "admin" with `initial_password` (a random one
    // when empty) and returns the password set, for main to print once. Returns "" when users
    // already exist or another daemon created "admin" at the same time.
    Result<std::string> ensure_admin(const std::string& initial_password);

private:
    std::string record(const std::string& name, const std::string& hash, std::int64_t created) const;

    store::Store& store_;
    const Clock& clock_;
};

}  // namespace kvmhub::auth
