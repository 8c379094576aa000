#include "auth/directory.hpp"

#include <ldap.h>
#include <sys/time.h>

#include <algorithm>

#include <fmt/format.h>

#include "auth/users.hpp"
#include "common/log.hpp"

namespace kvmhub::auth {
namespace {

// One connection per login: binds are rare, and a handle bound as one user must never serve another.
class Connection {
public:
    Connection() = default;
    ~Connection() {
        if (ld_ != nullptr) ldap_unbind_ext_s(ld_, nullptr, nullptr);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    LDAP** out() { return &ld_; }
    LDAP* get() const { return ld_; }

    // The server's diagnostic message for the last operation, if it sent one.
    std::string diagnostic() const {
        char* text = nullptr;
        if (ld_ == nullptr || ldap_get_option(ld_, LDAP_OPT_DIAGNOSTIC_MESSAGE, &text) != LDAP_OPT_SUCCESS ||
            text == nullptr)
            return {};
        std::string out(text);
        ldap_memfree(text);
        return out;
    }

private:
    LDAP* ld_ = nullptr;
};

Status unreachable(const LdapConfig& config, const Connection& connection, std::string_view step, int rc) {
    const std::string diagnostic = connection.diagnostic();
    return fail(Errc::HostUnavailable, "ldap",
                fmt::format("the directory {} failed at {}: {}{}", config.url, step, ldap_err2string(rc),
                            diagnostic.empty() ? std::string() : " (" + diagnostic + ")"));
}

Status set_options(const LdapConfig& config, const Connection& connection) {
    LDAP* ld = connection.get();
    const int version = LDAP_VERSION3;
    const timeval timeout{static_cast<time_t>(config.timeout.count()), 0};
    bool ok = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &timeout) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_TIMEOUT, &timeout) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) == LDAP_OPT_SUCCESS;
    const int demand = LDAP_OPT_X_TLS_DEMAND;
    ok = ok && ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) == LDAP_OPT_SUCCESS;
    if (ok && !config.ca_file.empty())
        ok = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, config.ca_file.c_str()) == LDAP_OPT_SUCCESS;
    // The TLS options above take effect in a new context of this handle only.
    const int server = 0;
    ok = ok && ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &server) == LDAP_OPT_SUCCESS;
    if (!ok)
        return fail(Errc::HostUnavailable, "ldap",
                    fmt::format("cannot set up the connection to {} (ldap.ca_file '{}' readable?)", config.url,
                                config.ca_file));
    return {};
}

// Answers that mean "this name and password do not log in", as opposed to "the directory is broken".
bool refused_credentials(int rc) {
    return rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH || rc == LDAP_UNWILLING_TO_PERFORM ||
           rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_INVALID_DN_SYNTAX;
}

bool listed(const std::vector<std::string>& names, std::string_view user) {
    return std::find(names.begin(), names.end(), user) != names.end();
}

}  // namespace

Directory::Directory(LdapConfig config) : config_(std::move(config)) {}

std::string Directory::dn(std::string_view user) const {
    std::string rdn = config_.uid_format;
    const auto at = rdn.find("{uid}");
    if (at != std::string::npos) rdn.replace(at, 5, user);
    return config_.base_dn.empty() ? rdn : rdn + "," + config_.base_dn;
}

Status Directory::bind(std::string_view user, std::string_view password) const {
    // [A-Za-z0-9._-] has nothing a DN gives meaning to, so the name is one RDN value as it is.
    if (!configured() || !validate_username(user) || password.empty()) return wrong_credentials();
    Connection connection;
    if (int rc = ldap_initialize(connection.out(), config_.url.c_str()); rc != LDAP_SUCCESS)
        return unreachable(config_, connection, "ldap_initialize", rc);
    if (auto ok = set_options(config_, connection); !ok) return ok;
    if (config_.starttls) {
        if (int rc = ldap_start_tls_s(connection.get(), nullptr, nullptr); rc != LDAP_SUCCESS) {
            auto error = unreachable(config_, connection, "StartTLS", rc);
            log::get("auth")->warn("ldap login refused user={}: {}", user, error.error().desc);
            return error;
        }
    }
    const std::string dn = this->dn(user);
    berval credentials{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
    const int rc =
        ldap_sasl_bind_s(connection.get(), dn.c_str(), LDAP_SASL_SIMPLE, &credentials, nullptr, nullptr, nullptr);
    if (rc == LDAP_SUCCESS) return {};
    if (refused_credentials(rc)) {
        log::get("auth")->info("ldap bind refused dn={}: {}", dn, ldap_err2string(rc));
        return wrong_credentials();
    }
    auto error = unreachable(config_, connection, "bind", rc);
    log::get("auth")->warn("ldap login failed user={}: {}", user, error.error().desc);
    return error;
}

Status Directory::permits(std::string_view user) const {
    if (!configured())
        return fail(Errc::Forbidden, "username",
                    fmt::format("'{}' is a directory user and no directory is configured (ldap.url)", user));
    if (listed(config_.block, user))
        return fail(Errc::Forbidden, "username", fmt::format("'{}' may not log in (ldap.block)", user));
    if (!config_.allow.empty() && !listed(config_.allow, user))
        return fail(Errc::Forbidden, "username", fmt::format("'{}' may not log in (not in ldap.allow)", user));
    return {};
}

Result<Session> sign_in(UserService& users, const Directory& directory, SessionService& sessions, std::string_view name,
                        std::string_view password, const std::string& ip) {
    auto local = users.sign_in(name, password, sessions, ip);
    if (local || local.error().code != Errc::Unauthorized || !directory.configured()) return local;
    auto known = users.exists(name);
    if (!known) return tl::unexpected(known.error());
    if (*known) return local;
    if (auto bound = directory.bind(name, password); !bound) return tl::unexpected(bound.error());
    if (auto permitted = directory.permits(name); !permitted) {
        log::get("auth")->warn("ldap login refused user={}: {}", name, permitted.error().desc);
        return tl::unexpected(permitted.error());
    }
    return sessions.start(std::string(name), ip, kDirectorySource);
}

}  // namespace kvmhub::auth
