#include "support/memory_store.hpp"

namespace kvmhub::test {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Result<std::optional<store::KeyValue>> MemoryStore::get(std::string_view key) {
    std::lock_guard lock(mutex_);
    auto it = data_.find(key);
    if (it == data_.end()) return std::optional<store::KeyValue>{};
    return std::optional<store::KeyValue>{it->second};
}

Result<std::vector<store::KeyValue>> MemoryStore::list(std::string_view prefix) {
    std::lock_guard lock(mutex_);
    std::vector<store::KeyValue> out;
    for (auto it = data_.lower_bound(prefix); it != data_.end() && starts_with(it->first, prefix); ++it) {
        out.push_back(it->second);
    }
    return out;
}

Result<std::int64_t> MemoryStore::put(std::string_view key, std::string_view value, store::LeaseId lease) {
    return commit(store::Txn{{}, {store::Op::put(std::string(key), std::string(value), lease)}});
}

Result<bool> MemoryStore::erase(std::string_view key) {
    std::lock_guard lock(mutex_);
    auto it = data_.find(key);
    if (it == data_.end()) return false;
    data_.erase(it);
    ++revision_;
    return true;
}

Result<std::int64_t> MemoryStore::erase_prefix(std::string_view prefix) {
    std::lock_guard lock(mutex_);
    std::int64_t n = 0;
    auto it = data_.lower_bound(prefix);
    while (it != data_.end() && starts_with(it->first, prefix)) {
        it = data_.erase(it);
        ++n;
    }
    if (n > 0) ++revision_;
    return n;
}

Result<std::int64_t> MemoryStore::commit(const store::Txn& txn) {
    std::lock_guard lock(mutex_);
    for (const auto& cmp : txn.compares) {
        auto it = data_.find(cmp.key);
        std::int64_t actual = it == data_.end() ? 0 : it->second.mod_revision;
        if (actual != cmp.mod_revision) return fail(Errc::Conflict, cmp.key, "compare failed");
    }
    for (const auto& op : txn.ops) {
        if (op.lease != 0) return fail(Errc::Internal, "memory_store", "leases not supported");
    }
    bool changed = false;
    for (const auto& op : txn.ops) changed = apply(op, revision_ + 1) || changed;
    if (changed) ++revision_;
    return revision_;
}

bool MemoryStore::apply(const store::Op& op, std::int64_t rev) {
    switch (op.kind) {
        case store::Op::Kind::Put: {
            auto [it, created] = data_.try_emplace(op.key);
            auto& kv = it->second;
            if (created) {
                kv.key = op.key;
                kv.create_revision = rev;
            }
            kv.value = op.value;
            kv.mod_revision = rev;
            ++kv.version;
            return true;
        }
        case store::Op::Kind::Erase:
            return data_.erase(op.key) > 0;
        case store::Op::Kind::ErasePrefix: {
            bool any = false;
            auto it = data_.lower_bound(op.key);
            while (it != data_.end() && starts_with(it->first, op.key)) {
                it = data_.erase(it);
                any = true;
            }
            return any;
        }
    }
    return false;
}

Result<std::int64_t> MemoryStore::current_revision() {
    std::lock_guard lock(mutex_);
    return revision_;
}

Result<store::WatchPtr> MemoryStore::watch(std::string_view, store::WatchCallback) {
    return fail(Errc::Internal, "memory_store", "not supported");
}

Result<store::LeaseId> MemoryStore::grant_lease(std::chrono::seconds) {
    return fail(Errc::Internal, "memory_store", "not supported");
}

Status MemoryStore::keep_alive(store::LeaseId) {
    return fail(Errc::Internal, "memory_store", "not supported");
}

Status MemoryStore::revoke_lease(store::LeaseId) {
    return fail(Errc::Internal, "memory_store", "not supported");
}

}  // namespace kvmhub::test
