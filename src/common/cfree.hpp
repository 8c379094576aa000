// Owning pointers for C handles: std::unique_ptr<T, CFree<&free_fn>> has no size overhead.
#pragma once

#include <memory>

namespace kvmhub {

template <auto Free>
struct CFree {
    template <typename T>
    void operator()(T* p) const noexcept {
        if (p != nullptr) Free(p);
    }
};

template <typename T, auto Free>
using CPtr = std::unique_ptr<T, CFree<Free>>;

}  // namespace kvmhub
