// A domain's serial console as a BytePipe: a non-blocking libvirt stream whose events run on
// the libvirt event loop thread (the one that already serves keepalive and domain events), so
// a console costs no thread of its own. The stream keeps its host connection alive.
#pragma once

#include <memory>
#include <string>

#include "common/byte_pipe.hpp"
#include "common/result.hpp"
#include "virt/connections.hpp"

namespace kvmhub::virt {

// Blocks while libvirt opens the console: call it on a worker thread.
Result<std::shared_ptr<BytePipe>> open_console_stream(std::shared_ptr<Connection> conn, const HostRef& host,
                                                      const std::string& uuid);

}  // namespace kvmhub::virt
