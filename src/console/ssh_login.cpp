#include "console/ssh_login.hpp"

#include <charconv>
#include <optional>

#include <fmt/format.h>

namespace kvmhub::console {
namespace {

// A port as a number or a numeric string (older records, and simplekvm's, hold a string).
std::optional<std::uint16_t> port_of(const nlohmann::json& value) {
    if (value.is_number_integer()) {
        const auto port = value.get<std::int64_t>();
        if (port < 1 || port > 65535) return std::nullopt;
        return static_cast<std::uint16_t>(port);
    }
    if (!value.is_string()) return std::nullopt;
    const auto& text = value.get_ref<const std::string&>();
    unsigned port = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(port);
}

}  // namespace

UriAuthority uri_authority(std::string_view uri) {
    UriAuthority out;
    auto scheme_end = uri.find("://");
    if (scheme_end == std::string_view::npos) return out;
    std::string_view scheme = uri.substr(0, scheme_end);
    if (auto plus = scheme.find('+'); plus != std::string_view::npos) out.transport = scheme.substr(plus + 1);
    std::string_view rest = uri.substr(scheme_end + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        out.user = authority.substr(0, at);
        authority.remove_prefix(at + 1);
    }
    std::string_view port;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        out.host = authority.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
        if (close != std::string_view::npos && authority.substr(close + 1).starts_with(':'))
            port = authority.substr(close + 2);
    } else {
        auto colon = authority.find(':');
        out.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    out.port = port;
    return out;
}

Result<SshLogin> ssh_login_of(const std::string& host, const nlohmann::json& record) {
    SshLogin login;
    login.address = record.value("ipaddr", "");
    if (login.address.empty())
        return fail(Errc::BadInput, "ipaddr",
                    fmt::format("host {} has no ipaddr for kvmhub to reach its ssh server on", host));
    auto uri = uri_authority(record.value("url", ""));
    const bool ssh_uri = uri.transport == "ssh" || uri.transport == "libssh" || uri.transport == "libssh2";
    login.user = ssh_uri && !uri.user.empty() ? uri.user : record.value("sshuser", "");
    if (login.user.empty())
        return fail(Errc::BadInput, "sshuser",
                    fmt::format("host {} names no ssh user (sshuser, or user@ in a qemu+ssh:// URL)", host));
    std::optional<std::uint16_t> port;
    if (ssh_uri && !uri.port.empty()) {
        port = port_of(nlohmann::json(uri.port));
        if (!port) return fail(Errc::BadInput, "url", fmt::format("the port in host {}'s URL is not a TCP port", host));
    } else if (record.contains("sshport")) {
        port = port_of(record["sshport"]);
        if (!port)
            return fail(Errc::BadInput, "sshport",
                        fmt::format("host {}'s sshport is not a TCP port (1 to 65535)", host));
    }
    login.port = port.value_or(22);
    return login;
}

}  // namespace kvmhub::console
