// The NoCloud seed as a CD-ROM image, built in memory with libisofs: volume id "cidata",
// Joliet and Rock Ridge, one file per entry at the root.
#pragma once

#include <map>
#include <string>

#include "common/result.hpp"

namespace kvmhub::cloudinit {

// files: name -> content, e.g. {"meta-data", ...}, {"user-data", ...}, {"network-config", ...}.
// Names must be plain file names ([A-Za-z0-9._-]{1,64}); BadInput otherwise. Internal on a libisofs failure.
// The image is deterministic: the same files give the same bytes (fixed timestamps), so it can carry an ETag.
Result<std::string> build_cidata_iso(const std::map<std::string, std::string>& files);

}  // namespace kvmhub::cloudinit
