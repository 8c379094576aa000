// Reading libvirt domain XML (pugixml; no libvirt calls here) and building the metadata
// element kvmhub writes back.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "virt/hypervisor.hpp"

namespace kvmhub::virt {

// The namespace of kvmhub's (and simplekvm's) key/value metadata element.
inline constexpr const char* kMdconfigUri = "urn:iso-meta";
inline constexpr const char* kMdconfigPrefix = "mdconfig";

struct InterfaceTarget {
    std::string mac;
    std::string dev;  // host-side device name; "" when the domain is not running
};

struct DomainXml {
    std::string uuid;
    std::string name;
    std::string title;
    std::string description;
    int max_vcpus = 0;
    nlohmann::json mdconfig = nlohmann::json::object();
    std::vector<DiskInfo> disks;
    std::vector<NetInfo> nets;
    std::vector<InterfaceTarget> targets;
};

// Parses a domain definition; `on_malformed` is the error code when it is not domain XML
// (BadInput for a caller's XML, HostError for XML a host sent).
Result<DomainXml> parse_domain_xml(std::string_view xml, Errc on_malformed);

// `<meta><key>value</key>...</meta>` for virDomainSetMetadata. Keys must be XML element names;
// values strings, numbers, booleans or null (written as text).
Result<std::string> mdconfig_element(const nlohmann::json& values);

// True for a name usable as an XML element: [A-Za-z_][A-Za-z0-9_.-]*.
bool is_element_name(std::string_view name);

}  // namespace kvmhub::virt
