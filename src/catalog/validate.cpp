#include "catalog/validate.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

namespace kvmhub::catalog {
namespace {

bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

bool hostname_ok(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    std::size_t label = 0;
    for (char c : h) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
        } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
            if (++label > 63) return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

}  // namespace

Status check_name(std::string_view field, std::string_view value) {
    if (value.empty() || value.size() > 64 || !std::all_of(value.begin(), value.end(), name_char) || value == "." ||
        value == "..")
        return fail(Errc::BadInput, std::string(field),
                    fmt::format("'{}' is not a valid {}: use 1 to 64 letters, digits, '.', '_' or '-'", value, field));
    return {};
}

Status check_arch(std::string_view field, std::string_view value) {
    if (value != "x86_64" && value != "aarch64")
        return fail(Errc::BadInput, std::string(field),
                    fmt::format("unknown architecture '{}': use x86_64 or aarch64", value));
    return {};
}

Status check_libvirt_uri(std::string_view field, std::string_view value, bool allow_test_files) {
    auto bad = [&](std::string_view why) {
        return fail(Errc::BadInput, std::string(field),
                    fmt::format("'{}' is not an allowed libvirt URI ({}); examples: qemu:///system, "
                                "qemu+ssh://root@192.0.2.7/system, qemu+tls://host/system, test:///default",
                                value, why));
    };
    if (value.find_first_of(" \t\n\r") != std::string_view::npos) return bad("contains whitespace");
    auto sep = value.find("://");
    if (sep == std::string_view::npos) return bad("missing '://'");
    const std::string_view scheme = value.substr(0, sep);
    const std::string_view rest = value.substr(sep + 3);
    const auto query_at = rest.find('?');
    const std::string_view before_query = rest.substr(0, query_at);
    std::string_view query = query_at == std::string_view::npos ? "" : rest.substr(query_at + 1);
    const auto slash = before_query.find('/');
    if (slash == std::string_view::npos) return bad("missing path such as /system");
    const std::string_view authority = before_query.substr(0, slash);
    const std::string_view path = before_query.substr(slash);

    // libvirt's test driver reads the file the path names and echoes its first line in a
    // parse error: only its built-in node, unless a test setup allows files on purpose.
    if (scheme == "test" || scheme == "test+unix") {
        if (value == "test:///default") return {};
        if (!allow_test_files)
            return bad("the test driver is allowed with test:///default only (test files need "
                       "libvirt.allow_test_files, a setting for kvmhub's own tests)");
        if (!authority.empty() || !query.empty() || path.size() < 2) return bad("expected test[+unix]:///<file>");
        return {};
    }
    static constexpr std::array<std::string_view, 6> kSchemes{"qemu",     "qemu+ssh",  "qemu+libssh2",
                                                              "qemu+tls", "qemu+tcp",  "qemu+unix"};
    if (std::find(kSchemes.begin(), kSchemes.end(), scheme) == kSchemes.end())
        return bad("the scheme must be one of qemu, qemu+ssh, qemu+libssh2, qemu+tls, qemu+tcp, qemu+unix, or "
                   "test:///default");
    if (path != "/system" && path != "/session") return bad("the path must be /system or /session");
    if (authority.find_first_of("\"'\\`$;|&<>()") != std::string_view::npos) return bad("invalid characters");
    const bool remote = scheme != "qemu" && scheme != "qemu+unix";
    if (remote && authority.empty()) return bad("a remote transport needs a host");
    if (!remote && !authority.empty()) return bad("a local transport takes no host");
    // Parameters that make libvirt run a program (command=, netcat=) or read a file of the
    // manager's (socket=, keyfile=, pkipath=, known_hosts=) are for the operator's own
    // libvirt config, never for an API caller.
    static constexpr std::array<std::string_view, 6> kParams{"no_verify", "no_tty", "sshauth",
                                                             "mode",      "proxy",  "known_hosts_verify"};
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const std::string_view key = pair.substr(0, pair.find('='));
        if (std::find(kParams.begin(), kParams.end(), key) == kParams.end())
            return bad(fmt::format("the URI parameter '{}' is not allowed; allowed: no_verify, no_tty, sshauth, "
                                   "mode, proxy, known_hosts_verify",
                                   key));
        if (pair.find_first_of("\"'\\`$;|&<>()/") != std::string_view::npos)
            return bad(fmt::format("the URI parameter '{}' has an invalid value", key));
    }
    return {};
}

Status check_host(std::string_view field, std::string_view value) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(std::string(value), ec);
    if (!ec || hostname_ok(value)) return {};
    return fail(Errc::BadInput, std::string(field),
                fmt::format("'{}' is neither an IP address nor a host name", value));
}

Result<std::string> optional_string_field(const nlohmann::json& body, const std::string& field) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::string();
    if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
    if (!it->is_string())
        return fail(Errc::BadInput, field, fmt::format("'{}' must be a string, got {}", field, it->type_name()));
    return it->get<std::string>();
}

Result<std::string> string_field(const nlohmann::json& body, const std::string& field) {
    if (!body.contains(field) || body[field].is_null())
        return fail(Errc::BadInput, field, fmt::format("'{}' is required", field), 800);
    auto value = optional_string_field(body, field);
    if (value && value->empty()) return fail(Errc::BadInput, field, fmt::format("'{}' must not be empty", field), 800);
    return value;
}

Result<std::uint16_t> port_field(const nlohmann::json& body, const std::string& field) {
    auto text = string_field(body, field);
    if (!text) return tl::unexpected(text.error());
    if (text->size() > 5 || !std::all_of(text->begin(), text->end(), [](char c) { return std::isdigit(c); }) ||
        std::stoi(*text) < 1 || std::stoi(*text) > 65535)
        return fail(Errc::BadInput, field, fmt::format("'{}' is not a TCP port: use a number from 1 to 65535", *text));
    return static_cast<std::uint16_t>(std::stoi(*text));
}

}  // namespace kvmhub::catalog
