// XML/HTML text escaping shared by the template engine and the libvirt layer.
#pragma once

#include <string>
#include <string_view>

namespace kvmhub {

// Appends `text` with & < > " ' replaced by entities (numeric for quotes, as Jinja writes them),
// safe in element text and in single- or double-quoted attributes.
void append_xml_escaped(std::string_view text, std::string& out);

inline std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    append_xml_escaped(text, out);
    return out;
}

}  // namespace kvmhub
