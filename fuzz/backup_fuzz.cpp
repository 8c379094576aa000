// libFuzzer target: restore_backup on arbitrary bytes into an in-memory SqliteStore. Whatever the
// input, the restore must not crash, and a refused archive must leave the store as it was.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "catalog/backup.hpp"
#include "common/clock.hpp"
#include "store/sqlite_store.hpp"

namespace {

kvmhub::store::Store& fuzz_store() {
    static kvmhub::SystemClock clock;
    static std::unique_ptr<kvmhub::store::SqliteStore> store = [] {
        auto opened = kvmhub::store::SqliteStore::open(":memory:", clock);
        if (!opened) std::abort();
        return std::move(*opened);
    }();
    return *store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    kvmhub::store::Store& store = fuzz_store();
    kvmhub::catalog::BackupSpec spec;
    spec.prefixes = {"/catalog/"};
    spec.validate = [](const std::string&, const std::string&) -> kvmhub::Status { return {}; };

    // A key the restore may only touch when it succeeds (replace erases /catalog/).
    if (!store.put("/catalog/sentinel", "before")) std::abort();
    const auto revision = store.current_revision();
    if (!revision) std::abort();
    const std::string_view archive(reinterpret_cast<const char*>(data), size);
    auto report = kvmhub::catalog::restore_backup(store, spec, archive, true);
    if (!report) {
        const auto after = store.current_revision();
        if (!after || *after != *revision) __builtin_trap();
    }
    if (report && report->apply > report->total) __builtin_trap();
    return 0;
}
