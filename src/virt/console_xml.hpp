// Reading the consoles (graphics, serial) out of a domain's live XML (pugixml, no libvirt calls).
#pragma once

#include <string_view>

#include "common/result.hpp"
#include "virt/hypervisor.hpp"

namespace kvmhub::virt {

// `running` is left false: the caller knows the state, the XML does not say it.
Result<ConsoleInfo> parse_console_xml(std::string_view xml);

}  // namespace kvmhub::virt
