// Real stores for service tests: an in-memory SQLite store (":memory:"), empty each call.
#pragma once

#include <memory>

#include "store/store.hpp"

namespace kvmhub::test {

// Reads the system clock; tests that move time build their own SqliteStore with a ManualClock.
std::unique_ptr<store::Store> open_memory_store();

}  // namespace kvmhub::test
