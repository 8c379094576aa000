// A file followed like `tail -f`, as a read-only BytePipe: the last part of what is there,
// then whatever is appended (a truncated or replaced file is read again from its start).
// One thread per follower: log viewers are few and a poll every 250 ms costs nothing.
#pragma once

#include <memory>
#include <string>

#include "common/byte_pipe.hpp"
#include "common/result.hpp"

namespace kvmhub::console {

// NotFound/Forbidden-style errors when `path` cannot be opened for reading now.
Result<std::shared_ptr<BytePipe>> follow_file(const std::string& path);

}  // namespace kvmhub::console
