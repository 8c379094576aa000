// Owning handles for libvirt objects, so every early return releases what it looked up.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

#include <libvirt/libvirt.h>

#include "common/cfree.hpp"

namespace kvmhub::virt {

// Connections are not aliased here: they are shared per host (see connections.hpp).
using DomainPtr = CPtr<virDomain, virDomainFree>;
using SnapshotPtr = CPtr<virDomainSnapshot, virDomainSnapshotFree>;
using VolPtr = CPtr<virStorageVol, virStorageVolFree>;
using PoolPtr = CPtr<virStoragePool, virStoragePoolFree>;
// Strings libvirt hands over are malloc'ed and the caller frees them.
using CString = CPtr<char, std::free>;

// Takes ownership of a libvirt string; nullopt when the call failed (read last_error() next).
inline std::optional<std::string> take_string(char* raw) {
    CString owned(raw);
    if (owned == nullptr) return std::nullopt;
    return std::string(owned.get());
}

}  // namespace kvmhub::virt
