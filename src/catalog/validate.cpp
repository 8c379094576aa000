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

Status check_libvirt_uri(std::string_view field, std::string_view value) {
    auto bad = [&](std::string_view why) {
        return fail(Errc::BadInput, std::string(field),
                    fmt::format("'{}' is not a libvirt URI ({}); examples: qemu:///system, "
                                "qemu+ssh://root@192.0.2.7/system, qemu+tls://host/system, test:///default",
                                value, why));
    };
    auto sep = value.find("://");
    if (sep == std::string_view::npos) return bad("missing '://'");
    std::string_view scheme = value.substr(0, sep);
    std::string_view driver = scheme.substr(0, scheme.find('+'));
    std::string_view transport = scheme.find('+') == std::string_view::npos ? "" : scheme.substr(scheme.find('+') + 1);
    static constexpr std::array<std::string_view, 4> kDrivers{"qemu", "test", "kvm", "lxc"};
    static constexpr std::array<std::string_view, 6> kTransports{"", "ssh", "tls", "tcp", "unix", "libssh2"};
    if (std::find(kDrivers.begin(), kDrivers.end(), driver) == kDrivers.end()) return bad("unknown driver");
    if (std::find(kTransports.begin(), kTransports.end(), transport) == kTransports.end())
        return bad("unknown transport");
    std::string_view rest = value.substr(sep + 3);
    std::string_view authority = rest.substr(0, rest.find('/'));
    if (rest.find('/') == std::string_view::npos) return bad("missing path such as /system");
    if (authority.find_first_of(" \t\"'\\") != std::string_view::npos) return bad("invalid characters");
    if (value.find_first_of(" \t\n\r") != std::string_view::npos) return bad("contains whitespace");
    if ((transport == "ssh" || transport == "tls" || transport == "tcp" || transport == "libssh2") && authority.empty())
        return bad("a remote transport needs a host");
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
