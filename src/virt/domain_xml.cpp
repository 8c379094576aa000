#include "virt/domain_xml.hpp"

#include <charconv>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "common/xml_escape.hpp"

namespace kvmhub::virt {
namespace {

std::string attr(const pugi::xml_node& node, const char* name) {
    return node.attribute(name).as_string();
}

// The element name without its namespace prefix.
std::string_view local_name(const char* qualified) {
    std::string_view name(qualified);
    auto colon = name.find(':');
    return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

bool declares_namespace(const pugi::xml_node& node, std::string_view uri) {
    for (const auto& a : node.attributes()) {
        std::string_view name(a.name());
        if ((name == "xmlns" || name.starts_with("xmlns:")) && uri == a.value()) return true;
    }
    return false;
}

DiskInfo read_disk(const pugi::xml_node& disk) {
    DiskInfo out;
    out.device = attr(disk, "device");
    out.type = attr(disk, "type");
    auto source = disk.child("source");
    auto target = disk.child("target");
    out.bus = attr(target, "bus");
    out.dev = attr(target, "dev");
    if (out.type == "network") {
        out.type = attr(source, "protocol");
        out.vol = attr(source, "name");
    } else if (out.type == "volume") {
        if (source) out.vol = attr(source, "pool") + "/" + attr(source, "volume");
    } else if (out.type == "block") {
        out.vol = attr(source, "dev");
    } else if (out.type == "dir") {
        out.vol = attr(source, "dir");
    } else {
        out.vol = attr(source, "file");
    }
    return out;
}

nlohmann::json read_mdconfig(const pugi::xml_node& metadata) {
    auto values = nlohmann::json::object();
    for (const auto& element : metadata.children()) {
        if (element.type() != pugi::node_element || !declares_namespace(element, kMdconfigUri)) continue;
        for (const auto& child : element.children()) {
            if (child.type() == pugi::node_element) values[std::string(local_name(child.name()))] = child.text().get();
        }
    }
    return values;
}

}  // namespace

Result<DomainXml> parse_domain_xml(std::string_view xml, Errc on_malformed) {
    pugi::xml_document doc;
    auto parsed = doc.load_buffer(xml.data(), xml.size());
    if (!parsed) {
        return fail(on_malformed, "xml",
                    fmt::format("domain XML does not parse: {} at offset {}", parsed.description(), parsed.offset));
    }
    auto domain = doc.child("domain");
    if (!domain) return fail(on_malformed, "xml", "domain XML has no <domain> root element");

    DomainXml out;
    out.uuid = domain.child_value("uuid");
    out.name = domain.child_value("name");
    out.title = domain.child_value("title");
    out.description = domain.child_value("description");
    std::string_view vcpu = domain.child_value("vcpu");
    std::from_chars(vcpu.data(), vcpu.data() + vcpu.size(), out.max_vcpus);
    out.mdconfig = read_mdconfig(domain.child("metadata"));

    auto devices = domain.child("devices");
    for (const auto& disk : devices.children("disk")) out.disks.push_back(read_disk(disk));
    for (const auto& iface : devices.children("interface")) {
        NetInfo net{attr(iface, "type"), attr(iface.child("model"), "type"), attr(iface.child("mac"), "address")};
        out.targets.push_back({net.mac, attr(iface.child("target"), "dev")});
        out.nets.push_back(std::move(net));
    }
    return out;
}

bool is_element_name(std::string_view name) {
    auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (name.empty() || !alpha(name.front())) return false;
    for (char c : name.substr(1)) {
        if (!alpha(c) && !digit(c) && c != '.' && c != '-') return false;
    }
    return true;
}

Result<std::string> mdconfig_element(const nlohmann::json& values) {
    if (!values.is_object()) return fail(Errc::BadInput, "mdconfig", "mdconfig must be an object of key/values");
    std::string out = "<meta>";
    for (const auto& [key, value] : values.items()) {
        if (!is_element_name(key)) {
            return fail(Errc::BadInput, "mdconfig",
                        fmt::format("mdconfig key '{}' is not usable as an XML element name: start with a letter or "
                                    "_, then letters, digits, _ . or -",
                                    key));
        }
        std::string text;
        if (value.is_string()) {
            text = value.get<std::string>();
        } else if (value.is_number() || value.is_boolean()) {
            text = value.dump();
        } else if (!value.is_null()) {
            return fail(Errc::BadInput, "mdconfig",
                        fmt::format("mdconfig value of '{}' must be a string, number or boolean", key));
        }
        out += fmt::format("<{0}>{1}</{0}>", key, xml_escape(text));
    }
    out += "</meta>";
    return out;
}

}  // namespace kvmhub::virt
