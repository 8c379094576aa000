#include "common/cidr.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace kvmhub {
namespace {

// The address as 16 bytes (IPv4 in the first 4) and whether it is IPv6; false when it does not parse.
bool parse_address(std::string_view text, bool& v6, std::array<unsigned char, 16>& bytes) {
    const std::string s(text);
    bytes.fill(0);
    if (inet_pton(AF_INET, s.c_str(), bytes.data()) == 1) {
        v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, s.c_str(), bytes.data()) != 1) return false;
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes.data(), kMapped, sizeof kMapped) == 0) {
        std::memmove(bytes.data(), bytes.data() + 12, 4);
        std::memset(bytes.data() + 4, 0, 12);
        v6 = false;
        return true;
    }
    v6 = true;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

Result<Cidr> Cidr::parse(std::string_view text) {
    Cidr out;
    const auto slash = text.find('/');
    if (!parse_address(text.substr(0, slash), out.v6_, out.bytes_))
        return fail(Errc::BadInput, "cidr", "'" + std::string(text) + "' is not an IP address or network");
    const int bits = out.v6_ ? 128 : 32;
    out.prefix_ = bits;
    if (slash != std::string_view::npos) {
        const std::string_view p = text.substr(slash + 1);
        int prefix = 0;
        if (p.empty() || p.size() > 3) prefix = -1;
        for (char c : p) prefix = c >= '0' && c <= '9' && prefix >= 0 ? prefix * 10 + (c - '0') : -1;
        if (prefix < 0 || prefix > bits)
            return fail(Errc::BadInput, "cidr",
                        "'" + std::string(text) + "' has no valid prefix length (0 to " + std::to_string(bits) + ")");
        out.prefix_ = prefix;
    }
    return out;
}

bool Cidr::contains(std::string_view address) const {
    bool v6 = false;
    std::array<unsigned char, 16> bytes{};
    if (!parse_address(address, v6, bytes) || v6 != v6_) return false;
    const int full = prefix_ / 8;
    if (std::memcmp(bytes.data(), bytes_.data(), static_cast<std::size_t>(full)) != 0) return false;
    const int rest = prefix_ % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (bytes[static_cast<std::size_t>(full)] & mask) == (bytes_[static_cast<std::size_t>(full)] & mask);
}

Result<std::vector<Cidr>> parse_cidr_list(std::string_view text, std::string_view field) {
    std::vector<Cidr> out;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        if (item.empty()) continue;
        auto cidr = Cidr::parse(item);
        if (!cidr) return fail(Errc::BadInput, std::string(field), cidr.error().desc);
        out.push_back(*cidr);
    }
    return out;
}

int ip_family(std::string_view text) {
    bool v6 = false;
    std::array<unsigned char, 16> bytes{};
    if (text.find('/') != std::string_view::npos || !parse_address(text, v6, bytes)) return 0;
    return v6 ? AF_INET6 : AF_INET;
}

Result<Cidr> parse_interface_address(std::string_view text, std::string_view field) {
    const std::string name(field);
    auto cidr = Cidr::parse(text);
    if (!cidr || text.find('/') == std::string_view::npos || cidr->prefix() == 0)
        return fail(Errc::BadInput, name,
                    "'" + name + "' must be an address with its prefix length, such as 192.0.2.10/24, not '" +
                        std::string(text) + "'");
    return cidr;
}

bool any_contains(const std::vector<Cidr>& list, std::string_view address) {
    for (const auto& c : list)
        if (c.contains(address)) return true;
    return false;
}

}  // namespace kvmhub
