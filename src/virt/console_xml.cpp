#include "virt/console_xml.hpp"

#include <charconv>

#include <fmt/format.h>
#include <pugixml.hpp>

namespace kvmhub::virt {
namespace {

GraphicsInfo read_graphics(const pugi::xml_node& g) {
    GraphicsInfo out;
    out.type = g.attribute("type").as_string();
    std::string_view port = g.attribute("port").as_string("-1");
    if (std::from_chars(port.data(), port.data() + port.size(), out.port).ec != std::errc()) out.port = -1;
    out.listen = g.attribute("listen").as_string();
    // Newer libvirt writes the address in a <listen> child; it wins when both are there.
    for (const auto& l : g.children("listen")) {
        if (std::string_view(l.attribute("type").as_string()) == "address" && l.attribute("address")) {
            out.listen = l.attribute("address").as_string();
            break;
        }
    }
    out.passwd = g.attribute("passwd").as_string();
    return out;
}

}  // namespace

Result<ConsoleInfo> parse_console_xml(std::string_view xml) {
    pugi::xml_document doc;
    auto parsed = doc.load_buffer(xml.data(), xml.size());
    if (!parsed)
        return fail(Errc::HostError, "xml",
                    fmt::format("domain XML does not parse: {} at offset {}", parsed.description(), parsed.offset));
    auto devices = doc.child("domain").child("devices");
    ConsoleInfo out;
    for (const auto& g : devices.children("graphics")) {
        std::string_view type = g.attribute("type").as_string();
        if (type == "vnc" || type == "spice") out.graphics.push_back(read_graphics(g));
    }
    // A pty <serial> is what virDomainOpenConsole reaches; libvirt mirrors it as <console>.
    for (const char* kind : {"serial", "console"}) {
        for (const auto& s : devices.children(kind)) {
            if (std::string_view(s.attribute("type").as_string()) != "pty") continue;
            out.serial = true;
            if (out.serial_log.empty()) out.serial_log = s.child("log").attribute("file").as_string();
        }
    }
    return out;
}

}  // namespace kvmhub::virt
