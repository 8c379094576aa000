#include "support/stores.hpp"

#include <stdexcept>

#include "common/clock.hpp"
#include "store/sqlite_store.hpp"

namespace kvmhub::test {

std::unique_ptr<store::Store> open_memory_store() {
    static SystemClock clock;
    auto opened = store::SqliteStore::open(":memory:", clock);
    if (!opened) throw std::runtime_error("cannot open an in-memory store: " + opened.error().desc);
    return std::move(*opened);
}

}  // namespace kvmhub::test
