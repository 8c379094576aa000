// A real OpenLDAP server for the directory-login tests: /usr/sbin/slapd on 127.0.0.1 (ldap:// and
// ldaps://, StartTLS on the first) with a config, an mdb database, a CA and a server certificate
// made by openssl, all in a temp dir of its own. The users are loaded with slapadd before it
// starts; it is stopped by its pid, never by name.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace kvmhub::test {

struct SlapdUser {
    std::string uid;
    std::string password;
};

class Slapd {
public:
    // Users under ou=people,<suffix()>.
    explicit Slapd(std::vector<SlapdUser> users);
    ~Slapd();
    Slapd(const Slapd&) = delete;
    Slapd& operator=(const Slapd&) = delete;

    // False (with the reason in error()) when slapd did not come up.
    bool running() const { return pid_ > 0; }
    const std::string& error() const { return error_; }
    std::string ldap_url() const;   // ldap://127.0.0.1:<port>
    std::string ldaps_url() const;  // ldaps://127.0.0.1:<port>
    static std::string suffix() { return "dc=kvmhub,dc=test"; }
    static std::string people() { return "ou=people,dc=kvmhub,dc=test"; }
    // The CA that signed the server's certificate (PEM).
    std::string ca_file() const { return dir_.file("ca.pem"); }
    // Another CA, which signed nothing this server shows.
    std::string other_ca_file() const { return dir_.file("other-ca.pem"); }
    std::string log() const;
    void stop();

private:
    TempDir dir_;
    int ldap_port_ = 0;
    int ldaps_port_ = 0;
    pid_t pid_ = -1;
    std::string error_;
};

}  // namespace kvmhub::test
