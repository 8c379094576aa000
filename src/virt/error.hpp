// libvirt reports errors per thread; this turns the last one into an Error a caller can act on.
#pragma once

#include <string>

#include "common/result.hpp"

namespace kvmhub::virt {

// simplekvm reported every hypervisor failure with this code.
inline constexpr int kLegacyHypervisorError = 996;

// Reads and clears the calling thread's last libvirt error. Call it right after the failing
// call, on the same thread, before any other libvirt call can overwrite it.
Error last_error(std::string where);

// The libvirt error number of the calling thread's last error (0 when none), for callers that
// retry with fewer flags when a driver rejects one. Does not clear the error.
int last_error_number();

// True when `number` says the driver does not support a flag or the call.
bool is_unsupported(int number);

}  // namespace kvmhub::virt
