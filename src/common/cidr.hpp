// IP addresses and networks (address/prefix): source allowlists, a guest's static addresses.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace kvmhub {

class Cidr {
public:
    // "127.0.0.0/8", "::1/128", or a bare address (the whole address).
    static Result<Cidr> parse(std::string_view text);
    // `address` as text; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as its IPv4 one.
    bool contains(std::string_view address) const;
    bool v6() const { return v6_; }
    int prefix() const { return prefix_; }

private:
    bool v6_ = false;
    std::array<unsigned char, 16> bytes_{};
    int prefix_ = 0;
};

// The family of a bare IP address: AF_INET or AF_INET6; 0 when `text` is not one.
int ip_family(std::string_view text);

// An interface address with its prefix length ("192.0.2.10/24", "2001:db8::5/64"): the prefix
// is required and is never 0. BadInput naming `field`.
Result<Cidr> parse_interface_address(std::string_view text, std::string_view field);

// A comma-separated list of networks (blanks around items ignored); BadInput naming `field`.
Result<std::vector<Cidr>> parse_cidr_list(std::string_view text, std::string_view field);
// Whether any network of `list` holds `address`.
bool any_contains(const std::vector<Cidr>& list, std::string_view address);

}  // namespace kvmhub
