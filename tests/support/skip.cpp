#include "support/skip.hpp"

namespace kvmhub::test {

std::string_view skip_text(SkipReason reason) {
    switch (reason) {
        case SkipReason::ForeignLibvirtd:
            return "libvirtd was already running before the tests: not ours to restart";
        case SkipReason::PolicyProbe:
            return "the skip policy probe skips on purpose";
    }
    return "unknown reason";
}

}  // namespace kvmhub::test
