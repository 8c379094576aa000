// An in-memory Store for the unit tests of services that only need get/put/list/commit.
// It is a test double, not a backend: watches and leases are not supported (they fail with
// Errc::Internal), so services that depend on them must be tested against a real backend.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"

namespace kvmhub::test {

class MemoryStore final : public store::Store {
public:
    std::string_view backend() const override { return "memory"; }

    Result<std::optional<store::KeyValue>> get(std::string_view key) override;
    Result<std::vector<store::KeyValue>> list(std::string_view prefix) override;
    Result<std::int64_t> put(std::string_view key, std::string_view value, store::LeaseId lease = 0) override;
    Result<bool> erase(std::string_view key) override;
    Result<std::int64_t> erase_prefix(std::string_view prefix) override;
    Result<std::int64_t> commit(const store::Txn& txn) override;
    Result<std::int64_t> current_revision() override;

    Result<store::WatchPtr> watch(std::string_view prefix, store::WatchCallback callback) override;
    Result<store::LeaseId> grant_lease(std::chrono::seconds ttl) override;
    Status keep_alive(store::LeaseId lease) override;
    Status revoke_lease(store::LeaseId lease) override;

    Status ping() override { return {}; }

private:
    // Applies `op` at revision `rev`; true if anything changed. Caller holds mutex_.
    bool apply(const store::Op& op, std::int64_t rev);

    std::mutex mutex_;
    std::map<std::string, store::KeyValue, std::less<>> data_;
    std::int64_t revision_ = 0;
};

}  // namespace kvmhub::test
