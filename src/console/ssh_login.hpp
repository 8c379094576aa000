// Where kvmhub logs in with ssh to reach a host's consoles, read from the host's catalog
// record: the address is its `ipaddr`; user and port come from its libvirt URI when that is an
// ssh transport naming them (qemu+ssh://admin@host:2222/system: libvirt already logs in that
// way), else from its `sshuser` and `sshport` fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace kvmhub::console {

// The authority of a libvirt URI, split: qemu+ssh://admin@h:2222/system -> ssh, admin, h, 2222.
struct UriAuthority {
    std::string transport;  // after '+' in the scheme; "" when none
    std::string user;
    std::string host;  // without the brackets of an IPv6 literal
    std::string port;  // "" when none
};
UriAuthority uri_authority(std::string_view uri);

struct SshLogin {
    std::string address;
    std::uint16_t port = 22;
    std::string user;
};

// BadInput naming the field when the record has no usable address, port or user.
Result<SshLogin> ssh_login_of(const std::string& host, const nlohmann::json& record);

}  // namespace kvmhub::console
