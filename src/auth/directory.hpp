// Directory logins: a user the store does not know may log in with the password of an LDAP
// account. kvmhub makes a simple bind as `<uid_format with the name>,<base_dn>` with the given
// password (over ldaps://, or ldap:// with StartTLS when asked); the server's yes is the whole
// proof, and kvmhub keeps no copy of the password. A user that the directory accepts and
// ldap.allow / ldap.block permit gets a session like a local one (auth/sessions.hpp, source
// "directory"), so logout, the session routes and revocation apply to it.
//
// Threat model: the login name is checked against validate_username() before it is put in a
// DN, so it cannot add RDNs or attributes; an empty password is refused before any bind (LDAP
// takes it as an anonymous bind, which "succeeds"); referrals are not followed; the server's
// certificate is verified against ldap.ca_file (or the system's CAs) and a failed StartTLS
// refuses the login instead of binding in clear. Every call has ldap.timeout, so a dead
// directory costs a login request that long and nothing else.
#pragma once

#include <string>
#include <string_view>

#include "auth/sessions.hpp"
#include "common/config.hpp"
#include "common/result.hpp"

namespace kvmhub::auth {

inline constexpr std::string_view kDirectorySource = "directory";

class Directory {
public:
    explicit Directory(LdapConfig config);

    bool configured() const { return !config_.url.empty(); }

    // The DN a login name binds as.
    std::string dn(std::string_view user) const;

    // Ok when the directory accepts `password` for `user`. Unauthorized ("wrong user name or
    // password") for a wrong password, an unknown or invalid name and an empty password;
    // HostUnavailable (where="ldap") when the directory cannot be reached, does not answer in
    // time or its TLS fails.
    Status bind(std::string_view user, std::string_view password) const;

    // Forbidden (where="username") when ldap.block names the user, or ldap.allow is not empty
    // and does not; also when no directory is configured any more.
    Status permits(std::string_view user) const;

private:
    LdapConfig config_;
};

class UserService;

// A login: a name the store knows is a local user and never reaches the directory (a disabled
// local user stays refused, whatever the directory says); any other name is tried against the
// directory when one is configured. Unauthorized for a wrong password either way; Forbidden when
// the directory said yes but ldap.allow / ldap.block do not permit the user (only someone with
// the password learns that).
Result<Session> sign_in(UserService& users, const Directory& directory, SessionService& sessions, std::string_view name,
                        std::string_view password, const std::string& ip);

}  // namespace kvmhub::auth
