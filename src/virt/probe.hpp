// Quick questions to libvirt that need no connection pool (the pool arrives with the VM layer).
#pragma once

#include <string>

namespace kvmhub::virt {

// Silences libvirt's default printing of every error to stderr; errors are read per call.
void quiet_libvirt_errors();

// True when a read-only connection to `uri` opens (the daemon answers), false otherwise.
bool connection_answers(const std::string& uri);

}  // namespace kvmhub::virt
